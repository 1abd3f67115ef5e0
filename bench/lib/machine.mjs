// The machine a run happened on, for the results file.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { pythonExecutable, pythonVersion } from './python.mjs';

function gitRevision() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function describeMachine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1];
  } catch {}
  return {
    nproc: os.availableParallelism(),
    cpu,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: pythonVersion(),
    pythonExecutable: pythonExecutable(),
    gitRevision: gitRevision(),
    date: new Date().toISOString(),
  };
}

export function machineMarkdown(m) {
  return [
    `- CPU: ${m.cpu}, ${m.nproc} cores (nproc); memory ${m.memoryGiB} GiB`,
    `- OS: ${m.os}`,
    `- Node ${m.node}; CPython ${m.python} (\`${m.pythonExecutable}\`)`,
    `- mpwire at ${m.gitRevision}; run ${m.date}`,
  ].join('\n');
}
