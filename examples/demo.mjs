// `make demo`: Node and an unmodified CPython multiprocessing.connection Listener exchange pickled messages.
// Run after `npm run build` (the Makefile does it). PYTHON overrides the interpreter (default: python3).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Client, PyDatetime, PyDecimal, PyTimezone, tuple } from '../dist/index.js';

const python = process.env.PYTHON ?? 'python3';
const show = (value) => inspect(value, { breakLength: Number.POSITIVE_INFINITY, depth: 6 });
const peerScript = fileURLToPath(new URL('../python-fixtures/demo_peer.py', import.meta.url));
const authkey = 'mpwire-demo';

const child = spawn(python, ['-u', peerScript, authkey], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout });
const firstLine = await new Promise((resolve, reject) => {
  lines.once('line', resolve);
  child.once('error', reject);
  child.once('exit', (code) => reject(new Error(`${python} exited with ${code} before listening`)));
});
const { address } = JSON.parse(firstLine);
lines.on('line', (line) => console.log(`  [python] ${line}`));
console.log(`node: connecting to ${python} at ${address[0]}:${address[1]} with authkey '${authkey}'`);

const conn = await Client(address, { authkey });
console.log('node: handshake done');

const messages = [
  'hello from node',
  tuple(1, 2n ** 64n, -1.5),
  {
    name: 'sensor-7',
    readings: [0.5, 1.25, -3],
    raw: new Uint8Array([0, 1, 254, 255]),
    ok: true,
    none: null,
  },
  new Map([
    [tuple('x', 1), 'tuple key'],
    [2, 'int key'],
  ]),
  new Set(['a', 'b']),
  new PyDatetime(2026, 11, 22, 12, 30, 5, 123456, PyTimezone.utc),
  new PyDecimal('3.14159265358979323846'),
  2n ** 100n,
];
for (const message of messages) {
  await conn.send(message);
  const reply = await conn.recv();
  console.log(`node sent    : ${show(message)}`);
  console.log(`node received: ${show(reply)}`);
}
await conn.send('bye');
console.log(`node received: ${show(await conn.recv())}`);
conn.close();
const [code] = await once(child, 'exit');
console.log(`node: python exited with code ${code}`);
process.exitCode = code ?? 1;
