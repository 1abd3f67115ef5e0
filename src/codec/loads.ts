/**
 * `loads`: one pickle to one value, with the Unpicklers it makes kept for the next call. Making an Unpickler
 * costs more than decoding a small pickle (a 3-key dict: 1.5 µs against 0.6 µs), so calls without options
 * share one, and calls with the same options (the `floats`, `dicts`, `limits` or `registry` of an RPC loop)
 * share one per set: a 16-byte bytes object with options took 0.55 µs a call before, 0.15 µs now.
 */

import { loadAlone, Unpickler, type UnpicklerOptions, type UnpicklingLimits } from './decoder.js';
import { checkUnpicklerOptionNames, optionsReadFailure } from './unpickler-options.js';

/** Options compared by value: strings, booleans, and the numbers of `limits`. */
type ValueOption =
  | 'bigints'
  | 'floats'
  | 'dicts'
  | 'encoding'
  | 'errors'
  | 'fixImports'
  | 'zeroCopyBytes'
  | 'numpy'
  | 'limits';
/**
 * Options compared by identity: objects the Unpickler consults on each use, so a kept one sees what the
 * caller changes in them. `allowGlobals` is compared by identity when it is a function and by its names
 * when it is an array (the Unpickler builds its filter from the names it was given).
 */
type ObjectOption = 'registry' | 'extensions' | 'allowGlobals';
/**
 * Options never kept: `persistentLoad` is often a closure made per call, which the cache would keep alive,
 * and `buffers` is an iterator each call reads from its start. A call with either gets a new Unpickler.
 */
type CallOption = 'persistentLoad' | 'buffers';
/** Fails to compile when an option is added to UnpicklerOptions without being sorted into one of the three. */
const everyOptionSorted: [Exclude<keyof UnpicklerOptions, ValueOption | ObjectOption | CallOption>] extends [
  never,
]
  ? true
  : never = true;
void everyOptionSorted;

type KeptOptions = Pick<UnpicklerOptions, ValueOption | ObjectOption>;

interface KeptUnpickler {
  /** A copy of the options it was made with (`limits` and an `allowGlobals` array copied too). */
  readonly options: Readonly<KeptOptions>;
  readonly unpickler: Unpickler;
  /** True while a load runs on it: a load nested in another (from a hook) gets an Unpickler of its own. */
  inUse: boolean;
}

/** Sets of options kept at once; the oldest makes way when a new set comes. */
const KEPT_MAX = 4;
const kept: KeptUnpickler[] = [];
let nextToReplace = 0;
let shared: KeptUnpickler | undefined;

/**
 * Decodes one pickle, as CPython's `pickle.loads`: bytes after STOP are ignored.
 * @throws UnpicklingError for any input it cannot decode.
 */
export function loads(
  data: Uint8Array | ArrayBufferView | ArrayBuffer,
  options?: UnpicklerOptions | null,
): unknown {
  let entry: KeptUnpickler | undefined;
  if (options === undefined || options === null) {
    options = undefined;
    shared ??= { options: {}, unpickler: new Unpickler(), inUse: false };
    entry = shared;
  } else if (typeof options !== 'object' || Array.isArray(options)) {
    return loadAlone(new Unpickler(options), data); // refuses it
  } else {
    const given = options;
    try {
      if (isKeepable(given)) {
        // A kept Unpickler has checked its own options only: a misspelt name here is seen nowhere else.
        checkUnpicklerOptionNames(given);
        entry = keptFor(given);
      }
    } catch (error) {
      throw optionsReadFailure(error);
    }
  }
  if (entry === undefined || entry.inUse) return loadAlone(new Unpickler(options), data);
  entry.inUse = true;
  try {
    return loadAlone(entry.unpickler, data);
  } finally {
    entry.inUse = false;
  }
}

function isKeepable(options: UnpicklerOptions): boolean {
  const allow = options.allowGlobals;
  return (
    options.persistentLoad === undefined &&
    options.buffers === undefined &&
    (allow === undefined || typeof allow === 'function' || Array.isArray(allow))
  );
}

/** The kept Unpickler for these options, made and kept if there is none. */
function keptFor(options: UnpicklerOptions): KeptUnpickler {
  for (let i = 0; i < kept.length; i++) {
    const entry = kept[i]!;
    if (sameOptions(entry.options, options)) return entry;
  }
  const allow = options.allowGlobals;
  const copy: KeptOptions = {
    bigints: options.bigints,
    floats: options.floats,
    dicts: options.dicts,
    encoding: options.encoding,
    errors: options.errors,
    fixImports: options.fixImports,
    zeroCopyBytes: options.zeroCopyBytes,
    numpy: options.numpy,
    // A copy, but only of an object: anything else goes to the Unpickler as given, which refuses it.
    limits: isLimitsObject(options.limits) ? copyLimits(options.limits!) : options.limits,
    registry: options.registry,
    extensions: options.extensions,
    allowGlobals: Array.isArray(allow) ? allow.slice() : allow,
  };
  const entry: KeptUnpickler = { options: copy, unpickler: new Unpickler(copy), inUse: false };
  if (kept.length < KEPT_MAX) kept.push(entry);
  else {
    kept[nextToReplace] = entry;
    nextToReplace = (nextToReplace + 1) % KEPT_MAX;
  }
  return entry;
}

function sameOptions(a: KeptOptions, b: UnpicklerOptions): boolean {
  return (
    a.bigints === b.bigints &&
    a.floats === b.floats &&
    a.dicts === b.dicts &&
    a.encoding === b.encoding &&
    a.errors === b.errors &&
    a.fixImports === b.fixImports &&
    a.zeroCopyBytes === b.zeroCopyBytes &&
    a.numpy === b.numpy &&
    a.registry === b.registry &&
    a.extensions === b.extensions &&
    sameLimits(a.limits, b.limits) &&
    sameAllowed(a.allowGlobals, b.allowGlobals)
  );
}

/** Equal when both give the same names the same values: a misspelt name makes a new Unpickler, which refuses it. */
function sameLimits(a: KeptOptions['limits'], b: KeptOptions['limits']): boolean {
  // Only objects are compared by their limits: anything else is the same only as itself (and refused).
  if (!isLimitsObject(a) || !isLimitsObject(b)) return a === b;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const name in y) if (x[name] !== y[name]) return false;
  for (const name in x) if (x[name] !== y[name]) return false;
  return true;
}

function isLimitsObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameAllowed(a: KeptOptions['allowGlobals'], b: KeptOptions['allowGlobals']): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every limit the object gives, inherited ones too (a spread would drop those), as the Unpickler reads them. */
function copyLimits(limits: Partial<UnpicklingLimits>): Partial<UnpicklingLimits> {
  const copy: Record<string, unknown> = {};
  for (const name in limits) copy[name] = limits[name as keyof UnpicklingLimits];
  return copy;
}
