/**
 * `loads`: one pickle to one value, with the Unpicklers it makes kept for the next call. Making an Unpickler
 * costs more than decoding a small pickle (a 3-key dict: 1.5 µs against 0.6 µs), so calls without options
 * share one, and calls whose options are only plain values (the `floats`, `dicts`, `zeroCopyBytes`... of
 * an RPC loop) share one per set of values: 0.55 µs a call before this cache, 0.15 µs with it, for a 16-byte
 * bytes object.
 */

import { Unpickler, type UnpicklerOptions } from './decoder.js';

/** Options given as strings or booleans: equal values give Unpicklers that decode alike. */
type PlainOption =
  | 'bigints'
  | 'floats'
  | 'dicts'
  | 'encoding'
  | 'errors'
  | 'fixImports'
  | 'zeroCopyBytes'
  | 'numpy';
/**
 * Options holding objects or functions, never kept by the cache: it would hold on to the caller's objects
 * (a `persistentLoad` closure, a registry) after the call, and `buffers` is an iterator each call reads
 * from its start.
 */
type ObjectOption = 'registry' | 'allowGlobals' | 'extensions' | 'persistentLoad' | 'buffers' | 'limits';
/** Fails to compile when an option is added to UnpicklerOptions without being sorted into one of the two. */
const everyOptionSorted: [Exclude<keyof UnpicklerOptions, PlainOption | ObjectOption>] extends [never]
  ? true
  : never = true;
void everyOptionSorted;

interface KeptUnpickler {
  readonly options: Readonly<Pick<UnpicklerOptions, PlainOption>>;
  readonly unpickler: Unpickler;
  /** True while a load runs on it: a load nested in another (from a hook) gets an Unpickler of its own. */
  inUse: boolean;
}

/** Sets of plain options kept at once; the oldest makes way when a new set comes. */
const KEPT_MAX = 4;
const kept: KeptUnpickler[] = [];
let nextToReplace = 0;
let shared: KeptUnpickler | undefined;

/**
 * Decodes one pickle, as CPython's `pickle.loads`: bytes after STOP are ignored.
 * @throws UnpicklingError for any input it cannot decode.
 */
export function loads(data: Uint8Array, options?: UnpicklerOptions): unknown {
  let entry: KeptUnpickler | undefined;
  if (options === undefined) {
    shared ??= { options: {}, unpickler: new Unpickler(), inUse: false };
    entry = shared;
  } else if (hasOnlyPlainOptions(options)) {
    entry = keptFor(options);
  }
  if (entry === undefined || entry.inUse) return new Unpickler(options).load(data, 0).value;
  entry.inUse = true;
  try {
    return entry.unpickler.load(data, 0).value;
  } finally {
    entry.inUse = false;
  }
}

function hasOnlyPlainOptions(options: UnpicklerOptions): boolean {
  return (
    options.registry === undefined &&
    options.allowGlobals === undefined &&
    options.extensions === undefined &&
    options.persistentLoad === undefined &&
    options.buffers === undefined &&
    options.limits === undefined
  );
}

/** The kept Unpickler for these plain options, made and kept if there is none. */
function keptFor(options: UnpicklerOptions): KeptUnpickler {
  for (let i = 0; i < kept.length; i++) {
    const entry = kept[i]!;
    if (samePlainOptions(entry.options, options)) return entry;
  }
  const copy: Pick<UnpicklerOptions, PlainOption> = {
    bigints: options.bigints,
    floats: options.floats,
    dicts: options.dicts,
    encoding: options.encoding,
    errors: options.errors,
    fixImports: options.fixImports,
    zeroCopyBytes: options.zeroCopyBytes,
    numpy: options.numpy,
  };
  const entry: KeptUnpickler = { options: copy, unpickler: new Unpickler(copy), inUse: false };
  if (kept.length < KEPT_MAX) kept.push(entry);
  else {
    kept[nextToReplace] = entry;
    nextToReplace = (nextToReplace + 1) % KEPT_MAX;
  }
  return entry;
}

function samePlainOptions(a: Pick<UnpicklerOptions, PlainOption>, b: UnpicklerOptions): boolean {
  return (
    a.bigints === b.bigints &&
    a.floats === b.floats &&
    a.dicts === b.dicts &&
    a.encoding === b.encoding &&
    a.errors === b.errors &&
    a.fixImports === b.fixImports &&
    a.zeroCopyBytes === b.zeroCopyBytes &&
    a.numpy === b.numpy
  );
}
