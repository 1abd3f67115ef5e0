/**
 * Errors a manager server reports, as `multiprocessing.managers.convert_to_error` would raise them in Python:
 * `#ERROR` carries the remote exception itself, `#TRACEBACK` and `#UNSERIALIZABLE` carry traceback text.
 */
import { reprBytes, reprFloat, reprStr } from '../codec/dis.js';
import { PyFloat, PyFrozenSet, PyGlobal, PyObject, PyTuple } from '../codec/values.js';

/** Python 2 and private-module spellings of exception classes, mapped to the name Python 3 documents. */
const CANONICAL_EXCEPTION_NAMES: ReadonlyMap<string, string> = new Map([
  ['_queue.Empty', 'queue.Empty'],
  ['Queue.Empty', 'queue.Empty'],
  ['Queue.Full', 'queue.Full'],
  ['multiprocessing.queues.Empty', 'queue.Empty'],
  ['multiprocessing.queues.Full', 'queue.Full'],
]);

/**
 * The version-independent name of a Python exception class: `_queue.Empty` (3.7+), `queue.Empty` (3.6) and
 * `Queue.Empty` (2.7) all become `queue.Empty`; `exceptions.KeyError` (2.7) becomes `builtins.KeyError`.
 */
export function canonicalExceptionName(qualifiedName: string): string {
  const mapped = CANONICAL_EXCEPTION_NAMES.get(qualifiedName);
  if (mapped) return mapped;
  const dot = qualifiedName.lastIndexOf('.');
  const module = qualifiedName.slice(0, dot);
  if (module === 'exceptions' || module === '__builtin__') return `builtins.${qualifiedName.slice(dot + 1)}`;
  return qualifiedName;
}

/** Which reply kind a {@link RemoteError} came from. */
export type RemoteErrorKind = '#ERROR' | '#TRACEBACK' | '#UNSERIALIZABLE';

/**
 * Base class of every failure a manager server reports. Test `err.isQueueEmpty` or `err.pythonType` to
 * branch on the remote exception; both are version-independent.
 */
export class RemoteError extends Error {
  override readonly name: string = 'RemoteError';
  /** The reply that carried the failure. */
  readonly replyKind: RemoteErrorKind;
  /** The server's traceback text (`#TRACEBACK`, `#UNSERIALIZABLE`); undefined for `#ERROR`, which sends none. */
  readonly remoteTraceback: string | undefined;

  constructor(replyKind: RemoteErrorKind, message: string, remoteTraceback?: string) {
    super(message);
    this.replyKind = replyKind;
    this.remoteTraceback = remoteTraceback;
  }

  /** Canonical `module.name` of the remote exception class (see {@link canonicalExceptionName}), if known. */
  get pythonType(): string | undefined {
    return undefined;
  }

  /** True when the remote call raised `queue.Empty` (`get_nowait`, or `get` with a timeout, on an empty queue). */
  get isQueueEmpty(): boolean {
    return this.pythonType === 'queue.Empty';
  }

  /** True when the remote call raised `queue.Full`. */
  get isQueueFull(): boolean {
    return this.pythonType === 'queue.Full';
  }
}

/** `('#ERROR', exc)`: the remote method raised `exc`, which the server pickled and sent back. */
export class RemoteException extends RemoteError {
  override readonly name: string = 'RemoteException';
  /**
   * The class as the pickle named it, e.g. `_queue.Empty` from 3.7+ or `queue.Empty` from 3.6 (2.7's `Queue.Empty`
   * arrives as `queue.Empty` when the decoder's `fixImports` is on, as in Python 3's `pickle.loads`).
   */
  readonly pythonTypeAsSent: string;
  /** The exception's `args`. */
  readonly pythonArgs: readonly unknown[];
  /** The decoded exception object, for anything the fields above do not cover (e.g. its `__dict__` state). */
  readonly exception: unknown;
  readonly #pythonType: string;

  constructor(exception: unknown) {
    const { qualifiedName, args } = describeException(exception);
    const canonical = canonicalExceptionName(qualifiedName);
    const text = exceptionText(canonical, args);
    super('#ERROR', text === '' ? canonical : `${canonical}: ${text}`);
    this.pythonTypeAsSent = qualifiedName;
    this.pythonArgs = args;
    this.exception = exception;
    this.#pythonType = canonical;
  }

  override get pythonType(): string {
    return this.#pythonType;
  }
}

/** `('#TRACEBACK', text)`: the server itself failed (unknown ident or method, bad request, failing public function). */
export class RemoteTracebackError extends RemoteError {
  override readonly name: string = 'RemoteTracebackError';
  readonly #pythonType: string | undefined;

  constructor(traceback: string) {
    super('#TRACEBACK', lastTracebackLine(traceback), traceback);
    this.#pythonType = exceptionTypeFromTraceback(traceback);
  }

  /** The exception class named on the traceback's last line (`KeyError`, `AssertionError`, ...), canonical. */
  override get pythonType(): string | undefined {
    return this.#pythonType;
  }
}

/** `('#UNSERIALIZABLE', text)`: the method ran but its result could not be pickled. */
export class RemoteUnserializableError extends RemoteError {
  override readonly name: string = 'RemoteUnserializableError';

  constructor(traceback: string) {
    super('#UNSERIALIZABLE', `Unserializable message: ${lastTracebackLine(traceback)}`, traceback);
  }
}

/** A reply that is not one of the shapes `multiprocessing.managers` sends. */
export class ManagerProtocolError extends Error {
  override readonly name = 'ManagerProtocolError';
}

function describeException(exception: unknown): { qualifiedName: string; args: readonly unknown[] } {
  if (exception instanceof PyObject && exception.callable instanceof PyGlobal) {
    return { qualifiedName: exception.callable.qualifiedName, args: exception.args };
  }
  if (exception instanceof PyGlobal) return { qualifiedName: exception.qualifiedName, args: [] };
  if (exception instanceof Error)
    return { qualifiedName: `builtins.${exception.name}`, args: [exception.message] };
  return { qualifiedName: 'builtins.Exception', args: [exception] };
}

/** The OSError family, whose str() is `[Errno n] strerror: 'filename'`. */
const OS_ERRORS = new Set(
  [
    'OSError',
    'BlockingIOError',
    'ChildProcessError',
    'ConnectionError',
    'BrokenPipeError',
    'ConnectionAbortedError',
    'ConnectionRefusedError',
    'ConnectionResetError',
    'FileExistsError',
    'FileNotFoundError',
    'InterruptedError',
    'IsADirectoryError',
    'NotADirectoryError',
    'PermissionError',
    'ProcessLookupError',
    'TimeoutError',
    // Python 2's, and Python 3's aliases of OSError.
    'IOError',
    'EnvironmentError',
  ].map((name) => `builtins.${name}`),
);

/** Python's `str(exc)` for an exception of this class with these args, as a Python client would print it. */
function exceptionText(pythonType: string, args: readonly unknown[]): string {
  if (args.length === 0) return '';
  if (OS_ERRORS.has(pythonType) && args.length >= 2 && args.length <= 5) {
    const [errno, strerror, filename, , filename2] = args;
    const base = `[Errno ${pythonStr(errno)}] ${pythonStr(strerror)}`;
    if (filename === undefined || filename === null) return base;
    const first = `${base}: ${pythonRepr(filename)}`;
    return filename2 === undefined || filename2 === null ? first : `${first} -> ${pythonRepr(filename2)}`;
  }
  const unicodeError = unicodeErrorText(pythonType, args);
  if (unicodeError !== undefined) return unicodeError;
  if (args.length === 1) return pythonType === 'builtins.KeyError' ? pythonRepr(args[0]) : pythonStr(args[0]);
  return pythonRepr(PyTuple.fromItems(args));
}

/** `'utf-8' codec can't decode byte 0xe9 in position 3: reason`, from (encoding, object, start, end, reason). */
function unicodeErrorText(pythonType: string, args: readonly unknown[]): string | undefined {
  const decode = pythonType === 'builtins.UnicodeDecodeError';
  if ((!decode && pythonType !== 'builtins.UnicodeEncodeError') || args.length !== 5) return undefined;
  const [encoding, object, start, end, reason] = args;
  if (typeof start !== 'number' || typeof end !== 'number') return undefined;
  const where = end - start === 1 ? `in position ${start}` : `in position ${start}-${end - 1}`;
  if (decode && object instanceof Uint8Array) {
    const what = end - start === 1 ? `byte 0x${object[start]?.toString(16).padStart(2, '0')}` : 'bytes';
    return `'${pythonStr(encoding)}' codec can't decode ${what} ${where}: ${pythonStr(reason)}`;
  }
  if (!decode && typeof object === 'string') {
    if (end - start !== 1)
      return `'${pythonStr(encoding)}' codec can't encode characters ${where}: ${pythonStr(reason)}`;
    const code = object.codePointAt(start) ?? 0;
    const escaped =
      code <= 0xff
        ? `\\x${code.toString(16).padStart(2, '0')}`
        : code <= 0xffff
          ? `\\u${code.toString(16).padStart(4, '0')}`
          : `\\U${code.toString(16).padStart(8, '0')}`;
    return `'${pythonStr(encoding)}' codec can't encode character '${escaped}' ${where}: ${pythonStr(reason)}`;
  }
  return undefined;
}

function pythonStr(value: unknown): string {
  return typeof value === 'string' ? value : pythonRepr(value);
}

/** Python's `repr()` of the values exceptions usually carry; JSON for anything else. */
function pythonRepr(value: unknown, seen: Set<object> = new Set()): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return reprStr(value);
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number')
    return Number.isInteger(value) && !Object.is(value, -0) ? String(value) : reprFloat(value);
  if (value instanceof PyFloat) return reprFloat(value.value);
  if (value instanceof Uint8Array) return reprBytes(value);
  if (typeof value !== 'object' || seen.has(value)) return '...';
  seen.add(value);
  if (value instanceof PyTuple) {
    const items = value.map((item) => pythonRepr(item, seen));
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  if (Array.isArray(value)) return `[${value.map((item) => pythonRepr(item, seen)).join(', ')}]`;
  if (value instanceof Set) {
    const items = [...value].map((item) => pythonRepr(item, seen)).join(', ');
    if (value instanceof PyFrozenSet) return items === '' ? 'frozenset()' : `frozenset({${items}})`;
    return items === '' ? 'set()' : `{${items}}`;
  }
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${pythonRepr(k, seen)}: ${pythonRepr(v, seen)}`).join(', ')}}`;
  }
  if (value instanceof PyGlobal) return `<class '${value.qualifiedName}'>`;
  if (Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${reprStr(k)}: ${pythonRepr(v, seen)}`)
      .join(', ')}}`;
  }
  try {
    return (
      JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value)
    );
  } catch {
    return String(value);
  }
}

const CHAINED = '\nDuring handling of the above exception, another exception occurred:\n';

/**
 * The line naming the exception a traceback reports: its last line, except where a server's own lookup
 * failed while handling the real error. Calling a method that is not exposed, 3.x's `serve_client` raises
 * AttributeError (`method 'x' of ... is not in exposed=...`), then fails looking `x` up among its fallback
 * methods, so the traceback ends in `KeyError: 'x'`: the AttributeError is reported.
 */
function lastTracebackLine(traceback: string): string {
  const parts = traceback.trimEnd().split(CHAINED);
  const last = parts[parts.length - 1]!;
  const reported =
    parts.length > 1 && last.includes('fallback_mapping[methodname]') ? parts[parts.length - 2]! : last;
  const lines = reported.trimEnd().split('\n');
  return lines[lines.length - 1]?.trim() || 'remote error';
}

/** `KeyError: 'x'` → `builtins.KeyError`; `queue.Empty` → `queue.Empty`; anything else → undefined. */
function exceptionTypeFromTraceback(traceback: string): string | undefined {
  const match = /^([A-Za-z_][\w.]*)(?::|$)/.exec(lastTracebackLine(traceback));
  if (!match?.[1]) return undefined;
  const name = match[1];
  return canonicalExceptionName(name.includes('.') ? name : `builtins.${name}`);
}

/** A call on a proxy after `release()`, or on a client after `close()`. */
export class ManagerClosedError extends Error {
  override readonly name = 'ManagerClosedError';
}
