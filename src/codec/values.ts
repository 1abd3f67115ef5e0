/**
 * The Python value types JavaScript lacks. Each class keeps every bit of the Python value so that decoding and
 * re-encoding is lossless. Pure data: no I/O, no `node:` imports.
 *
 * Mapping (see README "Value mapping"): None ↔ null, bool ↔ boolean, int ↔ number (safe) / bigint,
 * float ↔ number (or PyFloat to force float), str ↔ string, bytes ↔ Uint8Array, bytearray ↔ PyByteArray,
 * tuple ↔ PyTuple, list ↔ Array, dict ↔ object / Map, set ↔ Set, frozenset ↔ PyFrozenSet.
 */

import { byteViewOf } from './bytes-like.js';
import { kindOf } from './kind-of.js';

/** Python `int` as JavaScript sees it: a number when it is a safe integer, otherwise a bigint. */
export type PyInt = number | bigint;

/**
 * Python `tuple`: an array that cannot be changed once built. `Array.isArray` is true; `map`/`filter`
 * return plain arrays.
 */
export class PyTuple<T = unknown> extends Array<T> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** Builds a frozen tuple holding `items` (copied). */
  static fromItems<T>(items: Iterable<T>): PyTuple<T> {
    const t = new PyTuple<T>();
    for (const item of items) t.push(item);
    return Object.freeze(t) as PyTuple<T>;
  }

  /** `Array.from`, giving a frozen tuple as `fromItems` does. */
  static override from<T, U = T>(
    items: Iterable<T> | ArrayLike<T>,
    mapfn?: (value: T, index: number) => U,
    thisArg?: unknown,
  ): PyTuple<U> {
    const array = mapfn ? Array.from(items, mapfn, thisArg) : (Array.from(items) as unknown as U[]);
    return PyTuple.fromItems(array);
  }

  /** `Array.of`, giving a frozen tuple as `fromItems` does. */
  static override of<T>(...items: T[]): PyTuple<T> {
    return PyTuple.fromItems(items);
  }
}

/** `tuple(1, 'a')` builds the Python tuple `(1, 'a')`. */
export function tuple<T extends unknown[]>(...items: T): PyTuple<T[number]> {
  return PyTuple.fromItems(items);
}

export function isTuple(value: unknown): value is PyTuple {
  return value instanceof PyTuple;
}

/** Python `bytearray`: a mutable byte buffer, kept distinct from `bytes` (plain `Uint8Array`). */
export class PyByteArray extends Uint8Array {
  static fromBytes(bytes: ArrayLike<number>): PyByteArray {
    const b = new PyByteArray(bytes.length);
    b.set(bytes);
    return b;
  }
}

/** Python `frozenset`: a Set whose `add`, `delete` and `clear` throw once it is built. */
export class PyFrozenSet<T = unknown> extends Set<T> {
  #frozen = false;

  constructor(items?: Iterable<T> | null) {
    super();
    if (items) for (const item of items) Set.prototype.add.call(this, item);
    this.#frozen = true;
  }

  override add(value: T): this {
    if (this.#frozen) throw new TypeError('frozenset is immutable');
    return super.add(value);
  }

  override delete(value: T): boolean {
    if (this.#frozen) throw new TypeError('frozenset is immutable');
    return super.delete(value);
  }

  override clear(): void {
    if (this.#frozen) throw new TypeError('frozenset is immutable');
    super.clear();
  }
}

/**
 * A number that is a Python `float` even when it is integral: `new PyFloat(1)` pickles as `1.0`, while a
 * plain `1` pickles as the int `1`. `loads` returns plain numbers unless `floats: 'wrapped'` is set.
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

/** Python `complex`. */
export class PyComplex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}
}

/** A reference to a Python global by name: a class or function, e.g. `builtins.int` or a pickled function. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** How a placeholder object was built in the pickle, so it re-encodes to the same opcodes. */
export type PyObjectKind = 'reduce' | 'newobj' | 'newobj_ex' | 'inst' | 'obj';

/**
 * An inert record of a Python object mpwire has no type for. Nothing is ever called: the record keeps what
 * the pickle said (callable, arguments, state, appended items) and `dumps` writes it back to the same bytes.
 *
 * - `reduce`: `callable(*args)` (REDUCE). `callable` is usually a PyGlobal.
 * - `newobj` / `newobj_ex`: `cls.__new__(cls, *args, **kwargs)` (NEWOBJ / NEWOBJ_EX); `callable` is the class.
 * - `inst` / `obj`: protocol 0/1 instance creation (INST / OBJ).
 */
export class PyObject {
  /** Keyword arguments (NEWOBJ_EX), in order. */
  kwargs: Map<string, unknown> | undefined;
  /** The BUILD state; `undefined` when there was no BUILD (a BUILD of None gives `null`). */
  state: unknown = undefined;
  /**
   * The callable of a `__reduce__` state setter (Python 3.8 on): the pickle called `stateSetter(obj, state)`
   * and popped its result instead of a BUILD; `state` holds the state. `undefined` for none.
   */
  stateSetter: unknown = undefined;
  /** Items added by APPEND/APPENDS to this object. */
  readonly listItems: unknown[] = [];
  /** Key/value pairs added by SETITEM/SETITEMS to this object, in order. */
  readonly dictItems: [unknown, unknown][] = [];

  constructor(
    readonly kind: PyObjectKind,
    readonly callable: unknown,
    readonly args: readonly unknown[],
    kwargs?: Map<string, unknown>,
  ) {
    this.kwargs = kwargs;
  }

  /** `module` of the callable when it is a named global, else undefined. */
  get module(): string | undefined {
    return this.callable instanceof PyGlobal ? this.callable.module : undefined;
  }

  /** `name` of the callable when it is a named global, else undefined. */
  get name(): string | undefined {
    return this.callable instanceof PyGlobal ? this.callable.name : undefined;
  }
}

/** A persistent id (PERSID / BINPERSID) that no `persistentLoad` hook resolved; re-encodes unchanged. */
export class PyPersistentRef {
  constructor(
    readonly pid: unknown,
    /** True when it came from protocol 0's text PERSID. */
    readonly text: boolean,
  ) {}
}

/**
 * Protocol 5 `pickle.PickleBuffer`: a buffer written in band (BYTEARRAY8 / bytes) or out of band (NEXT_BUFFER).
 * Like Python's, it takes any bytes-like object: a typed array or DataView (its bytes, whatever its item
 * size), an ArrayBuffer or SharedArrayBuffer; `data` is a Uint8Array over the same memory.
 */
export class PyPickleBuffer {
  readonly data: Uint8Array;
  readonly readonly: boolean;

  /** @throws TypeError for data that is not bytes-like, or a `readonly` that is not a boolean. */
  constructor(data: ArrayBufferView | ArrayBuffer | SharedArrayBuffer, readonly: boolean) {
    const bytes = byteViewOf(data);
    if (bytes === undefined) {
      throw new TypeError(
        `PickleBuffer data must be bytes-like (a typed array, DataView or ArrayBuffer), not ${kindOf(data)}`,
      );
    }
    if (typeof readonly !== 'boolean')
      throw new TypeError(`PickleBuffer readonly must be a boolean, not ${kindOf(readonly)}`);
    this.data = bytes;
    this.readonly = readonly;
  }
}

/** Python `datetime.timedelta`, normalised as Python does: 0 ≤ seconds < 86400, 0 ≤ microseconds < 10^6. */
export class PyTimedelta {
  readonly days: number;
  readonly seconds: number;
  readonly microseconds: number;

  constructor(days: number, seconds = 0, microseconds = 0) {
    let us = microseconds;
    let s = seconds + Math.floor(us / 1_000_000);
    us = ((us % 1_000_000) + 1_000_000) % 1_000_000;
    let d = days + Math.floor(s / 86_400);
    s = ((s % 86_400) + 86_400) % 86_400;
    if (!Number.isSafeInteger(d) || !Number.isInteger(s) || !Number.isInteger(us)) {
      throw new RangeError('timedelta fields must be integers');
    }
    d = d === 0 ? 0 : d;
    this.days = d;
    this.seconds = s;
    this.microseconds = us;
  }

  /** Total length in microseconds, exact. */
  totalMicroseconds(): bigint {
    return (BigInt(this.days) * 86_400n + BigInt(this.seconds)) * 1_000_000n + BigInt(this.microseconds);
  }
}

/** Python `datetime.timezone`: a fixed UTC offset with an optional name. */
export class PyTimezone {
  static readonly utc = new PyTimezone(new PyTimedelta(0));

  constructor(
    readonly offset: PyTimedelta,
    /** The explicit name given in Python, or null. */
    readonly name: string | null = null,
  ) {}
}

/**
 * Python `zoneinfo.ZoneInfo` (3.9+): an IANA time zone by its key, such as `'Europe/Berlin'`. Zones made by
 * `ZoneInfo(key)` are one object per key in CPython, and so are these: `PyZoneInfo.of(key)` gives the same
 * instance each time, which is what `loads` returns. `fromCache: false` stands for `ZoneInfo.no_cache(key)`.
 */
export class PyZoneInfo {
  static readonly #cached = new Map<string, PyZoneInfo>();

  constructor(
    readonly key: string,
    readonly fromCache = true,
  ) {}

  /** The zone `ZoneInfo(key)` gives: one instance per key. */
  static of(key: string): PyZoneInfo {
    let zone = PyZoneInfo.#cached.get(key);
    if (zone === undefined) {
      zone = new PyZoneInfo(key);
      PyZoneInfo.#cached.set(key, zone);
    }
    return zone;
  }

  /**
   * The zone's UTC offset in milliseconds for a wall-clock time (given as if it were UTC), as CPython's
   * `utcoffset()`: in a repeated hour `fold` 0 takes the earlier offset and 1 the later; in a skipped hour,
   * the offsets before and after the transition. Offsets come from the runtime's time-zone data (Intl).
   * @throws RangeError when the runtime does not know the key.
   */
  offsetAt(wallMs: number, fold: 0 | 1 = 0): number {
    const before = zoneOffsetMs(this.key, wallMs - DAY_MS);
    const after = zoneOffsetMs(this.key, wallMs + DAY_MS);
    if (before === after) return before;
    const beforeHolds = zoneOffsetMs(this.key, wallMs - before) === before;
    const afterHolds = zoneOffsetMs(this.key, wallMs - after) === after;
    // Both hold in a repeated hour, neither in a skipped one: then fold chooses, as PEP 495 has it.
    if (beforeHolds === afterHolds) return fold === 0 ? before : after;
    return beforeHolds ? before : after;
  }
}

const DAY_MS = 86_400_000;
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** The offset of the zone `key` at the instant `ms`, in whole seconds (as milliseconds). */
function zoneOffsetMs(key: string, ms: number): number {
  let format = zoneFormats.get(key);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone: key,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new RangeError(`unknown time zone ${JSON.stringify(key)}: the runtime's time-zone data lacks it`);
    }
    zoneFormats.set(key, format);
  }
  const field: Record<string, number> = {};
  let bc = false;
  for (const part of format.formatToParts(ms)) {
    if (part.type === 'era') bc = part.value === 'BC' || part.value === 'B';
    else if (part.type !== 'literal') field[part.type] = Number(part.value);
  }
  const wall = new Date(0);
  wall.setUTCFullYear(bc ? 1 - field.year! : field.year!, field.month! - 1, field.day!);
  wall.setUTCHours(field.hour!, field.minute!, field.second!, 0);
  return wall.getTime() - Math.floor(ms / 1000) * 1000;
}

/** Python `datetime.date`. */
export class PyDate {
  constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
  ) {}
}

/** Python `datetime.time`. `tzinfo` is a PyTimezone, another tzinfo object as a placeholder, or null. */
export class PyTime {
  constructor(
    readonly hour = 0,
    readonly minute = 0,
    readonly second = 0,
    readonly microsecond = 0,
    readonly tzinfo: unknown = null,
    readonly fold: 0 | 1 = 0,
  ) {}
}

/** Python `datetime.datetime` with microsecond precision and its tzinfo (null when naive). */
export class PyDatetime {
  constructor(
    readonly year: number,
    readonly month: number,
    readonly day: number,
    readonly hour = 0,
    readonly minute = 0,
    readonly second = 0,
    readonly microsecond = 0,
    readonly tzinfo: unknown = null,
    readonly fold: 0 | 1 = 0,
  ) {}

  /**
   * An aware datetime for a JavaScript Date (millisecond precision, as Date has): in UTC, or in `tz`, as
   * Python's `astimezone(tz)` gives it. In a zone's repeated hour, the second occurrence has `fold` 1.
   * @throws RangeError when a PyZoneInfo's key is unknown to the runtime's time-zone data.
   */
  static fromDate(date: Date, tz: PyTimezone | PyZoneInfo = PyTimezone.utc): PyDatetime {
    const ms = date.getTime();
    if (Number.isNaN(ms)) throw new RangeError('an invalid Date has no datetime');
    // A fixed offset may have microseconds (timezone(timedelta(microseconds=500))): its whole milliseconds
    // move the Date, the rest lands in the wall time's microseconds, so no part of it is lost.
    const offsetUs =
      tz instanceof PyZoneInfo ? zoneOffsetMs(tz.key, ms) * 1000 : Number(tz.offset.totalMicroseconds());
    const offset = Math.floor(offsetUs / 1000);
    const wall = new Date(ms + offset);
    // Where the wall time is read with the other offset too, fold 0 names the earlier instant.
    const fold = tz instanceof PyZoneInfo && tz.offsetAt(ms + offset, 0) !== offset ? 1 : 0;
    return new PyDatetime(
      wall.getUTCFullYear(),
      wall.getUTCMonth() + 1,
      wall.getUTCDate(),
      wall.getUTCHours(),
      wall.getUTCMinutes(),
      wall.getUTCSeconds(),
      wall.getUTCMilliseconds() * 1000 + (offsetUs - offset * 1000),
      tz,
      fold,
    );
  }

  /**
   * The instant as a JavaScript Date (microseconds rounded down to milliseconds, as `timestamp()` would be).
   * A naive datetime is read as UTC; an aware one needs a PyTimezone tzinfo, or a PyZoneInfo, whose offset
   * comes from the runtime's time-zone data (`fold` choosing in a repeated or skipped hour, as in CPython).
   */
  toDate(): Date {
    const wall = new Date(0);
    wall.setUTCFullYear(this.year, this.month - 1, this.day);
    wall.setUTCHours(this.hour, this.minute, this.second, Math.floor(this.microsecond / 1000));
    let ms = wall.getTime();
    if (this.tzinfo instanceof PyTimezone) {
      // The instant in microseconds is the wall time's less the offset's; only the sub-millisecond parts are
      // added here, so no sum grows past 2^53.
      const offsetUs = Number(this.tzinfo.offset.totalMicroseconds());
      ms += Math.floor(((this.microsecond % 1000) - offsetUs) / 1000);
    } else if (this.tzinfo instanceof PyZoneInfo) {
      ms -= this.tzinfo.offsetAt(ms, this.fold);
    } else if (this.tzinfo !== null) {
      throw new TypeError('toDate() needs a naive datetime, a datetime.timezone or a zoneinfo.ZoneInfo');
    }
    return new Date(ms);
  }
}

/** Python `decimal.Decimal`, kept as its exact string form (`'1.10'`, `'-0'`, `'NaN'`, `'Infinity'`, `'1E+2'`). */
export class PyDecimal {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Python `uuid.UUID`. */
export class PyUUID {
  /** 32 lowercase hex digits. */
  readonly hex: string;
  /** `is_safe` as pickled: 0 (safe), -1 (unsafe), null, or undefined when Python did not record it. */
  readonly isSafe: number | null | undefined;

  constructor(hexOrString: string, isSafe?: number | null) {
    const hex = hexOrString.replace(/[{}-]/g, '').toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`not a UUID: ${hexOrString}`);
    this.hex = hex;
    this.isSafe = isSafe;
  }

  toString(): string {
    const h = this.hex;
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** The 128-bit integer Python's `uuid.int` holds. */
  toBigInt(): bigint {
    return BigInt(`0x${this.hex}`);
  }
}

/** Python `collections.OrderedDict`. */
export class PyOrderedDict<K = unknown, V = unknown> extends Map<K, V> {}

/** Python `collections.defaultdict`; `defaultFactory` is the factory (usually a PyGlobal such as `builtins.list`) or null. */
export class PyDefaultDict<K = unknown, V = unknown> extends Map<K, V> {
  constructor(
    public defaultFactory: unknown = null,
    entries?: Iterable<readonly [K, V]> | null,
  ) {
    super(entries);
  }
}

/** Python `collections.Counter`. */
export class PyCounter<K = unknown> extends Map<K, unknown> {}

/** Python `collections.deque`, an array with the deque's `maxlen` (null when unbounded). */
export class PyDeque<T = unknown> extends Array<T> {
  maxlen: number | null = null;

  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }

  /** A maxlen Python's deque takes: null (unbounded) or a whole number from 0 up. */
  static isMaxlen(maxlen: unknown): maxlen is number | null {
    return maxlen === null || (Number.isInteger(maxlen) && (maxlen as number) >= 0);
  }

  /** As Python's `deque(items, maxlen)`: past `maxlen` items, the last ones are kept. */
  static fromItems<T>(items: Iterable<T>, maxlen: number | null = null): PyDeque<T> {
    if (!PyDeque.isMaxlen(maxlen))
      throw new RangeError(`maxlen must be a whole number from 0 up or null, not ${maxlen}`);
    const d = new PyDeque<T>();
    for (const item of items) d.push(item);
    if (maxlen !== null && d.length > maxlen) d.splice(0, d.length - maxlen);
    d.maxlen = maxlen;
    return d;
  }
}

/** Python `range`. */
export class PyRange {
  constructor(
    readonly start: PyInt,
    readonly stop: PyInt,
    readonly step: PyInt = 1,
  ) {}
}

/** Python `slice`. */
export class PySlice {
  constructor(
    readonly start: unknown,
    readonly stop: unknown,
    readonly step: unknown = null,
  ) {}
}

/** Python `array.array`: a type code and its items (numbers, bigints for 'q'/'Q', or a string for 'u'/'w'). */
export class PyArray {
  constructor(
    readonly typecode: string,
    readonly items: readonly (number | bigint)[] | string,
  ) {}
}
