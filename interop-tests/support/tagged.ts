/**
 * The tagged JSON value description shared with python-fixtures/tagged.py (format: python-fixtures/README.md).
 *
 * - `fromTagged` builds the mpwire JavaScript value a description names (the input to `dumps`).
 * - `matchTagged` checks a decoded value against a description: exact classes, float bits, order, and the
 *   same sharing (`["def", n, v]` / `["ref", n]`), so cycles and shared objects count.
 * - `toTagged` describes a JavaScript value (property tests send it to CPython).
 */
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
  type PyObjectKind,
  PyOrderedDict,
  PyRange,
  PySlice,
  PyTime,
  PyTimedelta,
  PyTimezone,
  PyTuple,
  PyUUID,
} from '../../src/codec/values.js';

/** A tagged description: `[tag, ...fields]`. */
export type Tagged = readonly [string, ...unknown[]];

/** The placeholder record of `["object", record]`. */
interface ObjectRecord {
  kind: PyObjectKind;
  callable: Tagged;
  args: Tagged[];
  kwargs?: [Tagged, Tagged][];
  state?: Tagged;
  listItems?: Tagged[];
  dictItems?: [Tagged, Tagged][];
}

/** How the decode was configured, which decides the JavaScript form of some descriptions. */
export interface MatchOptions {
  /** `floats` option of `loads`: 'wrapped' gives PyFloat, so ints and floats are told apart. */
  readonly floats: 'number' | 'wrapped';
  /** How Python 2 byte strings were decoded: `encoding: 'latin1'` (strings) or `encoding: 'bytes'`. */
  readonly py2str: 'latin1' | 'bytes';
  /**
   * Set elements (and dict entries) in any order: for pickles CPython wrote of a value built elsewhere, whose
   * sets iterate in hash order (and Python 2 dicts too), not in the description's order.
   */
  readonly unorderedSets?: boolean;
  readonly unorderedDicts?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Numbers

/** Parses Python's `float.hex()` output (and 'nan', 'inf', '-inf') to the exact double. */
export function parseFloatTag(text: string): number {
  if (text === 'nan') return Number.NaN;
  if (text === 'inf') return Number.POSITIVE_INFINITY;
  if (text === '-inf') return Number.NEGATIVE_INFINITY;
  const m = /^(-)?0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(text);
  if (!m) throw new Error(`not a float.hex() string: ${text}`);
  const fraction = m[3] ?? '';
  const mantissa = Number(BigInt(`0x${m[2]}${fraction}`));
  const exponent = Number(m[4]) - 4 * fraction.length;
  // Two steps keep 2**exponent representable for the smallest subnormals.
  const half = Math.trunc(exponent / 2);
  const magnitude = mantissa * 2 ** half * 2 ** (exponent - half);
  return m[1] ? -magnitude : magnitude;
}

/** Formats a double as Python's `float.hex()` does. */
export function floatTag(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Number.POSITIVE_INFINITY) return 'inf';
  if (x === Number.NEGATIVE_INFINITY) return '-inf';
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n ? '-' : '';
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  const mantissa = (bits & 0xfffffffffffffn).toString(16).padStart(13, '0');
  if (biasedExponent === 0) {
    return mantissa === '0000000000000' ? `${sign}0x0.0p+0` : `${sign}0x0.${mantissa}p-1022`;
  }
  const exponent = biasedExponent - 1023;
  return `${sign}0x1.${mantissa}p${exponent >= 0 ? '+' : ''}${exponent}`;
}

/** Python int (decimal string) as mpwire's default `bigints: 'auto'` gives it. */
export function intFromTag(text: string): number | bigint {
  const big = BigInt(text);
  const small = Number(big);
  return Number.isSafeInteger(small) ? small : big;
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/**
 * True for keys JavaScript orders before all others in a plain object (canonical array indices), which is
 * why a dict with such a key cannot decode to a plain object.
 */
export function isArrayIndexKey(key: string): boolean {
  return /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < 2 ** 32 - 1;
}

/** The JavaScript string a dict key decodes to, or undefined when it is not a string. */
function textKey(key: Tagged, py2str: MatchOptions['py2str']): string | undefined {
  if (key[0] === 'str') return key[1] as string;
  // Python 2 byte strings are text once decoded with encoding='latin1'.
  if (key[0] === 'py2str' && py2str === 'latin1') return String.fromCharCode(...hexToBytes(key[1] as string));
  return undefined;
}

/** True when a dict with these keys decodes to a plain object rather than a Map. */
function dictIsPlainObject(
  pairs: readonly (readonly [Tagged, Tagged])[],
  py2str: MatchOptions['py2str'] = 'bytes',
): boolean {
  return pairs.every(([k]) => {
    const text = textKey(k, py2str);
    return text !== undefined && !isArrayIndexKey(text);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Description -> JavaScript value

/**
 * Builds the mpwire value a description names, with shared objects and cycles as `def`/`ref` say.
 * `floats: 'minimal'` wraps only integral floats in PyFloat (the rest stay numbers); 'wrapped' wraps all.
 */
export function fromTagged(tagged: Tagged, floats: 'minimal' | 'wrapped' = 'minimal'): unknown {
  return new ValueBuilder(floats).build(tagged);
}

class ValueBuilder {
  readonly #defs = new Map<number, unknown>();

  constructor(readonly floats: 'minimal' | 'wrapped') {}

  build(t: Tagged): unknown {
    if (t[0] === 'def') return this.#buildAs(t[1] as number, t[2] as Tagged);
    if (t[0] === 'ref') {
      const n = t[1] as number;
      if (!this.#defs.has(n)) throw new Error(`ref ${n} before its def`);
      return this.#defs.get(n);
    }
    return this.#buildAs(undefined, t);
  }

  #bind<T>(id: number | undefined, value: T): T {
    if (id !== undefined) this.#defs.set(id, value);
    return value;
  }

  #pairs(list: unknown): [unknown, unknown][] {
    return (list as [Tagged, Tagged][]).map(([k, v]) => [this.build(k), this.build(v)]);
  }

  #buildAs(id: number | undefined, t: Tagged): unknown {
    const [tag, a, b, c] = t;
    switch (tag) {
      case 'none':
        return this.#bind(id, null);
      case 'bool':
        return this.#bind(id, a as boolean);
      case 'int':
        return this.#bind(id, intFromTag(a as string));
      case 'float': {
        const x = parseFloatTag(a as string);
        // Integral floats need the wrapper, or they would be written as ints.
        const wrap = this.floats === 'wrapped' || Number.isSafeInteger(x) || Object.is(x, -0);
        return this.#bind(id, wrap ? new PyFloat(x) : x);
      }
      case 'str':
        return this.#bind(id, a as string);
      case 'bytes':
        return this.#bind(id, hexToBytes(a as string));
      case 'bytearray':
        return this.#bind(id, PyByteArray.fromBytes(hexToBytes(a as string)));
      case 'tuple': {
        // Bound before its items are built (a tuple can be reached again through a list inside it).
        const out = this.#bind(id, new PyTuple<unknown>());
        for (const item of a as Tagged[]) out.push(this.build(item));
        return Object.freeze(out);
      }
      case 'list': {
        const out = this.#bind(id, [] as unknown[]);
        for (const item of a as Tagged[]) out.push(this.build(item));
        return out;
      }
      case 'dict': {
        const pairs = a as [Tagged, Tagged][];
        if (dictIsPlainObject(pairs)) {
          const out = this.#bind(id, {} as Record<string, unknown>);
          for (const [k, v] of pairs) {
            // defineProperty keeps '__proto__' an own key instead of setting the prototype.
            Object.defineProperty(out, k[1] as string, {
              value: this.build(v),
              enumerable: true,
              writable: true,
              configurable: true,
            });
          }
          return out;
        }
        const out = this.#bind(id, new Map<unknown, unknown>());
        for (const [k, v] of pairs) out.set(this.build(k), this.build(v));
        return out;
      }
      case 'set': {
        const out = this.#bind(id, new Set<unknown>());
        for (const item of a as Tagged[]) out.add(this.build(item));
        return out;
      }
      case 'frozenset':
        return this.#bind(id, new PyFrozenSet((a as Tagged[]).map((item) => this.build(item))));
      case 'complex':
        return this.#bind(id, new PyComplex(parseFloatTag(a as string), parseFloatTag(b as string)));
      case 'datetime':
        return this.#bind(
          id,
          new PyDatetime(
            a as number,
            b as number,
            c as number,
            t[4] as number,
            t[5] as number,
            t[6] as number,
            t[7] as number,
            t[8] === null ? null : this.build(t[8] as Tagged),
            t[9] as 0 | 1,
          ),
        );
      case 'date':
        return this.#bind(id, new PyDate(a as number, b as number, c as number));
      case 'time':
        return this.#bind(
          id,
          new PyTime(
            a as number,
            b as number,
            c as number,
            t[4] as number,
            t[5] === null ? null : this.build(t[5] as Tagged),
            t[6] as 0 | 1,
          ),
        );
      case 'timedelta':
        return this.#bind(id, new PyTimedelta(a as number, b as number, c as number));
      case 'timezone':
        return this.#bind(id, new PyTimezone(this.build(a as Tagged) as PyTimedelta, b as string | null));
      case 'decimal':
        return this.#bind(id, new PyDecimal(a as string));
      case 'uuid':
        return this.#bind(id, new PyUUID(a as string));
      case 'ordereddict':
        return this.#bind(id, new PyOrderedDict(this.#pairs(a)));
      case 'counter':
        return this.#bind(id, new PyCounter(this.#pairs(a)));
      case 'defaultdict': {
        const out = this.#bind(id, new PyDefaultDict(this.build(a as Tagged)));
        for (const [k, v] of this.#pairs(b)) out.set(k, v);
        return out;
      }
      case 'deque': {
        const out = this.#bind(id, PyDeque.fromItems<unknown>([], b as number | null));
        for (const item of a as Tagged[]) out.push(this.build(item));
        return out;
      }
      case 'range':
        return this.#bind(
          id,
          new PyRange(intFromTag(a as string), intFromTag(b as string), intFromTag(c as string)),
        );
      case 'slice':
        return this.#bind(
          id,
          new PySlice(this.build(a as Tagged), this.build(b as Tagged), this.build(c as Tagged)),
        );
      case 'array':
        return this.#bind(
          id,
          new PyArray(
            a as string,
            typeof b === 'string'
              ? b
              : (b as Tagged[]).map(([kind, text]) =>
                  kind === 'float' ? parseFloatTag(text as string) : intFromTag(text as string),
                ),
          ),
        );
      case 'global':
        return this.#bind(id, new PyGlobal(a as string, b as string));
      case 'object':
        return this.#buildObject(id, a as ObjectRecord);
      default:
        throw new Error(`no JavaScript value for tag ${String(tag)}`);
    }
  }

  #buildObject(id: number | undefined, record: ObjectRecord): PyObject {
    const callable = this.build(record.callable);
    const args = record.args.map((arg) => this.build(arg));
    const kwargs = record.kwargs
      ? new Map(record.kwargs.map(([k, v]) => [this.build(k) as string, this.build(v)]))
      : undefined;
    const obj = this.#bind(id, new PyObject(record.kind, callable, args, kwargs));
    if (record.state !== undefined) obj.state = this.build(record.state);
    for (const item of record.listItems ?? []) obj.listItems.push(this.build(item));
    for (const [k, v] of record.dictItems ?? []) obj.dictItems.push([this.build(k), this.build(v)]);
    return obj;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Decoded value vs description

/** Values a decoder may share although Python had distinct objects: immutable and commonly interned. */
function mayBeInterned(value: unknown): boolean {
  return (
    value instanceof PyGlobal ||
    value instanceof PyTimezone ||
    (value instanceof PyTuple && value.length === 0)
  );
}

const UNTRACKED_TAGS = new Set(['none', 'bool', 'int', 'float', 'str', 'py2str']);

/**
 * Compares a decoded value with a description. Returns null when they agree, else a message naming the
 * first difference and where it is (`value[2].key`).
 */
export function matchTagged(actual: unknown, tagged: Tagged, options: MatchOptions): string | null {
  try {
    new Matcher(options).match(actual, tagged, 'value');
    return null;
  } catch (error) {
    if (error instanceof Mismatch) return error.message;
    throw error;
  }
}

class Mismatch extends Error {}

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  const name = value.constructor?.name ?? 'Object';
  return `${name} ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))?.slice(0, 200)}`;
}

class Matcher {
  readonly #defs = new Map<number, unknown>();
  /** Every decoded object already matched to a description, so distinct Python objects stay distinct. */
  readonly #seen = new Set<unknown>();

  constructor(readonly options: MatchOptions) {}

  #fail(path: string, what: string, actual: unknown): never {
    throw new Mismatch(`${path}: expected ${what}, got ${show(actual)}`);
  }

  #expectClass(actual: unknown, cls: abstract new (...args: never[]) => unknown, path: string): void {
    if (actual === null || typeof actual !== 'object' || Object.getPrototypeOf(actual) !== cls.prototype) {
      this.#fail(path, `an instance of exactly ${cls.name}`, actual);
    }
  }

  match(actual: unknown, t: Tagged, path: string): void {
    if (t[0] === 'ref') {
      const n = t[1] as number;
      if (this.#defs.get(n) !== actual) this.#fail(path, `the object first seen as def ${n}`, actual);
      return;
    }
    if (t[0] === 'def') {
      const n = t[1] as number;
      if (this.#seen.has(actual)) this.#fail(path, `a new object (def ${n})`, actual);
      this.#defs.set(n, actual);
      this.#seen.add(actual);
      this.#matchPlain(actual, t[2] as Tagged, path);
      return;
    }
    if (
      !UNTRACKED_TAGS.has(t[0]) &&
      typeof actual === 'object' &&
      actual !== null &&
      !mayBeInterned(actual)
    ) {
      if (this.#seen.has(actual)) this.#fail(path, 'an object distinct from every earlier one', actual);
      this.#seen.add(actual);
    }
    this.#matchPlain(actual, t, path);
  }

  #items(actual: readonly unknown[], expected: Tagged[], path: string): void {
    if (actual.length !== expected.length) {
      this.#fail(path, `${expected.length} items`, `${actual.length} items`);
    }
    expected.forEach((item, i) => {
      this.match(actual[i], item, `${path}[${i}]`);
    });
  }

  /** Pairs each expected item with a distinct actual one it matches, whatever the order. */
  #anyOrder(actual: readonly unknown[], expected: readonly Tagged[], path: string): void {
    if (actual.length !== expected.length) {
      this.#fail(path, `${expected.length} items`, `${actual.length} items`);
    }
    const unused = new Set(actual.keys());
    for (const item of expected) {
      // Trial matches run on a fresh matcher so a failed candidate leaves no identity bindings behind.
      const found = [...unused].find((i) => matchTagged(actual[i], item, this.options) === null);
      if (found === undefined) this.#fail(path, `an element matching ${JSON.stringify(item)}`, actual);
      unused.delete(found);
      this.match(actual[found], item, `${path}[${found}]`);
    }
  }

  #entries(actual: Iterable<readonly [unknown, unknown]>, expected: [Tagged, Tagged][], path: string): void {
    const pairs = [...actual];
    if (this.options.unorderedDicts) {
      const asPairs = pairs.map(([k, v]) => PyTuple.fromItems([k, v]));
      this.#anyOrder(
        asPairs,
        expected.map(([k, v]) => ['tuple', [k, v]] as const),
        path,
      );
      return;
    }
    if (pairs.length !== expected.length) this.#fail(path, `${expected.length} entries`, `${pairs.length}`);
    expected.forEach(([k, v], i) => {
      const [ak, av] = pairs[i]!;
      this.match(ak, k, `${path}.keys[${i}]`);
      this.match(av, v, `${path}.get(${show(ak)})`);
    });
  }

  #int(actual: unknown, text: string, path: string): void {
    const expected = intFromTag(text);
    if (typeof expected === 'number') {
      if (typeof actual !== 'number' || !Object.is(actual, expected)) this.#fail(path, `int ${text}`, actual);
    } else if (actual !== expected) {
      this.#fail(path, `int ${text} as a bigint`, actual);
    }
  }

  #float(actual: unknown, text: string, path: string): void {
    const expected = parseFloatTag(text);
    let value: unknown = actual;
    if (this.options.floats === 'wrapped') {
      if (!(actual instanceof PyFloat)) this.#fail(path, `PyFloat ${text}`, actual);
      value = actual.value;
    } else if (actual instanceof PyFloat && Object.is(actual.value, -0)) {
      // -0.0 as a set element or dict key is PyFloat(-0): Sets and Maps would make it +0.
      value = actual.value;
    }
    if (typeof value !== 'number' || !Object.is(value, expected)) this.#fail(path, `float ${text}`, actual);
  }

  #matchPlain(actual: unknown, t: Tagged, path: string): void {
    const [tag, a, b, c] = t;
    switch (tag) {
      case 'none':
        if (actual !== null) this.#fail(path, 'null', actual);
        return;
      case 'bool':
        if (actual !== a) this.#fail(path, String(a), actual);
        return;
      case 'int':
        this.#int(actual, a as string, path);
        return;
      case 'float':
        this.#float(actual, a as string, path);
        return;
      case 'str':
        if (actual !== a) this.#fail(path, `str ${JSON.stringify(a)}`, actual);
        return;
      case 'py2str': {
        const bytes = hexToBytes(a as string);
        if (this.options.py2str === 'latin1') {
          const text = String.fromCharCode(...bytes);
          if (actual !== text) this.#fail(path, `latin-1 str ${JSON.stringify(text)}`, actual);
          return;
        }
        this.#expectClass(actual, Uint8Array, path);
        if (bytesToHex(actual as Uint8Array) !== a) this.#fail(path, `bytes ${a}`, actual);
        return;
      }
      case 'bytes':
      case 'bytearray':
        this.#expectClass(actual, tag === 'bytes' ? Uint8Array : PyByteArray, path);
        if (bytesToHex(actual as Uint8Array) !== a) this.#fail(path, `${tag} ${a}`, actual);
        return;
      case 'tuple':
        this.#expectClass(actual, PyTuple, path);
        this.#items(actual as PyTuple, a as Tagged[], path);
        return;
      case 'list':
        this.#expectClass(actual, Array, path);
        this.#items(actual as unknown[], a as Tagged[], path);
        return;
      case 'dict':
        this.#dict(actual, a as [Tagged, Tagged][], path);
        return;
      case 'set':
      case 'frozenset':
        this.#expectClass(actual, tag === 'set' ? Set : PyFrozenSet, path);
        if (this.options.unorderedSets) this.#anyOrder([...(actual as Set<unknown>)], a as Tagged[], path);
        else this.#items([...(actual as Set<unknown>)], a as Tagged[], path);
        return;
      case 'complex':
        this.#expectClass(actual, PyComplex, path);
        if (
          !Object.is((actual as PyComplex).real, parseFloatTag(a as string)) ||
          !Object.is((actual as PyComplex).imag, parseFloatTag(b as string))
        ) {
          this.#fail(path, `complex(${a}, ${b})`, actual);
        }
        return;
      case 'datetime':
      case 'date':
      case 'time':
        this.#dateLike(actual, t, path);
        return;
      case 'timedelta': {
        this.#expectClass(actual, PyTimedelta, path);
        const td = actual as PyTimedelta;
        if (td.days !== a || td.seconds !== b || td.microseconds !== c) {
          this.#fail(path, `timedelta(${a}, ${b}, ${c})`, actual);
        }
        return;
      }
      case 'timezone': {
        this.#expectClass(actual, PyTimezone, path);
        const tz = actual as PyTimezone;
        this.#matchPlain(tz.offset, a as Tagged, `${path}.offset`);
        if (tz.name !== b) this.#fail(`${path}.name`, String(b), tz.name);
        return;
      }
      case 'decimal':
        this.#expectClass(actual, PyDecimal, path);
        if ((actual as PyDecimal).value !== a) this.#fail(path, `Decimal('${a}')`, actual);
        return;
      case 'uuid':
        this.#expectClass(actual, PyUUID, path);
        if ((actual as PyUUID).hex !== a) this.#fail(path, `UUID ${a}`, actual);
        return;
      case 'ordereddict':
      case 'counter':
        this.#expectClass(actual, tag === 'counter' ? PyCounter : PyOrderedDict, path);
        this.#entries((actual as Map<unknown, unknown>).entries(), a as [Tagged, Tagged][], path);
        return;
      case 'defaultdict':
        this.#expectClass(actual, PyDefaultDict, path);
        this.match((actual as PyDefaultDict).defaultFactory, a as Tagged, `${path}.defaultFactory`);
        this.#entries((actual as PyDefaultDict).entries(), b as [Tagged, Tagged][], path);
        return;
      case 'deque':
        this.#expectClass(actual, PyDeque, path);
        if ((actual as PyDeque).maxlen !== b)
          this.#fail(`${path}.maxlen`, String(b), (actual as PyDeque).maxlen);
        this.#items(actual as PyDeque, a as Tagged[], path);
        return;
      case 'range': {
        this.#expectClass(actual, PyRange, path);
        const r = actual as PyRange;
        this.#int(r.start, a as string, `${path}.start`);
        this.#int(r.stop, b as string, `${path}.stop`);
        this.#int(r.step, c as string, `${path}.step`);
        return;
      }
      case 'slice': {
        this.#expectClass(actual, PySlice, path);
        const s = actual as PySlice;
        this.match(s.start, a as Tagged, `${path}.start`);
        this.match(s.stop, b as Tagged, `${path}.stop`);
        this.match(s.step, c as Tagged, `${path}.step`);
        return;
      }
      case 'array': {
        this.#expectClass(actual, PyArray, path);
        const arr = actual as PyArray;
        if (arr.typecode !== a) this.#fail(`${path}.typecode`, String(a), arr.typecode);
        if (typeof b === 'string') {
          if (arr.items !== b) this.#fail(`${path}.items`, JSON.stringify(b), arr.items);
          return;
        }
        if (typeof arr.items === 'string') this.#fail(`${path}.items`, 'numbers', arr.items);
        // Array items are plain numbers whichever `floats` option was used, and bigints for 'q' and 'Q'.
        let items = arr.items;
        if (a === 'q' || a === 'Q') {
          const notBig = items.findIndex((x) => typeof x !== 'bigint');
          if (notBig >= 0) this.#fail(`${path}.items[${notBig}]`, 'a bigint', items[notBig]);
          items = items.map((x) => (Number.isSafeInteger(Number(x)) ? Number(x) : x));
        }
        const plain = new Matcher({ ...this.options, floats: 'number' });
        plain.#items(items, b as Tagged[], `${path}.items`);
        return;
      }
      case 'global':
        this.#expectClass(actual, PyGlobal, path);
        if ((actual as PyGlobal).module !== a || (actual as PyGlobal).name !== b) {
          this.#fail(path, `global ${a}.${b}`, actual);
        }
        return;
      case 'object':
        this.#object(actual, a as ObjectRecord, path);
        return;
      default:
        throw new Error(`unknown tag ${String(tag)} at ${path}`);
    }
  }

  #dict(actual: unknown, pairs: [Tagged, Tagged][], path: string): void {
    if (!dictIsPlainObject(pairs, this.options.py2str)) {
      this.#expectClass(actual, Map, path);
      this.#entries((actual as Map<unknown, unknown>).entries(), pairs, path);
      return;
    }
    const proto = actual !== null && typeof actual === 'object' ? Object.getPrototypeOf(actual) : undefined;
    if (proto !== Object.prototype && proto !== null) {
      this.#fail(path, 'a plain object (every key a str, none an array index)', actual);
    }
    const record = actual as Record<string, unknown>;
    const keys = Object.keys(record);
    const expectedKeys = pairs.map(([k]) => textKey(k, this.options.py2str)!);
    if (this.options.unorderedDicts) {
      keys.sort();
      expectedKeys.sort();
    }
    if (JSON.stringify(keys) !== JSON.stringify(expectedKeys)) {
      this.#fail(`${path} keys`, JSON.stringify(expectedKeys), JSON.stringify(keys));
    }
    for (const [k, v] of pairs) {
      const key = textKey(k, this.options.py2str)!;
      this.match(record[key], v, `${path}[${JSON.stringify(key)}]`);
    }
  }

  #dateLike(actual: unknown, t: Tagged, path: string): void {
    const [tag, ...fields] = t;
    if (tag === 'date') {
      this.#expectClass(actual, PyDate, path);
      const d = actual as PyDate;
      if (d.year !== fields[0] || d.month !== fields[1] || d.day !== fields[2])
        this.#fail(path, 'date', actual);
      return;
    }
    const isDatetime = tag === 'datetime';
    this.#expectClass(actual, isDatetime ? PyDatetime : PyTime, path);
    const v = actual as PyDatetime & PyTime;
    const names = isDatetime
      ? (['year', 'month', 'day', 'hour', 'minute', 'second', 'microsecond'] as const)
      : (['hour', 'minute', 'second', 'microsecond'] as const);
    names.forEach((name, i) => {
      if (v[name] !== fields[i]) this.#fail(`${path}.${name}`, String(fields[i]), v[name]);
    });
    const tz = fields[names.length] as Tagged | null;
    if (tz === null) {
      if (v.tzinfo !== null) this.#fail(`${path}.tzinfo`, 'null', v.tzinfo);
    } else {
      this.match(v.tzinfo, tz, `${path}.tzinfo`);
    }
    if (v.fold !== fields[names.length + 1])
      this.#fail(`${path}.fold`, String(fields[names.length + 1]), v.fold);
  }

  #object(actual: unknown, record: ObjectRecord, path: string): void {
    this.#expectClass(actual, PyObject, path);
    const obj = actual as PyObject;
    if (obj.kind !== record.kind) this.#fail(`${path}.kind`, record.kind, obj.kind);
    this.match(obj.callable, record.callable, `${path}.callable`);
    this.#items(obj.args, record.args, `${path}.args`);
    if (record.kwargs) {
      if (!obj.kwargs) this.#fail(`${path}.kwargs`, 'keyword arguments', obj.kwargs);
      this.#entries(obj.kwargs.entries(), record.kwargs, `${path}.kwargs`);
    } else if (obj.kwargs !== undefined && obj.kwargs.size > 0) {
      this.#fail(`${path}.kwargs`, 'no keyword arguments', obj.kwargs);
    }
    if (record.state === undefined) {
      if (obj.state !== undefined) this.#fail(`${path}.state`, 'no BUILD (undefined)', obj.state);
    } else {
      this.match(obj.state, record.state, `${path}.state`);
    }
    this.#items(obj.listItems, record.listItems ?? [], `${path}.listItems`);
    this.#entries(obj.dictItems, record.dictItems ?? [], `${path}.dictItems`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// JavaScript value -> description (the types property tests generate)

/** Describes a JavaScript value the way python-fixtures/tagged.py describes the Python value it encodes to. */
export function toTagged(value: unknown): Tagged {
  const counts = new Map<object, number>();
  const countShared = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || v instanceof PyFloat) return;
    if (v instanceof PyTuple && v.length === 0) return;
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n > 1) return;
    const children =
      v instanceof Map
        ? [...v].flat()
        : v instanceof Set || Array.isArray(v)
          ? [...v]
          : v instanceof Uint8Array
            ? []
            : Object.values(v);
    for (const child of children) countShared(child);
  };
  countShared(value);
  const ids = new Map<object, number>();
  const describe = (v: unknown): Tagged => {
    if (v !== null && typeof v === 'object' && (counts.get(v) ?? 0) > 1) {
      const known = ids.get(v);
      if (known !== undefined) return ['ref', known];
      const n = ids.size;
      ids.set(v, n);
      return ['def', n, describePlain(v)];
    }
    return describePlain(v);
  };
  const describePlain = (v: unknown): Tagged => {
    if (v === null) return ['none'];
    if (typeof v === 'boolean') return ['bool', v];
    if (typeof v === 'bigint') return ['int', v.toString()];
    if (typeof v === 'number') {
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? ['int', String(v)] : ['float', floatTag(v)];
    }
    if (typeof v === 'string') return ['str', v];
    if (v instanceof PyFloat) return ['float', floatTag(v.value)];
    if (v instanceof PyByteArray) return ['bytearray', bytesToHex(v)];
    if (v instanceof Uint8Array) return ['bytes', bytesToHex(v)];
    if (v instanceof PyTuple) return ['tuple', v.map(describe)];
    if (Array.isArray(v)) return ['list', v.map(describe)];
    if (v instanceof PyFrozenSet) return ['frozenset', [...v].map(describe)];
    if (v instanceof Set) return ['set', [...v].map(describe)];
    if (v instanceof Map) return ['dict', [...v].map(([k, x]) => [describe(k), describe(x)])];
    const proto = typeof v === 'object' ? Object.getPrototypeOf(v) : undefined;
    if (proto === Object.prototype || proto === null) {
      return ['dict', Object.entries(v as object).map(([k, x]) => [['str', k], describe(x)])];
    }
    throw new Error(`toTagged: no description for ${show(v)}`);
  };
  return describe(value);
}
