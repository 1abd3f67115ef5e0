/**
 * The codec's error classes. Whatever the input, `loads` throws only `UnpicklingError` and `dumps` only
 * `PicklingError`; both carry a stable `code` to branch on.
 */

/** Why an unpickle failed. Stable strings, safe to branch on. */
export type UnpicklingErrorCode =
  /** The data ended before STOP, or an argument or a FRAME ran past the end. */
  | 'TRUNCATED'
  /** A byte that is not an opcode. */
  | 'UNKNOWN_OPCODE'
  /** PROTO names a protocol above 5. */
  | 'UNSUPPORTED_PROTOCOL'
  /** An inline argument is malformed (bad quoting, bad digits, bad escape, invalid UTF-8, ...). */
  | 'BAD_ARGUMENT'
  /** An opcode found the wrong things on the stack (underflow, missing MARK, wrong type). */
  | 'BAD_STACK'
  /** GET/BINGET of a memo key that was never stored. */
  | 'MEMO_MISSING'
  /** A global that strict mode or the allow-list refuses. */
  | 'GLOBAL_REFUSED'
  /**
   * EXT codes with no registry entry, NEXT_BUFFER without buffers, BUILD on a registered type whose decoder
   * has no `setState`. (PERSID/BINPERSID without a `persistentLoad` give `PyPersistentRef` placeholders.)
   */
  | 'NOT_SUPPORTED'
  /** A configured limit was exceeded (input size, depth, memo, string length, bigint digits, container size). */
  | 'LIMIT_EXCEEDED'
  /** A registered constructor or a standard-library reconstructor rejected its arguments. */
  | 'BAD_VALUE'
  /**
   * A dict key or set element Python cannot hash (a list, dict, set, bytearray, or a tuple holding one):
   * CPython refuses these with `TypeError: unhashable type`.
   */
  | 'UNHASHABLE'
  /** An option of `loads` or `Unpickler` that is misspelt, of the wrong type, or out of range. */
  | 'BAD_OPTION';

/** Raised by `loads` / `Unpickler` for any input it cannot decode. */
export class UnpicklingError extends Error {
  override readonly name = 'UnpicklingError';
  /**
   * Byte offset of the opcode that failed (or of the end of the data when it was truncated); 0 for
   * BAD_OPTION, which is about the options, not the data.
   */
  readonly offset: number;
  readonly code: UnpicklingErrorCode;

  constructor(code: UnpicklingErrorCode, message: string, offset: number, options?: { cause?: unknown }) {
    super(code === 'BAD_OPTION' ? message : `${message} (at byte ${offset})`, options);
    this.code = code;
    this.offset = offset;
  }
}

/** Why a pickle could not be written. */
export type PicklingErrorCode =
  /** A value with no Python equivalent and no registered reducer (function, symbol, class instance, ...). */
  | 'UNPICKLABLE'
  /** The value exists in Python but not at the requested protocol (e.g. bytes over 4 GiB below protocol 4). */
  | 'PROTOCOL'
  /** A bad option, such as an unknown protocol number. */
  | 'BAD_OPTION'
  /** A value nested more than 1 000 000 deep, which is what a reducer that nests without end gives. */
  | 'LIMIT_EXCEEDED'
  /**
   * A Map key or Set element Python cannot hash (an array, object, Map, Set, or a tuple holding one): Python
   * could not load the pickle. Use a `PyTuple` (`tuple(...)`) or a `PyFrozenSet` instead.
   */
  | 'UNHASHABLE'
  /**
   * A value of a Python type with fields Python would refuse: a day 31 in April, a timedelta beyond
   * 999 999 999 days, an `array` item that does not fit its type code. CPython could not load the pickle.
   */
  | 'BAD_VALUE'
  /**
   * Code of the caller's that the pickler ran (a getter, a reducer, `persistentId`, `bufferCallback`) threw:
   * the error is the `cause`, and `path` says which value was being written.
   */
  | 'USER_CODE';

/** Raised by `dumps` / `Pickler`. `path` names the offending value, e.g. `value.a[3]`. */
export class PicklingError extends Error {
  override readonly name = 'PicklingError';
  readonly code: PicklingErrorCode;
  /** Where in the value the problem is, in JavaScript accessor notation starting at `value`. */
  readonly path: string;

  constructor(code: PicklingErrorCode, message: string, path = 'value', options?: { cause?: unknown }) {
    super(path ? `${message} at ${path}` : message, options);
    this.code = code;
    this.path = path;
  }
}
