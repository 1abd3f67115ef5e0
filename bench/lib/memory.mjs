// Memory section: peak RSS (VmHWM) of receiving a 1 GiB message and of decoding the 1e5 records, each in a fresh
// process, mpwire against CPython doing the same.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeCasePickles } from './codec.mjs';
import { loadMpwire, missingReason } from './mpwire.mjs';
import { PYTHON_DIR, pythonExecutable } from './python.mjs';
import { fmtBytes, fmtRatio, median, passMiss } from './stats.mjs';

const execFileP = promisify(execFile);
const NODE_PROBE = fileURLToPath(new URL('../probes/memory-node.mjs', import.meta.url));
const PY_PROBE = join(PYTHON_DIR, 'memory_probe.py');
export const RECV_BYTES = 2 ** 30;
export const PEAK_TARGET = 1.5;

async function probe(cmd, args) {
  const { stdout } = await execFileP(cmd, args, { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

function startPythonServer(authkeyHex) {
  const child = spawn(
    pythonExecutable(),
    [join(PYTHON_DIR, 'transport_peer.py'), 'serve', 'AF_INET', '127.0.0.1:0', authkeyHex],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) =>
      resolve({ child, address: JSON.parse(l).address }),
    );
    child.once('exit', (code) => reject(new Error(`transport_peer.py exited early (${code})`)));
  });
}

async function repeat(n, fn) {
  const runs = [];
  for (let i = 0; i < n; i++) runs.push(await fn());
  return {
    status: 'ok',
    baseline: median(runs.map((r) => r.baseline)),
    peak: median(runs.map((r) => r.peak)),
    runs,
  };
}

async function guarded(fn) {
  try {
    return await fn();
  } catch (e) {
    return { status: 'error', detail: String(e?.message ?? e).split('\n')[0] };
  }
}

export async function runMemory(opts, log) {
  const api = await loadMpwire();
  const n = opts.quick ? 1 : 3;
  const out = [];

  const manifest = writeCasePickles(opts.casesDir, ['records-p4']);
  const pickle = manifest['records-p4'];
  log('memory: decode of the 1e5 records in fresh processes');
  out.push({
    id: 'decode-records',
    title: `decode 1e5 records (${(pickle.bytes / 1e6).toFixed(1)} MB pickle)`,
    payload: pickle.bytes,
    variants: [
      {
        id: 'cpython',
        ...(await guarded(() =>
          repeat(n, () => probe(pythonExecutable(), [PY_PROBE, 'decode', pickle.path])),
        )),
      },
      api.loads
        ? {
            id: 'mpwire',
            ...(await guarded(() =>
              repeat(n, () => probe(process.execPath, [NODE_PROBE, 'decode', 'mpwire', pickle.path])),
            )),
          }
        : { id: 'mpwire', status: 'missing', detail: missingReason('loads') },
      {
        id: 'pickleparser',
        ...(await guarded(() =>
          repeat(n, () => probe(process.execPath, [NODE_PROBE, 'decode', 'pickleparser', pickle.path])),
        )),
      },
    ],
  });

  log('memory: receive of a 1 GiB message in fresh processes');
  const authkeyHex = randomBytes(16).toString('hex');
  const server = await startPythonServer(authkeyHex);
  try {
    const args = ['AF_INET', server.address, authkeyHex, String(RECV_BYTES)];
    out.push({
      id: 'recv-1GiB',
      title: 'recvBytes of one 1 GiB message (TCP, sent by CPython)',
      payload: RECV_BYTES,
      target: PEAK_TARGET,
      variants: [
        {
          id: 'cpython',
          ...(await guarded(() => repeat(n, () => probe(pythonExecutable(), [PY_PROBE, 'recv', ...args])))),
        },
        api.transport
          ? {
              id: 'mpwire',
              ...(await guarded(() =>
                repeat(n, () => probe(process.execPath, [NODE_PROBE, 'recv', 'mpwire', ...args])),
              )),
            }
          : { id: 'mpwire', status: 'missing', detail: missingReason('transport') },
      ],
    });
  } finally {
    server.child.kill();
  }
  return { probes: out };
}

export function memoryTable(memory) {
  const lines = [
    '### Memory (peak RSS = VmHWM of a fresh process; baseline = RSS just before the operation; median of runs)',
    '',
    '| operation | process | peak RSS | baseline | peak − baseline | peak ÷ payload | ÷ CPython peak | target |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const p of memory.probes) {
    const cp = p.variants.find((v) => v.id === 'cpython');
    p.variants.forEach((v, i) => {
      const head = i === 0 ? p.title : '';
      if (v.status !== 'ok') {
        lines.push(
          `| ${head} | ${v.id} | ${v.status === 'error' ? `error: ${v.detail}` : v.detail} | | | | | |`,
        );
        return;
      }
      const perPayload = v.peak / p.payload;
      const vsCp = v.id !== 'cpython' && cp?.status === 'ok' ? fmtRatio(v.peak / cp.peak) : '';
      let target = 'no target (informational)';
      if (p.target) target = `≤ ${p.target}× payload: ${passMiss(perPayload <= p.target)}`;
      if (v.id !== 'mpwire') target = '';
      lines.push(
        `| ${head} | ${v.id} | ${fmtBytes(v.peak)} | ${fmtBytes(v.baseline)} | ${fmtBytes(v.peak - v.baseline)} | ${fmtRatio(perPayload)} | ${vsCp} | ${target} |`,
      );
    });
  }
  return lines.join('\n');
}
