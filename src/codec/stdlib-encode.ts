/**
 * The reductions CPython's standard library uses for the value classes of `values.ts`: what each class's
 * `__reduce_ex__(protocol)` returns, expressed as a `Reduction` the pickler writes with its `save_reduce`.
 * Temporaries CPython builds afresh (argument tuples, `dict(self)`, decoded strings) are marked so the
 * pickler gives them a memo slot that nothing else can hit, as the real objects are never shared.
 * Pure: no I/O, no `node:` imports.
 */
import { ARRAY_TYPECODES, integerItemBounds, integerItemProblem } from './array-typecodes.js';
import { dateProblem, MAX_TIMEDELTA_DAYS, timeProblem } from './calendar.js';
import { decimalFromString } from './decimal-text.js';
import { PicklingError } from './errors.js';
import {
  PyArray,
  PyComplex,
  PyCounter,
  PyDate,
  PyDatetime,
  PyDecimal,
  PyDefaultDict,
  PyDeque,
  PyFloat,
  PyGlobal,
  PyObject,
  type PyObjectKind,
  PyOrderedDict,
  PyRange,
  PySlice,
  PyTime,
  PyTimedelta,
  PyTimezone,
  PyTuple,
  PyUUID,
  PyZoneInfo,
} from './values.js';

/** A str CPython creates anew while reducing (e.g. `str(Decimal)`): memoized, but never the same object. */
export class FreshString {
  constructor(readonly value: string) {}
}

/**
 * A str object CPython shares between some places but that is not the interned str equal literals are:
 * memoized under this wrapper, so only the places given the same wrapper share its memo entry.
 */
export class SharedString {
  constructor(readonly value: string) {}
}

const MODULE_NAME_STRINGS = new Map<string, SharedString>();

/** A module's own `__name__` object, which its C functions give as their `__module__`. */
export function moduleNameString(module: string): SharedString {
  let shared = MODULE_NAME_STRINGS.get(module);
  if (shared === undefined) {
    shared = new SharedString(module);
    MODULE_NAME_STRINGS.set(module, shared);
  }
  return shared;
}

/**
 * A tuple built from an array: written like any tuple, memoized under no key unless `keyed`, in which
 * case this wrapper object is its identity (a placeholder's argument tuple is one object, however often
 * it is written).
 */
export class TransientTuple {
  constructor(
    readonly items: readonly unknown[],
    readonly keyed = false,
  ) {}
}

/** A list built by a reduction (the items of `set` below protocol 4, `array.tolist()`). */
export class TransientList {
  constructor(readonly items: readonly unknown[]) {}
}

/** A dict built by a reduction (`dict(counter)`); written as an exact dict. */
export class TransientDict {
  constructor(readonly entries: ReadonlyMap<unknown, unknown>) {}
}

// How CPython's `save_global` gets a global's module and qualified-name strings, as bit flags: they decide
// whether equal strings elsewhere in the pickle share a memo slot (protocol 4+, where both are STACK_GLOBAL
// arguments). Python-defined classes and functions (0) have interned names, the same objects as equal literals.
/** `__module__` is a str of its own: heap C types. */
export const MODULE_FRESH = 1;
/** `__qualname__` is a new str on each access: static C types and builtin functions. */
export const NAME_FRESH = 2;
/**
 * `__module__` is the module's own `__name__` object ({@link moduleNameString}): C functions such as `len`,
 * and the classes and functions of `__main__` (whose name is interned only from 3.13).
 */
export const MODULE_SHARED = 4;
const NAMES_FRESH = MODULE_FRESH | NAME_FRESH;

/** The functions of `builtins` (3.8–3.13); its other globals are types, whose module is the interned str. */
const BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set([
  '__build_class__',
  '__import__',
  'abs',
  'aiter',
  'all',
  'anext',
  'any',
  'ascii',
  'bin',
  'breakpoint',
  'callable',
  'chr',
  'compile',
  'delattr',
  'dir',
  'divmod',
  'eval',
  'exec',
  'format',
  'getattr',
  'globals',
  'hasattr',
  'hash',
  'hex',
  'id',
  'input',
  'isinstance',
  'issubclass',
  'iter',
  'len',
  'locals',
  'max',
  'min',
  'next',
  'oct',
  'ord',
  'pow',
  'print',
  'repr',
  'round',
  'setattr',
  'sorted',
  'sum',
  'vars',
]);

/**
 * The C-implemented globals mpwire writes or is likely to re-encode, with how CPython names them. Where
 * versions differ the majority of 3.8–3.13 wins: `array.array` became a heap type in 3.10, `deque` and
 * `defaultdict` in 3.12 and `decimal.Decimal` in 3.13 (from then, both strings are fresh).
 */
const C_GLOBAL_NAMING = new Map<string, number>([
  ...['date', 'time', 'datetime', 'timedelta', 'timezone', 'tzinfo'].map(
    (name) => [`datetime\n${name}`, NAME_FRESH] as const,
  ),
  ...['OrderedDict', 'defaultdict', 'deque'].map((name) => [`collections\n${name}`, NAME_FRESH] as const),
  ['decimal\nDecimal', NAME_FRESH],
  // A heap C type: its qualified name is a str of its own; its module 'zoneinfo' is the interned str in
  // 3.9-3.11 (a str of its own from 3.12).
  ['zoneinfo\nZoneInfo', NAME_FRESH],
  ['array\narray', NAMES_FRESH],
  ['array\n_array_reconstructor', NAME_FRESH],
  ['numpy\nndarray', NAME_FRESH],
  ['numpy\ndtype', NAME_FRESH],
  ...['numpy.core', 'numpy._core'].flatMap((core) => [
    [`${core}.multiarray\n_reconstruct`, NAME_FRESH] as const,
    [`${core}.multiarray\nscalar`, NAME_FRESH] as const,
  ]),
]);

/** How CPython names `module.name`: MODULE_FRESH and NAME_FRESH bits; other globals are taken as Python-defined. */
export function globalNaming(module: string, name: string): number {
  if (module === 'builtins') return BUILTIN_FUNCTIONS.has(name) ? MODULE_SHARED | NAME_FRESH : NAME_FRESH;
  if (module === '_codecs') return NAME_FRESH;
  if (module === '__main__') return MODULE_SHARED;
  return C_GLOBAL_NAMING.get(`${module}\n${name}`) ?? 0;
}

/** What `save_reduce` receives: PyObject placeholders have this shape too. */
export interface Reduction {
  readonly kind: PyObjectKind;
  readonly callable: unknown;
  /** The argument tuple's items; a PyTuple is written as that (shared) tuple, a plain array as a fresh one. */
  readonly args: readonly unknown[];
  readonly kwargs?: ReadonlyMap<string, unknown> | undefined;
  /** BUILD state; `undefined` for none. */
  readonly state?: unknown;
  /**
   * The state setter of `__reduce__`'s sixth item (Python 3.8 on): with one, the state goes to
   * `stateSetter(obj, state)`, whose result is popped, instead of BUILD.
   */
  readonly stateSetter?: unknown;
  readonly listItems?: readonly unknown[] | undefined;
  readonly dictItems?: ReadonlyMap<unknown, unknown> | readonly (readonly [unknown, unknown])[] | undefined;
}

/** CPython's one `b''`; with {@link bufferBytes}' one-byte values, read by the encoder only, never changed. */
export const EMPTY_BYTES = new Uint8Array(0);
const ONE_BYTE_VALUES: readonly Uint8Array[] = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));

/**
 * Bytes as CPython makes them from a buffer (`PyBytes_FromStringAndSize` with data, as `array` and numpy
 * reductions do): `b''` and each one-byte value are shared objects there, so equal ones share a memo entry.
 */
export function bufferBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 1) return bytes;
  return bytes.length === 0 ? EMPTY_BYTES : ONE_BYTE_VALUES[bytes[0]!]!;
}

/** `''` and one-character Latin-1 strings: CPython has one object of each, so equal ones share a memo entry. */
export function isSharedString(text: string): boolean {
  return text.length === 0 || (text.length === 1 && text.charCodeAt(0) < 0x100);
}

/**
 * A str as CPython would create it anew: the interpreter-wide singletons ({@link isSharedString}) are
 * memoized by value; longer ones never hit the memo.
 */
export function freshString(text: string): string | FreshString {
  return isSharedString(text) ? text : new FreshString(text);
}

const DATETIME_TIMEDELTA = new PyGlobal('datetime', 'timedelta');
const DATETIME_TIMEZONE = new PyGlobal('datetime', 'timezone');
const DATETIME_DATE = new PyGlobal('datetime', 'date');
const DATETIME_TIME = new PyGlobal('datetime', 'time');
const DATETIME_DATETIME = new PyGlobal('datetime', 'datetime');
const BUILTINS_COMPLEX = new PyGlobal('builtins', 'complex');
const BUILTINS_RANGE = new PyGlobal('builtins', 'range');
const BUILTINS_SLICE = new PyGlobal('builtins', 'slice');
const BUILTINS_OBJECT = new PyGlobal('builtins', 'object');
const DECIMAL_DECIMAL = new PyGlobal('decimal', 'Decimal');
const UUID_UUID = new PyGlobal('uuid', 'UUID');
const COPYREG_RECONSTRUCTOR = new PyGlobal('copyreg', '_reconstructor');
const COLLECTIONS_ORDERED_DICT = new PyGlobal('collections', 'OrderedDict');
const COLLECTIONS_DEFAULTDICT = new PyGlobal('collections', 'defaultdict');
const COLLECTIONS_COUNTER = new PyGlobal('collections', 'Counter');
const COLLECTIONS_DEQUE = new PyGlobal('collections', 'deque');
const ARRAY_RECONSTRUCTOR = new PyGlobal('array', '_array_reconstructor');
const ARRAY_ARRAY = new PyGlobal('array', 'array');
/** `getattr`, which CPython writes for a bound method and, below protocol 4, for a nested class's name. */
export const BUILTINS_GETATTR = new PyGlobal('builtins', 'getattr');
const ZONEINFO_ZONEINFO = new PyGlobal('zoneinfo', 'ZoneInfo');
const EMPTY_ARGS: readonly unknown[] = [];

function reduce(callable: PyGlobal, args: readonly unknown[], extra?: Partial<Reduction>): Reduction {
  return { kind: 'reduce', callable, args, ...extra };
}

/** True for a `timezone(timedelta(0))` without a name, which CPython returns as the `timezone.utc` singleton. */
export function isUtcEquivalent(zone: PyTimezone): boolean {
  const offset = zone.offset;
  return zone.name === null && offset.days === 0 && offset.seconds === 0 && offset.microseconds === 0;
}

function dateStateBytes(year: number, month: number, day: number): number[] {
  const problem = dateProblem(year, month, day);
  if (problem !== undefined) throw new PicklingError('BAD_VALUE', `${problem}, as CPython's date would say`);
  return [year >> 8, year & 0xff, month, day];
}

function timeStateBytes(hour: number, minute: number, second: number, microsecond: number): number[] {
  const problem = timeProblem(hour, minute, second, microsecond);
  if (problem !== undefined) throw new PicklingError('BAD_VALUE', `${problem}, as CPython's time would say`);
  return [hour, minute, second, microsecond >> 16, (microsecond >> 8) & 0xff, microsecond & 0xff];
}

function checkFold(fold: number): void {
  if (fold !== 0 && fold !== 1) throw new PicklingError('BAD_VALUE', 'fold must be either 0 or 1');
}

/** `datetime._getstate(protocol)`: the fold bit rides on the month (datetime) or hour (time) byte above 3. */
function datetimeReduction(value: PyDatetime, protocol: number): Reduction {
  const state = dateStateBytes(value.year, value.month, value.day).concat(
    timeStateBytes(value.hour, value.minute, value.second, value.microsecond),
  );
  checkFold(value.fold);
  if (value.fold === 1 && protocol > 3) state[2]! |= 0x80;
  const bytes = Uint8Array.from(state);
  checkTzinfo(value.tzinfo);
  return reduce(DATETIME_DATETIME, value.tzinfo === null ? [bytes] : [bytes, value.tzinfo]);
}

function timeReduction(value: PyTime, protocol: number): Reduction {
  const state = timeStateBytes(value.hour, value.minute, value.second, value.microsecond);
  checkFold(value.fold);
  if (value.fold === 1 && protocol > 3) state[0]! |= 0x80;
  const bytes = Uint8Array.from(state);
  checkTzinfo(value.tzinfo);
  return reduce(DATETIME_TIME, value.tzinfo === null ? [bytes] : [bytes, value.tzinfo]);
}

/**
 * Whether `value` is plain data, which no Python callable, class or tzinfo can be: a primitive, an array,
 * bytes, a Map, a Set or a plain object. Globals, placeholders and registered user types are not.
 */
export function isPlainData(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return typeof value !== 'function';
  if (Array.isArray(value) || value instanceof Map || value instanceof Set || value instanceof Uint8Array)
    return true;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Python's type name of plain data, for messages. */
function pythonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'str';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Set) return 'set';
  return 'dict';
}

/** A day in microseconds: a timezone's offset is strictly less than this either way. */
const DAY_MICROSECONDS = 86_400_000_000n;

/** A datetime's or time's tzinfo: None or a tzinfo object, never plain data (CPython's TypeError). */
function checkTzinfo(tzinfo: unknown): void {
  if (tzinfo !== null && isPlainData(tzinfo)) {
    throw new PicklingError(
      'BAD_VALUE',
      `tzinfo argument must be None or of a tzinfo subclass, not type '${pythonTypeName(tzinfo)}'`,
    );
  }
}

/** An int argument: a whole number, a bigint or a bool, as `range()` takes them. */
function isPythonInt(value: unknown): boolean {
  return (
    (typeof value === 'number' && Number.isInteger(value)) ||
    typeof value === 'bigint' ||
    typeof value === 'boolean'
  );
}

/** UUID has no `__reduce__`: `object.__reduce_ex__` gives NEWOBJ at 2+, `copyreg._reconstructor` below. */
function uuidReduction(value: PyUUID, protocol: number): Reduction {
  if (!(value.isSafe === undefined || value.isSafe === null || value.isSafe === 0 || value.isSafe === -1)) {
    throw new PicklingError('BAD_VALUE', `${String(value.isSafe)} is not a valid SafeUUID (0, -1 or None)`);
  }
  const asInt = value.toBigInt();
  const state = new Map<string, unknown>([
    ['int', asInt <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(asInt) : asInt],
  ]);
  if (value.isSafe !== undefined) state.set('is_safe', value.isSafe);
  if (protocol >= 2) return { kind: 'newobj', callable: UUID_UUID, args: EMPTY_ARGS, state };
  return reduce(COPYREG_RECONSTRUCTOR, [UUID_UUID, BUILTINS_OBJECT, null], { state });
}

function arrayCodePoints(items: string): number[] {
  const points: number[] = [];
  for (const ch of items) points.push(ch.codePointAt(0)!);
  return points;
}

function arrayMachineBytes(value: PyArray, size: number): Uint8Array {
  const typecode = value.typecode;
  const items = typeof value.items === 'string' ? arrayCodePoints(value.items) : value.items;
  const bytes = new Uint8Array(items.length * size);
  const view = new DataView(bytes.buffer);
  items.forEach((item, i) => {
    const at = i * size;
    switch (typecode) {
      case 'f':
        view.setFloat32(at, Number(item), true);
        break;
      case 'd':
        view.setFloat64(at, Number(item), true);
        break;
      case 'b':
      case 'B':
        view.setUint8(at, Number(item) & 0xff);
        break;
      case 'h':
      case 'H':
        view.setUint16(at, Number(item) & 0xffff, true);
        break;
      case 'i':
      case 'I':
      case 'u':
      case 'w':
        view.setUint32(at, Number(item) >>> 0, true);
        break;
      default:
        view.setBigUint64(at, BigInt.asUintN(64, BigInt(item)), true);
    }
  });
  return bytes;
}

/**
 * Refuses items CPython's `array` would refuse (OverflowError, TypeError), which its machine bytes would
 * otherwise wrap or mangle without a word: integers out of the type code's range, non-integers, non-numbers.
 */
function checkArrayItems(typecode: string, items: readonly (number | bigint)[]): void {
  const type = ARRAY_TYPECODES[typecode]!;
  // Number items are compared with the bounds as numbers: exact, as both bounds and items are integers.
  const [min, max] = type.float ? [0n, 0n] : integerItemBounds(type);
  const [minNumber, endNumber] = [Number(min), Number(max + 1n)];
  for (let index = 0; index < items.length; index++) {
    const item: unknown = items[index];
    if (type.float) {
      if (typeof item !== 'number' && typeof item !== 'bigint') {
        throw new PicklingError(
          'BAD_VALUE',
          `array('${typecode}') item ${index} is ${typeof item}, not a number`,
        );
      }
      continue;
    }
    if (typeof item === 'number' && Number.isInteger(item)) {
      if (item >= minNumber && item < endNumber) continue;
    } else if (typeof item !== 'bigint') {
      throw new PicklingError(
        'BAD_VALUE',
        `array('${typecode}') item ${index} is ${String(item)}, not an integer`,
      );
    }
    const problem = integerItemProblem(typecode, BigInt(item as number | bigint));
    if (problem !== undefined) throw new PicklingError('BAD_VALUE', problem);
  }
}

/** `array.__reduce_ex__`: a list of items below protocol 3, `array._array_reconstructor` with raw bytes from 3. */
function arrayReduction(value: PyArray, protocol: number): Reduction {
  const format = ARRAY_TYPECODES[value.typecode];
  if (format === undefined)
    throw new PicklingError('UNPICKLABLE', `unknown array typecode '${value.typecode}'`);
  const typecode = value.typecode;
  if (typeof value.items !== 'string') checkArrayItems(typecode, value.items);
  if (protocol < 3) {
    let items: unknown[];
    if (typeof value.items === 'string') items = Array.from(value.items, freshString);
    else if (typecode === 'f') items = value.items.map((x) => new PyFloat(Math.fround(Number(x))));
    else if (typecode === 'd') items = value.items.map((x) => new PyFloat(Number(x)));
    else items = value.items.slice();
    return reduce(ARRAY_ARRAY, [typecode, new TransientList(items)]);
  }
  return reduce(ARRAY_RECONSTRUCTOR, [
    ARRAY_ARRAY,
    typecode,
    format.mformat,
    bufferBytes(arrayMachineBytes(value, format.size)),
  ]);
}

/**
 * The reduction CPython uses for a standard-library value class, or `undefined` when `value` is not one.
 * `protocol` matters where `__reduce_ex__` depends on it (datetime fold, UUID, array).
 */
export function reduceStdlibValue(value: object, protocol: number): Reduction | undefined {
  if (value instanceof PyDatetime) return datetimeReduction(value, protocol);
  if (value instanceof PyTimedelta) {
    if (Math.abs(value.days) > MAX_TIMEDELTA_DAYS) {
      throw new PicklingError(
        'BAD_VALUE',
        `days=${value.days}; must have magnitude <= ${MAX_TIMEDELTA_DAYS}, as CPython's timedelta would say`,
      );
    }
    return reduce(DATETIME_TIMEDELTA, [value.days, value.seconds, value.microseconds]);
  }
  if (value instanceof PyTimezone) {
    const offset = value.offset instanceof PyTimedelta ? value.offset.totalMicroseconds() : undefined;
    if (offset === undefined || offset <= -DAY_MICROSECONDS || offset >= DAY_MICROSECONDS) {
      throw new PicklingError(
        'BAD_VALUE',
        'offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), as CPython says',
      );
    }
    if (value.name !== null && typeof value.name !== 'string') {
      throw new PicklingError(
        'BAD_VALUE',
        `timezone() argument 2 must be str, not ${pythonTypeName(value.name)}`,
      );
    }
    return reduce(DATETIME_TIMEZONE, value.name === null ? [value.offset] : [value.offset, value.name]);
  }
  if (value instanceof PyDate) {
    return reduce(DATETIME_DATE, [Uint8Array.from(dateStateBytes(value.year, value.month, value.day))]);
  }
  if (value instanceof PyTime) return timeReduction(value, protocol);
  if (value instanceof PyDecimal) {
    // Decimal.__reduce__ writes str(self): the canonical text ('1e5' is '1E+5').
    const text = typeof value.value === 'string' ? decimalFromString(value.value) : undefined;
    if (text === undefined) {
      throw new PicklingError(
        'BAD_VALUE',
        `${JSON.stringify(value.value)} is not a Decimal (CPython: InvalidOperation, ConversionSyntax)`,
      );
    }
    return reduce(DECIMAL_DECIMAL, [freshString(text)]);
  }
  if (value instanceof PyZoneInfo) {
    if (typeof value.key !== 'string') {
      throw new PicklingError('BAD_VALUE', `a ZoneInfo key is a str, not ${pythonTypeName(value.key)}`);
    }
    // ZoneInfo.__reduce__ gives (ZoneInfo._unpickle, (key, from_cache)); the class method is a new bound
    // method each time, which pickles as getattr(ZoneInfo, '_unpickle'): a new object here too.
    const unpickle = new PyObject(
      'reduce',
      BUILTINS_GETATTR,
      PyTuple.fromItems([ZONEINFO_ZONEINFO, new FreshString('_unpickle')]),
    );
    return { kind: 'reduce', callable: unpickle, args: [value.key, value.fromCache ? 1 : 0] };
  }
  if (value instanceof PyComplex) {
    if (typeof value.real !== 'number' || typeof value.imag !== 'number') {
      throw new PicklingError(
        'BAD_VALUE',
        `a complex's parts are floats: numbers, not ${typeof value.real} and ${typeof value.imag}`,
      );
    }
    return reduce(BUILTINS_COMPLEX, [new PyFloat(value.real), new PyFloat(value.imag)]);
  }
  if (value instanceof PyUUID) return uuidReduction(value, protocol);
  if (value instanceof PyRange) {
    if (value.step === 0 || value.step === 0n)
      throw new PicklingError('BAD_VALUE', "range() arg 3 must not be zero, as CPython's range would say");
    for (const bound of [value.start, value.stop, value.step]) {
      if (!isPythonInt(bound)) {
        throw new PicklingError(
          'BAD_VALUE',
          `'${pythonTypeName(bound)}' object cannot be interpreted as an integer, as CPython's range would say`,
        );
      }
    }
    return reduce(BUILTINS_RANGE, [value.start, value.stop, value.step]);
  }
  if (value instanceof PySlice) return reduce(BUILTINS_SLICE, [value.start, value.stop, value.step]);
  if (value instanceof PyOrderedDict)
    return reduce(COLLECTIONS_ORDERED_DICT, EMPTY_ARGS, { dictItems: value });
  if (value instanceof PyDefaultDict) {
    if (value.defaultFactory !== null && isPlainData(value.defaultFactory))
      throw new PicklingError(
        'BAD_VALUE',
        'first argument must be callable or None, as CPython says of a defaultdict',
      );
    const args = value.defaultFactory === null ? EMPTY_ARGS : [value.defaultFactory];
    return reduce(COLLECTIONS_DEFAULTDICT, args, { dictItems: value });
  }
  if (value instanceof PyCounter) return reduce(COLLECTIONS_COUNTER, [new TransientDict(value)]);
  if (value instanceof PyDeque) {
    const maxlen = value.maxlen;
    if (!PyDeque.isMaxlen(maxlen)) {
      throw new PicklingError(
        'BAD_VALUE',
        `deque maxlen must be a whole number from 0 up or null, not ${maxlen}`,
      );
    }
    // CPython's deque never holds more than maxlen items: it would keep the last ones without a word.
    if (maxlen !== null && value.length > maxlen) {
      throw new PicklingError(
        'BAD_VALUE',
        `deque of ${value.length} items over its maxlen ${maxlen}: CPython would keep only the last ${maxlen}`,
      );
    }
    const args = value.maxlen === null ? EMPTY_ARGS : [new TransientTuple(EMPTY_ARGS), value.maxlen];
    return reduce(COLLECTIONS_DEQUE, args, { listItems: value });
  }
  if (value instanceof PyArray) return arrayReduction(value, protocol);
  return undefined;
}
