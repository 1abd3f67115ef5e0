/**
 * The unpickler: an iterative stack machine over all 68 opcodes of protocols 0–5, following CPython's C
 * `_pickle.Unpickler` wherever it and pickle.py differ. No JS recursion, no code execution: globals become
 * PyGlobal values, standard-library ones are rebuilt by stdlib-decode.ts, everything else is an inert
 * PyObject record. Every failure is an UnpicklingError carrying a code and the byte offset of the opcode.
 */
import { readFloat64BE, readInt32LE, readUint16LE, readUint32LE } from './byte-read.js';
import { byteViewOf, pickleBytes } from './bytes-like.js';
import { mapPython2Name, PYTHON2_ONLY_MODULES } from './compat-names.js';
import { isDatetimeStateAt, type LookaheadBudget, lookaheadBudget } from './datetime-state-lookahead.js';
import { UnpicklingError, type UnpicklingErrorCode } from './errors.js';
import { asKey } from './hashable.js';
import { kindOf } from './kind-of.js';
import { numpyRegistry } from './numpy.js';
import { HIGHEST_PROTOCOL, OPCODE_BY_CODE } from './opcodes.js';
import { allowList, type ClassDecoder, type GlobalFilter, type Registry } from './registry.js';
import {
  BUILTIN_FUNCTIONS,
  DATETIME_STATE_GLOBALS,
  describe,
  type GlobalHandler,
  isZoneInfoUnpickle,
  KEEP_PLACEHOLDER,
  type ReconstructContext,
  ReconstructError,
  STDLIB_HANDLERS,
  temporalFromState,
  zoneInfoFromArgs,
} from './stdlib-decode.js';
import {
  type DecodeErrorHandler,
  decodeAsciiCached,
  decodeLatin1,
  decodeRawUnicodeEscape,
  decodeStringEscape,
  decodeUtf8Surrogatepass,
  decodeWithCodec,
  findTextCodec,
  RECENT_STRING_MAX_BYTES,
  type TextCodec,
  TextDecodeFailure,
} from './text-decode.js';
import {
  COPY_ALLOWANCE,
  checkUnpicklerOptions,
  DEFAULT_UNPICKLING_LIMITS,
  optionsReadFailure,
  type UnpicklingLimits,
} from './unpickler-options.js';
import {
  PyByteArray,
  PyCounter,
  PyDeque,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  type PyObjectKind,
  PyOrderedDict,
  PyPersistentRef,
  PyPickleBuffer,
  PyTuple,
} from './values.js';

export { DEFAULT_UNPICKLING_LIMITS, type UnpicklingLimits };

/** Options of `loads` and `Unpickler`, named after CPython's `pickle.loads` arguments where they exist. */
export interface UnpicklerOptions {
  /** Python ints: numbers when safe and bigints otherwise ('auto', default), or always bigints. */
  readonly bigints?: 'auto' | 'always';
  /** Python floats: plain numbers (default) or PyFloat wrappers that keep integral floats distinct from ints. */
  readonly floats?: 'number' | 'wrapped';
  /**
   * Python dicts: 'auto' (default) gives plain objects when every key is a str that JS would not reorder,
   * else Map; 'map' always Map; 'object' always plain objects and refuses non-str keys.
   */
  readonly dicts?: 'auto' | 'map' | 'object';
  /**
   * Codec for Python 2 `str` (STRING/BINSTRING/SHORT_BINSTRING): 'ASCII' default, 'latin1', 'utf-8', one of
   * CPython's single-byte codecs ('cp1252', 'iso8859_15', 'koi8_r', 'mac_roman'...), under any name CPython's
   * `codecs.lookup` takes; or 'bytes' for Uint8Array. Other codecs (shift_jis, utf-16...) are refused when the
   * first such str is met, as CPython looks the codec up only then.
   */
  readonly encoding?: string;
  /**
   * Error handler for `encoding`: 'strict' (default), 'replace', 'ignore', 'surrogateescape',
   * 'backslashreplace', or 'surrogatepass' (UTF-8 only). As in CPython it is consulted only at an
   * undecodable byte, where any other name fails.
   */
  readonly errors?: DecodeErrorHandler;
  /** Map Python 2 global names to Python 3 ones in protocol 0–2 pickles (default true). */
  readonly fixImports?: boolean;
  /**
   * bytes as views into the input (true) instead of copies (false, default). Views are faster but change if
   * the caller reuses the input buffer.
   */
  readonly zeroCopyBytes?: boolean;
  /** User types: globals registered here are built by their ClassDecoder. */
  readonly registry?: Registry;
  /**
   * Decode numpy's globals (`numpy.dtype`, `numpy.core.multiarray._reconstruct`/`scalar`,
   * `numpy.core.numeric._frombuffer` and their `numpy._core` twins) to NumpyDtype, NDArray and NumpyScalar
   * without registering them (default true). Entries of `registry` for the same globals take precedence;
   * false leaves unregistered numpy globals as PyObject placeholders.
   */
  readonly numpy?: boolean;
  /**
   * Strict mode: only these globals may appear (a filter, or `'module.name'` / `'module.*'` strings). Standard
   * library globals are filtered too, e.g. allow `'datetime.*'` to get datetimes.
   */
  readonly allowGlobals?: GlobalFilter | readonly string[];
  /** The copyreg extension registry for EXT1/EXT2/EXT4: code → [module, name]. */
  readonly extensions?: ReadonlyMap<number, readonly [string, string]>;
  /** Resolves PERSID/BINPERSID ids; without it they become PyPersistentRef placeholders. */
  readonly persistentLoad?: ((pid: unknown) => unknown) | null;
  /** Out-of-band buffers for NEXT_BUFFER, consumed in order, as `pickle.loads(..., buffers=)`. */
  readonly buffers?: Iterable<ArrayBufferView | ArrayBuffer | PyPickleBuffer> | null;
  /** Resource limits; missing fields take DEFAULT_UNPICKLING_LIMITS. */
  readonly limits?: Partial<UnpicklingLimits>;
}

/** One decoded pickle and where it ended. */
export interface LoadResult {
  readonly value: unknown;
  /** Offset just past the STOP opcode: where the next pickle in the buffer starts. */
  readonly end: number;
}

/** Thrown inside the loop for a dict that must be rebuilt as a Map from its creation (see `#convertDict`). */
enum Restart {
  None = 0,
  Some = 1,
  All = 2,
}

/** The NaN of `float('-nan')`: sign bit set (bits fff8000000000000). */
const NEGATIVE_NAN = new DataView(Uint8Array.of(0xff, 0xf8, 0, 0, 0, 0, 0, 0).buffer).getFloat64(0);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const LOG10_256 = Math.log10(256);
const MIN_SAFE_BIG = BigInt(-MAX_SAFE);
const MAX_SAFE_BIG = BigInt(MAX_SAFE);
/**
 * Up to this many LONG1/LONG4 bytes, shifting in 64-bit words (quadratic) beats one hex-string parse (linear):
 * 0.6 µs against 6 µs at 128 bytes, 4 µs against 8 µs at 512, even at 2 KiB.
 */
const LONG_WORDS_MAX_BYTES = 1024;
/** Pickles up to this size decode their short ASCII strings through decodeAsciiCached. */
const CACHED_STRINGS_MAX_PICKLE = 4096;
/** Number runs at least this long are appended to a list made long enough beforehand. */
const PREALLOCATE_MIN_ITEMS = 4096;
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** How far back the memo is searched for a dict that changes representation before a rerun is cheaper. */
const MEMO_PATCH_WINDOW = 4096;
/** Memo entries that BUILD fallbacks may search beyond the window in one load (a few ms of scanning). */
const FULL_SCAN_BUDGET = 1 << 24;

const CODE_NAMES: readonly string[] = OPCODE_BY_CODE.map((info) => info?.name ?? '');

// What a runner's state holds between loads (see Unpickler.#makeRunner): empty, and never written to.
const NO_BYTES = new Uint8Array(0);
const NO_ITEMS: unknown[] = Object.freeze([]) as unknown as unknown[];
const NO_MARKS: number[] = Object.freeze([]) as unknown as number[];
const NO_STATE: LoadState = Object.freeze({
  memo: NO_ITEMS,
  memoCount: 0,
  proto: 0,
  globals: undefined,
  lookahead: undefined,
});
const NO_ORIGINS = new Map<object, StdlibOrigin>();

/** The digits of an INT or LONG line, which maxBigIntDigits counts (not its sign, spaces or trailing L). */
function digitCount(text: string): number {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits++;
  }
  return digits;
}

function opName(code: number): string {
  return CODE_NAMES[code] || `0x${code.toString(16).padStart(2, '0')}`;
}

/** Canonical decimal array index 0..2^32-2: JS would move such keys to the front of a plain object. */
function isArrayIndexKey(key: string): boolean {
  const len = key.length;
  if (len === 0 || len > 10) return false;
  const c0 = key.charCodeAt(0);
  if (c0 < 0x30 || c0 > 0x39) return false;
  if (c0 === 0x30) return len === 1;
  for (let i = 1; i < len; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return len < 10 || Number(key) <= 4294967294;
}

/**
 * Makes `items` a frozen PyTuple. `new PyTuple()` constructs through the Array subclass, several times
 * slower than an array literal given the PyTuple prototype; the result is the same object shape to users.
 */
function asTuple(items: unknown[]): PyTuple {
  Object.setPrototypeOf(items, PyTuple.prototype);
  return Object.freeze(items) as PyTuple;
}

/**
 * A new empty list. An array literal's allocation site remembers the most general elements kind any of its
 * arrays reached, so after one list of strings every later list, even one of a million floats, would start
 * as a generic array and box each float. slice() of an empty small-integer array carries no such memory:
 * each list starts as small integers and moves on only as far as its own items take it.
 */
const EMPTY_SMI_LIST: unknown[] = [0];
EMPTY_SMI_LIST.pop();
function newList(): unknown[] {
  return EMPTY_SMI_LIST.slice();
}

/** Whether every stack entry from `from` up is a number. */
function allNumbers(stack: unknown[], from: number): boolean {
  for (let i = from, top = stack.length; i < top; i++) if (typeof stack[i] !== 'number') return false;
  return true;
}

/**
 * Appends stack entries from `from` up to a list by index stores at the end (push() on an array of unknown
 * kind is a builtin call per item). Two copies of the loop, because optimised code applies the elements-kind
 * transition its store has seen before whatever the value: had this loop seen a list take a string, it
 * would move a new list of floats to generic elements and box every float, which then all survive into
 * the old generation. appendNumbers only ever sees numbers, so float lists stay unboxed.
 */
function appendNumbers(target: unknown[], stack: unknown[], from: number): void {
  let at = target.length;
  for (let i = from, top = stack.length; i < top; i++) target[at++] = stack[i];
}
function appendValues(target: unknown[], stack: unknown[], from: number): void {
  let at = target.length;
  for (let i = from, top = stack.length; i < top; i++) target[at++] = stack[i];
}

/**
 * Appends the `count` numbers of the BINFLOAT/BININT/BININT1/BININT2 opcodes in `data[from, to)` (FRAME, MARK
 * and APPENDS skipped) to `target`. Like appendNumbers, its store only ever sees numbers, so a list of floats
 * stays unboxed. A long run sets the length first: growing a 1e6-float array one store at a time took
 * 18-20 ms, against 10-11 ms for the same stores into an array already that long.
 */
function appendNumbersFrom(
  target: unknown[],
  data: Uint8Array,
  view: DataView,
  from: number,
  to: number,
  count: number,
): void {
  let at = target.length;
  if (count >= PREALLOCATE_MIN_ITEMS) target.length = at + count;
  let q = from;
  while (q < to) {
    const c = data[q]!;
    if (c === 0x47) {
      target[at++] = view.getFloat64(q + 1, false);
      q += 9;
    } else if (c === 0x4b) {
      target[at++] = data[q + 1]!;
      q += 2;
    } else if (c === 0x4d) {
      target[at++] = readUint16LE(data, q + 1);
      q += 3;
    } else if (c === 0x4a) {
      target[at++] = view.getInt32(q + 1, true);
      q += 5;
    } else if (c === 0x95) {
      q += 9; // FRAME
    } else {
      q += 1; // MARK or APPENDS between two runs
    }
  }
}

/**
 * Constructs the plain objects that dicts decode to: instances have Object.prototype (and so constructor
 * Object), exactly as `{}`, but V8 gives a constructor's instances as many in-object property slots as its
 * first instances came to use, where `{}` has 4 and moves further keys to a separate property store.
 */
const PlainObject = function PlainObject() {} as unknown as new () => Record<string, unknown>;
(PlainObject as unknown as { prototype: object }).prototype = Object.prototype;
// Those first instances get 8 keys here: dicts are often all made before any key is set (nested dicts),
// which would size them with no in-object slots at all.
for (let i = 0; i < 16; i++) {
  const warmup = new PlainObject();
  for (let k = 0; k < 8; k++) warmup[`k${k}`] = 0;
}

/** Sets an own data property, including `'__proto__'`, without touching the prototype. */
function setObjectKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * Whether a load could change this value in place (APPEND, SETITEM, BUILD, ADDITEMS): not a primitive, a
 * global, a frozen tuple or bytes. A rerun of a load that took such a value from an earlier load's memo
 * would change it twice.
 */
function isMutable(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof PyGlobal || Object.isFrozen(value)) return false;
  return !(value instanceof Uint8Array) || value instanceof PyByteArray;
}

function isPlainDict(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
}

const PY_INT_LITERAL =
  /^[ \t\n\r\f\v]*([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?0)*|[1-9](?:_?[0-9])*)[ \t\n\r\f\v]*$/;
const PY_INT_BASE10 = /^[ \t\n\r\f\v]*([+-]?)(\d(?:_?\d)*)[ \t\n\r\f\v]*$/;
const PY_FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** `int(text, 0)` as PyLong_FromString parses it, or null. */
function parsePyIntLiteral(text: string): bigint | null {
  const m = PY_INT_LITERAL.exec(text);
  if (!m) return null;
  const digits = m[2]!.replace(/_/g, '');
  const v = /^0+$/.test(digits) ? 0n : BigInt(digits);
  return m[1] === '-' ? -v : v;
}

/** C `strtol(text, &end, 0)` consuming the whole text, in int64 range; null otherwise. */
function parseStrtol(text: string): bigint | null {
  const m = /^[ \t\n\r\f\v]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return null;
  let body = m[2]!;
  if (body.length > 1 && body[0] === '0' && body[1] !== 'x' && body[1] !== 'X') body = `0o${body.slice(1)}`;
  let v = BigInt(body);
  if (m[1] === '-') v = -v;
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

/**
 * What the memo holds for the state bytes and the argument tuple of a datetime/date/time that was built
 * straight from the pickle data (see SHORT_BINBYTES): a GET of either slot makes the real value then.
 */
class PendingState {
  bytes: Uint8Array | undefined = undefined;
  constructor(
    readonly at: number,
    readonly n: number,
    /** The memo index of the argument tuple, or -1; any other slot holding this is the bytes. */
    public tupleIndex: number,
  ) {}
}

/** How a standard-library handler made a typed value: what a BUILD the value cannot take falls back to. */
interface StdlibOrigin {
  readonly kind: PyObjectKind;
  readonly callable: unknown;
  readonly args: PyTuple;
  readonly kwargs: Map<string, unknown> | undefined;
  /** Items the value held when made; later ones came from APPEND/SETITEM. */
  readonly itemsAtCreation: number;
}

let sharedNumpyDecoders: Registry | undefined;

/** numpy's decoders with default options, made on first use and shared: they keep no state between calls. */
function defaultNumpyDecoders(): Registry {
  sharedNumpyDecoders ??= numpyRegistry();
  return sharedNumpyDecoders;
}

/** The mutable state of one `load` call; locals of the loop live in `run` for speed. */
interface LoadState {
  memo: unknown[];
  memoCount: number;
  proto: number;
  /** Globals (by `module\nname`) already resolved in this load; made at the first one. */
  globals: Map<string, PyGlobal> | undefined;
  /** What is left of this load's read-ahead for Python 2 datetime states; made at the first. */
  lookahead: LookaheadBudget | undefined;
}

/**
 * How many items a standard-library reconstructor could copy out of `arg`: the items of a list, tuple, set or
 * dict, the bytes of a bytes-like, the characters of a str; 0 for anything else.
 */
function copyableItems(arg: unknown): number {
  if (typeof arg === 'string') return arg.length;
  if (typeof arg !== 'object' || arg === null) return 0;
  if (Array.isArray(arg)) return arg.length;
  if (arg instanceof Set || arg instanceof Map) return arg.size;
  if (ArrayBuffer.isView(arg)) return arg.byteLength;
  return 0;
}

/** An unpickler's load that starts with an empty memo and keeps none, for `loadAlone` (set by the class). */
let loadWithoutMemo: (unpickler: Unpickler, data: Uint8Array, offset: number) => LoadResult;

/**
 * `unpickler.load(data, 0)` with an empty memo that it keeps none of afterwards, as `pickle.loads` does: for
 * unpicklers reused across independent pickles (`loads`, a connection's `recv`). Not part of the public API.
 */
export function loadAlone(unpickler: Unpickler, data: Uint8Array | ArrayBufferView | ArrayBuffer): unknown {
  return loadWithoutMemo(unpickler, data as Uint8Array, 0).value;
}

/**
 * A reusable unpickler. `load(data, offset)` decodes one pickle starting at `offset` and reports where its
 * STOP ended, so back-to-back pickles in one buffer can be read in turn. Like CPython's `Unpickler`, the memo
 * persists across `load` calls (so a pickle can refer back to objects of earlier ones, as a `Pickler` stream
 * does) until `clearMemo()`.
 */
export class Unpickler {
  readonly #bigintsAlways: boolean;
  readonly #wrapFloats: boolean;
  readonly #dictMode: 'auto' | 'map' | 'object';
  readonly #py2Bytes: boolean;
  readonly #encoding: string;
  /** The codec `#encoding` names, found at the first Python 2 str (CPython looks it up only then too). */
  #textCodec: TextCodec | undefined;
  readonly #errors: DecodeErrorHandler;
  readonly #fixImports: boolean;
  readonly #zeroCopy: boolean;
  readonly #registry: Registry | undefined;
  readonly #numpyDecoders: Registry | undefined;
  readonly #filter: GlobalFilter | undefined;
  readonly #extensions: ReadonlyMap<number, readonly [string, string]> | undefined;
  readonly #persistentLoad: ((pid: unknown) => unknown) | undefined;
  readonly #buffers: Iterator<unknown> | undefined;
  readonly #limits: UnpicklingLimits;

  // Weak so that a long-lived Unpickler reading a stream does not keep every load's globals alive.
  /** Handlers by the PyGlobal objects this unpickler created. */
  readonly #handlers = new WeakMap<PyGlobal, GlobalHandler>();
  /** User decoders by the PyGlobal objects this unpickler created. */
  readonly #userDecoders = new WeakMap<PyGlobal, ClassDecoder>();
  /** Values built by a user decoder, so BUILD/APPEND/SETITEM reach the same decoder. */
  readonly #userObjects = new WeakMap<object, ClassDecoder>();
  /** datetime/date/time globals: a py2 str right after one is kept as bytes. */
  readonly #datetimeGlobals = new WeakSet<PyGlobal>();

  // Replays of side-effecting hooks when a load is rerun (see #convertDict).
  #replay: { persistent: unknown[]; buffers: unknown[] } = {
    persistent: [],
    buffers: [],
  };
  #replayPos = { persistent: 0, buffers: 0 };
  #restart: Restart = Restart.None;
  #forceMapSlots = new Set<number>();
  #forceAllMaps = false;
  /** Dicts that a GET handed out before their representation was final, with the memo index it read. */
  #escapedDicts = new Map<object, number>();
  /** Dicts DUP copied before their representation was final: only a rerun with every dict a Map mends them. */
  #dupedDicts = new Set<object>();
  /** Typed values made by standard-library handlers in this load, by value. */
  #origins = new Map<object, StdlibOrigin>();
  /** Memo entries BUILD may still search beyond MEMO_PATCH_WINDOW in this load. */
  #fullScanBudget = 0;
  /** The decoding loop (see #makeRunner), and whether a load is running in it. */
  #runner: ((input: Uint8Array, start: number, keepMemo: boolean) => LoadResult) | undefined;
  #runnerBusy = false;
  #fullScans = 0;
  /** The memo kept between loads (CPython's `Unpickler.memo`), and how many entries it holds. */
  #memo: unknown[] = [];
  #memoCount = 0;
  /** While a load runs on the kept memo: its length before the load, and the entries below that overwritten. */
  #memoBase = 0;
  #memoUndo: Map<number, unknown> | undefined;
  /** Whether the running load took an object of an earlier load out of the memo (GET). */
  #tookEarlierObject = false;

  constructor(options: UnpicklerOptions | null = {}) {
    // Options are user objects: a getter, a Proxy or an iterable that throws is a BAD_OPTION like any other.
    try {
      options ??= {};
      this.#limits = checkUnpicklerOptions(options);
      this.#bigintsAlways = options.bigints === 'always';
      this.#wrapFloats = options.floats === 'wrapped';
      this.#dictMode = options.dicts ?? 'auto';
      this.#encoding = options.encoding ?? 'ASCII';
      this.#py2Bytes = this.#encoding === 'bytes';
      this.#errors = options.errors ?? 'strict';
      this.#fixImports = options.fixImports ?? true;
      this.#zeroCopy = options.zeroCopyBytes ?? false;
      this.#registry = options.registry;
      this.#numpyDecoders = options.numpy === false ? undefined : defaultNumpyDecoders();
      const allow = options.allowGlobals;
      this.#filter = allow === undefined ? undefined : typeof allow === 'function' ? allow : allowList(allow);
      this.#extensions = options.extensions;
      this.#persistentLoad = options.persistentLoad ?? undefined;
      this.#buffers = options.buffers?.[Symbol.iterator]();
    } catch (error) {
      throw optionsReadFailure(error);
    }
  }

  /**
   * Decodes the pickle that starts at `offset` and returns its value and the offset after its STOP. Bytes
   * after STOP are not read.
   * @throws UnpicklingError for any malformed, truncated, refused or over-limit input.
   */
  load(input: Uint8Array | ArrayBufferView | ArrayBuffer, offset = 0): LoadResult {
    // A load nested in another on this unpickler (from a hook) has a memo of its own.
    return this.#load(input, offset, !this.#runnerBusy);
  }

  /**
   * Forgets every object the memo holds, as assigning `Unpickler.memo = {}` does in CPython: later pickles can
   * no longer refer to objects of earlier ones, and the memory they hold is let go.
   */
  clearMemo(): void {
    if (this.#runnerBusy)
      throw new UnpicklingError('BAD_ARGUMENT', 'Unpickler.clearMemo called while it is loading', 0);
    this.#memo = [];
    this.#memoCount = 0;
  }

  static {
    loadWithoutMemo = (unpickler, data, offset) => unpickler.#load(data, offset, false);
  }

  #load(input: Uint8Array | ArrayBufferView | ArrayBuffer, offset: number, keepMemo: boolean): LoadResult {
    const data = input instanceof Uint8Array ? input : pickleBytes(input);
    if (!Number.isInteger(offset) || offset < 0 || offset > data.length) {
      const shown =
        typeof offset === 'number'
          ? String(offset)
          : `${JSON.stringify(offset) ?? String(offset)} (not a number)`;
      throw new UnpicklingError('BAD_ARGUMENT', `offset ${shown} is outside the data`, 0);
    }
    const memoBase = this.#memo.length;
    const memoCount = this.#memoCount;
    let done = false;
    try {
      for (let attempt = 0; ; attempt++) {
        this.#replayPos.persistent = 0;
        this.#replayPos.buffers = 0;
        this.#restart = Restart.None;
        this.#forgetValues();
        this.#fullScanBudget = FULL_SCAN_BUDGET;
        this.#fullScans = 0;
        if (keepMemo) {
          this.#memoBase = memoBase;
          this.#tookEarlierObject = false;
        }
        const result = this.#run(data, offset, keepMemo);
        if (this.#restart === Restart.None || attempt >= 2) {
          done = true;
          return result;
        }
        // A dict was handed out before a non-str key made it a Map: rerun with that dict a Map from the start.
        if (keepMemo) {
          // The rerun would apply this pickle's changes to objects of earlier pickles a second time.
          if (this.#tookEarlierObject)
            throw new UnpicklingError(
              'BAD_VALUE',
              "a dict of this pickle, or of an earlier one in the Unpickler's memo, took a key a JavaScript " +
                "object cannot hold after it was referred to again; read the stream with dicts: 'map'",
              offset,
            );
          this.#restoreMemo(memoBase, memoCount);
        }
        if (this.#restart === Restart.All || attempt === 1) this.#forceAllMaps = true;
      }
    } finally {
      // A load that fails leaves the kept memo as it was before it.
      if (keepMemo) {
        if (!done) this.#restoreMemo(memoBase, memoCount);
        this.#memoUndo = undefined;
        this.#memoBase = 0;
      }
      // Nothing of this load stays reachable from the unpickler, and the next one starts clean. Collections
      // are replaced only when used: a small pickle decodes in less time than making them takes.
      this.#forgetValues();
      if (this.#replay.persistent.length > 0 || this.#replay.buffers.length > 0)
        this.#replay = { persistent: [], buffers: [] };
      if (this.#forceMapSlots.size > 0) this.#forceMapSlots = new Set();
      this.#forceAllMaps = false;
    }
  }

  /** The kept memo as it was before the running load, which wrote to it from `base` on and where it logged. */
  #restoreMemo(base: number, count: number): void {
    const memo = this.#memo;
    memo.length = base;
    this.#memoCount = count;
    if (this.#memoUndo !== undefined) {
      for (const [index, old] of this.#memoUndo) memo[index] = old;
      this.#memoUndo = undefined;
    }
  }

  /** Logs the kept memo's entry `index` before the running load first overwrites it (see #restoreMemo). */
  #saveMemoEntry(memo: unknown[], index: number): void {
    if (memo !== this.#memo || index >= this.#memoBase) return;
    this.#memoUndo ??= new Map();
    if (!this.#memoUndo.has(index)) this.#memoUndo.set(index, memo[index]);
  }

  /** Empties the per-attempt tables of values (dicts handed out, typed values' origins). */
  #forgetValues(): void {
    if (this.#escapedDicts.size > 0) this.#escapedDicts = new Map();
    if (this.#dupedDicts.size > 0) this.#dupedDicts = new Set();
    if (this.#origins.size > 0) this.#origins = new Map();
  }

  #fail(code: UnpicklingErrorCode, message: string, at: number, cause?: unknown): never {
    throw new UnpicklingError(code, message, at, cause === undefined ? undefined : { cause });
  }

  #run(data: Uint8Array, start: number, keepMemo: boolean): LoadResult {
    // A load nested in another on this same unpickler (from a hook) gets a decoding loop of its own.
    if (this.#runnerBusy) return this.#makeRunner()(data, start, false);
    this.#runner ??= this.#makeRunner();
    const runner = this.#runner;
    this.#runnerBusy = true;
    try {
      return runner(data, start, keepMemo);
    } finally {
      this.#runnerBusy = false;
    }
  }

  /**
   * The decoding loop and its helpers, made once per unpickler: the helpers are closures over the state of
   * the current load, which the returned function sets up at its start and lets go of at its end. Making
   * the ~50 helpers for every load took about 100 ns, half the fixed cost of a small pickle.
   */
  #makeRunner(): (input: Uint8Array, start: number, keepMemo: boolean) => LoadResult {
    const limits = this.#limits;
    const bigintsAlways = this.#bigintsAlways;
    const wrapFloats = this.#wrapFloats;
    const maxDepth = limits.maxDepth;
    const maxItems = limits.maxContainerItems;
    const maxObjects = limits.maxObjects;
    // Containers and objects this load has made (see maxObjects).
    let objects = 0;
    const maxString = limits.maxStringBytes;
    // Items the standard-library reconstructors may still copy in this load (see maxCopiedItemsPerByte).
    let copyBudget = 0;
    // The current load's state: set by the returned function, released when it returns.
    let data: Uint8Array = NO_BYTES;
    let end = 0;
    let overLimit = false;
    // Made only when bigints or a run of numbers need it (see byte-read.ts).
    let view: DataView | undefined;
    const dataView = (): DataView => (view ??= new DataView(data.buffer, data.byteOffset, data.byteLength));
    let stack = NO_ITEMS;
    let marks = NO_MARKS;
    // The op being decoded and where it starts, and the stack length at the innermost MARK (0 without one).
    const cur = { op: 0, opPos: 0, fence: 0 };
    let state = NO_STATE;
    let memo = NO_ITEMS;
    // With the kept memo: its length before this load (entries below it are logged before being overwritten).
    let memoBase = 0;
    let dictMode = this.#dictMode;
    let trackDicts = false;
    let forceMapSlots: Set<number> | null = null;

    const fail = (code: UnpicklingErrorCode, message: string, cause?: unknown): never =>
      this.#fail(code, `${opName(cur.op)}: ${message}`, cur.opPos, cause);
    const truncated = (): never =>
      overLimit
        ? this.#fail('LIMIT_EXCEEDED', `pickle is longer than maxInputBytes (${limits.maxInputBytes})`, end)
        : this.#fail('TRUNCATED', `pickle data was truncated in ${opName(cur.op)}`, cur.opPos);
    /** Offset of the '\n' ending the line that starts at `from`; a line shorter than `minLength` is truncated data. */
    const lineEnd = (from: number, minLength: number): number => {
      const nl = data.indexOf(0x0a, from);
      if (nl < 0 || nl >= end || nl - from < minLength) return truncated();
      return nl;
    };
    const underflow = (): never =>
      fail(
        'BAD_STACK',
        marks.length > 0 && stack.length === cur.fence
          ? 'unexpected MARK found'
          : 'unpickling stack underflow',
      );
    const pop = (): unknown => {
      if (stack.length <= cur.fence) underflow();
      return stack.pop();
    };
    const top = (): unknown => {
      if (stack.length <= cur.fence) underflow();
      return stack[stack.length - 1];
    };
    const popMark = (): number => {
      if (marks.length === 0) fail('BAD_STACK', 'could not find MARK');
      const m = marks.pop()!;
      cur.fence = marks.length > 0 ? marks[marks.length - 1]! : 0;
      return m;
    };
    const checkDepth = (): void => {
      if (stack.length + marks.length >= maxDepth)
        fail(
          'LIMIT_EXCEEDED',
          `more than maxDepth (${maxDepth}) values and MARKs open on the unpickling stack`,
        );
    };
    const tooManyObjects = (): never =>
      fail(
        'LIMIT_EXCEEDED',
        `more than maxObjects (${maxObjects}) containers and objects made in one load (each takes heap memory)`,
      );
    const checkItems = (n: number): void => {
      if (n > maxItems) fail('LIMIT_EXCEEDED', `container larger than maxContainerItems (${maxItems})`);
    };
    const checkString = (n: number): void => {
      if (n > maxString)
        fail('LIMIT_EXCEEDED', `payload of ${n} bytes exceeds maxStringBytes (${maxString})`);
    };
    /**
     * The length in the `width`-byte length field at `at`, once the field and the payload after it are known
     * to be in the data and the payload within maxStringBytes.
     */
    const payloadLength = (at: number, width: 4 | 8): number => {
      if (end - at < width) truncated();
      const n = width === 4 ? readUint32LE(data, at) : this.#size8(data, at, end, truncated);
      if (end - at - width < n) truncated();
      checkString(n);
      return n;
    };
    const int = (n: number): number | bigint => (bigintsAlways ? BigInt(n) : n);
    const bigToInt = (v: bigint): number | bigint =>
      !bigintsAlways && v >= MIN_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v;
    const float = (v: number): number | PyFloat => (wrapFloats ? new PyFloat(v) : v);
    // Always a plain Uint8Array: slice/subarray of a Node Buffer input would give Buffers.
    const zeroCopy = this.#zeroCopy;
    const bytesAt = (from: number, n: number): Uint8Array => {
      // A typed array is an object of its own, whatever its length: `C\x00` makes one for two bytes.
      if (++objects > maxObjects) tooManyObjects();
      if (zeroCopy) return new Uint8Array(data.buffer, data.byteOffset + from, n);
      // Short payloads (datetime states, small blobs): a byte loop saves the temporary subarray view.
      if (n <= 32) {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = data[from + i]!;
        return b;
      }
      return new Uint8Array(data.subarray(from, from + n));
    };
    // Small pickles (messages) keep their short ASCII strings in a cache across loads; see decodeAsciiCached.
    let cacheStrings = false;
    const utf8 = (from: number, n: number): string => {
      if (cacheStrings && n <= RECENT_STRING_MAX_BYTES) {
        const cached = decodeAsciiCached(data, from, from + n);
        if (cached !== null) return cached;
      }
      const s = decodeUtf8Surrogatepass(data, from, from + n);
      if (s === null) fail('BAD_ARGUMENT', "'utf-8' codec can't decode bytes (invalid UTF-8)");
      return s as string;
    };
    // The newest dict EMPTY_DICT or DICT made, and the lowest memo index it can be at: the memo's length when
    // it was made, or a lower index a PUT wrote since. A dict that meets a non-str key is almost always this
    // one, so its conversion to a Map searches the few slots written since it was made, not 4096. (Nothing
    // on MEMOIZE's path: a small message decodes in ~0.7 µs, and every compare there shows.)
    let newestDict: unknown;
    let newestDictFloor = 0;
    const memoPut = (index: number, value: unknown): void => {
      if (index < madeFloor) madeFloor = index;
      if (index > madePutCeiling) madePutCeiling = index;
      if (index < newestDictFloor) newestDictFloor = index;
      if (index < memoBase) this.#saveMemoEntry(memo, index);
      if (index >= limits.maxMemoEntries)
        fail('LIMIT_EXCEEDED', `memo index ${index} exceeds maxMemoEntries`);
      // Bounds check first: reading past an array's end is a slow path in V8.
      if (index >= memo.length || memo[index] === undefined) {
        if (++state.memoCount > limits.maxMemoEntries) fail('LIMIT_EXCEEDED', 'memo exceeds maxMemoEntries');
      }
      if (forceMapSlots?.has(index) && isPlainDict(value)) {
        value = new Map(Object.entries(value));
        stack[stack.length - 1] = value;
      }
      memo[index] = value;
    };
    // The value the last REDUCE/NEWOBJ/INST/OBJ made, and the lowest memo index written since: a BUILD on
    // it only searches the memo from there when it replaces the value (one UUID, not 4096 slots, per BUILD).
    let made: unknown;
    // Where the last REDUCE ended: a POP there throws its result away (a `__reduce__` state setter's call).
    let reducedAt = -1;
    let madeFloor = 0;
    // The memo's length when it was made, and the highest index a PUT wrote since: the memo slots that can
    // hold it are from madeFloor to this ceiling, and those appended since.
    let madeLength = 0;
    let madePutCeiling = -1;

    // Whether the memo may hold PendingState entries: only then does memoGet look for them. The slots they
    // were put at, to be made real before a kept memo outlives the load's data (a list: a range of slots
    // could span millions of holes).
    let pendingInMemo = false;
    let pendingSlots: number[] = [];
    const materialize = (p: PendingState, index: number): unknown => {
      p.bytes ??= bytesAt(p.at, p.n);
      const v = index === p.tupleIndex ? asTuple([p.bytes]) : p.bytes;
      memo[index] = v;
      return v;
    };
    /** Memoizes `value` as MEMOIZE (index -1) or BINPUT/LONG_BINPUT `index` do. */
    const memoize = (index: number, value: unknown): number => {
      if (index >= 0 || state.memoCount !== memo.length) {
        const at = index >= 0 ? index : state.memoCount;
        memoPut(at, value);
        return at;
      }
      memo.push(value);
      state.memoCount++;
      return memo.length - 1;
    };
    /** The length of the memo op (MEMOIZE, BINPUT, LONG_BINPUT) at `p`, or 0 if there is none. */
    const memoOpAt = (p: number): number => {
      if (p >= end) return 0;
      const c = data[p]!;
      if (c === 0x94) return 1;
      if (c === 0x71) return p + 1 < end ? 2 : 0;
      if (c === 0x72) return p + 4 < end ? 5 : 0;
      return 0;
    };
    /** The memo index the memo op of length `len` at `p` writes: -1 for MEMOIZE (the next free slot). */
    const memoOpIndex = (p: number, len: number): number =>
      len === 2 ? data[p + 1]! : len === 5 ? readUint32LE(data, p + 1) : -1;
    /**
     * SHORT_BINBYTES at `pos` (payload of `n` bytes) that is the state of a datetime/date/time whose global
     * is on top of the stack, as `C state [memo] TUPLE1 [memo] REDUCE`: the value, built without the state
     * bytes and the argument tuple, with the memo given what the opcodes would have put there. Returns the
     * offset after REDUCE, or -1 (nothing done) for anything else.
     */
    const temporalShortcut = (at: number, n: number): number => {
      if (forceMapSlots !== null || state.memoCount + 2 >= limits.maxMemoEntries) return -1;
      let p = at + n;
      const opA = memoOpAt(p);
      const idxA = memoOpIndex(p, opA);
      p += opA;
      if (p >= end || data[p] !== 0x85) return -1;
      p++;
      const opB = memoOpAt(p);
      const idxB = memoOpIndex(p, opB);
      p += opB;
      if (p >= end || data[p] !== 0x52) return -1;
      // Over-limit indexes are refused by the generic path, with that opcode named in the error.
      if (idxA >= limits.maxMemoEntries || idxB >= limits.maxMemoEntries) return -1;
      const callable = stack[stack.length - 1];
      if (!(callable instanceof PyGlobal)) return -1;
      if (callable !== lastCallable) {
        lastCallable = callable;
        lastUser = this.#userDecoders.get(callable);
        lastHandler = this.#handlers.get(callable);
      }
      if (lastUser || !lastHandler) return -1;
      const value = temporalFromState(lastHandler, data, at, n);
      if (value === undefined) return -1;
      if (opA !== 0 || opB !== 0) {
        const pending = new PendingState(at, n, -1);
        if (!pendingInMemo) pendingSlots = [];
        if (opA !== 0) pendingSlots.push(memoize(idxA, pending));
        if (opB !== 0) {
          pending.tupleIndex = memoize(idxB, pending);
          pendingSlots.push(pending.tupleIndex);
        }
        pendingInMemo = true;
      }
      stack[stack.length - 1] = value;
      made = value;
      if (++objects > maxObjects) tooManyObjects();
      madeFloor = memo.length;
      madeLength = madeFloor;
      madePutCeiling = -1;
      return p + 1;
    };
    const memoGet = (index: number): unknown => {
      const v = index >= 0 ? memo[index] : undefined;
      if (v === undefined) fail('MEMO_MISSING', `Memo value not found at index ${index}`);
      if (index < memoBase && isMutable(v)) this.#tookEarlierObject = true;
      if (pendingInMemo && v instanceof PendingState) return materialize(v, index);
      if (trackDicts && isPlainDict(v)) this.#escapedDicts.set(v as object, index);
      return v;
    };
    // Plain objects have no size: items set on any of them are counted, and only once that total passes
    // maxContainerItems (so one of them might too) are sizes tracked per object.
    let plainDictWrites = 0;
    let plainDictSizes: Map<object, number> | undefined;
    /** maxContainerItems for a plain-object dict after `added` items were set on it. */
    const countPlainDictItems = (obj: Record<string, unknown>, added: number): void => {
      plainDictWrites += added;
      if (plainDictWrites <= maxItems) return;
      plainDictSizes ??= new Map();
      const known = plainDictSizes.get(obj);
      let size = known === undefined ? Object.keys(obj).length : known + added;
      // `known + added` counts overwritten keys too: recount before refusing.
      if (size > maxItems && known !== undefined) size = Object.keys(obj).length;
      plainDictSizes.set(obj, size);
      if (size > maxItems) checkItems(size);
    };
    const newDict = (): Record<string, unknown> | Map<unknown, unknown> =>
      dictMode === 'map' ? new Map() : new PlainObject();
    /** A dict key or set element (asKey), refused as CPython refuses what Python cannot hash. */
    const refuseUnhashable = (type: string): never => fail('UNHASHABLE', `unhashable type: '${type}'`);
    const keyOf = (value: unknown): unknown => asKey(value, refuseUnhashable, madeByDecoder);
    /** SETITEM of a key a plain object cannot hold: the dict becomes a Map (kept apart, so setItem stays small). */
    const setKeyAsMap = (
      target: Record<string, unknown>,
      key: unknown,
      value: unknown,
      slot: number,
    ): Map<unknown, unknown> => {
      const k = keyOf(key);
      if (dictMode === 'object')
        fail('BAD_VALUE', `dict key of type ${describe(key)} in dicts: 'object' mode`);
      // The newest dict is in no memo slot below its floor; for any other the memo is searched (-1).
      const memoFloor = target === newestDict ? newestDictFloor : -1;
      if (target === newestDict) newestDict = undefined;
      const converted = this.#convertDict(target, memo, slot, stack, memoFloor);
      converted.set(k, value);
      return converted;
    };
    /** SETITEM semantics; returns the (possibly replaced) target. */
    const setItem = (target: unknown, key: unknown, value: unknown, slot: number): unknown => {
      if (target instanceof Map) {
        const k = keyOf(key);
        if (target.size >= maxItems) checkItems(target.size + 1);
        target.set(k, value);
        return target;
      }
      if (isPlainDict(target)) {
        if (typeof key === 'string' && (dictMode === 'object' || !isArrayIndexKey(key))) {
          setObjectKey(target, key, value);
          countPlainDictItems(target, 1);
          return target;
        }
        return setKeyAsMap(target, key, value, slot);
      }
      if (target instanceof PyObject) {
        checkItems(target.dictItems.length + 1);
        target.dictItems.push([key, value]);
        return target;
      }
      const decoder =
        typeof target === 'object' && target !== null ? this.#userObjects.get(target) : undefined;
      if (decoder?.setItem) {
        decoder.setItem(target, key, value);
        return target;
      }
      if (Array.isArray(target) && !(target instanceof PyTuple)) return setSequenceItem(target, key, value);
      return fail('BAD_STACK', `cannot set an item on ${describe(target)}`);
    };
    /** `list[i] = v` (and a deque's), as CPython's SETITEM does on any object: an int index, from the end if negative. */
    const setSequenceItem = (target: unknown[], key: unknown, value: unknown): unknown => {
      const what = target instanceof PyDeque ? 'deque' : 'list';
      const index = typeof key === 'boolean' || typeof key === 'bigint' ? Number(key) : (key as number);
      if (!(typeof index === 'number' && Number.isInteger(index))) {
        fail('BAD_VALUE', `${what} indices must be integers or slices, not ${describe(key)}`);
      }
      const at = index < 0 ? target.length + index : index;
      if (at < 0 || at >= target.length) {
        fail('BAD_VALUE', `${what === 'deque' ? 'deque index' : 'list assignment index'} out of range`);
      }
      target[at] = value;
      return target;
    };
    const appendItem = (target: unknown, item: unknown): void => {
      if (Array.isArray(target) && !(target instanceof PyTuple)) {
        // A full deque drops its oldest item (CPython's pickler never writes more than maxlen items).
        if (target instanceof PyDeque && target.maxlen !== null && target.length >= target.maxlen) {
          if (target.maxlen === 0) return;
          target.shift();
        }
        if (target.length >= maxItems) checkItems(target.length + 1);
        target.push(item);
        return;
      }
      if (target instanceof PyObject) {
        checkItems(target.listItems.length + 1);
        target.listItems.push(item);
        return;
      }
      const decoder =
        typeof target === 'object' && target !== null ? this.#userObjects.get(target) : undefined;
      if (decoder?.append) {
        decoder.append(target, item);
        return;
      }
      fail('BAD_STACK', `cannot append to ${describe(target)}`);
    };
    /** Shrinks the stack to `length` items: a few pops are cheaper than the length setter's builtin call. */
    const dropStackTo = (length: number): void => {
      if (stack.length - length > 16) stack.length = length;
      else while (stack.length > length) stack.pop();
    };
    const makeTuple = (from: number): PyTuple => {
      if (++objects > maxObjects) tooManyObjects();
      const items = stackItems(from);
      dropStackTo(from);
      return asTuple(items);
    };
    /** A copy of the stack from `from` up: a loop, as slice() goes through the species lookup (see asTuple). */
    const stackItems = (from: number): unknown[] => {
      const items: unknown[] = [];
      for (let i = from; i < stack.length; i++) items.push(stack[i]);
      return items;
    };
    const resolveGlobal = (module: string, name: string): PyGlobal => {
      if (state.proto < 3 && this.#fixImports) [module, name] = mapPython2Name(module, name);
      // From protocol 3 CPython maps no names, so it cannot import a module only Python 2 has.
      else if (this.#fixImports && PYTHON2_ONLY_MODULES.has(module))
        fail('BAD_VALUE', `No module named '${module}' (a Python 2 name, mapped only below protocol 3)`);
      const key = `${module}\n${name}`;
      const known = state.globals?.get(key);
      if (known) return known;
      if (module === '') fail('BAD_VALUE', 'Empty module name');
      if (name === '') fail('BAD_VALUE', `module '${module}' has no attribute ''`);
      if (state.proto < 4 && name.includes('.')) {
        fail('BAD_VALUE', `Can't get attribute '${name}' on module '${module}' below protocol 4`);
      }
      if (this.#filter && !this.#filter(module, name))
        fail('GLOBAL_REFUSED', `global '${module}.${name}' is forbidden`);
      const g = new PyGlobal(module, name);
      const user =
        this.#registry?.decoderFor(module, name) ??
        (module.startsWith('numpy') ? this.#numpyDecoders?.decoderFor(module, name) : undefined);
      if (user) this.#userDecoders.set(g, user);
      else {
        const qualified = `${module}.${name}`;
        const handler = STDLIB_HANDLERS.get(qualified);
        if (handler) this.#handlers.set(g, handler);
        if (DATETIME_STATE_GLOBALS.has(qualified)) this.#datetimeGlobals.add(g);
      }
      state.globals ??= new Map();
      state.globals.set(key, g);
      return g;
    };
    // What a registered decoder made is a user class's instance, which Python hashes by its own rules.
    const madeByDecoder = (value: object): boolean => this.#userObjects.has(value);
    const ctx: ReconstructContext = {
      registered: madeByDecoder,
      // copyreg._reconstructor and __newobj__ (how protocols 0 and 1 make instances) reach a registered
      // decoder of their class as NEWOBJ does.
      handlerFor: (c) => {
        if (!(c instanceof PyGlobal)) return undefined;
        const user = this.#userDecoders.get(c);
        if (user === undefined) return this.#handlers.get(c);
        return {
          construct: (_cls, args, kwargs) =>
            this.#construct(
              user,
              args instanceof PyTuple ? args : (PyTuple.fromItems(args) as PyTuple),
              kwargs === undefined ? undefined : new Map(kwargs),
            ),
        };
      },
      makeDict: (entries) => {
        const plain =
          dictMode !== 'map' &&
          entries.every(([k]) => typeof k === 'string' && (dictMode === 'object' || !isArrayIndexKey(k)));
        if (plain) {
          const obj = new PlainObject();
          for (const [k, v] of entries) setObjectKey(obj, k as string, v);
          return obj;
        }
        if (dictMode === 'object') fail('BAD_VALUE', "a dict key that is not a str in dicts: 'object' mode");
        return new Map(entries);
      },
    };
    let origins = NO_ORIGINS;
    const recordOrigin = (
      value: unknown,
      kind: PyObjectKind,
      callable: unknown,
      args: PyTuple,
      kwargs: Map<string, unknown> | undefined,
    ): unknown => {
      // Of the typed values, only these have an instance __dict__ in CPython, so only they can take a state.
      // `cls()` (how CPython writes an OrderedDict) is the default origin and is not recorded: no cost.
      if (
        (value instanceof PyOrderedDict || value instanceof PyCounter) &&
        (kind !== 'reduce' || args.length > 0 || kwargs !== undefined || value.size > 0)
      ) {
        origins.set(value, { kind, callable, args, kwargs, itemsAtCreation: value.size });
      }
      return value;
    };
    const isCallableLike = (v: unknown): boolean =>
      v instanceof PyGlobal ||
      v instanceof PyObject ||
      v instanceof PyPersistentRef ||
      typeof v === 'function';
    // The last REDUCE callable's decoder and handler: runs of one class skip the two WeakMap lookups.
    let lastCallable: PyGlobal | undefined;
    let lastUser: ClassDecoder | undefined;
    let lastHandler: GlobalHandler | undefined;
    /** Charges what a standard-library reconstructor may copy from `args` against this load's budget. */
    const chargeCopies = (args: PyTuple): void => {
      for (const arg of args) {
        const n = copyableItems(arg);
        if (n === 0) continue;
        copyBudget -= n;
        if (copyBudget < 0) {
          fail(
            'LIMIT_EXCEEDED',
            `standard-library reconstructors would copy more than maxCopiedItemsPerByte (${limits.maxCopiedItemsPerByte}) items per byte of pickle`,
          );
        }
      }
    };
    const callGlobal = (kind: PyObjectKind, callable: unknown, args: PyTuple | unknown[]): unknown => {
      const argsTuple = args instanceof PyTuple ? args : (PyTuple.fromItems(args) as PyTuple);
      if (callable instanceof PyObject && isZoneInfoUnpickle(callable)) {
        const zone = zoneInfoFromArgs(argsTuple);
        if (zone !== undefined) return zone;
      }
      if (callable instanceof PyGlobal) {
        if (callable !== lastCallable) {
          lastCallable = callable;
          lastUser = this.#userDecoders.get(callable);
          lastHandler = this.#handlers.get(callable);
        }
        const user = lastUser;
        if (user) return this.#construct(user, argsTuple, undefined);
        const handler = lastHandler;
        if (handler?.call) {
          chargeCopies(argsTuple);
          const v = handler.call(argsTuple, ctx);
          if (v !== KEEP_PLACEHOLDER) return recordOrigin(v, kind, callable, argsTuple, undefined);
        }
        if (callable.name === 'getattr' && callable.module === 'builtins' && this.#registry !== undefined) {
          const nested = this.#registeredNestedClass(argsTuple);
          if (nested !== undefined) return nested;
        }
      }
      return new PyObject(kind, callable, argsTuple);
    };
    const newObject = (
      kind: PyObjectKind,
      cls: unknown,
      args: unknown,
      kwargs: Map<string, unknown> | undefined,
    ): unknown => {
      if (!(cls instanceof PyGlobal || cls instanceof PyObject || cls instanceof PyPersistentRef)) {
        fail('BAD_STACK', `${kind.toUpperCase()} class argument must be a type, not ${describe(cls)}`);
      }
      if (cls instanceof PyGlobal && cls.module === 'builtins' && BUILTIN_FUNCTIONS.has(cls.name)) {
        fail(
          'BAD_STACK',
          `${kind.toUpperCase()} class argument must be a type, not builtin_function_or_method`,
        );
      }
      if (!(args instanceof PyTuple))
        fail('BAD_STACK', `${kind.toUpperCase()} args argument must be a tuple, not ${describe(args)}`);
      const argsTuple = args as PyTuple;
      if (cls instanceof PyGlobal) {
        const user = this.#userDecoders.get(cls);
        if (user) return this.#construct(user, argsTuple, kwargs);
        const handler = this.#handlers.get(cls);
        if (handler?.construct) {
          chargeCopies(argsTuple);
          const v = handler.construct(cls, argsTuple, kwargs, ctx);
          if (v !== KEEP_PLACEHOLDER) return recordOrigin(v, kind, cls, argsTuple, kwargs);
        }
      }
      return new PyObject(kind, cls, argsTuple, kwargs);
    };
    const kwargsMap = (value: unknown): Map<string, unknown> => {
      const m = new Map<string, unknown>();
      if (value instanceof Map) {
        for (const [k, v] of value) {
          if (typeof k !== 'string') fail('BAD_STACK', 'NEWOBJ_EX keywords must be strings');
          m.set(k as string, v);
        }
      } else if (isPlainDict(value)) {
        for (const k of Object.keys(value)) m.set(k, value[k]);
      } else {
        fail('BAD_STACK', `NEWOBJ_EX kwargs argument must be a dict, not ${describe(value)}`);
      }
      return m;
    };
    /**
     * py2 str: decoded per `encoding`, but kept as bytes when it is the state of a datetime/date/time: it
     * follows the class (or a MARK after it) and the opcodes after it, from `after`, REDUCE it with the class.
     */
    const py2String = (from: number, n: number, raw: Uint8Array | null, after: number): unknown => {
      if (this.#py2Bytes) return raw ?? bytesAt(from, n);
      const t = stack.length > 0 ? stack[stack.length - 1] : undefined;
      if (t instanceof PyGlobal && this.#datetimeGlobals.has(t)) {
        const afterMark = marks.length > 0 && cur.fence === stack.length;
        state.lookahead ??= lookaheadBudget(end);
        if (isDatetimeStateAt(data, after, end, afterMark, state.lookahead)) return raw ?? bytesAt(from, n);
      }
      const src = raw ?? data;
      const s = raw ? 0 : from;
      try {
        this.#textCodec ??= findTextCodec(this.#encoding);
      } catch (e) {
        return fail('BAD_ARGUMENT', e instanceof Error ? e.message : String(e), e);
      }
      try {
        return decodeWithCodec(src, s, s + n, this.#textCodec, this.#errors);
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        return fail(
          'BAD_ARGUMENT',
          `${reason} (a Python 2 str, decoded with encoding '${this.#encoding}': pass encoding 'latin1', or ` +
            "'bytes' to receive bytes, as Python 3's pickle.loads(encoding=...))",
          e,
        );
      }
    };
    const nextBuffer = (): unknown => {
      const replay = this.#replay.buffers;
      if (this.#replayPos.buffers < replay.length) return wrapBuffer(replay[this.#replayPos.buffers++]!);
      if (!this.#buffers)
        fail('NOT_SUPPORTED', 'pickle stream refers to out-of-band data but no *buffers* argument was given');
      const next = this.#buffers!.next();
      if (next.done) fail('NOT_SUPPORTED', 'not enough out-of-band buffers');
      replay.push(next.value);
      this.#replayPos.buffers++;
      return wrapBuffer(next.value);
    };
    const wrapBuffer = (b: unknown): unknown => {
      if (b instanceof PyPickleBuffer) return b;
      const bytes = byteViewOf(b);
      if (bytes !== undefined) return new PyPickleBuffer(bytes, false);
      return fail(
        'BAD_VALUE',
        `out-of-band buffers must be bytes-like (a typed array, DataView or ArrayBuffer) or PyPickleBuffer, not ${kindOf(b)}`,
      );
    };
    const persistent = (pid: unknown, text: boolean): unknown => {
      if (!this.#persistentLoad) {
        if (++objects > maxObjects) tooManyObjects();
        return new PyPersistentRef(pid, text);
      }
      const replay = this.#replay.persistent;
      if (this.#replayPos.persistent < replay.length) return replay[this.#replayPos.persistent++];
      const v = this.#persistentLoad(pid);
      replay.push(v);
      this.#replayPos.persistent++;
      return v;
    };
    const readLong = (from: number, n: number): number | bigint => {
      if (n === 0) return int(0);
      if (n <= 6) {
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + data[from + i]!;
        if (data[from + n - 1]! & 0x80) v -= 2 ** (8 * n);
        return int(v);
      }
      if (n > LONG_WORDS_MAX_BYTES) {
        const parts = new Array<string>(n);
        for (let i = 0; i < n; i++) parts[i] = HEX_BYTE[data[from + n - 1 - i]!]!;
        return bigToInt(BigInt.asIntN(8 * n, BigInt(`0x${parts.join('')}`)));
      }
      // The signed top (n % 8 bytes, or the top 64-bit word), then the lower 64-bit words shifted in: the top
      // carries the sign, so no asIntN is needed. 1e5 ints of 9–73 bytes: 30 ms, against 65 ms for 48-bit
      // number chunks and 42 ms for a hex string.
      const view = dataView();
      let low = n - (n % 8);
      let v: bigint;
      const rem = n - low;
      if (rem === 0) {
        low -= 8;
        v = view.getBigInt64(from + low, true);
      } else {
        // At most 6 bytes fit a number exactly; a 7th (the lowest) is shifted in as its own step.
        const top = rem === 7 ? 6 : rem;
        let high = 0;
        for (let i = n - 1; i >= n - top; i--) high = high * 256 + data[from + i]!;
        if (data[from + n - 1]! & 0x80) high -= 2 ** (8 * top);
        v = BigInt(high);
        if (rem === 7) v = (v << 8n) | BigInt(data[from + low]!);
      }
      // Two words joined first, then shifted in together: half as many copies of the growing value (-13%).
      while (low >= 16) {
        low -= 16;
        const pair = (view.getBigUint64(from + low + 8, true) << 64n) | view.getBigUint64(from + low, true);
        v = (v << 128n) | pair;
      }
      if (low > 0) v = (v << 64n) | view.getBigUint64(from, true);
      return bigToInt(v);
    };
    // Runs of numbers go straight into their list unless ints must be bigints or floats PyFloats.
    const numberRuns = !bigintsAlways && !wrapFloats;
    /** A valid FRAME at `q`: CPython's C unpickler only checks that the frame fits in the data. */
    const isValidFrame = (q: number): boolean =>
      end - q >= 9 && readUint32LE(data, q + 5) === 0 && readUint32LE(data, q + 1) <= end - q - 9;
    /**
     * The count of BINFLOAT/BININT/BININT1/BININT2 opcodes (valid FRAMEs between them allowed) from `p` up to
     * an APPENDS, whose offset goes to `runEnd`; -1 if anything else comes first or the run is empty.
     */
    let runEnd = 0;
    const numberRunLength = (p: number): number => {
      let q = p;
      let count = 0;
      for (;;) {
        if (q >= end) return -1;
        const c = data[q]!;
        if (c === 0x47) q += 9;
        else if (c === 0x4b) q += 2;
        else if (c === 0x4d) q += 3;
        else if (c === 0x4a) q += 5;
        else if (c === 0x95) {
          if (!isValidFrame(q)) return -1;
          q += 9;
          continue;
        } else break;
        count++;
      }
      if (data[q] !== 0x65 || count === 0) return -1;
      runEnd = q;
      return count;
    };
    /**
     * MARK at `p - 1` followed only by BINFLOAT/BININT/BININT1/BININT2 (and valid FRAMEs) and then APPENDS onto
     * a list on top of the stack: appends the numbers from the data and returns the offset after APPENDS. The
     * MARK…APPENDS runs that directly follow (a batched list's next batches) go in the same step, so a long
     * list is sized once. Returns -1 (nothing done) for anything else, including any run the opcodes would
     * refuse, so that every error still comes from the opcode that raises it. The stack would box each float
     * in a heap number.
     */
    const appendNumberRun = (p: number): number => {
      const target = stack[stack.length - 1];
      if (!Array.isArray(target) || target instanceof PyTuple || target instanceof PyDeque) return -1;
      let count = numberRunLength(p);
      if (count < 0 || target.length + count > maxItems) return -1;
      let last = runEnd;
      for (;;) {
        let q = last + 1;
        while (q < end && data[q] === 0x95 && isValidFrame(q)) q += 9;
        if (q >= end || data[q] !== 0x28) break;
        const more = numberRunLength(q + 1);
        if (more < 0 || target.length + count + more > maxItems) break;
        count += more;
        last = runEnd;
      }
      appendNumbersFrom(target, data, dataView(), p, last, count);
      return last + 1;
    };
    const checkDigits = (digits: number): void => {
      if (digits > limits.maxBigIntDigits)
        fail(
          'LIMIT_EXCEEDED',
          `int of about ${Math.ceil(digits)} digits exceeds maxBigIntDigits (${limits.maxBigIntDigits})`,
        );
    };

    return (input: Uint8Array, start: number, keepMemo: boolean): LoadResult => {
      data = input;
      end = Math.min(input.length, start + limits.maxInputBytes);
      overLimit = end < input.length;
      copyBudget = COPY_ALLOWANCE + limits.maxCopiedItemsPerByte * (end - start);
      objects = 0;
      view = undefined;
      stack = [];
      marks = [];
      cur.op = 0;
      cur.opPos = start;
      cur.fence = 0;
      state = {
        memo: keepMemo ? this.#memo : [],
        memoCount: keepMemo ? this.#memoCount : 0,
        proto: 0,
        globals: undefined,
        lookahead: undefined,
      };
      memo = state.memo;
      memoBase = keepMemo ? memo.length : 0;
      dictMode = this.#forceAllMaps ? 'map' : this.#dictMode;
      trackDicts = dictMode === 'auto';
      forceMapSlots = this.#forceMapSlots.size > 0 ? this.#forceMapSlots : null;
      cacheStrings = end - start <= CACHED_STRINGS_MAX_PICKLE;
      origins = this.#origins;
      made = undefined;
      madeFloor = 0;
      newestDict = undefined;
      pendingInMemo = false;
      plainDictWrites = 0;
      plainDictSizes = undefined;
      lastCallable = undefined;
      lastUser = undefined;
      lastHandler = undefined;
      let pos = start;
      let op = 0;
      try {
        for (;;) {
          // Every opcode pushes a few values at most: the stack cannot pass maxDepth by more than that
          // (containers and MARKs check before they open; this catches None, ints, strings and GETs). The
          // error names the opcode that pushed past it.
          if (stack.length > maxDepth)
            fail('LIMIT_EXCEEDED', `more than maxDepth (${maxDepth}) values on the unpickling stack`);
          cur.opPos = pos;
          if (pos >= end) {
            cur.op = 0x2e;
            if (overLimit) truncated();
            this.#fail(
              'TRUNCATED',
              pos === start
                ? 'no pickle here: the data ends where it starts (CPython: "Ran out of input")'
                : 'pickle data was truncated: it ends before STOP',
              pos,
            );
          }
          op = data[pos++]!;
          cur.op = op;
          switch (op) {
            // ---- protocol control
            case 0x80: {
              // PROTO
              if (end - pos < 1) truncated();
              const p = data[pos++]!;
              if (p > HIGHEST_PROTOCOL) fail('UNSUPPORTED_PROTOCOL', `unsupported pickle protocol: ${p}`);
              state.proto = p;
              break;
            }
            case 0x95: {
              // FRAME: CPython's C unpickler only checks that the frame fits in the data.
              if (end - pos < 8) truncated();
              const lo = readUint32LE(data, pos);
              const hi = readUint32LE(data, pos + 4);
              pos += 8;
              if (hi !== 0 || lo > end - pos) {
                if (overLimit && hi === 0 && lo <= data.length - pos) truncated();
                // A frame longer than the data is data that stops short: TRUNCATED, as a stream reader waits on.
                const length = hi === 0 ? String(lo) : String((BigInt(hi) << 32n) | BigInt(lo));
                fail(
                  'TRUNCATED',
                  `pickle data was truncated: a frame of ${length} bytes is longer than the ${end - pos} bytes left`,
                );
              }
              break;
            }
            case 0x2e: {
              // STOP
              const value = pop();
              if (keepMemo) {
                // The kept memo outlives this load's data: PendingState entries point into it.
                if (pendingInMemo) {
                  for (const i of pendingSlots) {
                    const v = memo[i];
                    if (v instanceof PendingState) materialize(v, i);
                  }
                }
                this.#memoCount = state.memoCount;
              }
              return { value, end: pos };
            }
            // ---- ints
            case 0x4a: // BININT
              if (end - pos < 4) truncated();
              stack.push(bigintsAlways ? BigInt(readInt32LE(data, pos)) : readInt32LE(data, pos));
              pos += 4;
              break;
            case 0x4b: // BININT1
              if (end - pos < 1) truncated();
              stack.push(bigintsAlways ? BigInt(data[pos++]!) : data[pos++]!);
              break;
            case 0x4d: // BININT2
              if (end - pos < 2) truncated();
              stack.push(bigintsAlways ? BigInt(readUint16LE(data, pos)) : readUint16LE(data, pos));
              pos += 2;
              break;
            case 0x49: {
              // INT, as the C unpickler reads it: strtol with base 0 on the line as a C string (it ends at a
              // NUL), else int(text, 0); a two-character line that strtol reads as 0 or 1 ("00", "01", "+1",
              // " 0", "-0") is a protocol-0 boolean.
              const le = lineEnd(pos, 1);
              const text = decodeLatin1(data, pos, le);
              pos = le + 1;
              checkDigits(digitCount(text));
              const nul = text.indexOf('\0');
              const head = nul < 0 ? text : text.slice(0, nul);
              // A line that starts with NUL is strtol's empty string: 0, with nothing left over.
              const x = nul === 0 ? 0n : parseStrtol(head);
              if (x !== null && text.length === 2 && (x === 0n || x === 1n)) {
                stack.push(x === 1n);
                break;
              }
              const v = x ?? parsePyIntLiteral(head);
              if (v === null) fail('BAD_ARGUMENT', `could not convert string to int: '${text}'`);
              stack.push(bigToInt(v as bigint));
              break;
            }
            case 0x4c: {
              // LONG: decimal text with an optional trailing 'L'
              const le = lineEnd(pos, 1);
              let text = decodeLatin1(data, pos, le);
              pos = le + 1;
              checkDigits(digitCount(text));
              if (text.endsWith('L')) text = text.slice(0, -1);
              const v = parsePyIntLiteral(text);
              if (v === null) fail('BAD_ARGUMENT', `invalid literal for int() with base 0: '${text}'`);
              stack.push(bigToInt(v as bigint));
              break;
            }
            case 0x8a: {
              // LONG1
              if (end - pos < 1) truncated();
              const n = data[pos++]!;
              if (end - pos < n) truncated();
              const value = readLong(pos, n);
              // At most 255 bytes: past the estimate, the digits themselves are counted.
              if (n * LOG10_256 > limits.maxBigIntDigits) checkDigits(String(value).replace('-', '').length);
              stack.push(value);
              pos += n;
              break;
            }
            case 0x8b: {
              // LONG4
              if (end - pos < 4) truncated();
              const n = readInt32LE(data, pos);
              pos += 4;
              if (n < 0) fail('BAD_ARGUMENT', 'LONG pickle has negative byte count');
              if (end - pos < n) truncated();
              if (n * LOG10_256 <= limits.maxBigIntDigits) {
                stack.push(readLong(pos, n));
              } else {
                // Past the estimate, only the bytes that are not sign extension count, then the digits.
                const m = significantLongBytes(data, pos, n);
                checkDigits(Math.max(0, (m - 1) * LOG10_256));
                const value = readLong(pos, m);
                checkDigits(String(value).replace('-', '').length);
                stack.push(value);
              }
              pos += n;
              break;
            }
            // ---- floats
            case 0x47: // BINFLOAT
              if (end - pos < 8) truncated();
              {
                const v = readFloat64BE(data, pos);
                stack.push(wrapFloats ? new PyFloat(v) : v);
              }
              pos += 8;
              break;
            case 0x46: {
              // FLOAT: repr text; 'inf'/'nan' allowed, overflow refused as CPython does
              const le = lineEnd(pos, 1);
              const text = decodeLatin1(data, pos, le);
              pos = le + 1;
              if (!PY_FLOAT.test(text)) fail('BAD_ARGUMENT', `could not convert string to float: '${text}'`);
              const lower = text.toLowerCase();
              let v: number;
              // float('-nan') has its sign bit set, and a pickle of it keeps it.
              if (lower.endsWith('nan')) v = text[0] === '-' ? NEGATIVE_NAN : Number.NaN;
              else if (lower.endsWith('inf') || lower.endsWith('infinity'))
                v = text[0] === '-' ? -Infinity : Infinity;
              else {
                v = Number(text);
                if (!Number.isFinite(v))
                  fail('BAD_ARGUMENT', `value too large to convert to float: '${text}'`);
              }
              stack.push(float(v));
              break;
            }
            // ---- constants
            case 0x4e: // NONE
              stack.push(null);
              break;
            case 0x88: // NEWTRUE
              stack.push(true);
              break;
            case 0x89: // NEWFALSE
              stack.push(false);
              break;
            // ---- str
            case 0x8c: {
              // SHORT_BINUNICODE
              if (end - pos < 1) truncated();
              const n = data[pos++]!;
              if (end - pos < n) truncated();
              if (n > limits.maxStringBytes) checkString(n);
              stack.push(utf8(pos, n));
              pos += n;
              break;
            }
            case 0x58: {
              // BINUNICODE
              const n = payloadLength(pos, 4);
              pos += 4;
              stack.push(utf8(pos, n));
              pos += n;
              break;
            }
            case 0x8d: {
              // BINUNICODE8
              const n = payloadLength(pos, 8);
              pos += 8;
              stack.push(utf8(pos, n));
              pos += n;
              break;
            }
            case 0x56: {
              // UNICODE: raw-unicode-escape text line
              const lineStart = pos;
              const lineStop = lineEnd(pos, 0);
              pos = lineStop + 1;
              checkString(lineStop - lineStart);
              try {
                stack.push(decodeRawUnicodeEscape(data, lineStart, lineStop));
              } catch (e) {
                fail(
                  'BAD_ARGUMENT',
                  `'rawunicodeescape' codec can't decode bytes: ${(e as Error).message}`,
                  e,
                );
              }
              break;
            }
            // ---- bytes
            case 0x43: {
              // SHORT_BINBYTES
              if (end - pos < 1) truncated();
              const n = data[pos++]!;
              if (end - pos < n) truncated();
              if (n > limits.maxStringBytes) checkString(n);
              if (n <= 10 && stack.length > cur.fence) {
                const next = temporalShortcut(pos, n);
                if (next >= 0) {
                  pos = next;
                  break;
                }
              }
              stack.push(bytesAt(pos, n));
              pos += n;
              break;
            }
            case 0x42: {
              // BINBYTES
              const n = payloadLength(pos, 4);
              pos += 4;
              stack.push(bytesAt(pos, n));
              pos += n;
              break;
            }
            case 0x8e: {
              // BINBYTES8
              const n = payloadLength(pos, 8);
              pos += 8;
              stack.push(bytesAt(pos, n));
              pos += n;
              break;
            }
            case 0x96: {
              // BYTEARRAY8
              const n = payloadLength(pos, 8);
              pos += 8;
              stack.push(PyByteArray.fromBytes(data.subarray(pos, pos + n)));
              pos += n;
              break;
            }
            case 0x97: // NEXT_BUFFER
              stack.push(nextBuffer());
              break;
            case 0x98: {
              // READONLY_BUFFER
              // CPython: `memoryview(top)`, made read-only if it is not. Bytes stay bytes; a bytearray becomes
              // a read-only view of it; what has no buffer (an int, a list) is refused as memoryview refuses it.
              const b = top();
              if (b instanceof PyPickleBuffer) {
                if (!b.readonly) stack[stack.length - 1] = new PyPickleBuffer(b.data, true);
              } else if (b instanceof PyByteArray) {
                stack[stack.length - 1] = new PyPickleBuffer(b, true);
              } else if (b instanceof PyGlobal) {
                fail('BAD_VALUE', "memoryview: a bytes-like object is required, not 'type'");
              } else if (
                b === null ||
                typeof b !== 'object' ||
                Array.isArray(b) ||
                b instanceof Map ||
                b instanceof Set ||
                isPlainDict(b)
              ) {
                fail('BAD_VALUE', `memoryview: a bytes-like object is required, not '${describe(b)}'`);
              }
              break;
            }
            // ---- Python 2 str
            case 0x55: {
              // SHORT_BINSTRING
              if (end - pos < 1) truncated();
              const n = data[pos++]!;
              if (end - pos < n) truncated();
              if (n > limits.maxStringBytes) checkString(n);
              stack.push(py2String(pos, n, null, pos + n));
              pos += n;
              break;
            }
            case 0x54: {
              // BINSTRING
              if (end - pos < 4) truncated();
              const n = readInt32LE(data, pos);
              pos += 4;
              if (n < 0) fail('BAD_ARGUMENT', 'BINSTRING pickle has negative byte count');
              if (end - pos < n) truncated();
              checkString(n);
              stack.push(py2String(pos, n, null, pos + n));
              pos += n;
              break;
            }
            case 0x53: {
              // STRING: a quoted, backslash-escaped Python 2 str repr
              const lineStart = pos;
              const lineStop = lineEnd(pos, 0);
              pos = lineStop + 1;
              const len = lineStop - lineStart;
              checkString(len);
              const q = data[lineStart];
              if (len < 2 || (q !== 0x27 && q !== 0x22) || data[lineStop - 1] !== q) {
                fail('BAD_ARGUMENT', 'the STRING opcode argument must be quoted');
              }
              let raw: Uint8Array;
              try {
                raw = decodeStringEscape(data, lineStart + 1, lineStop - 1);
              } catch (e) {
                return fail('BAD_ARGUMENT', (e as Error).message, e);
              }
              stack.push(py2String(0, raw.length, raw, pos));
              break;
            }
            // ---- containers
            case 0x5d: // EMPTY_LIST
              checkDepth();
              if (++objects > maxObjects) tooManyObjects();
              stack.push(newList());
              break;
            case 0x7d: // EMPTY_DICT
              checkDepth();
              if (++objects > maxObjects) tooManyObjects();
              newestDict = newDict();
              newestDictFloor = memo.length;
              stack.push(newestDict);
              break;
            case 0x8f: // EMPTY_SET
              checkDepth();
              if (++objects > maxObjects) tooManyObjects();
              stack.push(new Set());
              break;
            case 0x29: // EMPTY_TUPLE
              if (++objects > maxObjects) tooManyObjects();
              stack.push(asTuple([]));
              break;
            case 0x28: // MARK
              checkDepth();
              if (numberRuns && stack.length > cur.fence) {
                const next = appendNumberRun(pos);
                if (next >= 0) {
                  pos = next;
                  break;
                }
              }
              marks.push(stack.length);
              cur.fence = stack.length;
              break;
            case 0x85: {
              // TUPLE1: an exact-size literal, where a copy loop would give a 17-slot backing store
              if (stack.length - cur.fence < 1) underflow();
              if (++objects > maxObjects) tooManyObjects();
              const a = stack.pop();
              stack.push(asTuple([a]));
              break;
            }
            case 0x86: {
              // TUPLE2: an exact-size literal, where a copy loop would give a 17-slot backing store
              if (stack.length - cur.fence < 2) underflow();
              if (++objects > maxObjects) tooManyObjects();
              const b = stack.pop();
              const a = stack.pop();
              stack.push(asTuple([a, b]));
              break;
            }
            case 0x87: {
              // TUPLE3: an exact-size literal, where a copy loop would give a 17-slot backing store
              if (stack.length - cur.fence < 3) underflow();
              if (++objects > maxObjects) tooManyObjects();
              const c = stack.pop();
              const b = stack.pop();
              const a = stack.pop();
              stack.push(asTuple([a, b, c]));
              break;
            }
            case 0x74: {
              // TUPLE
              const m = popMark();
              checkItems(stack.length - m);
              stack.push(makeTuple(m));
              break;
            }
            case 0x6c: {
              // LIST
              const m = popMark();
              if (++objects > maxObjects) tooManyObjects();
              checkItems(stack.length - m);
              const list = stackItems(m);
              stack.length = m;
              stack.push(list);
              break;
            }
            case 0x64: {
              // DICT
              const m = popMark();
              if (++objects > maxObjects) tooManyObjects();
              if ((stack.length - m) % 2 !== 0) fail('BAD_STACK', 'odd number of items for DICT');
              checkItems((stack.length - m) / 2);
              let dict: unknown = newDict();
              newestDict = dict;
              newestDictFloor = memo.length;
              stack.push(dict);
              const slot = stack.length - 1;
              for (let i = m; i < slot; i += 2) dict = setItem(dict, stack[i], stack[i + 1], slot);
              stack.length = m;
              stack.push(dict);
              break;
            }
            case 0x91: {
              // FROZENSET
              const m = popMark();
              if (++objects > maxObjects) tooManyObjects();
              checkItems(stack.length - m);
              const fs = new PyFrozenSet(stackItems(m).map(keyOf));
              stack.length = m;
              stack.push(fs);
              break;
            }
            case 0x61: {
              // APPEND
              if (stack.length - cur.fence < 2) underflow();
              const item = stack.pop();
              appendItem(stack[stack.length - 1], item);
              break;
            }
            case 0x65: {
              // APPENDS
              const m = popMark();
              if (m <= cur.fence || m === 0) fail('BAD_STACK', 'unpickling stack underflow');
              const target = stack[m - 1];
              if (Array.isArray(target) && !(target instanceof PyTuple) && !(target instanceof PyDeque)) {
                checkItems(target.length + stack.length - m);
                if (typeof stack[m] === 'number' && allNumbers(stack, m)) appendNumbers(target, stack, m);
                else appendValues(target, stack, m);
              } else {
                for (let i = m; i < stack.length; i++) appendItem(target, stack[i]);
              }
              dropStackTo(m);
              break;
            }
            case 0x73: {
              // SETITEM
              if (stack.length - cur.fence < 3) underflow();
              const value = stack.pop();
              const key = stack.pop();
              const slot = stack.length - 1;
              stack[slot] = setItem(stack[slot], key, value, slot);
              break;
            }
            case 0x75: {
              // SETITEMS
              const m = popMark();
              if (m <= cur.fence || m === 0) fail('BAD_STACK', 'unpickling stack underflow');
              if ((stack.length - m) % 2 !== 0) fail('BAD_STACK', 'odd number of items for SETITEMS');
              const slot = m - 1;
              let target = stack[slot];
              let i = m;
              if (dictMode !== 'map' && isPlainDict(target)) {
                // Fast path for str-keyed dicts: the type checks are done once per batch.
                checkItems((stack.length - m) / 2);
                const obj = target;
                for (; i < stack.length; i += 2) {
                  const key = stack[i];
                  if (typeof key !== 'string' || (dictMode === 'auto' && isArrayIndexKey(key))) break;
                  if (key === '__proto__') setObjectKey(obj, key, stack[i + 1]);
                  else obj[key] = stack[i + 1];
                }
                countPlainDictItems(obj, (i - m) / 2);
              }
              for (; i < stack.length; i += 2) target = setItem(target, stack[i], stack[i + 1], slot);
              stack[slot] = target;
              dropStackTo(m);
              break;
            }
            case 0x90: {
              // ADDITEMS
              const m = popMark();
              if (m <= cur.fence || m === 0) fail('BAD_STACK', 'unpickling stack underflow');
              const target = stack[m - 1];
              if (!(target instanceof Set) || target instanceof PyFrozenSet) {
                fail('BAD_STACK', `ADDITEMS target must be a set, not ${describe(target)}`);
              }
              const set = target as Set<unknown>;
              checkItems(set.size + stack.length - m);
              for (let i = m; i < stack.length; i++) {
                set.add(keyOf(stack[i]));
              }
              stack.length = m;
              break;
            }
            // ---- stack manipulation
            case 0x30: {
              // POP: pops a MARK when one is on top, as the C unpickler does
              if (marks.length > 0 && marks[marks.length - 1] === stack.length) popMark();
              else if (pop() === made && made instanceof PyObject && cur.opPos === reducedAt)
                this.#keepStateSetterCall(made, fail);
              break;
            }
            case 0x31: {
              // POP_MARK
              const m = popMark();
              stack.length = m;
              break;
            }
            case 0x32: {
              // DUP
              const v = top();
              if (trackDicts && isPlainDict(v)) this.#dupedDicts.add(v as object);
              stack.push(v);
              break;
            }
            // ---- memo
            case 0x67: {
              // GET
              const le = lineEnd(pos, 1);
              const text = decodeLatin1(data, pos, le);
              pos = le + 1;
              const m = PY_INT_BASE10.exec(text);
              if (!m) fail('BAD_ARGUMENT', `invalid literal for int() with base 10: '${text}'`);
              const idx = Number(m![1]! + m![2]!.replace(/_/g, ''));
              stack.push(memoGet(idx));
              break;
            }
            case 0x68: // BINGET
              if (end - pos < 1) truncated();
              stack.push(memoGet(data[pos++]!));
              break;
            case 0x6a: // LONG_BINGET
              if (end - pos < 4) truncated();
              stack.push(memoGet(readUint32LE(data, pos)));
              pos += 4;
              break;
            case 0x70: {
              // PUT
              const le = lineEnd(pos, 1);
              const text = decodeLatin1(data, pos, le);
              pos = le + 1;
              const m = PY_INT_BASE10.exec(text);
              if (!m) fail('BAD_ARGUMENT', `invalid literal for int() with base 10: '${text}'`);
              const idx = Number(m![1]! + m![2]!.replace(/_/g, ''));
              if (idx < 0) fail('BAD_ARGUMENT', 'negative PUT argument');
              memoPut(idx, top());
              break;
            }
            case 0x71: // BINPUT
              if (end - pos < 1) truncated();
              memoPut(data[pos++]!, top());
              break;
            case 0x72: {
              // LONG_BINPUT
              if (end - pos < 4) truncated();
              const idx = readUint32LE(data, pos);
              pos += 4;
              memoPut(idx, top());
              break;
            }
            case 0x94: // MEMOIZE
              if (stack.length <= cur.fence) underflow();
              // CPython's index is the number of memo entries (memo_len), which is memo.length unless a PUT
              // left holes; then it may even overwrite an entry, as CPython does.
              if (
                state.memoCount !== memo.length ||
                memo.length >= limits.maxMemoEntries ||
                forceMapSlots !== null
              )
                memoPut(state.memoCount, stack[stack.length - 1]);
              else {
                memo.push(stack[stack.length - 1]);
                state.memoCount++;
              }
              break;
            // ---- globals and objects
            case 0x63: {
              // GLOBAL
              const module = this.#utf8Line(data, pos, end, truncated, fail);
              pos = module.next;
              const name = this.#utf8Line(data, pos, end, truncated, fail);
              pos = name.next;
              stack.push(resolveGlobal(module.text, name.text));
              break;
            }
            case 0x93: {
              // STACK_GLOBAL
              if (stack.length - cur.fence < 2) underflow();
              const name = stack.pop();
              const module = stack.pop();
              if (typeof name !== 'string' || typeof module !== 'string')
                fail('BAD_STACK', 'STACK_GLOBAL requires str');
              stack.push(resolveGlobal(module as string, name as string));
              break;
            }
            case 0x82:
            case 0x83:
            case 0x84: {
              // EXT1 / EXT2 / EXT4
              const size = op === 0x82 ? 1 : op === 0x83 ? 2 : 4;
              if (end - pos < size) truncated();
              const code =
                size === 1 ? data[pos]! : size === 2 ? readUint16LE(data, pos) : readInt32LE(data, pos);
              pos += size;
              if (code <= 0) fail('BAD_ARGUMENT', 'EXT specifies code <= 0');
              const entry = this.#extensions?.get(code);
              if (!entry) fail('NOT_SUPPORTED', `unregistered extension code ${code}`);
              stack.push(resolveGlobal(entry![0], entry![1]));
              break;
            }
            case 0x52: {
              // REDUCE
              if (stack.length - cur.fence < 2) underflow();
              const args = stack.pop();
              const callable = stack.pop();
              if (!isCallableLike(callable))
                fail('BAD_STACK', `REDUCE callable must be callable, not ${describe(callable)}`);
              if (!(args instanceof PyTuple))
                fail('BAD_STACK', `REDUCE argument list must be a tuple, not ${describe(args)}`);
              made = callGlobal('reduce', callable, args as PyTuple);
              stack.push(made);
              reducedAt = pos;
              if (++objects > maxObjects) tooManyObjects();
              madeFloor = memo.length;
              madeLength = madeFloor;
              madePutCeiling = -1;
              break;
            }
            case 0x81: {
              // NEWOBJ
              if (stack.length - cur.fence < 2) underflow();
              const args = stack.pop();
              const cls = stack.pop();
              made = newObject('newobj', cls, args, undefined);
              stack.push(made);
              if (++objects > maxObjects) tooManyObjects();
              madeFloor = memo.length;
              madeLength = madeFloor;
              madePutCeiling = -1;
              break;
            }
            case 0x92: {
              // NEWOBJ_EX
              if (stack.length - cur.fence < 3) underflow();
              const kwargs = stack.pop();
              const args = stack.pop();
              const cls = stack.pop();
              const kw = kwargsMap(kwargs);
              made = newObject('newobj_ex', cls, args, kw);
              stack.push(made);
              if (++objects > maxObjects) tooManyObjects();
              madeFloor = memo.length;
              madeLength = madeFloor;
              madePutCeiling = -1;
              break;
            }
            case 0x69: {
              // INST: module\nname\n with the MARKed arguments; CPython decodes these names as ASCII
              checkAsciiLine(data, pos, end, fail);
              const module = this.#utf8Line(data, pos, end, truncated, fail);
              pos = module.next;
              checkAsciiLine(data, pos, end, fail);
              const name = this.#utf8Line(data, pos, end, truncated, fail);
              pos = name.next;
              const m = popMark();
              const args = makeTuple(m);
              made = callGlobal('inst', resolveGlobal(module.text, name.text), args);
              stack.push(made);
              if (++objects > maxObjects) tooManyObjects();
              madeFloor = memo.length;
              madeLength = madeFloor;
              madePutCeiling = -1;
              break;
            }
            case 0x6f: {
              // OBJ: MARK cls args... OBJ
              const m = popMark();
              if (stack.length - m < 1) fail('BAD_STACK', 'unpickling stack underflow');
              const cls = stack[m];
              const args = makeTuple(m + 1);
              stack.length = m;
              if (!isCallableLike(cls)) fail('BAD_STACK', `OBJ class must be a type, not ${describe(cls)}`);
              made = callGlobal('obj', cls, args);
              stack.push(made);
              if (++objects > maxObjects) tooManyObjects();
              madeFloor = memo.length;
              madeLength = madeFloor;
              madePutCeiling = -1;
              break;
            }
            case 0x62: {
              // BUILD
              if (stack.length - cur.fence < 2) underflow();
              const stateValue = stack.pop();
              const slot = stack.length - 1;
              const target = stack[slot];
              stack[slot] = this.#build(
                target,
                stateValue,
                memo,
                target === made ? madeFloor : 0,
                target === made && memo.length === madeLength ? madePutCeiling : memo.length - 1,
                state.globals,
                fail,
              );
              if (stack[slot] !== target) {
                made = undefined;
                // The replacement went into memo slots the newest dict's floor does not know of.
                newestDict = undefined;
              }
              break;
            }
            case 0x50: {
              // PERSID
              const lineStart = pos;
              const lineStop = lineEnd(pos, 0);
              pos = lineStop + 1;
              for (let i = lineStart; i < lineStop; i++) {
                if (data[i]! >= 0x80)
                  fail('BAD_ARGUMENT', 'persistent IDs in protocol 0 must be ASCII strings');
              }
              stack.push(persistent(decodeLatin1(data, lineStart, lineStop), true));
              break;
            }
            case 0x51: // BINPERSID
              stack.push(persistent(pop(), false));
              break;
            default:
              fail(
                'UNKNOWN_OPCODE',
                `invalid load key, '${String.fromCharCode(op)}' (0x${op.toString(16).padStart(2, '0')})`,
              );
          }
        }
      } catch (e) {
        if (e instanceof UnpicklingError) throw e;
        if (e instanceof ReconstructError || e instanceof TextDecodeFailure) {
          const code = e instanceof ReconstructError ? e.code : 'BAD_VALUE';
          throw new UnpicklingError(code, `${opName(cur.op)}: ${e.message}`, cur.opPos, { cause: e });
        }
        const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        throw new UnpicklingError('BAD_VALUE', `${opName(cur.op)} failed: ${message}`, cur.opPos, {
          cause: e,
        });
      } finally {
        // Nothing of this load stays reachable from the unpickler.
        data = NO_BYTES;
        view = undefined;
        stack = NO_ITEMS;
        marks = NO_MARKS;
        state = NO_STATE;
        memo = NO_ITEMS;
        memoBase = 0;
        origins = NO_ORIGINS;
        newestDict = undefined;
        made = undefined;
        plainDictSizes = undefined;
        lastCallable = undefined;
        lastUser = undefined;
        lastHandler = undefined;
      }
    };
  }

  /** A uint64 length field; anything above 2^53 cannot fit in the data and is truncation. */
  #size8(data: Uint8Array, at: number, end: number, truncated: () => never): number {
    const lo = readUint32LE(data, at);
    const hi = readUint32LE(data, at + 4);
    const n = hi * 2 ** 32 + lo;
    if (hi >= 0x200000 || n > end - at - 8) return truncated();
    return n;
  }

  /** One UTF-8 line of GLOBAL/INST; an empty line is truncated data in CPython. */
  #utf8Line(
    data: Uint8Array,
    from: number,
    end: number,
    truncated: () => never,
    fail: (code: UnpicklingErrorCode, message: string) => never,
  ): { text: string; next: number } {
    const nl = data.indexOf(0x0a, from);
    if (nl < 0 || nl >= end || nl === from) return truncated();
    const text = decodeUtf8Surrogatepass(data, from, nl);
    // CPython decodes global names as strict UTF-8 (no surrogates).
    if (text === null || /[\ud800-\udfff]/.test(text))
      return fail('BAD_ARGUMENT', "'utf-8' codec can't decode the global name");
    return { text, next: nl + 1 };
  }

  /**
   * `getattr(Outer, 'Inner')`, how CPython names a nested class below protocol 4, as the global
   * `module.Outer.Inner` when the registry has a decoder for it (and the allow-list lets it through).
   */
  #registeredNestedClass(args: PyTuple): PyGlobal | undefined {
    if (args.length !== 2) return undefined;
    const [owner, attribute] = args;
    if (!(owner instanceof PyGlobal) || typeof attribute !== 'string' || attribute.includes('.'))
      return undefined;
    const name = `${owner.name}.${attribute}`;
    const decoder = this.#registry?.decoderFor(owner.module, name);
    if (decoder === undefined || (this.#filter && !this.#filter(owner.module, name))) return undefined;
    const nested = new PyGlobal(owner.module, name);
    this.#userDecoders.set(nested, decoder);
    return nested;
  }

  /**
   * `setter(obj, state)` by REDUCE, its result thrown away by the POP right after, is how CPython's pickler
   * writes a `__reduce__` state setter (3.8 on). On a placeholder the call is kept (`stateSetter` and `state`),
   * so that it re-encodes to the same bytes and Python sets its state again; a registered decoder's value
   * takes the state through its `setState`, as from a BUILD.
   */
  #keepStateSetterCall(call: PyObject, fail: (code: UnpicklingErrorCode, message: string) => never): void {
    if (call.kind !== 'reduce' || call.args.length !== 2) return;
    const [target, state] = call.args;
    if (target instanceof PyObject) {
      if (target.state === undefined && target.stateSetter === undefined) {
        target.stateSetter = call.callable;
        target.state = state;
      }
      return;
    }
    const decoder = typeof target === 'object' && target !== null ? this.#userObjects.get(target) : undefined;
    if (decoder === undefined) return;
    if (!decoder.setState) {
      fail(
        'NOT_SUPPORTED',
        `a state setter gives ${describe(target)} a state, and its registered decoder has no setState(obj, state) to take it`,
      );
      return;
    }
    // A replacement setState returns is not taken: the object is already referenced where the pickle put it.
    decoder.setState(target, state);
  }

  #construct(decoder: ClassDecoder, args: PyTuple, kwargs: Map<string, unknown> | undefined): unknown {
    const value = decoder.construct(args, kwargs);
    if (typeof value === 'object' && value !== null) this.#userObjects.set(value, decoder);
    return value;
  }

  /** BUILD: state onto a placeholder, a user type, or a standard-library value awaiting its state. */
  #build(
    obj: unknown,
    stateValue: unknown,
    memo: unknown[],
    memoFloor: number,
    memoCeiling: number,
    globals: ReadonlyMap<string, PyGlobal> | undefined,
    fail: (code: UnpicklingErrorCode, message: string) => never,
  ): unknown {
    const decoder = typeof obj === 'object' && obj !== null ? this.#userObjects.get(obj) : undefined;
    if (decoder) {
      if (!decoder.setState) {
        return fail(
          'NOT_SUPPORTED',
          `BUILD gives ${describe(obj)} a state, and its registered decoder has no setState(obj, state) to take it`,
        );
      }
      const replaced = decoder.setState(obj, stateValue);
      if (replaced === undefined || replaced === obj) return obj;
      this.#replaceInMemo(obj as object, replaced, memo, memoFloor, memoCeiling);
      if (typeof replaced === 'object' && replaced !== null) this.#userObjects.set(replaced, decoder);
      return replaced;
    }
    if (obj instanceof PyObject) {
      const handler = obj.callable instanceof PyGlobal ? this.#handlers.get(obj.callable) : undefined;
      if (handler?.build && obj.state === undefined) {
        const built = handler.build(obj, stateValue);
        if (built !== KEEP_PLACEHOLDER) {
          this.#replaceInMemo(obj, built, memo, memoFloor, memoCeiling);
          return built;
        }
      }
      obj.state = stateValue;
      return obj;
    }
    if (stateValue === null) return obj;
    if (obj instanceof PyOrderedDict || obj instanceof PyCounter) {
      const name = obj instanceof PyOrderedDict ? 'OrderedDict' : 'Counter';
      const origin = this.#origins.get(obj) ?? {
        kind: 'reduce',
        callable: globals?.get(`collections\n${name}`) ?? new PyGlobal('collections', name),
        args: asTuple([]),
        kwargs: undefined,
        itemsAtCreation: 0,
      };
      return this.#buildOnTypedValue(obj, origin, stateValue, memo);
    }
    return fail('BAD_STACK', `BUILD state on ${describe(obj)} is not supported`);
  }

  /**
   * BUILD with a state on a typed standard-library value (an OrderedDict with instance attributes, say):
   * CPython accepts it, the typed value cannot hold it, so it becomes the PyObject placeholder of its
   * reduction, items added after creation included, which re-encodes to the same pickle.
   */
  #buildOnTypedValue(
    obj: Map<unknown, unknown>,
    origin: StdlibOrigin,
    stateValue: unknown,
    memo: unknown[],
  ): PyObject {
    const placeholder = new PyObject(origin.kind, origin.callable, origin.args, origin.kwargs);
    let index = 0;
    for (const entry of obj) if (index++ >= origin.itemsAtCreation) placeholder.dictItems.push(entry);
    placeholder.state = stateValue;
    if (!this.#replaceInMemo(obj, placeholder, memo, 0, memo.length - 1) && this.#fullScanBudget > 0) {
      // Memoized before its many items: search the rest of the memo, within a budget against hostile input.
      const stop = Math.max(0, memo.length - MEMO_PATCH_WINDOW);
      const at = memo.lastIndexOf(obj, stop - 1);
      this.#fullScanBudget -= at >= 0 ? stop - at : stop;
      if (at >= 0) {
        this.#saveMemoEntry(memo, at);
        memo[at] = placeholder;
      }
    }
    this.#origins.delete(obj);
    return placeholder;
  }

  /**
   * Memo slots from `floor` to `ceiling` still holding `old` now hold `replacement` (BUILD that produced a new
   * value), searching at most MEMO_PATCH_WINDOW slots down from the ceiling; true if any did.
   */
  #replaceInMemo(
    old: object,
    replacement: unknown,
    memo: unknown[],
    floor: number,
    ceiling: number,
  ): boolean {
    const top = Math.min(ceiling, memo.length - 1);
    const stop = Math.max(floor, top - MEMO_PATCH_WINDOW + 1);
    let found = this.#replaceBetween(old, replacement, memo, stop, top);
    // A range wider than the window: its bottom too, where the value's own PUT usually is.
    if (stop > floor) {
      const to = Math.min(stop - 1, floor + MEMO_PATCH_WINDOW - 1);
      if (this.#replaceBetween(old, replacement, memo, floor, to)) found = true;
    }
    return found;
  }

  /** Memo slots `from` to `to` holding `old` now hold `replacement`; true if any did. */
  #replaceBetween(old: object, replacement: unknown, memo: unknown[], from: number, to: number): boolean {
    let found = false;
    for (let i = to; i >= from; i--) {
      if (memo[i] === old) {
        this.#saveMemoEntry(memo, i);
        memo[i] = replacement;
        found = true;
      }
    }
    return found;
  }

  /**
   * A dict built as a plain object met a key an object cannot hold: rebuild it as a Map in place. The stack
   * slot and recent memo slots are patched; if the object was already handed out by GET/DUP, the load is
   * rerun with this dict a Map from its creation so every reference is the same object.
   */
  #convertDict(
    obj: Record<string, unknown>,
    memo: unknown[],
    slot: number,
    stack: unknown[],
    memoFloor: number,
  ): Map<unknown, unknown> {
    const map = new Map<unknown, unknown>();
    for (const k of Object.keys(obj)) map.set(k, obj[k]);
    stack[slot] = map;
    const escapedAt = this.#escapedDicts.get(obj);
    let patched = false;
    // From a known floor the search is complete, however far; else the window, then the rarer full search.
    const known = memoFloor >= 0 && memo.length - memoFloor <= MEMO_PATCH_WINDOW;
    const stop = known ? memoFloor : Math.max(0, memo.length - MEMO_PATCH_WINDOW);
    for (let i = memo.length - 1; i >= stop; i--) {
      if (memo[i] === obj) {
        this.#saveMemoEntry(memo, i);
        memo[i] = map;
        patched = true;
        if (escapedAt === undefined) continue;
        this.#forceMapSlots.add(i);
        if (this.#restart === Restart.None) this.#restart = Restart.Some;
      }
    }
    // Handed out by a GET from a slot beyond the window: the slot it came from is known.
    if (escapedAt !== undefined && !patched && memo[escapedAt] === obj) {
      this.#saveMemoEntry(memo, escapedAt);
      memo[escapedAt] = map;
      patched = true;
      this.#forceMapSlots.add(escapedAt);
      if (this.#restart === Restart.None) this.#restart = Restart.Some;
    }
    // The copy a DUP left may be anywhere: only a rerun with every dict a Map mends it.
    if (this.#dupedDicts.has(obj) || (escapedAt !== undefined && !patched)) this.#restart = Restart.All;
    else if (!patched && stop > 0 && !known) {
      // Rare: memoized long ago. A bounded number of full scans within the load's budget of memo entries
      // searched (a sparse memo of millions of holes is slow to search), then a rerun with every dict a Map.
      if (++this.#fullScans > 64 || this.#fullScanBudget < stop) this.#restart = Restart.All;
      else {
        this.#fullScanBudget -= stop;
        const i = memo.lastIndexOf(obj, stop - 1);
        if (i >= 0) {
          this.#saveMemoEntry(memo, i);
          memo[i] = map;
        }
      }
    }
    return map;
  }
}

/**
 * How many of the `n` little-endian two's-complement bytes at `pos` carry the value: high bytes that only
 * extend the sign (0xff over a negative byte, 0x00 over a positive one) do not. At least 1 when `n` is.
 */
function significantLongBytes(data: Uint8Array, pos: number, n: number): number {
  if (n === 0) return 0;
  const negative = data[pos + n - 1]! >= 0x80;
  const fill = negative ? 0xff : 0x00;
  let m = n;
  while (m > 1 && data[pos + m - 1] === fill && data[pos + m - 2]! >= 0x80 === negative) m--;
  return m;
}

/**
 * INST's names are ASCII to CPython (`load_inst`): a byte above 0x7f in the line from `from` fails as its
 * strict decode does. A line without its newline is left to the reader, which reports it truncated.
 */
function checkAsciiLine(
  data: Uint8Array,
  from: number,
  end: number,
  fail: (code: UnpicklingErrorCode, message: string) => never,
): void {
  const to = data.indexOf(0x0a, from);
  if (to < 0 || to >= end) return;
  for (let i = from; i < to; i++) {
    if (data[i]! > 0x7f) {
      fail(
        'BAD_ARGUMENT',
        `'ascii' codec can't decode byte 0x${data[i]!.toString(16)} in position ${i - from}: ordinal not in range(128)`,
      );
    }
  }
}
