// A TypeScript/Node client of a Python model server that sits behind multiprocessing.connection.Listener.
// The Python side (examples/python/model_server.py) is plain stdlib code with no idea Node is calling it.
//
//   npm run build && node examples/model-client.mjs        (PYTHON=/path/to/python3 to pick the interpreter)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '../dist/index.js';
import { protocolOptionsFor } from './pickle-protocol.mjs';

const python = process.env.PYTHON ?? 'python3';
const authkey = 'model-secret';
const serverScript = fileURLToPath(new URL('./python/model_server.py', import.meta.url));

const server = spawn(python, [serverScript, authkey], { stdio: ['ignore', 'pipe', 'inherit'] });
const serverExit = once(server, 'exit');
const [readyLine] = await once(createInterface({ input: server.stdout }), 'line');
const [, host, port] = readyLine.split(' ');

const conn = await Client([host, Number(port)], { authkey, ...protocolOptionsFor(python) });
// send() pickles one message and recv() unpickles one, exactly as Python's Connection does.
const request = async (message) => {
  await conn.send(message);
  return conn.recv();
};
try {
  const model = await request(['describe']);
  console.log(`model ${model.name} (Python ${model.python}) labels: ${model.labels.join(', ')}`);

  const flowers = [
    [5.1, 3.5, 1.4, 0.2],
    [5.9, 2.8, 4.3, 1.3],
    [6.7, 3.0, 5.2, 2.3],
  ];
  for (const features of flowers) {
    const [status, prediction] = await request(['predict', features]);
    const confidence = prediction.scores[prediction.label];
    console.log(
      `predict ${JSON.stringify(features)} -> ${status} ${prediction.label} (${confidence.toFixed(3)})`,
    );
  }

  // Python exceptions the server catches come back as ordinary replies.
  const [status, message] = await request(['predict', [1, 2]]);
  console.log(`predict [1,2] -> ${status}: ${message}`);

  console.log(`server says ${await request(['shutdown'])}`);
} catch (error) {
  server.kill(); // do not leave the server running when something above failed
  throw error;
} finally {
  conn.close();
}
const [exitCode] = await serverExit;
console.log(`server exited with code ${exitCode}`);
