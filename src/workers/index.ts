/** Node-spawned CPython workers connected through an inherited multiprocessing Pipe. */
export { type PythonExit, PythonExitError, PythonSpawnError } from './errors.js';
export {
  type PythonTarget,
  PythonWorker,
  type SpawnPythonOptions,
  spawnPython,
} from './spawn.js';
export { WorkerConnection } from './worker-connection.js';
