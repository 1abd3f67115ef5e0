/**
 * Which decoded values Python could not hash, so cannot be dict keys or set elements: CPython's unpickler
 * refuses them (`TypeError: unhashable type: 'list'`) when SETITEM, ADDITEMS, FROZENSET or a `set()` /
 * `dict()` reduction meets one, and so does mpwire. Values whose hashability depends on a class mpwire does
 * not know (PyObject placeholders, user types) are allowed. Pure.
 */
import { foreignBuiltinKind } from './foreign-builtin.js';
import { NDArray } from './numpy.js';
import {
  PyArray,
  PyByteArray,
  PyCounter,
  PyDecimal,
  PyDefaultDict,
  PyDeque,
  PyFloat,
  PyFrozenSet,
  PyOrderedDict,
  PyTuple,
} from './values.js';

/** Items a tuple's check must have looked at for its verdict to be kept in `HASHABLE_TUPLES`. */
const KEEP_VERDICT_ITEMS = 16;
/**
 * Tuples of at least KEEP_VERDICT_ITEMS items (nested ones counted) found hashable. A tuple is frozen, so its
 * verdict cannot change; without this, one large tuple in the memo used as a dict key again and again (a few
 * bytes of pickle each time) was walked again each time: a 264 KB pickle with a 1e5-item tuple as the key of
 * 16000 SETITEMS took 44 s to decode (CPython, which hashes the tuple each time, 2.6 s); now about 25 ms.
 */
const HASHABLE_TUPLES = new WeakSet<PyTuple>();

/**
 * CPython's name for the type of `value` when Python cannot hash it, else undefined. `registered` says which
 * objects stand for a user class (a registered decoder made them, a registered reducer writes them): Python
 * hashes those by its own rules, whatever their JavaScript shape, so they are taken as hashable.
 */
export function unhashableType(value: unknown, registered?: (value: object) => boolean): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const type = shapeUnhashableType(value, registered);
  return type !== undefined && registered?.(value) === true ? undefined : type;
}

function shapeUnhashableType(
  value: object,
  registered: ((value: object) => boolean) | undefined,
): string | undefined {
  // Tuples hash their items: the first unhashable one decides. Each tuple is looked at once, so tuples that
  // share tuples (60 levels of (t, t) from a few bytes of pickle) cost their number, not 2^60.
  if (value instanceof PyTuple) {
    if (HASHABLE_TUPLES.has(value)) return undefined;
    // The common key, a tuple of scalars, allocates nothing; nested tuples are tracked as they come.
    let pending: PyTuple[] | undefined;
    let seen: Set<PyTuple> | undefined;
    let looked = 0;
    // Whether an item was taken as hashable for being registered: that verdict is not kept for later calls.
    let excused = false;
    for (let tuple: PyTuple | undefined = value; tuple !== undefined; tuple = pending?.pop()) {
      looked += tuple.length;
      for (const item of tuple) {
        if (item instanceof PyTuple) {
          seen ??= new Set([value]);
          if (!seen.has(item)) {
            seen.add(item);
            pending ??= [];
            pending.push(item);
          }
        } else if (typeof item === 'object' && item !== null) {
          const name = shapeUnhashableType(item, registered);
          if (name !== undefined) {
            if (registered?.(item) !== true) return name;
            excused = true;
          }
        }
      }
    }
    if (looked >= KEEP_VERDICT_ITEMS && !excused) HASHABLE_TUPLES.add(value);
    return undefined;
  }
  if (value instanceof PyDeque) return 'collections.deque';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Map) {
    if (value instanceof PyOrderedDict) return 'collections.OrderedDict';
    if (value instanceof PyCounter) return 'Counter';
    if (value instanceof PyDefaultDict) return 'collections.defaultdict';
    return 'dict';
  }
  if (value instanceof Set) return value instanceof PyFrozenSet ? undefined : 'set';
  if (value instanceof PyByteArray) return 'bytearray';
  if (value instanceof PyArray) return 'array.array';
  if (value instanceof NDArray) return 'numpy.ndarray';
  // Decimal('sNaN') refuses to hash (CPython: "Cannot hash a signaling NaN value").
  if (value instanceof PyDecimal)
    return /^[+-]?snan/i.test(value.value) ? 'decimal.Decimal (signaling NaN)' : undefined;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return 'dict';
  // Another realm's plain object, Map or Set, which dumps writes as a dict or set.
  if (!(value instanceof Object)) {
    const foreign = foreignBuiltinKind(value);
    if (foreign === 'Object' || foreign === 'Map') return 'dict';
    if (foreign === 'Set') return 'set';
  }
  return undefined;
}

/**
 * `value` as a dict key or set element, as every decoding path inserts one into a Map or Set: what Python
 * cannot hash goes to `refuse` (which throws), and -0 becomes `PyFloat(-0)`, since JavaScript's Sets and Maps
 * store -0 as +0, which would turn a Python -0.0 into the int 0 (`PyFloat(-0)` re-encodes to -0.0).
 */
export function asKey(
  value: unknown,
  refuse: (type: string) => never,
  registered?: (value: object) => boolean,
): unknown {
  if (typeof value === 'object' && value !== null) {
    const type = unhashableType(value, registered);
    if (type !== undefined) refuse(type);
    return value;
  }
  return value === 0 && 1 / (value as number) < 0 ? new PyFloat(-0) : value;
}
