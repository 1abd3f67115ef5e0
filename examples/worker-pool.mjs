// A pool of Python workers started by Node, each fed through its own inherited Pipe (spawnPython).
// The worker (examples/python/pool_worker.py) gets a real multiprocessing.connection.Connection.
//
//   npm run build && node examples/worker-pool.mjs         (PYTHON=/path/to/python3 to pick the interpreter)
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { spawnPython } from '../dist/index.js';
import { protocolOptionsFor } from './pickle-protocol.mjs';

const python = process.env.PYTHON ?? 'python3';
const script = fileURLToPath(new URL('./python/pool_worker.py', import.meta.url));
const poolSize = Math.max(2, Math.min(4, availableParallelism()));
const limits = [10_000, 50_000, 100_000, 200_000, 300_000, 400_000, 500_000, 1_000_000];

const protocolOptions = protocolOptionsFor(python);
const workers = await Promise.all(
  Array.from({ length: poolSize }, () => spawnPython({ python, script, ...protocolOptions })),
);
try {
  const pending = limits.map((limit, taskId) => ({ taskId, limit }));
  const results = [];
  // Each worker pulls the next task as soon as it has answered the previous one.
  await Promise.all(
    workers.map(async (worker) => {
      for (let task = pending.shift(); task; task = pending.shift()) {
        await worker.conn.send(['count_primes', task.taskId, task.limit]);
        const [, taskId, count, pid] = await worker.conn.recv();
        results[taskId] = { limit: limits[taskId], count, pid };
      }
    }),
  );
  for (const { limit, count, pid } of results) {
    console.log(
      `primes below ${String(limit).padStart(9)}: ${String(count).padStart(6)}  (python pid ${pid})`,
    );
  }
  const pids = new Set(results.map((r) => r.pid));
  console.log(`${results.length} tasks on ${pids.size} of ${poolSize} Python workers`);
} finally {
  const exits = await Promise.all(workers.map((worker) => worker.close()));
  console.log(`workers exited with codes ${exits.map((e) => e.code).join(', ')}`);
}
