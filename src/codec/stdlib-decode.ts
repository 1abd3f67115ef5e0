/**
 * Reconstructors for the standard-library globals CPython writes in pickles: they turn `builtins.set`,
 * `_codecs.encode`, `datetime.*`, `decimal.Decimal`, `uuid.UUID`, `collections.*`, `array.*`, ... into the
 * typed values of values.ts, exactly as each is pickled at protocols 0–5 (and by Python 2, once fix_imports
 * has renamed `__builtin__`/`copy_reg`). Nothing is imported or executed: each entry is plain data handling.
 */
import { ARRAY_TYPECODES, integerItemProblem } from './array-typecodes.js';
import { dateProblem, MAX_TIMEDELTA_DAYS, timeProblem } from './calendar.js';
import { decimalFromFloat, decimalFromString, decimalFromTuple } from './decimal-text.js';
import { asKey } from './hashable.js';
import { type BuiltinCodec, encodeLatin1, pythonCodecName } from './text-decode.js';
import { encodeUtf8, isWellFormedText } from './text-encode.js';
import {
  PyArray,
  PyByteArray,
  PyComplex,
  PyCounter,
  PyDate,
  PyDatetime,
  PyDecimal,
  PyDefaultDict,
  PyDeque,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
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

/** A reconstructor refused its arguments; the decoder reports it as UnpicklingError BAD_VALUE. */
export class ReconstructError extends Error {
  override readonly name = 'ReconstructError';
  /** The code of the UnpicklingError the decoder raises for it. */
  readonly code: 'BAD_VALUE' | 'UNHASHABLE';
  constructor(message: string, code: 'BAD_VALUE' | 'UNHASHABLE' = 'BAD_VALUE') {
    super(message);
    this.code = code;
  }
}

/** Marker a reconstructor returns to say "not a form I interpret": the decoder keeps a placeholder. */
export const KEEP_PLACEHOLDER: unique symbol = Symbol('mpwire.keepPlaceholder');
export type KeepPlaceholder = typeof KEEP_PLACEHOLDER;

/** What a standard-library reconstructor can see of the decoder. */
export interface ReconstructContext {
  /** Handler for a callable value, when it is a global with one. */
  handlerFor(callable: unknown): GlobalHandler | undefined;
  /**
   * A decoded dict of these entries, plain object or Map by the `dicts` option, as the opcodes make them. The
   * keys are already keys (asKey), as `dictEntries` gives them.
   */
  makeDict(entries: [unknown, unknown][]): unknown;
  /** Which values a registered decoder made: user classes' instances, hashable whatever their shape. */
  readonly registered?: (value: object) => boolean;
}

/** How one standard-library global is interpreted. Every method is optional. */
export interface GlobalHandler {
  /** REDUCE / INST: `callable(*args)`. */
  call?(args: readonly unknown[], ctx: ReconstructContext): unknown;
  /** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`. */
  construct?(
    cls: PyGlobal,
    args: readonly unknown[],
    kwargs: ReadonlyMap<string, unknown> | undefined,
    ctx?: ReconstructContext,
  ): unknown;
  /** BUILD on a placeholder made by `construct`: returns the finished value. */
  build?(obj: PyObject, state: unknown): unknown;
}

function fail(message: string): never {
  throw new ReconstructError(message);
}

/** A Python int argument as a JS number, refusing non-ints and values beyond 2^53. */
function intArg(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (
    typeof value === 'bigint' &&
    value >= BigInt(Number.MIN_SAFE_INTEGER) &&
    value <= BigInt(Number.MAX_SAFE_INTEGER)
  )
    return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint')
    return fail(`${what} ${value} is beyond what mpwire can represent here (at most 2**53 - 1 in size)`);
  return fail(`${what} must be an int, not ${describe(value)}`);
}

function floatArg(value: unknown, what: string): number {
  if (typeof value === 'number') return value;
  if (value instanceof PyFloat) return value.value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return fail(`${what} must be a number, not ${describe(value)}`);
}

/** Short description of a decoded value's Python type for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'None';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (value instanceof PyFloat) return 'float';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof PyTuple) return 'tuple';
  if (Array.isArray(value)) return 'list';
  if (value instanceof PyByteArray) return 'bytearray';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PyFrozenSet) return 'frozenset';
  if (value instanceof Set) return 'set';
  if (value instanceof Map) return 'dict';
  if (value instanceof PyGlobal) return value.qualifiedName;
  if (value instanceof PyObject) return `${value.module ?? '?'}.${value.name ?? '?'} object`;
  if (typeof value === 'object') return Object.getPrototypeOf(value) === Object.prototype ? 'dict' : 'object';
  return typeof value;
}

/** Items of a Python iterable argument (list, tuple, set, dict keys, str, bytes). */
function iterableItems(value: unknown, what: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return [...value.keys()];
  if (typeof value === 'string') return [...value];
  if (value instanceof Uint8Array) return Array.from(value);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.keys(value);
  return fail(`${what} must be iterable, not ${describe(value)}`);
}

/** Key/value pairs of a dict argument (plain object or Map) or of an iterable of pairs. */
function dictEntries(value: unknown, what: string, ctx?: ReconstructContext): [unknown, unknown][] {
  if (value instanceof Map) return [...value.entries()];
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.entries(value);
  const pairs: [unknown, unknown][] = [];
  for (const item of iterableItems(value, what)) {
    if (!Array.isArray(item) || item.length !== 2) fail(`${what} items must be pairs`);
    pairs.push([keyOf(item[0], ctx), item[1]]);
  }
  return pairs;
}

/** The bytes of a datetime-family state: bytes, or a Latin-1 str as Python 2 and protocol-0 readers give. */
function stateBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encodeLatin1(value) ?? undefined;
  return undefined;
}

function fold(bit: number): 0 | 1 {
  return bit ? 1 : 0;
}

function checkTzinfo(value: unknown): unknown {
  if (value === undefined) return null;
  // A global may name a tzinfo instance, but not a standard-library class or function mpwire reads.
  const knownCallable = value instanceof PyGlobal && STDLIB_HANDLERS.has(value.qualifiedName);
  if (
    value === null ||
    value instanceof PyTimezone ||
    value instanceof PyZoneInfo ||
    value instanceof PyObject ||
    (value instanceof PyGlobal && !knownCallable)
  )
    return value;
  return fail(`bad tzinfo state arg: ${describe(value)}`);
}

function checkDate(year: number, month: number, day: number): void {
  const problem = dateProblem(year, month, day);
  if (problem !== undefined) fail(problem);
}

function checkTime(hour: number, minute: number, second: number, microsecond: number): void {
  const problem = timeProblem(hour, minute, second, microsecond);
  if (problem !== undefined) fail(problem);
}

function isValidDate(year: number, month: number, day: number): boolean {
  return dateProblem(year, month, day) === undefined;
}

const datetimeHandler: GlobalHandler = {
  call(args) {
    const state = stateBytes(args[0]);
    if (state && state.length === 10 && (state[2]! & 0x7f) >= 1 && (state[2]! & 0x7f) <= 12) {
      if (args.length > 2) fail('datetime() takes at most 2 arguments with a state');
      const year = state[0]! * 256 + state[1]!;
      const month = state[2]! & 0x7f;
      const us = (state[7]! << 16) | (state[8]! << 8) | state[9]!;
      checkDate(year, month, state[3]!);
      checkTime(state[4]!, state[5]!, state[6]!, us);
      return new PyDatetime(
        year,
        month,
        state[3]!,
        state[4]!,
        state[5]!,
        state[6]!,
        us,
        checkTzinfo(args[1]),
        fold(state[2]! & 0x80),
      );
    }
    if (args.length < 3 || args.length > 8) fail('datetime() needs a bytes state or year, month, day');
    const f = args.map((a, i) => (i < 7 ? intArg(a, 'datetime field') : a));
    checkDate(f[0] as number, f[1] as number, f[2] as number);
    checkTime((f[3] as number) ?? 0, (f[4] as number) ?? 0, (f[5] as number) ?? 0, (f[6] as number) ?? 0);
    return new PyDatetime(
      f[0] as number,
      f[1] as number,
      f[2] as number,
      (f[3] as number) ?? 0,
      (f[4] as number) ?? 0,
      (f[5] as number) ?? 0,
      (f[6] as number) ?? 0,
      checkTzinfo(f[7]),
    );
  },
};

const dateHandler: GlobalHandler = {
  call(args) {
    const state = stateBytes(args[0]);
    if (state && state.length === 4 && state[2]! >= 1 && state[2]! <= 12) {
      if (args.length > 1) fail('date() takes one state argument');
      const year = state[0]! * 256 + state[1]!;
      checkDate(year, state[2]!, state[3]!);
      return new PyDate(year, state[2]!, state[3]!);
    }
    if (args.length !== 3) fail('date() needs a bytes state or year, month, day');
    const [y, m, d] = args.map((a) => intArg(a, 'date field')) as [number, number, number];
    checkDate(y, m, d);
    return new PyDate(y, m, d);
  },
};

const timeHandler: GlobalHandler = {
  call(args) {
    const state = stateBytes(args[0]);
    if (state && state.length === 6 && (state[0]! & 0x7f) < 24) {
      if (args.length > 2) fail('time() takes at most 2 arguments with a state');
      const us = (state[3]! << 16) | (state[4]! << 8) | state[5]!;
      checkTime(state[0]! & 0x7f, state[1]!, state[2]!, us);
      return new PyTime(
        state[0]! & 0x7f,
        state[1]!,
        state[2]!,
        us,
        checkTzinfo(args[1]),
        fold(state[0]! & 0x80),
      );
    }
    if (args.length > 5) fail('time() takes at most 5 arguments');
    const f = args.map((a, i) => (i < 4 ? intArg(a, 'time field') : a));
    checkTime((f[0] as number) ?? 0, (f[1] as number) ?? 0, (f[2] as number) ?? 0, (f[3] as number) ?? 0);
    return new PyTime(
      (f[0] as number) ?? 0,
      (f[1] as number) ?? 0,
      (f[2] as number) ?? 0,
      (f[3] as number) ?? 0,
      checkTzinfo(f[4]),
    );
  },
};

/** Microseconds in one unit of each positional argument of `timedelta(days, seconds, microseconds,
 * milliseconds, minutes, hours, weeks)`. */
const TIMEDELTA_UNITS = [
  86_400_000_000n,
  1_000_000n,
  1n,
  1_000n,
  60_000_000n,
  3_600_000_000n,
  604_800_000_000n,
];
const DAY_US = 86_400_000_000n;

const timedeltaHandler: GlobalHandler = {
  call(args) {
    if (args.length > 7) fail(`timedelta() takes at most 7 arguments (${args.length} given)`);
    let total = 0n;
    args.forEach((arg, i) => {
      // timedelta takes floats too; an integral one (a PyFloat with floats: 'wrapped') counts as its int.
      const field = arg instanceof PyFloat && Number.isInteger(arg.value) ? arg.value : arg;
      total += BigInt(pyIntArg(field, 'timedelta field')) * TIMEDELTA_UNITS[i]!;
    });
    // Floor division, as CPython normalises: days may be negative, seconds and microseconds never are.
    let days = total / DAY_US;
    if (total % DAY_US < 0n) days -= 1n;
    const rest = total - days * DAY_US;
    if (days > BigInt(MAX_TIMEDELTA_DAYS) || days < -BigInt(MAX_TIMEDELTA_DAYS))
      fail(`days=${days}; must have magnitude <= ${MAX_TIMEDELTA_DAYS}`);
    return new PyTimedelta(Number(days), Number(rest / 1_000_000n), Number(rest % 1_000_000n));
  },
};

const timezoneHandler: GlobalHandler = {
  call(args) {
    if (args.length < 1 || args.length > 2) fail('timezone() takes an offset and an optional name');
    const offset = args[0];
    if (!(offset instanceof PyTimedelta))
      fail(`timezone() offset must be a timedelta, not ${describe(offset)}`);
    // Any offset strictly inside a day, to the microsecond (CPython 3.7+; 3.6 wanted whole minutes).
    if (Math.abs(Number(offset.totalMicroseconds())) >= 86_400_000_000)
      fail('offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)');
    const name = args[1];
    if (name !== undefined && typeof name !== 'string')
      fail(`timezone() name must be a str, not ${describe(name)}`);
    // CPython returns the `timezone.utc` singleton for a zero offset without a name.
    if (name === undefined && offset.days === 0 && offset.seconds === 0 && offset.microseconds === 0)
      return PyTimezone.utc;
    return new PyTimezone(offset, name ?? null);
  },
};

/** `decimal.Decimal(value[, context])`, kept as the canonical string CPython's `str()` gives. */
const decimalHandler: GlobalHandler = {
  call(args) {
    if (args.length > 2) fail(`function takes at most 2 arguments (${args.length} given)`);
    const context = args[1];
    if (
      args.length === 2 &&
      context !== null &&
      !(context instanceof PyObject && context.module === 'decimal' && context.name === 'Context')
    )
      fail('optional argument must be a context');
    if (args.length === 0) return new PyDecimal('0');
    const v = args[0];
    if (typeof v === 'string') {
      const text = decimalFromString(v);
      if (text === undefined) fail("[<class 'decimal.ConversionSyntax'>]");
      return new PyDecimal(text);
    }
    // A Python int decodes to a number too, and an integral float has the same Decimal.
    if (typeof v === 'number') return new PyDecimal(decimalFromFloat(v));
    if (v instanceof PyFloat) return new PyDecimal(decimalFromFloat(v.value));
    if (typeof v === 'bigint') return new PyDecimal(v.toString());
    if (typeof v === 'boolean') return new PyDecimal(v ? '1' : '0');
    if (v instanceof PyDecimal) return new PyDecimal(v.value);
    if (Array.isArray(v)) {
      try {
        return new PyDecimal(decimalFromTuple(v));
      } catch (e) {
        return fail((e as Error).message);
      }
    }
    if (v instanceof PyObject) return KEEP_PLACEHOLDER;
    return fail(`conversion from ${describe(v)} to Decimal is not supported`);
  },
};

/** uuid.UUID is written as NEWOBJ () (or `_reconstructor`) followed by BUILD {'int': n, 'is_safe': ...}. */
const uuidHandler: GlobalHandler = {
  /** `UUID(hex)`, as a hand-written reduction might call it; other argument forms stay placeholders. */
  call(args) {
    const hex = args[0];
    if (args.length !== 1 || typeof hex !== 'string') return KEEP_PLACEHOLDER;
    const digits = hex
      .replace('urn:', '')
      .replace('uuid:', '')
      .replace(/^[{}]+|[{}]+$/g, '')
      .replace(/-/g, '');
    if (digits.length !== 32) fail('badly formed hexadecimal UUID string');
    if (!/^[0-9a-fA-F]{32}$/.test(digits)) fail(`invalid literal for int() with base 16: '${digits}'`);
    return new PyUUID(digits.toLowerCase(), undefined);
  },
  construct(cls, args, kwargs) {
    if (args.length !== 0 || kwargs?.size) return KEEP_PLACEHOLDER;
    return new PyObject('newobj', cls, PyTuple.fromItems([]));
  },
  build(_obj, state) {
    const entries = new Map(dictEntries(state, 'UUID state'));
    // UUID.__setstate__ reads state['int'].
    if (!entries.has('int')) fail("KeyError: 'int'");
    const n = entries.get('int');
    if (typeof n !== 'number' && typeof n !== 'bigint') return KEEP_PLACEHOLDER;
    const big = BigInt(n);
    if (big < 0n || big >= 1n << 128n) fail('UUID int is out of range (need a 128-bit value)');
    let isSafe: number | null | undefined;
    if (entries.has('is_safe')) {
      const safe = entries.get('is_safe');
      if (safe instanceof PyObject && safe.module === 'uuid' && safe.name === 'SafeUUID') {
        const v = safe.args[0];
        isSafe = v === null ? null : intArg(v, 'SafeUUID value');
      } else if (safe === null || typeof safe === 'number') {
        isSafe = safe;
      } else {
        return KEEP_PLACEHOLDER;
      }
    }
    return new PyUUID(big.toString(16).padStart(32, '0'), isSafe);
  },
};

/** The name of each codec's C function, as CPython's errors give it. */
const CODEC_FUNCTION: Readonly<Record<BuiltinCodec, string>> = {
  ascii: 'ascii',
  latin1: 'latin_1',
  'utf-8': 'utf_8',
};

/**
 * `_codecs.encode(obj, encoding='utf-8', errors='strict')`, which Python 3 writes for bytes below protocol 3:
 * the argument checks and the strict Latin-1, UTF-8 and ASCII encodings as CPython does them. Other codecs,
 * and other error handlers on text that needs them, stay placeholders.
 */
const codecsEncodeHandler: GlobalHandler = {
  call(args) {
    if (args.length === 0) fail("encode() missing required argument 'obj' (pos 1)");
    if (args.length > 3) fail(`encode() takes at most 3 arguments (${args.length} given)`);
    const [obj, encoding = 'utf-8', errors = 'strict'] = args;
    if (typeof encoding !== 'string')
      fail(`encode() argument 'encoding' must be str, not ${describe(encoding)}`);
    if (typeof errors !== 'string') fail(`encode() argument 'errors' must be str, not ${describe(errors)}`);
    if (encoding.includes('\0') || errors.includes('\0')) fail('embedded null character');
    // CPython hands both names to C as UTF-8, which a lone surrogate cannot be.
    if (!isWellFormedText(encoding) || !isWellFormedText(errors))
      fail("'utf-8' codec can't encode a lone surrogate: surrogates not allowed");
    const codec = pythonCodecName(encoding);
    if (codec === undefined) return KEEP_PLACEHOLDER;
    if (typeof obj !== 'string') {
      fail(
        `encoding with '${encoding}' codec failed (TypeError: ${CODEC_FUNCTION[codec]}_encode() argument 1 must be str, not ${describe(obj)})`,
      );
    }
    let bytes: Uint8Array | null;
    if (codec === 'utf-8') bytes = isWellFormedText(obj) ? encodeUtf8(obj) : null;
    else {
      bytes = encodeLatin1(obj);
      if (codec === 'ascii' && bytes?.some((b) => b > 0x7f)) bytes = null;
    }
    if (bytes !== null) return bytes;
    if (errors !== 'strict') return KEEP_PLACEHOLDER;
    return fail(`'${codec === 'latin1' ? 'latin-1' : codec}' codec can't encode the string`);
  },
};

/**
 * `bytes(source, encoding)` / `bytearray(source, encoding)`: CPython's argument checks, then the encoding;
 * undefined for forms read elsewhere (one argument).
 */
function encodedSource(args: readonly unknown[], what: 'bytes' | 'bytearray'): Uint8Array | KeepPlaceholder {
  const [source, encoding, errors] = args;
  if (typeof encoding !== 'string')
    fail(`${what}() argument 'encoding' must be str, not ${describe(encoding)}`);
  if (errors !== undefined && typeof errors !== 'string')
    fail(`${what}() argument 'errors' must be str, not ${describe(errors)}`);
  if (typeof source !== 'string') fail('encoding without a string argument');
  const bytes = codecsEncodeHandler.call!(args, NO_CONTEXT);
  return bytes instanceof Uint8Array ? bytes : KEEP_PLACEHOLDER;
}

function newSet<T extends Set<unknown>>(
  args: readonly unknown[],
  make: (items: unknown[]) => T,
  what: string,
  ctx: ReconstructContext | undefined,
): T {
  if (args.length > 1) fail(`${what} expected at most 1 argument`);
  const items = args.length === 0 ? [] : iterableItems(args[0], `${what}() argument`);
  return make(items.map((item) => keyOf(item, ctx)));
}

/** Refuses a dict key or set element as CPython's `dict()` and `set()` refuse what Python cannot hash. */
function refuseUnhashable(type: string): never {
  throw new ReconstructError(`unhashable type: '${type}'`, 'UNHASHABLE');
}

/** A dict key or set element, as asKey makes it. */
function keyOf(value: unknown, ctx: ReconstructContext | undefined): unknown {
  return asKey(value, refuseUnhashable, ctx?.registered);
}

const setHandler: GlobalHandler = {
  call: (args, ctx) => newSet(args, (items) => new Set(items), 'set', ctx),
  construct: (_cls, args, _kwargs, ctx) => newSet(args, (items) => new Set(items), 'set', ctx),
};
const frozensetHandler: GlobalHandler = {
  call: (args, ctx) => newSet(args, (items) => new PyFrozenSet(items), 'frozenset', ctx),
  construct: (_cls, args, _kwargs, ctx) => newSet(args, (items) => new PyFrozenSet(items), 'frozenset', ctx),
};

const bytearrayHandler: GlobalHandler = {
  call(args) {
    if (args.length === 0) return new PyByteArray(0);
    if (args.length > 3) fail(`bytearray() takes at most 3 arguments (${args.length} given)`);
    const src = args[0];
    refuseByteCount(src);
    if (args.length > 1) {
      // Python 3.7 writes bytearray(str, 'latin-1') below protocol 3.
      const bytes = encodedSource(args, 'bytearray');
      return bytes instanceof Uint8Array ? PyByteArray.fromBytes(bytes) : bytes;
    }
    if (typeof src === 'string') fail('string argument without an encoding');
    if (src instanceof Uint8Array) return PyByteArray.fromBytes(src);
    const items = intIterable(src);
    if (items !== undefined) return fillBytes(new PyByteArray(items.length), items, 'bytearray');
    refuseBytesSource(src, 'bytearray');
    return KEEP_PLACEHOLDER;
  },
};

/**
 * `bytes(n)` / `bytearray(n)` make n zero bytes: CPython refuses a negative or oversized n, and mpwire
 * keeps the call as a placeholder otherwise, rather than allocate what a few bytes of pickle ask for.
 */
function refuseByteCount(value: unknown): void {
  if (typeof value !== 'number' && typeof value !== 'bigint') return;
  if (value < 0) fail('negative count');
  if (BigInt(value) > 0x7fff_ffff_ffff_ffffn) fail("cannot fit 'int' into an index-sized integer");
}

/**
 * Refuses None, floats and globals (classes and functions, which hold no bytes) as the one argument of
 * `bytes()` / `bytearray()`, in CPython's words.
 */
function refuseBytesSource(value: unknown, what: 'bytes' | 'bytearray'): void {
  const type =
    value === null
      ? 'NoneType'
      : value instanceof PyFloat || (typeof value === 'number' && !Number.isInteger(value))
        ? 'float'
        : value instanceof PyGlobal
          ? value.qualifiedName
          : undefined;
  if (type !== undefined) fail(`cannot convert '${type}' object to ${what}`);
}

/** The items `bytes(x)` iterates: a list, tuple, set or frozenset, or a dict's keys; undefined otherwise. */
function intIterable(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return [...value.keys()];
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.keys(value);
  return undefined;
}

/** `bytes(list)` / `bytearray(list)`: each item an int in range(0, 256), refused in CPython's words. */
function fillBytes<T extends Uint8Array>(out: T, items: readonly unknown[], what: 'bytes' | 'bytearray'): T {
  const outOfRange = what === 'bytes' ? 'bytes must be in range(0, 256)' : 'byte must be in range(0, 256)';
  items.forEach((v, i) => {
    const b = intArg(v, `${what} item`);
    if (b < 0 || b > 255) fail(outOfRange);
    out[i] = b;
  });
  return out;
}

// Python 3 writes an empty bytes object below protocol 3 as `bytes()`; the other forms are what `bytes(x)` accepts.
const bytesHandler: GlobalHandler = {
  call(args) {
    if (args.length === 0) return new Uint8Array(0);
    if (args.length > 3) fail(`bytes() takes at most 3 arguments (${args.length} given)`);
    const src = args[0];
    if (args.length > 1) return encodedSource(args, 'bytes');
    refuseByteCount(src);
    if (typeof src === 'string') fail('string argument without an encoding');
    if (src instanceof Uint8Array) return new Uint8Array(src);
    const items = intIterable(src);
    if (items !== undefined) return fillBytes(new Uint8Array(items.length), items, 'bytes');
    refuseBytesSource(src, 'bytes');
    return KEEP_PLACEHOLDER;
  },
};

const complexHandler: GlobalHandler = {
  call(args) {
    if (args.length > 2) fail('complex() takes at most 2 arguments');
    if (args.some((a) => typeof a === 'string')) return KEEP_PLACEHOLDER;
    return new PyComplex(
      args.length > 0 ? floatArg(args[0], 'complex real') : 0,
      args.length > 1 ? floatArg(args[1], 'complex imag') : 0,
    );
  },
};

function pyIntArg(value: unknown, what: string): number | bigint {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return fail(`${what} must be an int, not ${describe(value)}`);
}

const rangeHandler: GlobalHandler = {
  call(args) {
    if (args.length < 1 || args.length > 3) fail('range expected 1 to 3 arguments');
    const ints = args.map((a) => pyIntArg(a, 'range argument'));
    if (ints.length === 1) return new PyRange(0, ints[0]!, 1);
    if (ints[2] === 0 || ints[2] === 0n) fail('range() arg 3 must not be zero');
    return new PyRange(ints[0]!, ints[1]!, ints[2] ?? 1);
  },
};

const sliceHandler: GlobalHandler = {
  call(args) {
    if (args.length < 1 || args.length > 3) fail('slice expected 1 to 3 arguments');
    if (args.length === 1) return new PySlice(null, args[0], null);
    return new PySlice(args[0], args[1], args.length > 2 ? args[2] : null);
  },
};

const intHandler: GlobalHandler = {
  call(args) {
    if (args.length === 0) return 0;
    const v = args[0];
    if (args.length === 1 && (typeof v === 'number' || typeof v === 'bigint')) {
      return typeof v === 'number' ? Math.trunc(v) : v;
    }
    return KEEP_PLACEHOLDER;
  },
  construct(_cls, args, kwargs) {
    return kwargs?.size ? KEEP_PLACEHOLDER : intHandler.call!(args, NO_CONTEXT);
  },
};

const listHandler: GlobalHandler = {
  call: (args) =>
    args.length === 0
      ? []
      : args.length === 1
        ? [...iterableItems(args[0], 'list()')]
        : fail('list expected at most 1 argument'),
};
const tupleHandler: GlobalHandler = {
  call: (args) =>
    args.length === 0
      ? PyTuple.fromItems([])
      : args.length === 1
        ? PyTuple.fromItems(iterableItems(args[0], 'tuple()'))
        : fail('tuple expected at most 1 argument'),
};
const dictHandler: GlobalHandler = {
  call(args, ctx) {
    if (args.length > 1) fail(`dict expected at most 1 argument, got ${args.length}`);
    return ctx.makeDict(args.length === 0 ? [] : dictEntries(args[0], 'dict()', ctx));
  },
};

const orderedDictHandler: GlobalHandler = {
  call(args, ctx) {
    if (args.length > 1) fail('OrderedDict expected at most 1 argument');
    // Python 2 passes the items as a list of [key, value] lists.
    return new PyOrderedDict(args.length === 0 ? [] : dictEntries(args[0], 'OrderedDict()', ctx));
  },
};

const defaultDictHandler: GlobalHandler = {
  call(args, ctx) {
    if (args.length > 2) return KEEP_PLACEHOLDER;
    if (args.length > 0 && !mayBeCallable(args[0])) fail('first argument must be callable or None');
    return new PyDefaultDict(
      args[0] ?? null,
      args.length > 1 ? dictEntries(args[1], 'defaultdict()', ctx) : null,
    );
  },
};

/**
 * False for decoded values Python cannot call (data: numbers, strings, bytes, lists, tuples, dicts, sets and
 * the standard-library values); true for None, globals and placeholders, which may name a callable.
 */
function mayBeCallable(value: unknown): boolean {
  if (value === null || value instanceof PyGlobal || value instanceof PyObject) return true;
  if (typeof value !== 'object') return false;
  if (Array.isArray(value) || value instanceof Uint8Array || value instanceof Map || value instanceof Set)
    return false;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return false;
  // Registered user types and values.ts classes other than the above: Python data, not callables, except a
  // user type mpwire cannot see into.
  return !(
    value instanceof PyFloat ||
    value instanceof PyComplex ||
    value instanceof PyDecimal ||
    value instanceof PyTimedelta ||
    value instanceof PyTimezone ||
    value instanceof PyDate ||
    value instanceof PyTime ||
    value instanceof PyDatetime ||
    value instanceof PyUUID ||
    value instanceof PyRange ||
    value instanceof PySlice ||
    value instanceof PyArray
  );
}

const counterHandler: GlobalHandler = {
  call(args, ctx) {
    if (args.length > 1) fail('Counter expected at most 1 argument');
    const counter = new PyCounter();
    // Counter(None) is empty: update() skips a None.
    if (args.length === 0 || args[0] === null) return counter;
    const source = args[0];
    // Counter.update: a mapping's counts are taken as they are; any other iterable's elements are counted.
    if (
      source instanceof Map ||
      (typeof source === 'object' && source !== null && Object.getPrototypeOf(source) === Object.prototype)
    ) {
      for (const [k, v] of dictEntries(source, 'Counter()', ctx)) counter.set(k, v);
    } else {
      for (const item of iterableItems(source, 'Counter()')) {
        const key = keyOf(item, ctx);
        counter.set(key, ((counter.get(key) as number | undefined) ?? 0) + 1);
      }
    }
    return counter;
  },
};

const dequeHandler: GlobalHandler = {
  call(args) {
    if (args.length > 2) fail('deque expected at most 2 arguments');
    const maxlen = args[1] === undefined || args[1] === null ? null : intArg(args[1], 'deque maxlen');
    if (maxlen !== null && maxlen < 0) fail('maxlen must be non-negative');
    let items = args.length > 0 ? iterableItems(args[0], 'deque()') : [];
    if (maxlen !== null && items.length > maxlen) items = items.slice(items.length - maxlen);
    return PyDeque.fromItems(items, maxlen);
  },
};

const MIN_SAFE_BIG = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

function readArrayItems(
  typecode: string,
  bytes: Uint8Array,
  size: number,
  signed: boolean,
  isFloat: boolean,
  littleEndian: boolean,
): (number | bigint)[] {
  if (bytes.length % size !== 0) fail('bytes length not a multiple of item size');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: (number | bigint)[] = [];
  for (let off = 0; off < bytes.length; off += size) {
    if (isFloat)
      out.push(size === 4 ? view.getFloat32(off, littleEndian) : view.getFloat64(off, littleEndian));
    else if (size === 1) out.push(signed ? view.getInt8(off) : view.getUint8(off));
    else if (size === 2)
      out.push(signed ? view.getInt16(off, littleEndian) : view.getUint16(off, littleEndian));
    else if (size === 4)
      out.push(signed ? view.getInt32(off, littleEndian) : view.getUint32(off, littleEndian));
    else {
      const big = signed ? view.getBigInt64(off, littleEndian) : view.getBigUint64(off, littleEndian);
      const keepBig = typecode === 'q' || typecode === 'Q';
      out.push(!keepBig && big >= MIN_SAFE_BIG && big <= MAX_SAFE_BIG ? Number(big) : big);
    }
  }
  return out;
}

function decodeUtf32(bytes: Uint8Array, littleEndian: boolean): string {
  if (bytes.length % 4 !== 0) fail('bytes length not a multiple of item size');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  for (let off = 0; off < bytes.length; off += 4) {
    const cp = view.getUint32(off, littleEndian);
    if (cp > 0x10ffff) fail('character U+%x is not in range [U+0000; U+10ffff]');
    out += String.fromCodePoint(cp);
  }
  return out;
}

function decodeUtf16(bytes: Uint8Array, littleEndian: boolean): string {
  if (bytes.length % 2 !== 0) fail('bytes length not a multiple of item size');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let out = '';
  for (let off = 0; off < bytes.length; off += 2)
    out += String.fromCharCode(view.getUint16(off, littleEndian));
  return out;
}

function checkTypecode(value: unknown): string {
  if (typeof value !== 'string' || value.length !== 1 || !'bBuwhHiIlLqQfd'.includes(value))
    fail('bad typecode (must be b, B, u, w, h, H, i, I, l, L, q, Q, f or d)');
  return value;
}

const arrayHandler: GlobalHandler = {
  call(args) {
    if (args.length < 1 || args.length > 2) fail('array() takes 1 or 2 arguments');
    const typecode = checkTypecode(args[0]);
    const init = args[1];
    if (init === undefined) return new PyArray(typecode, typecode === 'u' || typecode === 'w' ? '' : []);
    if (typecode === 'u' || typecode === 'w') {
      if (typeof init === 'string') return new PyArray(typecode, init);
      if (init instanceof Uint8Array) return new PyArray(typecode, decodeUtf32(init, true));
      if (Array.isArray(init)) {
        for (const ch of init) {
          if (typeof ch !== 'string' || ch.length === 0 || ch.length > 2 || [...ch].length !== 1)
            fail('array item must be unicode character');
        }
        return new PyArray(typecode, init.join(''));
      }
      return fail('array u/w initializer must be a str');
    }
    const item = ARRAY_TYPECODES[typecode]!;
    if (init instanceof Uint8Array)
      return new PyArray(typecode, readArrayItems(typecode, init, item.size, item.signed, item.float, true));
    if (typeof init === 'string') {
      // Python 2 pickles the machine bytes as a str.
      const bytes = encodeLatin1(init);
      if (!bytes) fail('array initializer str is not bytes');
      return new PyArray(typecode, readArrayItems(typecode, bytes, item.size, item.signed, item.float, true));
    }
    const wide = typecode === 'q' || typecode === 'Q';
    const items = iterableItems(init, 'array initializer').map((v) => {
      if (item.float) return floatArg(v, 'array item');
      const n = pyIntArg(v, 'array item');
      // CPython stores each item as its C type and refuses what does not fit (OverflowError).
      const big = BigInt(n);
      const problem = integerItemProblem(typecode, big);
      if (problem !== undefined) fail(problem);
      // As readArrayItems: 'q'/'Q' items are bigints, other 8-byte items numbers while they are safe.
      return wide || big < MIN_SAFE_BIG || big > MAX_SAFE_BIG ? big : Number(big);
    });
    return new PyArray(typecode, items);
  },
};

/** The type code `_array_reconstructor` gives integers of a size and signedness: the last match in its table. */
const INT_TYPECODES: Readonly<Record<string, string>> = {
  '1s': 'b',
  '1u': 'B',
  '2s': 'h',
  '2u': 'H',
  '4s': 'i',
  '4u': 'I',
  '8s': 'q',
  '8u': 'Q',
};

/** array._array_reconstructor(arraytype, typecode, mformat_code, items): machine format codes from arraymodule.c. */
const arrayReconstructorHandler: GlobalHandler = {
  call(args) {
    if (args.length !== 4) fail('_array_reconstructor() takes exactly 4 arguments');
    const [cls, tc, code, items] = args;
    if (!mayBeCallable(cls)) fail(`first argument must be a type object, not ${describe(cls)}`);
    if (!(cls instanceof PyGlobal) || cls.module !== 'array' || cls.name !== 'array') return KEEP_PLACEHOLDER;
    const typecode = checkTypecode(tc);
    const mformat = intArg(code, 'mformat_code');
    if (!(items instanceof Uint8Array)) fail('fourth argument should be bytes');
    if (mformat >= 18 && mformat <= 21) {
      if (typecode !== 'u' && typecode !== 'w')
        fail(`cannot use a str to initialize an array with typecode '${typecode}'`);
      const le = mformat % 2 === 0;
      return new PyArray(typecode, mformat <= 19 ? decodeUtf16(items, le) : decodeUtf32(items, le));
    }
    if (mformat < 0 || mformat > 17) fail('third argument must be a valid machine format code.');
    const le = mformat < 2 || mformat % 2 === 0;
    let size: number;
    let signed: boolean;
    let isFloat = false;
    if (mformat <= 1) {
      size = 1;
      signed = mformat === 1;
    } else if (mformat <= 13) {
      size = mformat <= 5 ? 2 : mformat <= 9 ? 4 : 8;
      signed = (mformat - 2) % 4 >= 2;
    } else {
      size = mformat <= 15 ? 4 : 8;
      signed = true;
      isFloat = true;
    }
    if (isFloat) {
      // The items become floats and then array(typecode, floats).
      if (typecode === 'u' || typecode === 'w') fail('array item must be unicode character');
      if (typecode !== 'f' && typecode !== 'd') fail("'float' object cannot be interpreted as an integer");
      return new PyArray(typecode, readArrayItems(typecode, items, size, signed, true, le));
    }
    // Integers in the typecode's own format (on a little-endian LP64 machine) keep it; in any other, CPython
    // picks the integer type code of the items' size and signedness, whatever was asked.
    const ownFormat = ARRAY_TYPECODES[typecode]!.mformat === mformat;
    const intTypecode = ownFormat ? typecode : INT_TYPECODES[`${size}${signed ? 's' : 'u'}`]!;
    return new PyArray(intTypecode, readArrayItems(intTypecode, items, size, signed, false, le));
  },
};

/** copyreg._reconstructor(cls, base, state): protocol 0/1 form of `object.__new__(cls)`. */
const reconstructorHandler: GlobalHandler = {
  call(args, ctx) {
    if (args.length !== 3) fail('_reconstructor() takes exactly 3 arguments');
    const [cls, base, state] = args;
    if (!mayBeCallable(cls)) fail(`object.__new__(X): X is not a type object (${describe(cls)})`);
    if (!mayBeCallable(base)) fail(`_reconstructor() base must be a type, not ${describe(base)}`);
    if (base instanceof PyGlobal && base.module === 'builtins' && base.name === 'object' && state === null) {
      const handler = ctx.handlerFor(cls);
      if (handler?.construct) return handler.construct(cls as PyGlobal, [], undefined, ctx);
    }
    return KEEP_PLACEHOLDER;
  },
};

/** copyreg.__newobj__(cls, *args): what NEWOBJ does, written as a REDUCE below protocol 2. */
const newobjHandler: GlobalHandler = {
  call(args, ctx) {
    if (args.length < 1) fail('__newobj__() needs a class');
    const cls = args[0];
    if (!mayBeCallable(cls)) fail(`${describe(cls)}.__new__(X): X is not a type object (${describe(cls)})`);
    const handler = ctx.handlerFor(args[0]);
    return handler?.construct
      ? handler.construct(args[0] as PyGlobal, args.slice(1), undefined, ctx)
      : KEEP_PLACEHOLDER;
  },
};

const NO_CONTEXT: ReconstructContext = {
  handlerFor: () => undefined,
  makeDict: (entries) => new Map(entries),
};

/** The standard-library globals mpwire interprets, by Python 3 `module.name` (after fix_imports). */
/**
 * True for the callable CPython writes for `ZoneInfo._unpickle`, a class method: `getattr(ZoneInfo,
 * '_unpickle')`, as `builtins.getattr` (or Python 2's `__builtin__` name, read with fixImports off).
 */
export function isZoneInfoUnpickle(callable: PyObject): boolean {
  const getter = callable.callable;
  const [owner, name] = callable.args;
  return (
    callable.kind === 'reduce' &&
    getter instanceof PyGlobal &&
    getter.name === 'getattr' &&
    (getter.module === 'builtins' || getter.module === '__builtin__') &&
    callable.args.length === 2 &&
    owner instanceof PyGlobal &&
    owner.module === 'zoneinfo' &&
    owner.name === 'ZoneInfo' &&
    name === '_unpickle' &&
    callable.kwargs === undefined &&
    callable.state === undefined
  );
}

/**
 * `ZoneInfo._unpickle(key, from_cache)`: the cached zone of that key, or one of its own for `no_cache`.
 * Undefined (a placeholder) for arguments CPython would refuse or look up differently: whether a key names
 * a zone is the interpreter's time-zone data's to say, so any str key is taken.
 */
export function zoneInfoFromArgs(args: PyTuple): PyZoneInfo | undefined {
  if (args.length !== 2) return undefined;
  const [key, fromCache] = args;
  if (typeof key !== 'string' || (fromCache !== 0 && fromCache !== 1 && typeof fromCache !== 'boolean')) {
    return undefined;
  }
  return fromCache ? PyZoneInfo.of(key) : new PyZoneInfo(key, false);
}

export const STDLIB_HANDLERS: ReadonlyMap<string, GlobalHandler> = new Map<string, GlobalHandler>([
  ['builtins.set', setHandler],
  ['builtins.frozenset', frozensetHandler],
  ['builtins.bytes', bytesHandler],
  ['builtins.bytearray', bytearrayHandler],
  ['builtins.list', listHandler],
  ['builtins.tuple', tupleHandler],
  ['builtins.dict', dictHandler],
  ['builtins.int', intHandler],
  ['builtins.complex', complexHandler],
  ['builtins.range', rangeHandler],
  ['builtins.slice', sliceHandler],
  ['_codecs.encode', codecsEncodeHandler],
  ['copyreg._reconstructor', reconstructorHandler],
  ['copyreg.__newobj__', newobjHandler],
  ['datetime.datetime', datetimeHandler],
  ['datetime.date', dateHandler],
  ['datetime.time', timeHandler],
  ['datetime.timedelta', timedeltaHandler],
  ['datetime.timezone', timezoneHandler],
  ['decimal.Decimal', decimalHandler],
  ['uuid.UUID', uuidHandler],
  ['collections.OrderedDict', orderedDictHandler],
  ['collections.defaultdict', defaultDictHandler],
  ['collections.Counter', counterHandler],
  ['collections.deque', dequeHandler],
  ['array.array', arrayHandler],
  ['array._array_reconstructor', arrayReconstructorHandler],
]);

/** Builtins that are functions, not classes: NEWOBJ on them is refused as CPython refuses it. */
export const BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(
  'abs all any ascii bin breakpoint callable chr compile delattr dir divmod eval exec format getattr globals hasattr hash hex id input isinstance issubclass iter aiter len locals max min next anext oct open ord pow print repr round setattr sorted sum vars __import__ __build_class__'.split(
    ' ',
  ),
);

/** Python 2 strings that datetime reconstructors receive as bytes whatever the `encoding` option says. */
export const DATETIME_STATE_GLOBALS: ReadonlySet<string> = new Set([
  'datetime.datetime',
  'datetime.date',
  'datetime.time',
]);

/**
 * `cls(state)` for a datetime, date or time whose bytes state is read straight from the pickle data, so the
 * decoder need not allocate the state bytes and the argument tuple. Undefined unless `handler` is one of the
 * three and the state is one its `call` accepts as is: every other case, errors included, is left to `call`.
 */
export function temporalFromState(handler: GlobalHandler, b: Uint8Array, at: number, n: number): unknown {
  if (handler === datetimeHandler) {
    if (n !== 10) return undefined;
    const year = b[at]! * 256 + b[at + 1]!;
    const flags = b[at + 2]!;
    const month = flags & 0x7f;
    const day = b[at + 3]!;
    const hour = b[at + 4]!;
    const minute = b[at + 5]!;
    const second = b[at + 6]!;
    const us = (b[at + 7]! << 16) | (b[at + 8]! << 8) | b[at + 9]!;
    if (!isValidDate(year, month, day) || hour > 23 || minute > 59 || second > 59 || us > 999_999)
      return undefined;
    return new PyDatetime(year, month, day, hour, minute, second, us, null, flags & 0x80 ? 1 : 0);
  }
  if (handler === dateHandler) {
    if (n !== 4) return undefined;
    const year = b[at]! * 256 + b[at + 1]!;
    if (!isValidDate(year, b[at + 2]!, b[at + 3]!)) return undefined;
    return new PyDate(year, b[at + 2]!, b[at + 3]!);
  }
  if (handler === timeHandler) {
    if (n !== 6) return undefined;
    const flags = b[at]!;
    const hour = flags & 0x7f;
    const us = (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!;
    if (hour > 23 || b[at + 1]! > 59 || b[at + 2]! > 59 || us > 999_999) return undefined;
    return new PyTime(hour, b[at + 1]!, b[at + 2]!, us, null, flags & 0x80 ? 1 : 0);
  }
  return undefined;
}
