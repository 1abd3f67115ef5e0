/** The pure pickle codec: bytes <-> values. No `node:` imports; runs in a browser. */

export * from './compat-names.js';
export {
  DEFAULT_UNPICKLING_LIMITS,
  type LoadResult,
  Unpickler,
  type UnpicklerOptions,
  type UnpicklingLimits,
} from './decoder.js';
export {
  type DisassembleOptions,
  DisassemblyError,
  type DisassemblyMemo,
  dis,
  genops,
  type OpcodeArgument,
  opcodeEnd,
  type PickleOp,
} from './dis.js';
export { dumps, Pickler, type PicklerOptions } from './encoder.js';
export * from './errors.js';
export { loads } from './loads.js';
export * from './numpy.js';
export * from './opcodes.js';
export * from './registry.js';
export * from './values.js';
