// Finding CPython and talking to the long-lived Python workers (one JSON command per line each way).
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PYTHON_DIR = fileURLToPath(new URL('../python/', import.meta.url));

/** The interpreter to measure against: MPWIRE_BENCH_PYTHON, else `python3` on PATH. */
export function pythonExecutable() {
  return process.env.MPWIRE_BENCH_PYTHON || 'python3';
}

export function pythonVersion(exe = pythonExecutable()) {
  return execFileSync(exe, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
}

/** A Python script run as a worker: `request(obj)` sends one command and resolves with its one-line reply. */
export class PythonWorker {
  constructor(script, args = [], exe = pythonExecutable()) {
    this.child = spawn(exe, [`${PYTHON_DIR}${script}`, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.pending = [];
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.once('exit', (code) => {
      for (const p of this.pending.splice(0)) p.reject(new Error(`${script} exited with ${code}`));
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const p = this.pending.shift();
      if (!p) return;
      const msg = JSON.parse(line);
      if (msg.error) p.reject(new Error(`${script}: ${msg.error}`));
      else p.resolve(msg);
    });
  }

  request(cmd) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
  }

  async close() {
    if (this.child.exitCode === null) {
      this.child.stdin.write('{"op":"quit"}\n');
      this.child.stdin.end();
    }
    await this.exited;
  }
}
