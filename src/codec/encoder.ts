/**
 * The pickler: JavaScript values -> pickle bytes identical to CPython 3.8–3.13's C pickler (`_pickle.c`)
 * at protocols 0–5. It is iterative (an explicit frame stack, no recursion), writes into one growable byte
 * array, and follows the C pickler's memo numbering, framing, batching and opcode choices.
 * Pure: no I/O, no `node:` imports.
 *
 * Value mapping: `null`/`undefined` -> None; boolean -> bool; number -> int when `Number.isSafeInteger`
 * and not -0, else float; PyFloat -> float; bigint -> int; string -> str (lone surrogates as
 * surrogatepass); Uint8Array (and Buffer) -> bytes; PyByteArray -> bytearray; Array -> list; PyTuple ->
 * tuple; plain object (own enumerable string keys, in `Object.keys` order) or Map -> dict; Set -> set;
 * PyFrozenSet -> frozenset; Date -> aware UTC datetime; the other values.ts classes -> what CPython writes
 * for the equivalent Python value; PyGlobal -> the global; PyObject -> REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ;
 * NDArray, NumpyDtype, NumpyScalar -> what numpy 2 writes (option `numpy`).
 * Other typed arrays, ArrayBuffer, functions, symbols and class instances without a registry reducer
 * are refused with PicklingError `UNPICKLABLE`.
 *
 * Memo: objects by identity; equal strings by value (option `memoizeStrings`); globals by module and
 * name, as they are one object in Python. None, bool, int and float are never memoized. A global's module
 * and name strings at protocol 4+ follow CPython's objects (`globalNaming`): interned for Python-defined
 * classes and functions (equal strings elsewhere share their memo slot), a fresh `__qualname__` for C types
 * and builtin functions, both fresh for heap C types, and for C functions the module's own `__name__`
 * (shared among them, not with equal strings).
 *
 * Error paths use JavaScript accessor notation from `value`: `[i]` for list and tuple items,
 * `.key` / `["key"]` for object keys, `.get(key)` for Map values with primitive keys,
 * `.values()[i]` for set items and Map values with other keys, `.keys()[i]` for Map keys, and
 * `.callable`, `.args[i]`, `.kwargs`, `.state`, `.listItems[i]`, `.dictItems[i][0|1]` inside placeholders.
 *
 * Known differences from CPython:
 * - Sets and frozensets are written in insertion order. CPython writes hash order, so the bytes match
 *   when the Set holds Python's order, as every Set decoded from a CPython pickle does.
 * - Where CPython versions name a global differently, the majority of 3.8–3.13 wins: `array.array` as
 *   3.10+ (3.8/3.9 memo-share the module name), `deque`/`defaultdict` as 3.8–3.11, `decimal.Decimal` and
 *   `__main__` as 3.8–3.12. Only pickles holding a string equal to such a module or name differ.
 * - `array.array` assumes an LP64 platform ('l'/'L' 8 bytes, 'u' UTF-32).
 * - Below protocol 4, a dotted global name follows 3.8–3.12 (3.13 memoizes less).
 * - NEWOBJ_EX at protocols 2–3 is refused, since CPython's fallback depends on the class.
 * - A placeholder reached again through its own arguments is written with a new argument tuple, as a
 *   `__reduce__` that builds its tuple gives CPython; one returning a stored tuple shares it there.
 */
import { FRAME_FULL, PickleOutput } from './byte-writer.js';
import { isUint8Array } from './bytes-like.js';
import { mapPython3Name } from './compat-names.js';
import { PicklingError } from './errors.js';
import { foreignBuiltinKind } from './foreign-builtin.js';
import { unhashableType } from './hashable.js';
import { isPickledAsFloat, isSafeInteger } from './number-kind.js';
import { NDArray, NumpyDtype, NumpyScalar, numpyRegistry } from './numpy.js';
import { DEFAULT_PROTOCOL, HIGHEST_PROTOCOL, Op } from './opcodes.js';
import type { ReduceContext, Registry } from './registry.js';
import {
  BUILTINS_GETATTR,
  EMPTY_BYTES,
  FreshString,
  freshString,
  globalNaming,
  isPlainData,
  isSharedString,
  isUtcEquivalent,
  MODULE_FRESH,
  MODULE_SHARED,
  moduleNameString,
  NAME_FRESH,
  type Reduction,
  reduceStdlibValue,
  SharedString,
  TransientDict,
  TransientList,
  TransientTuple,
} from './stdlib-encode.js';
import { STRING_HASH_SEED, StringMemo } from './string-memo.js';
import {
  encodeRawUnicodeEscapeInto,
  encodeUtf8,
  encodeUtf8Hashing,
  encodeUtf8Into,
  formatFloatRepr,
} from './text-encode.js';
import {
  PyByteArray,
  PyDatetime,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyPersistentRef,
  PyPickleBuffer,
  PyTimezone,
  PyTuple,
  PyZoneInfo,
} from './values.js';

/** Options of `dumps` and `Pickler`. */
export interface PicklerOptions {
  /** Pickle protocol 0–5, a negative number for the highest (5), as CPython; default 4 (CPython 3.8–3.13's). */
  protocol?: number;
  /** Below protocol 3, write Python 2 names for renamed modules (`__builtin__`), as CPython's `fix_imports`. Default true. */
  fixImports?: boolean;
  /**
   * Memoize equal strings by value, so a repeated string is written once and fetched with BINGET after.
   * CPython memoizes by object identity, and equal strings in Python data are usually one object (literals,
   * dict keys, interned names), so `true` (the default) reproduces its bytes in the common case. `false`
   * writes every occurrence anew, as CPython does for equal strings that are distinct objects; except `''`
   * and strings of one Latin-1 character, of which CPython has only one object each.
   */
  memoizeStrings?: boolean;
  /**
   * CPython's `persistent_id`: called with every value before it is pickled; return `undefined` or `null` to
   * pickle the value normally, anything else to write that as a persistent id (BINPERSID, or PERSID at
   * protocol 0, where the id must be a string or number).
   */
  persistentId?: ((value: unknown) => unknown) | null;
  /**
   * CPython's `buffer_callback` (protocol 5): called with each PyPickleBuffer; a truthy result keeps the
   * buffer in band, anything else writes NEXT_BUFFER (+ READONLY_BUFFER) and leaves the data to the caller.
   */
  bufferCallback?: ((buffer: PyPickleBuffer) => unknown) | null;
  /** User classes: instances of a registered `type` are written through its reducer. */
  registry?: Registry;
  /**
   * copyreg's extension registry: `'module.qualname'` -> code (1 to 2^31 - 1), as `copyreg.add_extension`
   * registers them. From protocol 2 such a global is written as EXT1/EXT2/EXT4 with its code (and not
   * memoized), as CPython does; the peer must have registered the same codes.
   */
  extensions?: ReadonlyMap<string, number>;
  /**
   * Write NDArray, NumpyDtype and NumpyScalar as numpy does (numpy 2 module names; `_frombuffer` at protocol
   * 5) without a registry. Reducers in `registry` take precedence. Default true.
   */
  numpy?: boolean;
}

/** The numpy reducers `dumps` uses when the caller's registry has none for a numpy value. */
let defaultNumpyRegistry: Registry | undefined;

// Frame kinds of the explicit save stack.
const FRAME_ITEMS = 1;
const FRAME_PAIRS = 2;
const FRAME_TUPLE = 3;
const FRAME_PROGRAM = 4;

// Batch modes, after the C pickler's batch_* functions.
/** Protocol 0: every item on its own (APPEND / SETITEM). */
const MODE_ONE_BY_ONE = 0;
/** `batch_list_exact`: one item alone uses APPEND, otherwise MARK ... APPENDS per 1000. */
const MODE_EXACT_LIST = 1;
/** `batch_list` / `batch_dict` over an iterator: a trailing single item uses APPEND / SETITEM. */
const MODE_ITERATOR = 2;
/** `batch_dict_exact`: like the list form, but a full batch is always followed by another, possibly empty. */
const MODE_EXACT_DICT = 3;
/** `save_set`: always MARK ... ADDITEMS, with the same empty batch after a full one. */
const MODE_SET = 4;
const BATCH_SIZE = 1000;

// Tuple frame variants.
const TUPLE_PLAIN = 0;
const TUPLE_FROZENSET = 1;

// Program actions: [action, argument, path label] triplets.
/**
 * Containers, reductions and their parts open at once (the encoder's explicit stack): far beyond any value CPython
 * can pickle (its recursion limit stops it near 1000) and what the decoder reads by default, and a bound on the
 * memory of a reducer that nests without end.
 */
const MAX_NESTING = 1_000_000;
/** Steps of an error's path (a container or a reduction's part each) shown at its start and its end (see #path). */
const PATH_ENDS = 500;
const ACT_SAVE = 1;
const ACT_SAVE_NO_PERSISTENT_ID = 2;
const ACT_BYTE = 3;
const ACT_TEXT = 4;
const ACT_MEMO_PUT = 5;
const ACT_MEMO_PUT_GLOBAL = 6;
/** save_reduce's tail: if the object got memoized meanwhile (recursion), POP and fetch it; else memoize it. */
const ACT_MEMO_PUT_OR_FETCH = 7;
const ACT_ENTER = 8;
const ACT_LEAVE = 9;
const ACT_LIST_ITEMS = 10;
const ACT_DICT_ITEMS = 11;

// How a frame names its current child in an error path.
const LABEL_INDEX = 0;
const LABEL_SET = 1;
const LABEL_OBJECT_KEYS = 2;
const LABEL_MAP = 3;
const LABEL_PAIRS = 4;
const LABEL_PROGRAM = 5;

/** Frame-stack depth from which tuple cycles are looked for (see `#enterTuple`). */
const CYCLE_CHECK_DEPTH = 1024;

/** Text and binary opcodes above this many UTF-16 units are encoded out of place (they may reach 64 KiB). */
const MAX_IN_PLACE_STRING = 21_845;

/** Ints whose Number conversion is below this in magnitude are written by `#saveLongChunked`. */
const LONG_CHUNKED_LIMIT = 2 ** 1000;

const COPYREG_NEWOBJ = new PyGlobal('copyreg', '__newobj__');
const COPYREG_NEWOBJ_EX = new PyGlobal('copyreg', '__newobj_ex__');
const BUILTINS_BYTES = new PyGlobal('builtins', 'bytes');
const BUILTINS_BYTEARRAY = new PyGlobal('builtins', 'bytearray');
const BUILTINS_SET = new PyGlobal('builtins', 'set');
const BUILTINS_FROZENSET = new PyGlobal('builtins', 'frozenset');
const CODECS_ENCODE = new PyGlobal('_codecs', 'encode');
const NO_ITEMS: readonly unknown[] = [];

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function describeKey(key: unknown): string | undefined {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'number' || typeof key === 'boolean' || key === null) return String(key);
  if (typeof key === 'bigint') return `${key}n`;
  return undefined;
}

function latin1String(data: Uint8Array): string {
  let text = '';
  for (let i = 0; i < data.length; i += 8192) {
    text += String.fromCharCode.apply(null, data.subarray(i, i + 8192) as unknown as number[]);
  }
  return text;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What to do instead, for a value with no pickle form of its own. */
function unpicklableHint(value: unknown): string {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return 'only Uint8Array is bytes: wrap the array as NDArray.fromTypedArray(array) for numpy, or as a PyArray for array.array';
  }
  if (
    value instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer)
  ) {
    return 'pass new Uint8Array(buffer) to send its bytes';
  }
  if (value instanceof DataView)
    return 'pass new Uint8Array(view.buffer, view.byteOffset, view.byteLength) to send its bytes';
  return 'no reducer registered: register one in a Registry passed as `registry`';
}

/** What a registered reducer returned, if it is a reduction: anything else fails here, not deep in the dump. */
function checkedReduction(reduction: unknown, value: object): Reduction {
  const r = reduction as Partial<Reduction> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    r === value ||
    !Array.isArray(r.args) ||
    !['reduce', 'newobj', 'newobj_ex', 'inst', 'obj'].includes(r.kind as string)
  ) {
    throw new PicklingError(
      'UNPICKLABLE',
      `the reducer registered for ${typeName(value)} returned ${r === value ? 'the value itself' : typeName(r)}: a ` +
        'reducer must return a PyObject placeholder (or a { kind, callable, args } reduction) for the value',
    );
  }
  return r as Reduction;
}

function typeName(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value !== 'object' || value === null) return typeof value;
  const ctor = (value as { constructor?: { name?: string } }).constructor;
  return ctor?.name ? `${ctor.name} instance` : 'object';
}

/**
 * Every option a Pickler takes: any other name is a misspelling, refused rather than ignored. A record of
 * every key, so that an option added to PicklerOptions and not here fails to compile.
 */
const PICKLER_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    protocol: true,
    fixImports: true,
    memoizeStrings: true,
    persistentId: true,
    bufferCallback: true,
    registry: true,
    extensions: true,
    numpy: true,
  } satisfies Record<keyof PicklerOptions, true>),
);

function unknownPicklerOption(options: object): string | undefined {
  for (const name in options) if (!PICKLER_OPTION_NAMES.has(name)) return name;
  return undefined;
}

/**
 * Checks what a Pickler checks when it is made, and returns the protocol: a bad protocol, bufferCallback
 * below protocol 5, an option of the wrong type (which would otherwise be ignored or fail in the middle of a
 * dump), or an extension code out of range.
 * @throws PicklingError BAD_OPTION.
 */
/** What reading user option objects threw, as a BAD_OPTION error (its error the cause). */
function picklerOptionsReadFailure(error: unknown): PicklingError {
  if (error instanceof PicklingError) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new PicklingError('BAD_OPTION', `the options could not be read: ${reason}`, '', { cause: error });
}

export function checkPicklerOptions(options: PicklerOptions): number {
  const bad = (message: string): never => {
    throw new PicklingError('BAD_OPTION', message, '');
  };
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    bad(`options must be an object, not ${Array.isArray(options) ? 'an array' : String(options)}`);
  const unknown = unknownPicklerOption(options);
  if (unknown !== undefined)
    bad(`unknown option ${unknown}: the options are ${[...PICKLER_OPTION_NAMES].join(', ')}`);
  let protocol = options.protocol ?? DEFAULT_PROTOCOL;
  if (!Number.isInteger(protocol) || protocol > HIGHEST_PROTOCOL) {
    bad(
      `pickle protocol must be an integer up to 5 (a negative one is the highest, as in CPython), not ${
        typeof protocol === 'string' ? JSON.stringify(protocol) : String(protocol)
      }`,
    );
  }
  // CPython: "If a negative number is specified, HIGHEST_PROTOCOL is selected."
  if (protocol < 0) protocol = HIGHEST_PROTOCOL;
  if (options.bufferCallback !== undefined && options.bufferCallback !== null && protocol < 5)
    bad('bufferCallback needs protocol 5');
  for (const name of ['fixImports', 'memoizeStrings', 'numpy'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'boolean')
      bad(`${name} must be a boolean, not ${String(value)}`);
  }
  // None (null) is Python's default for both, as no option.
  for (const name of ['persistentId', 'bufferCallback'] as const) {
    const value = options[name];
    if (value !== undefined && value !== null && typeof value !== 'function')
      bad(`${name} must be a function`);
  }
  if (options.registry !== undefined && typeof options.registry?.reducerFor !== 'function') {
    bad('registry must be a Registry');
  }
  if (options.extensions !== undefined && typeof options.extensions?.[Symbol.iterator] !== 'function') {
    bad('extensions must be a Map of "module.name" to code');
  }
  for (const [name, code] of options.extensions ?? []) {
    if (!Number.isInteger(code) || code < 1 || code > 0x7fff_ffff) {
      bad(`extension code for ${name} must be from 1 to 2**31-1, not ${code}`);
    }
  }
  return protocol;
}

/** Entries a pickler's identity WeakMap takes before further ones go to a Map (see `#memoOverflow`). */
const WEAK_MEMO_LIMIT = 1 << 19;
/** Objects a speculative dump memoizes between checks that none of them came twice (see `#speculating`). */
const SPECULATION_CHECK_EVERY = 1 << 16;
/** Dumps that do not speculate after one that met an object twice. */
const SPECULATION_PAUSE = 16;
/** Objects memoized by a linear list before the identity WeakMap takes them (see `#firstKeys`). */
const FIRST_MEMO_MAX = 16;

/** A pickler's `#dump`, for `dumpsTransient` (set by the class's static block). */
let dumpToView: (pickler: Pickler, value: unknown, viewLimit: number) => Uint8Array;

/**
 * Writes JavaScript values as pickles. Like CPython's `Pickler`, the memo persists across `dump` calls (so a
 * stream of pickles can refer back to earlier ones) until `clearMemo()`.
 */
export class Pickler {
  /** The protocol this pickler writes. */
  readonly protocol: number;
  readonly #binary: boolean;
  readonly #fixImports: boolean;
  readonly #memoizeStrings: boolean;
  readonly #persistentId: ((value: unknown) => unknown) | undefined;
  readonly #bufferCallback: ((buffer: PyPickleBuffer) => unknown) | undefined;
  readonly #registry: Registry | undefined;
  /** Whether a value is written by a registered reducer (so stands for a user class, which Python hashes). */
  readonly #registered: ((value: object) => boolean) | undefined;
  readonly #numpy: boolean;
  readonly #extensions: ReadonlyMap<string, number> | undefined;
  /** Passed to every reducer; one object for the pickler's life, so reducing allocates nothing for it. */
  readonly #reduceContext: ReduceContext;
  readonly #out = new PickleOutput();
  /** Seed in, hash out, for `encodeUtf8Hashing`. */
  readonly #hashCell = new Int32Array(1);

  /**
   * Objects memoized by identity: object -> slot, valid only while `#memoOwners[slot]` is that object
   * (`#memoIndexes[slot]` is its memo index). The WeakMap lives as long as the pickler, so `clearMemo`
   * only forgets the owners: a value pickled again finds its slot in place and claims it again if it is
   * still free, with no WeakMap write at all (nested encode 9% faster than updating the entry, together
   * with `#memoizedWhileWriting`), and entries of values no longer referenced elsewhere go with them.
   */
  #memoObjects = new WeakMap<object, number>();
  /** Entries `#memoObjects` has taken since it was made; at WEAK_MEMO_LIMIT, `#memoOverflow` takes the rest. */
  #memoWeakInserts = 0;
  /**
   * Slots given after `#memoObjects` reached WEAK_MEMO_LIMIT entries, until `clearMemo` (which then starts a
   * new WeakMap). V8's identity hashes have about 20 bits, and a WeakMap's open addressing degrades sharply
   * beyond about a million live keys (26 µs a set at 3M, against under 1 µs in a Map, which chains): one dump
   * of 2M lists took 24 s and of 4M 193 s, as did dumps of fresh values while earlier ones stayed alive.
   * Entries here are checked first, so one that replaces a stale WeakMap slot wins.
   */
  #memoOverflow: Map<object, number> | undefined;
  #memoOwners: (object | undefined)[] = [];
  #memoIndexes: number[] = [];
  /** Slots claimed since `clearMemo`, and one past the highest of them. */
  #memoClaimed = 0;
  #memoHigh = 0;
  /** No slot below this is free for an object without one. */
  #memoFree = 0;
  /**
   * The first objects memoized since `clearMemo`, with their memo indexes, while there are at most
   * FIRST_MEMO_MAX: found by a scan, without the WeakMap. A small message is all fresh objects, and a WeakMap
   * entry for each (an identity hash, an insertion, an ephemeron for the collector) cost more than pickling
   * it: an empty list took 0.41 µs, now 0.18 µs, and a fresh 7-key message record 1.89 µs, now 1.13 µs. The
   * next object memoized moves them into the slots.
   */
  #firstKeys: (object | undefined)[] = new Array(FIRST_MEMO_MAX).fill(undefined);
  #firstIndexes: number[] = new Array(FIRST_MEMO_MAX).fill(0);
  /** Objects in `#firstKeys`, or -1 once they have moved to the slots. */
  #firstCount = 0;
  /**
   * The last key looked up or given a slot, and its slot (always `#slotOf(#lastKey)`): saves `#memoPut` the
   * get `#memoLookup` just made, and `#settleSpeculation` hands its slots to the lookups through it.
   */
  #lastKey: object | undefined;
  #lastSlot: number | undefined;
  /**
   * While set, the dump bets that no object comes twice in it, as in data made from JSON: objects are not
   * looked up in the identity memo as they are met but logged with their memo index in `#specKeys` and
   * `#specIndexes`, and every SPECULATION_CHECK_EVERY of them, and at the end, the log is looked up (all
   * its slots first, in a loop of lookups alone) and remembered. Each lookup in the identity WeakMap is a cache miss (V8's identity hashes
   * are random), about 170 ns while the encoder streams its output and the values through the cache;
   * lookups made one after another overlap their misses: 1e5 record dicts pickle in about 120 ms instead
   * of 130 (CPython: 117), the nested case in 100 instead of 125. An object met twice (a shared reference
   * or a cycle) is found at the next check, and the dump starts again from scratch with the memo, as does a
   * dump that failed, so that the error is the one the memo's dump gives; the next SPECULATION_PAUSE dumps
   * then use the memo from the start. Only a dump that starts with an empty memo and runs no hook of the
   * caller's speculates, and only past its first FIRST_MEMO_MAX objects (getters and Proxy traps of a dump
   * started again run again).
   */
  #speculating = false;
  /** Set for a dump that may speculate: it does once its first FIRST_MEMO_MAX objects are memoized. */
  #speculationArmed = false;
  readonly #mayReplay: boolean;
  #speculationPause = 0;
  #specKeys: (object | undefined)[] = [];
  #specIndexes: number[] = [];
  /** Entries in the log; the arrays keep their length, so that small dumps do not regrow them each time. */
  #specCount = 0;
  /** The logged objects' slots, looked up together by `#settleSpeculation`. */
  #specSlots: (number | undefined)[] = [];
  /** Writes to `#memoObjects` or `#memoOverflow` so far: a slot looked up before is current if none came since. */
  #slotWrites = 0;
  #memoStrings = new StringMemo();
  #memoGlobals = new Map<string, number>();
  #memoSize = 0;
  /** Counts memoized containers whose items come after them; a cycle that memoizes none would never end. */
  #containersMemoized = 0;
  /** For reductions being written: the container count when they were last entered. */
  #inProgress = new Map<object, number>();
  /** The tuple standing for each placeholder's plain-array arguments, kept as long as the memo. */
  #placeholderArgs = new Map<PyObject, TransientTuple>();
  #busy = false;

  // The frame stack, as parallel arrays so that pushing a frame allocates nothing.
  #sp = 0;
  #fKind: number[] = [];
  #fObj: unknown[] = [];
  #fAux: unknown[] = [];
  #fIdx: number[] = [];
  #fEnd: number[] = [];
  #fLeft: number[] = [];
  #fLast: number[] = [];
  #fClose: number[] = [];
  #fMode: number[] = [];
  #fHalf: number[] = [];
  #fLabel: number[] = [];
  #fPrev: number[] = [];
  /** Tuple frames: the memo slot their tuple had when it was entered (-1 for none); see `#stepTuple`. */
  #fSlot: number[] = [];

  constructor(options: PicklerOptions | null = {}) {
    // Options are user objects: a getter or a Proxy that throws is a BAD_OPTION like any other.
    try {
      options ??= {};
      const protocol = checkPicklerOptions(options);
      this.protocol = protocol;
      this.#binary = protocol >= 1;
      this.#fixImports = options.fixImports ?? true;
      this.#memoizeStrings = options.memoizeStrings ?? true;
      this.#persistentId = options.persistentId ?? undefined;
      this.#bufferCallback = options.bufferCallback ?? undefined;
      this.#registry = options.registry;
      const registry = options.registry;
      this.#registered = registry?.hasReducers
        ? (value) => registry.reducerFor(value) !== undefined
        : undefined;
      this.#numpy = options.numpy ?? true;
      this.#extensions = options.extensions?.size ? options.extensions : undefined;
      this.#reduceContext = { protocol };
      // Without the caller's hooks, no code of the caller's runs but getters and Proxy traps.
      const noHooks =
        options.persistentId === undefined && options.bufferCallback === undefined && !options.registry;
      this.#mayReplay = noHooks;
      this.#out.deferLargePayloads = noHooks;
    } catch (error) {
      throw picklerOptionsReadFailure(error);
    }
  }

  /** Forgets every memoized object, as CPython's `Pickler.clear_memo()`. */
  clearMemo(): void {
    if (this.#memoOverflow !== undefined) {
      this.#memoObjects = new WeakMap();
      this.#memoWeakInserts = 0;
      this.#memoOverflow = undefined;
    }
    this.#memoOwners.fill(undefined, 0, this.#memoHigh);
    if (this.#memoOwners.length > 4 * this.#memoClaimed + 1024) {
      this.#memoOwners = [];
      this.#memoIndexes = [];
    }
    this.#memoClaimed = 0;
    this.#memoHigh = 0;
    this.#memoFree = 0;
    if (this.#firstCount > 0) this.#firstKeys.fill(undefined, 0, this.#firstCount);
    this.#firstCount = 0;
    this.#lastKey = undefined;
    this.#slotWrites++;
    this.#memoStrings.clear();
    if (this.#memoGlobals.size > 0) this.#memoGlobals = new Map();
    if (this.#placeholderArgs.size > 0) this.#placeholderArgs = new Map();
    this.#memoSize = 0;
  }

  /** Pickles `value` and returns the bytes (a fresh array the caller owns). */
  dump(value: unknown): Uint8Array {
    return this.#dump(value, 0);
  }

  static {
    dumpToView = (pickler, value, viewLimit) => pickler.#dump(value, viewLimit);
  }

  /** `dump`, where a pickle of at most `viewLimit` bytes may come back as a view of the output buffer. */
  #dump(value: unknown, viewLimit: number): Uint8Array {
    if (this.#busy)
      throw new PicklingError('BAD_OPTION', 'Pickler.dump called while it is already dumping', '');
    this.#busy = true;
    try {
      if (this.#memoSize === 0 && this.#mayReplay && this.#speculationPause === 0) {
        this.#speculationArmed = true;
        try {
          return this.#dumpOnce(value, viewLimit);
        } catch (error) {
          // Failed before it speculated: the memo's dump fails the same way.
          if (!this.#speculating) throw error;
          // An object came twice, or the dump failed: start again with the memo.
          this.#speculationPause = SPECULATION_PAUSE;
          this.clearMemo();
        } finally {
          this.#speculationArmed = false;
          this.#speculating = false;
          // A failed dump leaves objects in the log: let go of them.
          if (this.#specCount > 0) this.#clearSpeculationLog();
        }
      } else if (this.#speculationPause > 0) {
        this.#speculationPause--;
      }
      return this.#dumpOnce(value, viewLimit);
    } finally {
      this.#busy = false;
    }
  }

  #dumpOnce(value: unknown, viewLimit: number): Uint8Array {
    const out = this.#out;
    out.reset();
    try {
      if (this.protocol >= 2) {
        out.writeOpUint8(Op.PROTO, this.protocol);
        out.framing = this.protocol >= 4;
      }
      if (this.#save(value)) this.#run();
      if (this.#speculating) this.#settleSpeculation();
      out.writeByte(Op.STOP);
      out.commitFrame();
      return out.pos <= viewLimit ? out.view() : out.toBytes();
    } catch (error) {
      throw this.#locate(error);
    } finally {
      this.#clearFrames();
      if (this.#inProgress.size > 0) this.#inProgress.clear();
    }
  }

  /**
   * Looks up and remembers the objects a speculative dump logged, in the order it memoized them, as the
   * memo's dump would have; throws when one of them was memoized before (it came twice).
   */
  #settleSpeculation(): void {
    const keys = this.#specKeys;
    const indexes = this.#specIndexes;
    const slots = this.#specSlots;
    const count = this.#specCount;
    if (count === 0) return;
    // Every slot first, in a loop of lookups alone, whose cache misses overlap; they stay current until a
    // slot is written (an object new to the identity memo given one). Objects that all fit the first-objects
    // list need no slot.
    const first = this.#firstCount;
    const withSlots = first < 0 || first + count > FIRST_MEMO_MAX;
    if (withSlots) for (let i = 0; i < count; i++) slots[i] = this.#slotOf(keys[i]!);
    const writes = this.#slotWrites;
    for (let i = 0; i < count; i++) {
      const key = keys[i]!;
      if (withSlots && this.#slotWrites === writes) {
        this.#lastKey = key;
        this.#lastSlot = slots[i];
      }
      if (this.#lookupRemembered(key) !== undefined) {
        throw new Error('an object comes twice: dump with the memo');
      }
      this.#remember(key, indexes[i]!);
    }
    this.#clearSpeculationLog();
  }

  /** Empties the log, letting go of its objects; large arrays are dropped. */
  #clearSpeculationLog(): void {
    const count = this.#specCount;
    this.#specCount = 0;
    if (this.#specKeys.length > 1024) {
      this.#specKeys = [];
      this.#specIndexes = [];
      this.#specSlots = [];
    } else {
      this.#specKeys.fill(undefined, 0, count);
    }
  }

  // ---- the frame loop ----

  #run(): void {
    while (this.#sp > 0) {
      const sp = this.#sp - 1;
      switch (this.#fKind[sp]) {
        case FRAME_ITEMS:
          this.#stepItems(sp);
          break;
        case FRAME_PAIRS:
          this.#stepPairs(sp);
          break;
        case FRAME_TUPLE:
          this.#stepTuple(sp);
          break;
        default:
          this.#stepProgram(sp);
      }
    }
  }

  #push(kind: number, obj: unknown, aux: unknown, end: number, mode: number, label: number): number {
    if (this.#sp >= MAX_NESTING) {
      throw new PicklingError(
        'LIMIT_EXCEEDED',
        `values nested more than ${MAX_NESTING} deep (a reducer whose reduction holds a new value of its own type ` +
          'nests without end; CPython stops at about 1000 with a RecursionError)',
      );
    }
    const sp = this.#sp++;
    this.#fKind[sp] = kind;
    this.#fObj[sp] = obj;
    this.#fAux[sp] = aux;
    this.#fIdx[sp] = 0;
    this.#fEnd[sp] = end;
    this.#fLeft[sp] = 0;
    this.#fLast[sp] = -1;
    this.#fClose[sp] = 0;
    this.#fMode[sp] = mode;
    this.#fHalf[sp] = 0;
    this.#fLabel[sp] = label;
    this.#fPrev[sp] = -1;
    return sp;
  }

  #pop(sp: number): void {
    this.#fObj[sp] = undefined;
    this.#fAux[sp] = undefined;
    this.#sp = sp;
  }

  #clearFrames(): void {
    for (let i = 0; i < this.#sp; i++) {
      this.#fObj[i] = undefined;
      this.#fAux[i] = undefined;
    }
    this.#sp = 0;
  }

  /**
   * Opens the next batch of an items/pairs frame, or returns false when the frame is finished. Encodes the
   * C pickler's batch_list_exact / batch_list / batch_dict_exact / batch_dict / save_set rules.
   */
  #openBatch(sp: number, oneOp: number): boolean {
    const remaining = this.#fEnd[sp]! - this.#fIdx[sp]!;
    const last = this.#fLast[sp]!;
    let size: number;
    let single = false;
    switch (this.#fMode[sp]) {
      case MODE_ONE_BY_ONE:
        if (remaining === 0) return false;
        size = 1;
        single = true;
        break;
      case MODE_EXACT_LIST:
        if (remaining === 0) return false;
        single = last === -1 && remaining === 1;
        size = Math.min(remaining, BATCH_SIZE);
        break;
      case MODE_ITERATOR:
        if (remaining === 0) return false;
        single = remaining === 1;
        size = Math.min(remaining, BATCH_SIZE);
        break;
      case MODE_EXACT_DICT:
        if (last !== -1 && last !== BATCH_SIZE) return false;
        single = last === -1 && remaining === 1;
        size = Math.min(remaining, BATCH_SIZE);
        break;
      default:
        if (last !== -1 && last !== BATCH_SIZE) return false;
        size = Math.min(remaining, BATCH_SIZE);
    }
    if (single) {
      this.#fClose[sp] = oneOp;
    } else {
      this.#out.writeByte(Op.MARK);
      this.#fClose[sp] =
        oneOp === Op.APPEND ? (this.#fMode[sp] === MODE_SET ? Op.ADDITEMS : Op.APPENDS) : Op.SETITEMS;
    }
    this.#fLast[sp] = size;
    this.#fLeft[sp] = size;
    return true;
  }

  /** Writes the items of a list or set frame until one pushes a frame of its own or the list ends. */
  #stepItems(sp: number): void {
    const items = this.#fObj[sp] as ArrayLike<unknown>;
    const fIdx = this.#fIdx;
    const fLeft = this.#fLeft;
    const leavesInline = this.#persistentId === undefined;
    const floatRuns = leavesInline && this.#binary;
    for (;;) {
      let idx = fIdx[sp]!;
      let left = fLeft[sp]!;
      while (left > 0) {
        let item: unknown;
        try {
          item = items[idx];
        } catch (error) {
          // A getter or Proxy trap threw: the path names this item.
          fIdx[sp] = idx + 1;
          throw error;
        }
        // Numbers first and by hand: long runs of them are the commonest list there is.
        if (floatRuns && typeof item === 'number' && isPickledAsFloat(item)) {
          const next = this.#out.writeFloatRun(items, idx, idx + left);
          left -= next - idx;
          idx = next;
          continue;
        }
        if (leavesInline && (typeof item === 'number' ? this.#saveNumberLeaf(item) : this.#saveLeaf(item))) {
          idx++;
          left--;
          continue;
        }
        fIdx[sp] = ++idx;
        fLeft[sp] = --left;
        if (this.#save(item)) return;
      }
      fIdx[sp] = idx;
      fLeft[sp] = 0;
      const close = this.#fClose[sp]!;
      if (close !== 0) this.#out.writeByte(close);
      if (!this.#openBatch(sp, Op.APPEND)) {
        this.#pop(sp);
        return;
      }
    }
  }

  /** Writes the pairs of a dict frame until one pushes a frame of its own or the dict ends. */
  #stepPairs(sp: number): void {
    const source = this.#fObj[sp] as Record<string, unknown> & ArrayLike<unknown>;
    const keys = this.#fAux[sp] as readonly string[] | undefined;
    const fIdx = this.#fIdx;
    const fLeft = this.#fLeft;
    const fHalf = this.#fHalf;
    const leavesInline = this.#persistentId === undefined;
    for (;;) {
      let idx = fIdx[sp]!;
      let left = fLeft[sp]!;
      while (left > 0) {
        if (fHalf[sp] === 0) {
          const key = keys !== undefined ? keys[idx] : source[2 * idx];
          if (!leavesInline || !this.#saveLeaf(key)) {
            fIdx[sp] = idx;
            fLeft[sp] = left;
            fHalf[sp] = 1;
            if (this.#save(key)) return;
          }
        }
        const value = keys !== undefined ? this.#readProperty(source, keys, idx, sp) : source[2 * idx + 1];
        if (leavesInline && this.#saveLeaf(value)) {
          fHalf[sp] = 0;
          idx++;
          left--;
          continue;
        }
        fHalf[sp] = 0;
        fIdx[sp] = ++idx;
        fLeft[sp] = --left;
        if (this.#save(value)) return;
      }
      fIdx[sp] = idx;
      fLeft[sp] = 0;
      const close = this.#fClose[sp]!;
      if (close !== 0) this.#out.writeByte(close);
      if (!this.#openBatch(sp, Op.SETITEM)) {
        this.#pop(sp);
        return;
      }
    }
  }

  /**
   * `source[keys[idx]]`, which runs a getter or a Proxy's trap when the object has one: if that throws, the
   * frame is first brought to this key, so the error's path names it.
   */
  #readProperty(source: Record<string, unknown>, keys: readonly string[], idx: number, sp: number): unknown {
    try {
      return source[keys[idx]!];
    } catch (error) {
      this.#fIdx[sp] = idx + 1;
      this.#fHalf[sp] = 0;
      throw error;
    }
  }

  /** Writes a tuple or frozenset's items, then the tuple opcode. */
  #stepTuple(sp: number): void {
    const items = this.#fObj[sp] as ArrayLike<unknown>;
    const end = this.#fEnd[sp]!;
    const fIdx = this.#fIdx;
    const leavesInline = this.#persistentId === undefined;
    let idx = fIdx[sp]!;
    while (idx < end) {
      const item = items[idx];
      if (leavesInline && this.#saveLeaf(item)) {
        idx++;
        continue;
      }
      fIdx[sp] = ++idx;
      if (this.#save(item)) return;
    }
    fIdx[sp] = idx;
    const key = this.#fAux[sp] as object | undefined;
    const out = this.#out;
    const frozenset = this.#fMode[sp] === TUPLE_FROZENSET;
    if (key !== undefined) {
      const memoIndex = this.#memoizedWhileWriting(key, this.#fSlot[sp]!);
      if (memoIndex !== undefined) {
        // Recursive: the object was memoized while its items were written; drop them and fetch it.
        const usedMark = frozenset || end > 3 || this.protocol < 2;
        if (usedMark && this.#binary) {
          out.writeByte(Op.POP_MARK);
        } else {
          const pops = this.protocol >= 2 && end <= 3 ? end : end + 1;
          for (let i = 0; i < pops; i++) out.writeByte(Op.POP);
        }
        this.#writeMemoGet(memoIndex);
        this.#pop(sp);
        return;
      }
    }
    if (frozenset) out.writeByte(Op.FROZENSET);
    else if (this.protocol >= 2 && end <= 3)
      out.writeByte(end === 1 ? Op.TUPLE1 : end === 2 ? Op.TUPLE2 : Op.TUPLE3);
    else out.writeByte(Op.TUPLE);
    this.#memoPut(key);
    this.#pop(sp);
  }

  #stepProgram(sp: number): void {
    const program = this.#fAux[sp] as unknown[];
    const out = this.#out;
    let i = this.#fIdx[sp]!;
    while (i < program.length) {
      const action = program[i] as number;
      const argument = program[i + 1];
      i += 3;
      this.#fIdx[sp] = i;
      switch (action) {
        case ACT_SAVE:
          if (this.#save(argument)) return;
          break;
        case ACT_SAVE_NO_PERSISTENT_ID:
          out.opcodeBoundary();
          if (this.#saveValue(argument)) return;
          break;
        case ACT_BYTE:
          out.writeByte(argument as number);
          break;
        case ACT_TEXT:
          out.writeLatin1(argument as string);
          break;
        case ACT_MEMO_PUT:
          this.#memoPut(argument as object | undefined);
          break;
        case ACT_MEMO_PUT_GLOBAL:
          this.#memoGlobals.set(argument as string, this.#memoSize);
          this.#writeMemoPut();
          break;
        case ACT_MEMO_PUT_OR_FETCH: {
          const memoIndex = argument === undefined ? undefined : this.#memoLookup(argument as object);
          if (memoIndex !== undefined) {
            out.writeByte(Op.POP);
            this.#writeMemoGet(memoIndex);
            this.#pop(sp);
            return;
          }
          this.#memoPut(argument as object | undefined);
          this.#containersMemoized++;
          break;
        }
        case ACT_ENTER:
          this.#fPrev[sp] = this.#enter(argument as object);
          break;
        case ACT_LEAVE:
          this.#leave(argument as object, this.#fPrev[sp]!);
          break;
        case ACT_LIST_ITEMS: {
          const items = argument as readonly unknown[];
          const mode = this.#binary ? MODE_ITERATOR : MODE_ONE_BY_ONE;
          this.#push(FRAME_ITEMS, items, undefined, items.length, mode, LABEL_INDEX);
          return;
        }
        default: {
          const flat = argument as readonly unknown[];
          const mode = this.#binary ? MODE_ITERATOR : MODE_ONE_BY_ONE;
          this.#push(FRAME_PAIRS, flat, undefined, flat.length / 2, mode, LABEL_PAIRS);
          return;
        }
      }
    }
    this.#pop(sp);
  }

  /**
   * Records the containers memoized so far on a tuple or frozenset frame. A cycle through tuples alone would
   * never end; rather than a map lookup per tuple, the stack is searched for one when its depth reaches each
   * power of two from 1024 (amortized constant time; such a cycle keeps deepening the stack).
   */
  #enterTuple(sp: number, key: object): void {
    this.#fPrev[sp] = this.#containersMemoized;
    // `#saveObject` has just looked the tuple up (and found it not memoized).
    this.#fSlot[sp] = key === this.#lastKey ? (this.#lastSlot ?? -1) : -1;
    const depth = sp + 1;
    if (depth >= CYCLE_CHECK_DEPTH && (depth & (depth - 1)) === 0) this.#refuseTupleCycle();
  }

  /** Throws if one tuple is being written twice with no container memoized in between: it would loop. */
  #refuseTupleCycle(): void {
    const entered = new Map<unknown, number>();
    for (let i = 0; i < this.#sp; i++) {
      const key = this.#fAux[i];
      if (this.#fKind[i] !== FRAME_TUPLE || key === undefined) continue;
      if (entered.get(key) === this.#fPrev[i]) {
        throw new PicklingError(
          'UNPICKLABLE',
          'recursive object whose cycle passes through no list, dict, set or reduced object',
        );
      }
      entered.set(key, this.#fPrev[i]!);
    }
  }

  /** Marks `key` as being written; returns the previous mark. Throws on a cycle no memo entry can break. */
  #enter(key: object): number {
    const previous = this.#inProgress.get(key);
    if (previous === this.#containersMemoized) {
      throw new PicklingError(
        'UNPICKLABLE',
        'recursive object whose cycle passes through no list, dict, set or reduced object',
      );
    }
    this.#inProgress.set(key, this.#containersMemoized);
    return previous ?? -1;
  }

  #leave(key: object, previous: number): void {
    if (previous === -1) this.#inProgress.delete(key);
    else this.#inProgress.set(key, previous);
  }

  // ---- memo ----

  #writeMemoPut(): void {
    const index = this.#memoSize++;
    const out = this.#out;
    if (this.protocol >= 4) out.writeByte(Op.MEMOIZE);
    else if (!this.#binary) out.writeLatin1(`p${index}\n`);
    else if (index < 256) out.writeOpUint8(Op.BINPUT, index);
    else out.writeOpUint32(Op.LONG_BINPUT, index);
  }

  /** memo_put: `key` undefined gives a memo slot nothing can hit (a temporary CPython object). */
  #memoPut(key: object | undefined): void {
    if (key !== undefined) {
      // Small pickles, whose objects the first-objects list finds without the WeakMap, do not speculate.
      if (this.#speculationArmed && this.#firstCount === FIRST_MEMO_MAX) this.#speculating = true;
      if (this.#speculating) {
        const at = this.#specCount++;
        this.#specKeys[at] = key;
        this.#specIndexes[at] = this.#memoSize;
        if (at + 1 >= SPECULATION_CHECK_EVERY) this.#settleSpeculation();
      } else {
        this.#remember(key, this.#memoSize);
      }
    }
    this.#writeMemoPut();
  }

  /** Records `key` as memoized at `memoIndex`. */
  #remember(key: object, memoIndex: number): void {
    const first = this.#firstCount;
    if (first >= 0 && first < FIRST_MEMO_MAX) {
      this.#firstKeys[first] = key;
      this.#firstIndexes[first] = memoIndex;
      this.#firstCount = first + 1;
    } else {
      if (first >= 0) this.#moveFirstToSlots();
      this.#claimSlot(key, memoIndex);
    }
  }

  /** Gives the objects of `#firstKeys` their slots: from now on every object memoized has one. */
  #moveFirstToSlots(): void {
    const count = this.#firstCount;
    this.#firstCount = -1;
    for (let i = 0; i < count; i++) {
      this.#claimSlot(this.#firstKeys[i]!, this.#firstIndexes[i]!);
      this.#firstKeys[i] = undefined;
    }
  }

  /** Records `key` as memoized at `memoIndex` in its slot, giving it one when it has none. */
  #claimSlot(key: object, memoIndex: number): void {
    const owners = this.#memoOwners;
    let slot = key === this.#lastKey ? this.#lastSlot : this.#slotOf(key);
    if (slot === undefined || slot >= owners.length || (owners[slot] !== undefined && owners[slot] !== key)) {
      // No slot yet, or another object claimed it since `clearMemo`: the lowest free one (owners stays
      // dense: it only grows when every slot below is claimed, so it never outgrows one pickle's memo).
      slot = this.#memoFree;
      while (slot < owners.length && owners[slot] !== undefined) slot++;
      this.#memoFree = slot + 1;
      this.#assignSlot(key, slot);
      this.#lastKey = key;
      this.#lastSlot = slot;
    }
    owners[slot] = key;
    this.#memoIndexes[slot] = memoIndex;
    this.#memoClaimed++;
    if (slot >= this.#memoHigh) this.#memoHigh = slot + 1;
  }

  /**
   * The memo index of a tuple or frozenset if it was memoized while its items were written (it is in a
   * cycle), else undefined. `slot` is its memo slot when it was entered, unclaimed then: if the slot is
   * still unclaimed, the tuple was not memoized, since `#memoPut` would have given it that slot; so only
   * a claimed slot, or none, costs a WeakMap lookup (a third of the containers in the nested case are
   * tuples, each of which cost one).
   */
  #memoizedWhileWriting(key: object, slot: number): number | undefined {
    if (this.#speculating) return undefined;
    const owners = this.#memoOwners;
    if (slot >= 0 && slot < owners.length) {
      const owner = owners[slot];
      if (owner === undefined) return undefined;
      if (owner === key) return this.#memoIndexes[slot];
    }
    return this.#memoLookup(key);
  }

  /** The slot last given to `key`, claimed or not (see `#memoOverflow`). */
  #slotOf(key: object): number | undefined {
    const overflow = this.#memoOverflow;
    if (overflow !== undefined) {
      const slot = overflow.get(key);
      if (slot !== undefined) return slot;
    }
    return this.#memoObjects.get(key);
  }

  #assignSlot(key: object, slot: number): void {
    this.#slotWrites++;
    if (this.#memoOverflow !== undefined) {
      this.#memoOverflow.set(key, slot);
      return;
    }
    this.#memoObjects.set(key, slot);
    if (++this.#memoWeakInserts >= WEAK_MEMO_LIMIT) this.#memoOverflow = new Map();
  }

  /** The memo index of `key` if it is memoized, else undefined; always undefined while speculating. */
  #memoLookup(key: object): number | undefined {
    return this.#speculating ? undefined : this.#lookupRemembered(key);
  }

  /** The memo index of `key` if it is memoized, else undefined. */
  #lookupRemembered(key: object): number | undefined {
    const first = this.#firstCount;
    if (first >= 0) {
      // Only `#firstKeys` hold memoized objects; no slot is looked up (`#lastKey` stays unset).
      const keys = this.#firstKeys;
      for (let i = 0; i < first; i++) if (keys[i] === key) return this.#firstIndexes[i];
      return undefined;
    }
    // `#lastSlot` is always `#slotOf(#lastKey)`: `#claimSlot` and `#settleSpeculation` keep it so.
    const slot = key === this.#lastKey ? this.#lastSlot : this.#slotOf(key);
    this.#lastKey = key;
    this.#lastSlot = slot;
    if (slot === undefined || this.#memoOwners[slot] !== key) return undefined;
    return this.#memoIndexes[slot];
  }

  #writeMemoGet(index: number): void {
    const out = this.#out;
    if (!this.#binary) out.writeLatin1(`g${index}\n`);
    else if (index < 256) out.writeOpUint8(Op.BINGET, index);
    else out.writeOpUint32(Op.LONG_BINGET, index);
  }

  // ---- save ----

  /**
   * Writes `value` if it is a leaf (number, string, boolean, null, undefined) and returns true, else returns
   * false. Leaves never push a frame or throw, so the frame loops write them without frame bookkeeping.
   */
  /** `#saveLeaf` for a number, small enough to be inlined into the frame loops. */
  #saveNumberLeaf(value: number): true {
    const out = this.#out;
    if (out.frameStart >= 0 && out.pos - out.frameStart >= FRAME_FULL) out.commitFrame();
    this.#saveNumber(value);
    return true;
  }

  #saveLeaf(value: unknown): boolean {
    const out = this.#out;
    if (typeof value === 'number') {
      if (out.frameStart >= 0 && out.pos - out.frameStart >= FRAME_FULL) out.commitFrame();
      this.#saveNumber(value);
      return true;
    }
    if (typeof value === 'string') {
      if (out.frameStart >= 0 && out.pos - out.frameStart >= FRAME_FULL) out.commitFrame();
      this.#saveString(value, this.#memoizeStrings || isSharedString(value));
      return true;
    }
    if (value === null || value === undefined || typeof value === 'boolean') {
      if (out.frameStart >= 0 && out.pos - out.frameStart >= FRAME_FULL) out.commitFrame();
      this.#saveValue(value);
      return true;
    }
    return false;
  }

  /** CPython's `save()`: returns true when it pushed a frame that must finish before the caller goes on. */
  #save(value: unknown): boolean {
    const out = this.#out;
    if (out.frameStart >= 0 && out.pos - out.frameStart >= FRAME_FULL) out.commitFrame();
    if (this.#persistentId !== undefined) {
      const pid = this.#persistentId(value);
      if (pid !== undefined && pid !== null) return this.#savePersistentId(pid);
    }
    return this.#saveValue(value);
  }

  #saveValue(value: unknown): boolean {
    switch (typeof value) {
      case 'number':
        this.#saveNumber(value);
        return false;
      case 'string':
        this.#saveString(value, this.#memoizeStrings || isSharedString(value));
        return false;
      case 'boolean':
        if (this.protocol >= 2) this.#out.writeByte(value ? Op.NEWTRUE : Op.NEWFALSE);
        else this.#out.writeLatin1(value ? 'I01\n' : 'I00\n');
        return false;
      case 'bigint':
        this.#saveBigInt(value);
        return false;
      case 'undefined':
        this.#out.writeByte(Op.NONE);
        return false;
      case 'object':
        if (value === null) {
          this.#out.writeByte(Op.NONE);
          return false;
        }
        return this.#saveObject(value);
      default:
        throw new PicklingError('UNPICKLABLE', `cannot pickle ${typeName(value)}`);
    }
  }

  #saveDate(value: Date): boolean {
    if (Number.isNaN(value.getTime()))
      throw new PicklingError('UNPICKLABLE', 'cannot pickle an invalid Date');
    const reduction = reduceStdlibValue(PyDatetime.fromDate(value), this.protocol)!;
    return this.#saveReduction(reduction, value);
  }

  #saveObject(value: object): boolean {
    const memoIndex = this.#memoLookup(value);
    if (memoIndex !== undefined) {
      this.#writeMemoGet(memoIndex);
      return false;
    }
    const ctor = value.constructor;
    if (ctor === Array) return this.#saveList(value as unknown[], value);
    if (ctor === Object) return this.#saveObjectDict(value as Record<string, unknown>, value);
    if (ctor === Map) return this.#saveMap(value as Map<unknown, unknown>, value);
    return this.#saveOtherObject(value);
  }

  #saveOtherObject(value: object): boolean {
    if (this.#registry?.hasReducers) {
      const reducer = this.#registry.reducerFor(value);
      if (reducer !== undefined)
        return this.#saveReduction(checkedReduction(reducer(value, this.#reduceContext), value), value);
    }
    if (value instanceof PyFloat) {
      this.#saveFloat(value.value);
      return false;
    }
    if (value instanceof FreshString) {
      this.#saveString(value.value, false);
      return false;
    }
    if (value instanceof SharedString) {
      this.#writeStringOpcode(value.value);
      this.#memoPut(value);
      return false;
    }
    if (value instanceof TransientTuple) return this.#saveTuple(value.items, value.keyed ? value : undefined);
    if (value instanceof PyTuple) return this.#saveTuple(value, value);
    if (value instanceof PyByteArray) return this.#saveByteArray(value);
    if (value instanceof Uint8Array) return this.#saveBytesObject(value);
    if (value instanceof PyGlobal) return this.#saveGlobal(value);
    if (value instanceof PyObject) return this.#saveReduction(value, value);
    if (value instanceof TransientList) return this.#saveList(value.items, undefined);
    if (value instanceof TransientDict) return this.#saveMap(value.entries, undefined);
    if (value instanceof PyFrozenSet) return this.#saveFrozenSet(value);
    if (value instanceof Set) return this.#saveSet(value);
    if (value instanceof PyTimezone && value !== PyTimezone.utc && isUtcEquivalent(value)) {
      return this.#saveObject(PyTimezone.utc);
    }
    // ZoneInfo(key) is one object per key in CPython: equal zones are written once, then fetched.
    if (value instanceof PyZoneInfo && value.fromCache && value !== PyZoneInfo.of(value.key)) {
      return this.#saveObject(PyZoneInfo.of(value.key));
    }
    const stdlib = reduceStdlibValue(value, this.protocol);
    if (stdlib !== undefined) return this.#saveReduction(stdlib, value);
    if (value instanceof Map) return this.#saveMap(value, value);
    if (Array.isArray(value)) return this.#saveList(value, value);
    if (value instanceof Date) return this.#saveDate(value);
    if (value instanceof PyPersistentRef) return this.#savePersistentId(value.pid);
    if (value instanceof PyPickleBuffer) return this.#savePickleBuffer(value);
    if (
      this.#numpy &&
      (value instanceof NDArray || value instanceof NumpyDtype || value instanceof NumpyScalar)
    ) {
      defaultNumpyRegistry ??= numpyRegistry();
      const reducer = defaultNumpyRegistry.reducerFor(value)!;
      return this.#saveReduction(reducer(value, this.#reduceContext), value);
    }
    if (isPlainObject(value)) return this.#saveObjectDict(value as Record<string, unknown>, value);
    // A Uint8Array of another realm (a vm context, an iframe) is bytes too, and so on for its plain objects,
    // Maps, Sets and Dates.
    if (isUint8Array(value)) return this.#saveBytesObject(value);
    switch (foreignBuiltinKind(value)) {
      case 'Object':
        return this.#saveObjectDict(value as Record<string, unknown>, value);
      case 'Map':
        return this.#saveMap(value as Map<unknown, unknown>, value);
      case 'Set':
        return this.#saveSet(value as Set<unknown>);
      case 'Date':
        return this.#saveDate(value as Date);
    }
    throw new PicklingError('UNPICKLABLE', `cannot pickle ${typeName(value)} (${unpicklableHint(value)})`);
  }

  // ---- atoms ----

  #saveNumber(value: number): void {
    if ((value | 0) === value) {
      if (value !== 0 || 1 / value > 0) this.#saveInt32(value);
      else this.#saveFloat(value);
    } else if (isSafeInteger(value)) {
      if (this.protocol >= 2) this.#saveSafeLong(value);
      else this.#saveLong(BigInt(value));
    } else {
      this.#saveFloat(value);
    }
  }

  #saveInt32(value: number): void {
    const out = this.#out;
    if (!this.#binary) {
      out.writeLatin1(`I${value}\n`);
    } else if (value >= 0 && value <= 0xff) {
      out.writeOpUint8(Op.BININT1, value);
    } else if (value >= 0 && value <= 0xffff) {
      const at = out.reserve(3);
      out.bytes[at] = Op.BININT2;
      out.bytes[at + 1] = value;
      out.bytes[at + 2] = value >> 8;
      out.pos = at + 3;
    } else {
      out.writeOpUint32(Op.BININT, value);
    }
  }

  #saveBigInt(value: bigint): void {
    // Number(value) is exact for safe integers and finite below 2**1024: it picks the path with no BigInt work.
    const approx = Number(value);
    if ((approx | 0) === approx) this.#saveInt32(approx);
    else if (isSafeInteger(approx) && this.protocol >= 2) this.#saveSafeLong(approx);
    else if (approx > -LONG_CHUNKED_LIMIT && approx < LONG_CHUNKED_LIMIT && this.protocol >= 2)
      this.#saveLongChunked(value, approx);
    else this.#saveLong(value);
  }

  /**
   * LONG1 for an int below 2**1000 in magnitude: its two's complement written 64 bits at a time by
   * DataView.setBigUint64 (no string conversion), then trimmed to encode_long's length — the fewest bytes
   * that hold the value with its sign bit, which is `bit_length // 8 + 1` less a redundant 0xff.
   */
  #saveLongChunked(value: bigint, approx: number): void {
    const out = this.#out;
    // 1000 bits are at most 16 chunks, plus one of sign.
    const at = out.reserve(2 + 8 * 17);
    const start = at + 2;
    // Enough chunks for the bits and a sign bit, counted from `approx` (no BigInt work): each chunk after
    // the first costs a BigInt shift, an allocation, so stopping at the first chunk of sign alone (one
    // shift and chunk more) made the bigints case 20% slower.
    const chunks = Math.floor(bitLengthBound(approx) / 64) + 1;
    let v = value;
    let end = start;
    for (let chunk = 1; ; chunk++) {
      out.setBigUint64(end, v);
      end += 8;
      if (chunk === chunks) break;
      v >>= 64n;
    }
    const bytes = out.bytes;
    const sign = value < 0n ? 0xff : 0;
    let byteCount = end - start;
    while (
      byteCount > 1 &&
      bytes[start + byteCount - 1] === sign &&
      ((bytes[start + byteCount - 2]! ^ sign) & 0x80) === 0
    )
      byteCount--;
    bytes[at] = Op.LONG1;
    bytes[at + 1] = byteCount;
    out.pos = start + byteCount;
  }

  /** LONG1 for a safe integer outside the int32 range, from two 32-bit halves (no BigInt on this path). */
  #saveSafeLong(value: number): void {
    const magnitude = Math.abs(value);
    const high = Math.floor(magnitude / 0x1_0000_0000);
    const bits = high > 0 ? 64 - Math.clz32(high) : 32 - Math.clz32(magnitude >>> 0);
    // encode_long: bit_length // 8 + 1 bytes of two's complement, little-endian.
    let byteCount = (bits >> 3) + 1;
    const low32 = value >>> 0;
    const high32 = Math.floor(value / 0x1_0000_0000) | 0;
    const byteAt = (i: number): number =>
      i < 4 ? (low32 >>> (8 * i)) & 0xff : (high32 >> (8 * (i - 4))) & 0xff;
    // A negative number whose top byte is a redundant 0xff sign byte drops it.
    if (value < 0 && byteCount > 1 && byteAt(byteCount - 1) === 0xff && (byteAt(byteCount - 2) & 0x80) !== 0)
      byteCount--;
    const out = this.#out;
    const at = out.reserve(2 + byteCount);
    const bytes = out.bytes;
    bytes[at] = Op.LONG1;
    bytes[at + 1] = byteCount;
    for (let i = 0; i < byteCount; i++) bytes[at + 2 + i] = byteAt(i);
    out.pos = at + 2 + byteCount;
  }

  /** An int outside the signed 32-bit range: LONG1/LONG4 from protocol 2, `L...L` text below. */
  #saveLong(value: bigint): void {
    const out = this.#out;
    if (this.protocol < 2) {
      out.writeLatin1(`L${value}L\n`);
      return;
    }
    const negative = value < 0n;
    const hex = (negative ? -value : value).toString(16);
    // bit_length from the hex digits: 4 per digit, less the leading zero bits of the first one.
    const bits = 4 * hex.length - (Math.clz32(hexDigit(hex, 0)) - 28);
    let byteCount = (bits >> 3) + 1;
    // encode_long drops a redundant 0xff sign byte: for a negative number, exactly when its magnitude is
    // a power of two whose bit length is a multiple of 8 (-128, -2**15, ...).
    if (negative && bits % 8 === 0 && isPowerOfTwoHex(hex)) byteCount--;
    const header = byteCount < 256 ? 2 : 5;
    const at = out.reserve(header + byteCount);
    const bytes = out.bytes;
    if (header === 2) {
      bytes[at] = Op.LONG1;
      bytes[at + 1] = byteCount;
    } else {
      this.#writeUint32Header(at, Op.LONG4, byteCount);
    }
    // Little-endian magnitude bytes (byte i is the hex pair counted from the end), negated in two's
    // complement on the way for a negative number: no second BigInt conversion.
    const start = at + header;
    let carry = negative ? 1 : 0;
    for (let i = 0, h = hex.length - 2; i < byteCount; i++, h -= 2) {
      const magnitudeByte =
        h >= 0 ? (hexDigit(hex, h) << 4) | hexDigit(hex, h + 1) : h === -1 ? hexDigit(hex, 0) : 0;
      if (negative) {
        const twos = (~magnitudeByte & 0xff) + carry;
        bytes[start + i] = twos & 0xff;
        carry = twos >> 8;
      } else {
        bytes[start + i] = magnitudeByte;
      }
    }
    out.pos = start + byteCount;
  }

  #saveFloat(value: number): void {
    if (this.#binary) this.#out.writeOpFloat64(Op.BINFLOAT, value);
    else this.#out.writeLatin1(`F${formatFloatRepr(value)}\n`);
  }

  #saveString(text: string, byValue: boolean): void {
    let slot = 0;
    if (byValue) {
      slot = StringMemo.recentSlot(text);
      const recentIndex = this.#memoStrings.recent(text, slot);
      if (recentIndex >= 0) {
        this.#writeMemoGet(recentIndex);
        return;
      }
    }
    if (this.#binary && text.length <= 85) {
      this.#saveShortString(text, byValue, slot);
      return;
    }
    if (byValue) {
      const memoIndex = this.#memoStrings.lookupOrAdd(text, StringMemo.hash(text), this.#memoSize);
      if (memoIndex >= 0) {
        this.#memoStrings.remember(text, slot, memoIndex);
        this.#writeMemoGet(memoIndex);
        return;
      }
    }
    this.#writeStringOpcode(text);
    this.#writeMemoPut();
  }

  /**
   * A string of at most 85 UTF-16 units (so at most 255 UTF-8 bytes) at a binary protocol: SHORT_BINUNICODE
   * and MEMOIZE (protocol 4+) or BINUNICODE and BINPUT, or BINGET of an equal string written before. One
   * pass over the characters writes the UTF-8 and computes the memo hash; on a memo hit those bytes are
   * simply written over. (Below protocol 4 this saves the separate hashing pass: records-p2 3% faster.)
   */
  #saveShortString(text: string, byValue: boolean, recentSlot: number): void {
    const out = this.#out;
    const length = text.length;
    const short = this.protocol >= 4;
    const header = short ? 2 : 5;
    // Room for the string opcode and a LONG_BINPUT, or for a LONG_BINGET in their place.
    const at = out.reserve(header + 3 * length + 5);
    const bytes = out.bytes;
    const hashCell = this.#hashCell;
    hashCell[0] = STRING_HASH_SEED ^ length;
    const written = encodeUtf8Hashing(text, bytes, at + header, hashCell);
    if (byValue) {
      const memoIndex = this.#memoStrings.lookupOrAdd(text, hashCell[0]!, this.#memoSize);
      if (memoIndex >= 0) {
        this.#memoStrings.remember(text, recentSlot, memoIndex);
        out.pos = at;
        this.#writeMemoGet(memoIndex);
        return;
      }
    }
    const pos = at + header + written;
    if (short) {
      bytes[at] = Op.SHORT_BINUNICODE;
      bytes[at + 1] = written;
      bytes[pos] = Op.MEMOIZE;
      out.pos = pos + 1;
      this.#memoSize++;
    } else {
      this.#writeUint32Header(at, Op.BINUNICODE, written);
      out.pos = pos;
      this.#writeMemoPut();
    }
  }

  #writeStringOpcode(text: string): void {
    const out = this.#out;
    const length = text.length;
    if (!this.#binary) {
      const at = out.reserve(6 * length + 2);
      out.bytes[at] = Op.UNICODE;
      const end = encodeRawUnicodeEscapeInto(text, out.bytes, at + 1);
      out.bytes[end] = 0x0a;
      out.pos = end + 1;
      return;
    }
    if (length > MAX_IN_PLACE_STRING) {
      const data = encodeUtf8(text);
      if (data.length > 0xffff_ffff) throw new PicklingError('PROTOCOL', 'str longer than 4 GiB');
      out.writeSizedPayload(Op.BINUNICODE, 4, data);
      return;
    }
    const short = this.protocol >= 4;
    if (short && length <= 85) {
      const at = out.reserve(2 + 3 * length);
      const written = encodeUtf8Into(text, out.bytes, at + 2);
      out.bytes[at] = Op.SHORT_BINUNICODE;
      out.bytes[at + 1] = written;
      out.pos = at + 2 + written;
      return;
    }
    const at = out.reserve(5 + 3 * length);
    const bytes = out.bytes;
    if (short && length <= 255) {
      const written = encodeUtf8Into(text, bytes, at + 2);
      if (written <= 255) {
        bytes[at] = Op.SHORT_BINUNICODE;
        bytes[at + 1] = written;
        out.pos = at + 2 + written;
        return;
      }
      bytes.copyWithin(at + 5, at + 2, at + 2 + written);
      this.#writeUint32Header(at, Op.BINUNICODE, written);
      out.pos = at + 5 + written;
      return;
    }
    const written = encodeUtf8Into(text, bytes, at + 5);
    this.#writeUint32Header(at, Op.BINUNICODE, written);
    out.pos = at + 5 + written;
  }

  #writeUint32Header(at: number, op: number, value: number): void {
    const bytes = this.#out.bytes;
    bytes[at] = op;
    bytes[at + 1] = value;
    bytes[at + 2] = value >>> 8;
    bytes[at + 3] = value >>> 16;
    bytes[at + 4] = value >>> 24;
  }

  // ---- bytes, bytearray, buffers ----

  /** CPython has one `b''`, so empty bytes share a memo entry; other bytes are memoized by identity. */
  #saveBytesObject(data: Uint8Array): boolean {
    if (data.length > 0 || data === EMPTY_BYTES) return this.#saveBytes(data, data);
    const memoIndex = this.#memoLookup(EMPTY_BYTES);
    if (memoIndex !== undefined) {
      this.#writeMemoGet(memoIndex);
      return false;
    }
    return this.#saveBytes(EMPTY_BYTES, EMPTY_BYTES);
  }

  #saveBytes(data: Uint8Array, key: object): boolean {
    if (this.protocol < 3) {
      // No bytes opcode before protocol 3: CPython writes _codecs.encode(latin1 text, 'latin1').
      const reduction: Reduction =
        data.length === 0
          ? { kind: 'reduce', callable: BUILTINS_BYTES, args: NO_ITEMS }
          : { kind: 'reduce', callable: CODECS_ENCODE, args: [freshString(latin1String(data)), 'latin1'] };
      return this.#saveReduction(reduction, key);
    }
    this.#writeBytesData(data);
    this.#memoPut(key);
    return false;
  }

  #writeBytesData(data: Uint8Array): void {
    const length = data.length;
    if (length <= 0xff) this.#out.writeSizedPayload(Op.SHORT_BINBYTES, 1, data);
    else if (length <= 0xffff_ffff) this.#out.writeSizedPayload(Op.BINBYTES, 4, data);
    else if (this.protocol >= 4) this.#out.writeSizedPayload(Op.BINBYTES8, 8, data);
    else
      throw new PicklingError(
        'PROTOCOL',
        'cannot serialize a bytes object larger than 4 GiB below protocol 4',
      );
  }

  #saveByteArray(data: PyByteArray): boolean {
    if (this.protocol < 5) {
      const copy = new Uint8Array(data.buffer, data.byteOffset, data.length);
      const args = data.length === 0 ? NO_ITEMS : [copy];
      return this.#saveReduction({ kind: 'reduce', callable: BUILTINS_BYTEARRAY, args }, data);
    }
    this.#out.writeSizedPayload(Op.BYTEARRAY8, 8, data);
    this.#memoPut(data);
    return false;
  }

  #savePickleBuffer(buffer: PyPickleBuffer): boolean {
    if (this.protocol < 5)
      throw new PicklingError('PROTOCOL', 'PickleBuffer can only be pickled with protocol >= 5');
    const inBand = this.#bufferCallback === undefined || Boolean(this.#bufferCallback(buffer));
    if (inBand) {
      if (buffer.readonly) this.#writeBytesData(buffer.data);
      else this.#out.writeSizedPayload(Op.BYTEARRAY8, 8, buffer.data);
      this.#memoPut(buffer);
    } else {
      this.#out.writeByte(Op.NEXT_BUFFER);
      if (buffer.readonly) this.#out.writeByte(Op.READONLY_BUFFER);
    }
    return false;
  }

  // ---- containers ----

  #saveList(items: readonly unknown[], key: object | undefined): boolean {
    if (this.#binary) this.#out.writeByte(Op.EMPTY_LIST);
    else this.#out.writeLatin1('(l');
    this.#memoPut(key);
    this.#containersMemoized++;
    if (items.length === 0) return false;
    const mode = this.#binary ? MODE_EXACT_LIST : MODE_ONE_BY_ONE;
    this.#push(FRAME_ITEMS, items, undefined, items.length, mode, LABEL_INDEX);
    return true;
  }

  #writeEmptyDict(key: object | undefined): void {
    if (this.#binary) this.#out.writeByte(Op.EMPTY_DICT);
    else this.#out.writeLatin1('(d');
    this.#memoPut(key);
    this.#containersMemoized++;
  }

  #saveObjectDict(value: Record<string, unknown>, key: object): boolean {
    this.#writeEmptyDict(key);
    const keys = Object.keys(value);
    if (keys.length === 0) return false;
    const mode = this.#binary ? MODE_EXACT_DICT : MODE_ONE_BY_ONE;
    this.#push(FRAME_PAIRS, value, keys, keys.length, mode, LABEL_OBJECT_KEYS);
    return true;
  }

  #saveMap(value: ReadonlyMap<unknown, unknown>, key: object | undefined): boolean {
    this.#writeEmptyDict(key);
    if (value.size === 0) return false;
    const mode = this.#binary ? MODE_EXACT_DICT : MODE_ONE_BY_ONE;
    this.#push(FRAME_PAIRS, flattenEntries(value, this.#registered), undefined, value.size, mode, LABEL_MAP);
    return true;
  }

  #saveSet(value: Set<unknown>): boolean {
    const items = Array.from(value);
    refuseUnhashable(items, 1, 'a set element', this.#registered);
    if (this.protocol < 4) {
      const args = [new TransientList(items)];
      return this.#saveReduction({ kind: 'reduce', callable: BUILTINS_SET, args }, value);
    }
    this.#out.writeByte(Op.EMPTY_SET);
    this.#memoPut(value);
    this.#containersMemoized++;
    if (value.size === 0) return false;
    this.#push(FRAME_ITEMS, items, undefined, value.size, MODE_SET, LABEL_SET);
    return true;
  }

  #saveFrozenSet(value: PyFrozenSet): boolean {
    const items = Array.from(value);
    refuseUnhashable(items, 1, 'a frozenset element', this.#registered);
    if (this.protocol < 4) {
      const args = [new TransientList(items)];
      return this.#saveReduction({ kind: 'reduce', callable: BUILTINS_FROZENSET, args }, value);
    }
    this.#out.writeByte(Op.MARK);
    const sp = this.#push(FRAME_TUPLE, items, value, value.size, TUPLE_FROZENSET, LABEL_SET);
    this.#enterTuple(sp, value);
    return true;
  }

  #saveTuple(items: ArrayLike<unknown>, key: object | undefined): boolean {
    const length = items.length;
    if (length === 0) {
      if (this.#binary) this.#out.writeByte(Op.EMPTY_TUPLE);
      else this.#out.writeLatin1('(t');
      return false;
    }
    if (length > 3 || this.protocol < 2) this.#out.writeByte(Op.MARK);
    const sp = this.#push(FRAME_TUPLE, items, key, length, TUPLE_PLAIN, LABEL_INDEX);
    if (key !== undefined) this.#enterTuple(sp, key);
    return true;
  }

  // ---- globals, reductions, persistent ids ----

  #saveGlobal(value: PyGlobal): boolean {
    if (this.#extensions !== undefined && this.protocol >= 2) {
      const code = this.#extensions.get(`${value.module}.${value.name}`);
      if (code !== undefined) {
        this.#writeExtension(code);
        return false;
      }
    }
    const memoKey = `${value.module}\n${value.name}`;
    const memoIndex = this.#memoGlobals.get(memoKey);
    if (memoIndex !== undefined) {
      this.#writeMemoGet(memoIndex);
      return false;
    }
    const program: unknown[] = [];
    if (this.protocol >= 4) {
      const naming = globalNaming(value.module, value.name);
      program.push(
        ACT_SAVE,
        (naming & MODULE_FRESH) !== 0
          ? new FreshString(value.module)
          : (naming & MODULE_SHARED) !== 0
            ? moduleNameString(value.module)
            : value.module,
        '.module',
        ACT_SAVE,
        // One-character Latin-1 strs are interpreter singletons, so even a fresh name is the shared object.
        (naming & NAME_FRESH) !== 0 && value.name.length > 1 ? new FreshString(value.name) : value.name,
        '.name',
        ACT_BYTE,
        Op.STACK_GLOBAL,
        '',
      );
    } else {
      const dot = value.name.lastIndexOf('.');
      if (dot >= 0) {
        // A nested qualified name: CPython writes getattr(parent, last) below protocol 4.
        const parent = new PyGlobal(value.module, value.name.slice(0, dot));
        const lastName = value.name.slice(dot + 1);
        const args = new TransientTuple([parent, lastName.length > 1 ? new FreshString(lastName) : lastName]);
        program.push(ACT_SAVE, BUILTINS_GETATTR, '', ACT_SAVE, args, '', ACT_BYTE, Op.REDUCE, '');
      } else {
        program.push(ACT_TEXT, `c${this.#globalText(value.module, value.name)}`, '');
      }
    }
    program.push(ACT_MEMO_PUT_GLOBAL, memoKey, '');
    this.#pushProgram(program);
    return true;
  }

  /** EXT1/EXT2/EXT4 with the smallest argument that holds `code`; CPython memoizes nothing here. */
  #writeExtension(code: number): void {
    const out = this.#out;
    if (code <= 0xff) {
      out.writeOpUint8(Op.EXT1, code);
    } else if (code <= 0xffff) {
      const at = out.reserve(3);
      out.bytes[at] = Op.EXT2;
      out.bytes[at + 1] = code;
      out.bytes[at + 2] = code >>> 8;
      out.pos = at + 3;
    } else {
      out.writeOpUint32(Op.EXT4, code);
    }
  }

  /** `module\nname\n` as GLOBAL and INST write it: Python 2 names below protocol 3, UTF-8 at 3, ASCII below. */
  #globalText(module: string, name: string): string {
    // The text opcodes end each name at a newline: one inside would let the rest be read as opcodes.
    if (module.includes('\n') || name.includes('\n')) {
      throw new PicklingError(
        'UNPICKLABLE',
        `can't pickle global ${JSON.stringify(module)}.${JSON.stringify(name)} below protocol 4: a newline in ` +
          'its module or name would end it early (and what follows would be read as opcodes)',
      );
    }
    let [mod, qual] = [module, name];
    if (this.protocol < 3 && this.#fixImports) [mod, qual] = mapPython3Name(module, name);
    const text = `${mod}\n${qual}\n`;
    if (this.protocol === 3) return latin1String(encodeUtf8(text));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for non-ASCII.
    if (/[^\x00-\x7f]/.test(text)) {
      throw new PicklingError(
        'UNPICKLABLE',
        `can't pickle global ${module}.${name} using pickle protocol ${this.protocol}`,
      );
    }
    return text;
  }

  #pushProgram(program: unknown[]): void {
    this.#push(FRAME_PROGRAM, undefined, program, program.length, 0, LABEL_PROGRAM);
  }

  /** Writes `reduction` as CPython's `save_reduce(reduction, obj=key)` would. */
  #saveReduction(reduction: Reduction, key: object | undefined): boolean {
    if (isPlainData(reduction.callable)) {
      // CPython's pickler refuses these itself: what it wrote could not be called on load.
      throw new PicklingError(
        'BAD_VALUE',
        reduction.kind === 'newobj' || reduction.kind === 'newobj_ex'
          ? `the class of a ${reduction.kind} reduction is ${typeName(reduction.callable)}, which has no __new__`
          : `the callable of a ${reduction.kind} reduction is ${typeName(reduction.callable)}, which Python cannot call`,
      );
    }
    const program: unknown[] = [];
    if (key !== undefined) program.push(ACT_ENTER, key, '');
    const args = reduction.args;
    // Met again while being written (its arguments lead back to it), it is reduced again, and CPython's
    // second __reduce__ call returns a new argument tuple.
    const argsTuple =
      key !== undefined && this.#inProgress.has(key)
        ? new TransientTuple(args)
        : args instanceof PyTuple
          ? args
          : this.#argumentTuple(reduction, args);
    const callable = reduction.callable;
    switch (reduction.kind) {
      case 'reduce':
        // save_reduce writes a `__newobj__` function (copyreg's, or any so named) as NEWOBJ from protocol 2,
        // and a `__newobj_ex__` one as NEWOBJ_EX from protocol 4: the same bytes as `kind: 'newobj'`.
        if (
          callable instanceof PyGlobal &&
          ((callable.name === '__newobj__' && this.protocol >= 2) ||
            (callable.name === '__newobj_ex__' && this.protocol >= 4))
        ) {
          // ... after save_reduce's checks of the class argument.
          if (args.length === 0) throw new PicklingError('BAD_VALUE', `${callable.name} arglist is empty`);
          if (callable.name === '__newobj_ex__' && args.length !== 3) {
            throw new PicklingError(
              'BAD_VALUE',
              `__newobj_ex__ takes (cls, args, kwargs), not ${args.length} items`,
            );
          }
          const cls = args[0];
          if (isPlainData(cls)) {
            throw new PicklingError(
              'BAD_VALUE',
              `args[0] from ${callable.name} args is ${typeName(cls)}, not a type`,
            );
          }
          if (callable.name === '__newobj__') {
            const newArgs = new TransientTuple(args.slice(1));
            program.push(ACT_SAVE, cls, '.args[0]', ACT_SAVE, newArgs, '.args', ACT_BYTE, Op.NEWOBJ, '');
          } else {
            // Its argument tuple, like every reduction's, may be given as a plain array.
            const newArgs =
              Array.isArray(args[1]) && !(args[1] instanceof PyTuple) ? new TransientTuple(args[1]) : args[1];
            program.push(
              ACT_SAVE,
              cls,
              '.args[0]',
              ACT_SAVE,
              newArgs,
              '.args[1]',
              ACT_SAVE,
              args[2],
              '.args[2]',
            );
            program.push(ACT_BYTE, Op.NEWOBJ_EX, '');
          }
          break;
        }
        program.push(ACT_SAVE, callable, '.callable', ACT_SAVE, argsTuple, '.args', ACT_BYTE, Op.REDUCE, '');
        break;
      case 'newobj':
        if (this.protocol >= 2) {
          const newArgs = new TransientTuple(args);
          program.push(ACT_SAVE, callable, '.callable', ACT_SAVE, newArgs, '.args', ACT_BYTE, Op.NEWOBJ, '');
        } else {
          const newArgs = new TransientTuple([callable, ...args]);
          program.push(ACT_SAVE, COPYREG_NEWOBJ, '', ACT_SAVE, newArgs, '.args', ACT_BYTE, Op.REDUCE, '');
        }
        break;
      case 'newobj_ex': {
        const kwargs = new TransientDict(reduction.kwargs ?? new Map());
        if (this.protocol >= 4) {
          program.push(ACT_SAVE, callable, '.callable', ACT_SAVE, argsTuple, '.args');
          program.push(ACT_SAVE, kwargs, '.kwargs', ACT_BYTE, Op.NEWOBJ_EX, '');
        } else {
          // Below protocol 4, copyreg.__newobj_ex__(cls, args, kwargs), which Python 3 loads as NEWOBJ_EX. At
          // protocols 2-3 CPython writes functools.partial(cls.__new__, ...) instead, which depends on the
          // class's own __new__, unknown here.
          const newArgs = new TransientTuple([callable, argsTuple, kwargs]);
          program.push(ACT_SAVE, COPYREG_NEWOBJ_EX, '', ACT_SAVE, newArgs, '.args', ACT_BYTE, Op.REDUCE, '');
        }
        break;
      }
      default: {
        // INST / OBJ: the protocol 0/1 instance opcodes of Python 2 pickles.
        program.push(ACT_BYTE, Op.MARK, '');
        const useObj = reduction.kind === 'obj' && this.#binary;
        if (useObj) program.push(ACT_SAVE, callable, '.callable');
        for (let i = 0; i < args.length; i++) program.push(ACT_SAVE, args[i], `.args[${i}]`);
        if (useObj) {
          program.push(ACT_BYTE, Op.OBJ, '');
        } else {
          if (!(callable instanceof PyGlobal) || callable.name.includes('.')) {
            throw new PicklingError('UNPICKLABLE', 'INST needs a PyGlobal callable with a plain name');
          }
          program.push(ACT_TEXT, `i${this.#globalText(callable.module, callable.name)}`, '');
        }
      }
    }
    if (key !== undefined) program.push(ACT_LEAVE, key, '');
    program.push(ACT_MEMO_PUT_OR_FETCH, key, '');
    const listItems = reduction.listItems;
    if (listItems !== undefined && listItems.length > 0)
      program.push(ACT_LIST_ITEMS, listItems, '.listItems');
    const dictItems = reduction.dictItems;
    if (dictItems !== undefined) {
      const flat = flattenEntries(dictItems, this.#registered);
      if (flat.length > 0) program.push(ACT_DICT_ITEMS, flat, '.dictItems');
    }
    const stateSetter = reduction.stateSetter;
    // A state setter is called only with a state, as CPython calls it only for one that is not None.
    if (reduction.state !== undefined && (stateSetter === undefined || stateSetter === null)) {
      program.push(ACT_SAVE, reduction.state, '.state', ACT_BYTE, Op.BUILD, '');
    } else if (reduction.state !== undefined) {
      if (key === undefined) {
        throw new PicklingError(
          'UNPICKLABLE',
          'a state setter needs the object it sets, which this reduction has not',
        );
      }
      // save_reduce: state_setter, obj (a memo GET by now), state, TUPLE2, REDUCE, then POP the call's result.
      program.push(
        ACT_SAVE,
        stateSetter,
        '.stateSetter',
        ACT_SAVE,
        key,
        '',
        ACT_SAVE,
        reduction.state,
        '.state',
      );
      program.push(ACT_BYTE, Op.TUPLE2, '', ACT_BYTE, Op.REDUCE, '', ACT_BYTE, Op.POP, '');
    }
    this.#pushProgram(program);
    return true;
  }

  /** A placeholder's argument array is one tuple object each time it is written (it matters in cycles). */
  #argumentTuple(reduction: Reduction, args: readonly unknown[]): TransientTuple {
    if (!(reduction instanceof PyObject)) return new TransientTuple(args);
    let argsTuple = this.#placeholderArgs.get(reduction);
    if (argsTuple === undefined || argsTuple.items !== args) {
      argsTuple = new TransientTuple(args, true);
      this.#placeholderArgs.set(reduction, argsTuple);
    }
    return argsTuple;
  }

  #savePersistentId(pid: unknown): boolean {
    if (this.#binary) {
      this.#pushProgram([ACT_SAVE_NO_PERSISTENT_ID, pid, '', ACT_BYTE, Op.BINPERSID, '']);
      return true;
    }
    const text =
      typeof pid === 'string' ? pid : typeof pid === 'number' || typeof pid === 'bigint' ? `${pid}` : null;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking for non-ASCII.
    if (text === null || /[^\x00-\x7f]|\n/.test(text)) {
      throw new PicklingError('UNPICKLABLE', 'persistent IDs in protocol 0 must be ASCII strings');
    }
    this.#out.writeLatin1(`P${text}\n`);
    return false;
  }

  // ---- error paths ----

  /** Adds the location of the failing value (from the frame stack) to a PicklingError. */
  #locate(error: unknown): unknown {
    if (!(error instanceof PicklingError)) {
      // Only the caller's code throws anything else: say where, keep the error as the cause.
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return new PicklingError('USER_CODE', `code run while pickling threw ${what}`, this.#path(), {
        cause: error,
      });
    }
    if (error.path !== 'value') return error;
    const path = this.#path();
    const message = error.message.endsWith(' at value')
      ? error.message.slice(0, -' at value'.length)
      : error.message;
    return new PicklingError(error.code, message, path, { cause: error.cause });
  }

  /** Where the dump is in the value, as `value[0].a...`; past PATH_ENDS steps at each end, the middle is counted. */
  #path(): string {
    let path = 'value';
    const depth = this.#sp;
    if (depth <= 2 * PATH_ENDS) {
      for (let sp = 0; sp < depth; sp++) path += this.#childSegment(sp);
      return path;
    }
    for (let sp = 0; sp < PATH_ENDS; sp++) path += this.#childSegment(sp);
    path += `...(${depth - 2 * PATH_ENDS} more)...`;
    for (let sp = depth - PATH_ENDS; sp < depth; sp++) path += this.#childSegment(sp);
    return path;
  }

  #childSegment(sp: number): string {
    const idx = this.#fIdx[sp]!;
    switch (this.#fLabel[sp]) {
      case LABEL_INDEX:
        return `[${idx - 1}]`;
      case LABEL_SET:
        return `.values()[${idx - 1}]`;
      case LABEL_OBJECT_KEYS: {
        if (this.#fHalf[sp] === 1) return `.<key ${idx}>`;
        const key = (this.#fAux[sp] as readonly string[])[idx - 1]!;
        return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      }
      case LABEL_MAP: {
        if (this.#fHalf[sp] === 1) return `.keys()[${idx}]`;
        const described = describeKey((this.#fObj[sp] as readonly unknown[])[2 * (idx - 1)]);
        return described !== undefined ? `.get(${described})` : `.values()[${idx - 1}]`;
      }
      case LABEL_PAIRS:
        return this.#fHalf[sp] === 1 ? `[${idx}][0]` : `[${idx - 1}][1]`;
      default:
        return ((this.#fAux[sp] as unknown[])[idx - 1] as string | undefined) ?? '';
    }
  }
}

const float64Scratch = new DataView(new ArrayBuffer(8));

/**
 * At least the bit length of the integer `approx` was converted from (a finite, non-zero Number): one more
 * than its binary exponent. `Number(bigint)` rounds to nearest, so `approx` is at least the largest power of
 * two below the int, and at most the next power of two (then one bit too many).
 */
function bitLengthBound(approx: number): number {
  float64Scratch.setFloat64(0, approx);
  return ((float64Scratch.getUint16(0) & 0x7ff0) >> 4) - 1022;
}

/** True for the hex of a power of two: 1, 2, 4 or 8 and then only zeros. */
function isPowerOfTwoHex(hex: string): boolean {
  const first = hexDigit(hex, 0);
  if ((first & (first - 1)) !== 0) return false;
  for (let i = 1; i < hex.length; i++) if (hex.charCodeAt(i) !== 0x30) return false;
  return true;
}

/** The value of the hex digit at `index` of a lower-case hex string. */
function hexDigit(hex: string, index: number): number {
  const code = hex.charCodeAt(index);
  return code <= 0x39 ? code - 0x30 : code - 0x57;
}

/** Map entries or [key, value] pairs as one flat [k0, v0, k1, v1, ...] array. */
function flattenEntries(
  entries: ReadonlyMap<unknown, unknown> | readonly (readonly [unknown, unknown])[],
  registered: ((value: object) => boolean) | undefined,
): unknown[] {
  const flat: unknown[] = [];
  if (entries instanceof Map) {
    entries.forEach((v, k) => {
      flat.push(k, v);
    });
  } else {
    for (const [k, v] of entries as readonly (readonly [unknown, unknown])[]) flat.push(k, v);
  }
  refuseUnhashable(flat, 2, 'a dict key', registered);
  return flat;
}

/**
 * Refuses, as Python would on load, an item Python cannot hash among `items[0]`, `items[step]`, ... (dict
 * keys, set elements). Only objects need a look: numbers, strings, bigints, booleans and null all hash.
 */
function refuseUnhashable(
  items: readonly unknown[],
  step: number,
  what: string,
  registered: ((value: object) => boolean) | undefined,
): void {
  for (let i = 0; i < items.length; i += step) {
    const item = items[i];
    if (typeof item !== 'object' || item === null) continue;
    const type = unhashableType(item, registered);
    if (type !== undefined) {
      throw new PicklingError(
        'UNHASHABLE',
        `${what} is a ${type}, which Python cannot hash (use a PyTuple or PyFrozenSet instead)`,
      );
    }
  }
}

/** Reused picklers, one per protocol, for calls without hooks: their buffers and memo tables stay warm. */
const sharedPicklers: (Pickler | undefined)[] = [];
let sharedPicklerInUse = false;

/** True when `options` only chooses a protocol, so a shared pickler writes exactly what a new one would. */
function isHookFree(options: PicklerOptions): boolean {
  return (
    options.persistentId === undefined &&
    options.bufferCallback === undefined &&
    options.registry === undefined &&
    options.extensions === undefined &&
    // Exactly true or absent: any other value goes to a new Pickler, which refuses it if it is no boolean.
    (options.fixImports ?? true) === true &&
    (options.memoizeStrings ?? true) === true &&
    (options.numpy ?? true) === true
  );
}

/**
 * Pickles `value` with CPython's rules (see `PicklerOptions`), returning bytes identical to
 * `pickle.dumps(equivalent_value, protocol)` on CPython 3.8–3.13. Under Node a result of 65 bytes to 4 KiB
 * is a plain Uint8Array over Node's shared Buffer pool, as `Buffer.allocUnsafe` gives: its `byteOffset` may
 * not be 0 and its `buffer` holds other data (`slice()` it for an ArrayBuffer of its own).
 */
export function dumps(value: unknown, options?: PicklerOptions | null): Uint8Array {
  return dumpsWith(value, options, 0);
}

/**
 * `dumps` for a caller that copies the result before anything else is pickled (`Connection.send` copies it
 * into its frame): a pickle of at most `viewLimit` bytes comes back as a view of the pickler's own buffer,
 * which the next pickle overwrites, instead of a result array (about 0.15 µs from Node's pool, 0.9 µs for
 * a fresh ArrayBuffer past 64 bytes). Larger pickles are arrays as from `dumps`.
 * @internal
 */
export function dumpsTransient(
  value: unknown,
  options: PicklerOptions | undefined,
  viewLimit: number,
): Uint8Array {
  return dumpsWith(value, options, viewLimit);
}

function dumpsWith(
  value: unknown,
  options: PicklerOptions | null | undefined,
  viewLimit: number,
): Uint8Array {
  if (options === null) options = undefined;
  let protocol: number;
  let shareable: boolean;
  try {
    protocol = options?.protocol ?? DEFAULT_PROTOCOL;
    if (protocol < 0 && Number.isInteger(protocol)) protocol = HIGHEST_PROTOCOL;
    shareable =
      !sharedPicklerInUse &&
      (options === undefined ||
        (typeof options === 'object' &&
          !Array.isArray(options) &&
          isHookFree(options) &&
          unknownPicklerOption(options) === undefined)) &&
      Number.isInteger(protocol) &&
      protocol >= 0 &&
      protocol <= HIGHEST_PROTOCOL;
  } catch (error) {
    throw picklerOptionsReadFailure(error);
  }
  // A nested call (from a reducer or hook) or one with hooks gets a pickler of its own.
  if (!shareable) return dumpToView(new Pickler(options), value, viewLimit);
  let pickler = sharedPicklers[protocol];
  if (pickler === undefined) {
    pickler = new Pickler({ protocol });
    sharedPicklers[protocol] = pickler;
  }
  sharedPicklerInUse = true;
  try {
    return dumpToView(pickler, value, viewLimit);
  } finally {
    pickler.clearMemo();
    sharedPicklerInUse = false;
  }
}
