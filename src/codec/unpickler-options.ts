/**
 * The checks an Unpickler makes on its options once, when it is made: a misspelt or mistyped option is a
 * BAD_OPTION error at once, rather than a choice silently ignored (`dicts: 'maps'`) or a limit silently
 * lifted (`limits: { maxDepth: NaN }`, `limits: { maxdepth: 10 }`). A limit given as undefined keeps its
 * default.
 */

import type { UnpicklerOptions } from './decoder.js';
import { UnpicklingError } from './errors.js';
import { kindOf } from './kind-of.js';

/** Resource limits. Each guards memory or time against hostile input; all are checked before allocating. */
export interface UnpicklingLimits {
  /** Largest pickle accepted, in bytes (counted from the start offset to STOP). */
  readonly maxInputBytes: number;
  /**
   * Most values waiting on the decoder's stack plus open MARKs (checked at every opcode). Containers
   * nested in one another wait there, and so does every item of a tuple or frozenset until it is built, so
   * this must be at least the largest tuple accepted: the default matches `maxContainerItems`. (A tuple of
   * 150 000 dicts, written by CPython, needs 150 000.) The decoder itself never recurses, so nesting of any
   * depth is safe to load.
   */
  readonly maxDepth: number;
  /** Most memo entries (PUT/BINPUT/LONG_BINPUT/MEMOIZE), and the largest memo index + 1. */
  readonly maxMemoEntries: number;
  /** Longest str, bytes or bytearray payload, in bytes. */
  readonly maxStringBytes: number;
  /** Most decimal digits of an int (text INT/LONG digits; LONG1/LONG4 bytes × log10(256)). */
  readonly maxBigIntDigits: number;
  /** Most items in one list, tuple, dict, set or placeholder item list. */
  readonly maxContainerItems: number;
  /**
   * Most containers and objects one load makes: dicts, lists, sets, frozensets, tuples, bytes and bytearray
   * objects, the values of REDUCE, NEWOBJ, INST and OBJ, and persistent ids no hook resolves. Each takes tens of bytes of heap for a byte or two of pickle (`}` is a
   * dict), so the input's size does not bound them: 50 million empty dicts, 50 MB of pickle, would exhaust
   * V8's heap and end the process. The default keeps them to about 1 GB of heap (1.5 GB if all are sets),
   * well within Node's default heap on a 64-bit machine.
   */
  readonly maxObjects: number;
  /**
   * Most items the standard-library reconstructors (`set(list)`, `tuple(list)`, `bytes(list)`, `deque(list)`...)
   * may copy in one load, per byte of input, beyond the first 1 048 576 (COPY_ALLOWANCE). A list in the memo can be handed to
   * them again and again for a few bytes each: 52 KB of pickle made 2000 tuples of a 20000-item list, 4e7
   * items (1.6 s; CPython 0.6 s). What a pickle holds once, it cannot copy more than once per byte.
   */
  readonly maxCopiedItemsPerByte: number;
}

/** Items the standard-library reconstructors may copy in any load, whatever its length. */
export const COPY_ALLOWANCE = 1 << 20;

/** The limits used when an option is not given. */
export const DEFAULT_UNPICKLING_LIMITS: Readonly<UnpicklingLimits> = Object.freeze({
  maxInputBytes: 256 * 1024 * 1024,
  maxDepth: 50_000_000,
  maxMemoEntries: 10_000_000,
  maxStringBytes: 128 * 1024 * 1024,
  // CPython refuses longer decimal int literals by default (sys.int_info.default_max_str_digits).
  maxBigIntDigits: 4300 * 16,
  maxContainerItems: 50_000_000,
  maxObjects: 10_000_000,
  maxCopiedItemsPerByte: 4,
});

const CHOICES: Readonly<Record<string, readonly unknown[]>> = {
  bigints: ['auto', 'always'],
  floats: ['number', 'wrapped'],
  dicts: ['auto', 'map', 'object'],
};
const FLAGS = ['fixImports', 'zeroCopyBytes', 'numpy'] as const;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const FUNCTIONS = ['persistentLoad'] as const;

/**
 * Every option an Unpickler takes: any other name is a misspelling, refused rather than ignored. A record of
 * every key, so that an option added to UnpicklerOptions and not here fails to compile.
 */
const OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    bigints: true,
    floats: true,
    dicts: true,
    encoding: true,
    errors: true,
    fixImports: true,
    zeroCopyBytes: true,
    numpy: true,
    limits: true,
    registry: true,
    extensions: true,
    allowGlobals: true,
    persistentLoad: true,
    buffers: true,
  } satisfies Record<keyof UnpicklerOptions, true>),
);

/** Refuses an option name an Unpickler does not take. @throws UnpicklingError BAD_OPTION. */
export function checkUnpicklerOptionNames(options: object): void {
  for (const name in options) {
    if (!OPTION_NAMES.has(name))
      badOption(`unknown option ${name}: the options are ${[...OPTION_NAMES].join(', ')}`);
  }
}

/**
 * What reading user option objects threw, as an error to throw: a getter, a Proxy or an iterable that throws
 * makes a BAD_OPTION error (its error the cause) instead of escaping as it is.
 */
export function optionsReadFailure(error: unknown): UnpicklingError {
  if (error instanceof UnpicklingError) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new UnpicklingError('BAD_OPTION', `the options could not be read: ${reason}`, 0, { cause: error });
}

function badOption(message: string): never {
  throw new UnpicklingError('BAD_OPTION', message, 0);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) {
    const kind = kindOf(value);
    return kind === 'Object' || kind === 'object' ? 'an object' : `a ${kind}`;
  }
  return String(value);
}

/**
 * Checks `options` and returns the limits they give (the defaults, with each limit given in its place).
 * @throws UnpicklingError BAD_OPTION for an unknown choice, a value of the wrong type, or a bad limit.
 */
export function checkUnpicklerOptions(options: UnpicklerOptions): Readonly<UnpicklingLimits> {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    badOption(`options must be an object, not ${show(options)}`);
  checkUnpicklerOptionNames(options);
  for (const [name, allowed] of Object.entries(CHOICES)) {
    const value = options[name as keyof UnpicklerOptions];
    if (value !== undefined && !allowed.includes(value)) {
      badOption(`${name} must be ${allowed.map(show).join(' or ')}, not ${show(value)}`);
    }
  }
  for (const name of FLAGS) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'boolean')
      badOption(`${name} must be a boolean, not ${show(value)}`);
  }
  // None (null) is Python's default for persistent_load and buffers, as no option.
  for (const name of FUNCTIONS) {
    const value = options[name];
    if (value !== undefined && value !== null && typeof value !== 'function')
      badOption(`${name} must be a function`);
  }
  for (const name of ['encoding', 'errors'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'string')
      badOption(`${name} must be a string, not ${show(value)}`);
    // CPython refuses these when the unpickler is made (its C API takes the names as UTF-8 C strings).
    if (typeof value === 'string' && value.includes('\0'))
      badOption(`${name} ${JSON.stringify(value)}: embedded null character`);
    if (typeof value === 'string' && LONE_SURROGATE.test(value))
      badOption(`${name} ${JSON.stringify(value)}: surrogates not allowed`);
  }
  const allow = options.allowGlobals;
  if (allow !== undefined && typeof allow !== 'function') {
    // A string is iterable too: its characters would each be a name, and every global refused.
    if (typeof allow === 'string' || typeof allow?.[Symbol.iterator] !== 'function') {
      badOption(`allowGlobals must be a function or a list of "module.name" strings, not ${show(allow)}`);
    }
    for (const name of allow as Iterable<unknown>) {
      if (typeof name !== 'string') badOption(`allowGlobals names must be strings, not ${show(name)}`);
    }
  }
  if (options.registry !== undefined && typeof options.registry?.decoderFor !== 'function') {
    badOption('registry must be a Registry');
  }
  const extensions = options.extensions;
  if (extensions !== undefined && typeof extensions?.get !== 'function') {
    badOption('extensions must be a Map of code to [module, name]');
  }
  if (extensions instanceof Map) {
    for (const [code, name] of extensions) {
      // copyreg's own checks: a code from 1 to 0x7fffffff, for a (module, name) pair of strings.
      if (!Number.isInteger(code) || code < 1 || code > 0x7fffffff)
        badOption(`extension code must be an integer from 1 to 2147483647, not ${show(code)}`);
      if (
        !Array.isArray(name) ||
        name.length !== 2 ||
        typeof name[0] !== 'string' ||
        typeof name[1] !== 'string'
      )
        badOption(`extension ${code} must map to a [module, name] pair of strings, not ${show(name)}`);
    }
  }
  if (
    options.buffers !== undefined &&
    options.buffers !== null &&
    (typeof options.buffers === 'string' || typeof options.buffers?.[Symbol.iterator] !== 'function')
  ) {
    badOption('buffers must be an iterable of buffers');
  }
  return checkedLimits(options.limits);
}

function checkedLimits(given: Partial<UnpicklingLimits> | undefined): Readonly<UnpicklingLimits> {
  if (given === undefined) return DEFAULT_UNPICKLING_LIMITS;
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    badOption(`limits must be an object of limits, not ${show(given)}`);
  const limits: Record<string, number> = { ...DEFAULT_UNPICKLING_LIMITS };
  // for...in, as for the option names: a limit an object inherits is a limit given.
  for (const name in given) {
    const value = given[name as keyof UnpicklingLimits];
    if (!Object.hasOwn(DEFAULT_UNPICKLING_LIMITS, name)) {
      badOption(`unknown limit ${name}: the limits are ${Object.keys(DEFAULT_UNPICKLING_LIMITS).join(', ')}`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value >= 0) || !(Number.isInteger(value) || value === Infinity)) {
      badOption(`limit ${name} must be a whole number from 0 up, or Infinity, not ${show(value)}`);
    }
    limits[name] = value;
  }
  return limits as unknown as UnpicklingLimits;
}
