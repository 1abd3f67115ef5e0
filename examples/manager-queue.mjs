// A TypeScript/Node consumer of a queue shared by a CPython BaseManager (the documented way Python shares a
// queue across machines), fed by a separate Python producer process.
//
//   npm run build && node examples/manager-queue.mjs       (PYTHON=/path/to/python3 to pick the interpreter)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectManager } from '../dist/index.js';
import { protocolOptionsFor } from './pickle-protocol.mjs';

const python = process.env.PYTHON ?? 'python3';
const authkey = 'queue-secret';
const orderCount = 25;
const script = (name) => fileURLToPath(new URL(`./python/${name}`, import.meta.url));

const server = spawn(python, [script('queue_server.py'), authkey], { stdio: ['ignore', 'pipe', 'inherit'] });
const serverExit = once(server, 'exit');
const [readyLine] = await once(createInterface({ input: server.stdout }), 'line');
const [, host, port] = readyLine.split(' ');

const producer = spawn(python, [script('queue_producer.py'), host, port, authkey, String(orderCount)], {
  stdio: 'inherit',
});
const producerExit = once(producer, 'exit');

const manager = await connectManager([host, Number(port)], { authkey, ...protocolOptionsFor(python) }).catch(
  (error) => {
    server.kill();
    throw error;
  },
);
try {
  const orders = await manager.queue('get_queue');
  const quantities = new Map();
  let received = 0;
  for (;;) {
    // A timeout keeps a blocked get from holding the manager channel for ever.
    const order = await orders.get({ timeout: 30 });
    if (order === null) break;
    received += 1;
    quantities.set(order.item, (quantities.get(order.item) ?? 0) + order.quantity);
  }
  console.log(`received ${received} orders from the Python producer`);
  for (const [item, quantity] of [...quantities].sort()) console.log(`  ${item}: ${quantity}`);

  try {
    await orders.getNowait();
  } catch (error) {
    console.log(`queue drained: get_nowait raised ${error.pythonType} (isQueueEmpty=${error.isQueueEmpty})`);
  }
  await orders.release();
} finally {
  await manager.shutdown().catch(() => server.kill());
}
await producerExit;
const [exitCode] = await serverExit;
console.log(`manager server exited with code ${exitCode}`);
