/**
 * mpwire: CPython's pickle format and `multiprocessing.connection` wire protocol for Node.
 * @packageDocumentation
 */
export * from './codec/index.js';
export * from './managers/index.js';
export * from './transport/index.js';
export * from './workers/index.js';
