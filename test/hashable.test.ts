import { describe, expect, it } from 'vitest';
import { unhashableType } from '../src/codec/hashable.js';
import {
  dumps,
  loads,
  PicklingError,
  PyArray,
  PyByteArray,
  PyCounter,
  PyDecimal,
  PyDeque,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PyTuple,
  tuple,
  UnpicklingError,
} from '../src/codec/index.js';

describe('unhashableType', () => {
  it('names the types Python cannot hash', () => {
    expect(unhashableType([])).toBe('list');
    expect(unhashableType({})).toBe('dict');
    expect(unhashableType(Object.create(null))).toBe('dict');
    expect(unhashableType(new Map())).toBe('dict');
    expect(unhashableType(new PyOrderedDict())).toBe('collections.OrderedDict');
    expect(unhashableType(new PyCounter())).toBe('Counter');
    expect(unhashableType(new Set())).toBe('set');
    expect(unhashableType(new PyByteArray(2))).toBe('bytearray');
    expect(unhashableType(new PyArray('b', [1]))).toBe('array.array');
    expect(unhashableType(new PyDeque())).toBe('collections.deque');
    expect(unhashableType(new PyDecimal('sNaN'))).toBe('decimal.Decimal (signaling NaN)');
    expect(unhashableType(new PyDecimal('-sNaN123'))).toBe('decimal.Decimal (signaling NaN)');
  });

  it('lets hashable values through, tuples when every item is', () => {
    for (const value of [
      1,
      'a',
      10n,
      null,
      true,
      new Uint8Array(2),
      new PyFrozenSet([1]),
      new PyGlobal('m', 'n'),
      new PyDecimal('NaN'),
      new PyDecimal('1.5'),
      tuple(1, tuple('a', tuple())),
      new PyObject('reduce', new PyGlobal('m', 'C'), tuple(), undefined),
    ]) {
      expect(unhashableType(value), String(value)).toBeUndefined();
    }
    expect(unhashableType(tuple(1, tuple(2, [3])))).toBe('list');
    expect(unhashableType(tuple(tuple(new Set())))).toBe('set');
  });

  it('walks deeply nested tuples without recursion', () => {
    let t: PyTuple = tuple([]);
    for (let i = 0; i < 100_000; i++) t = tuple(t);
    expect(unhashableType(t)).toBe('list');
  });
});

describe('loads refuses unhashable dict keys and set elements, as CPython does', () => {
  const cases: [string, string, string][] = [
    ['SETITEMS', '80027d285d4b01752e', 'list'],
    ['SETITEM', '80027d5d4b01732e', 'list'],
    ['ADDITEMS', '80048f285d902e', 'list'],
    ['FROZENSET', '8004287d912e', 'dict'],
    ['SETITEMS', '80027d285d85854b01752e', 'list'],
  ];
  it.each(cases)('%s (%s)', (op, hex, type) => {
    const data = Uint8Array.from(Buffer.from(hex, 'hex'));
    let error: unknown;
    try {
      loads(data);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnpicklingError);
    expect((error as UnpicklingError).code).toBe('UNHASHABLE');
    expect((error as UnpicklingError).message).toContain(`${op}: unhashable type: '${type}'`);
  });

  it('refuses them in dicts: map mode too, and in set() and dict() reductions', () => {
    const map = Uint8Array.from(Buffer.from('80027d285d4b01752e', 'hex'));
    expect(() => loads(map, { dicts: 'map' })).toThrow(/unhashable type: 'list'/);
    // set([[]]) as protocol 2 writes it: builtins.set REDUCE'd on a list holding a list.
    const setOfLists = Uint8Array.from(
      Buffer.from('8002635f5f6275696c74696e5f5f0a7365740a5d5d6185522e', 'hex'),
    );
    expect(() => loads(setOfLists)).toThrow(expect.objectContaining({ code: 'UNHASHABLE' }));
  });

  it('keeps tuple keys and frozenset elements (pickles by CPython)', () => {
    const dict = loads(
      Uint8Array.from(Buffer.from('80027d7100284b014b028671014b034b048571025801000000787103752e', 'hex')),
    );
    expect(dict).toEqual(
      new Map<unknown, unknown>([
        [tuple(1, 2), 3],
        [tuple(4), 'x'],
      ]),
    );
    const frozen = loads(
      Uint8Array.from(Buffer.from('8004951000000000000000284b0185944b024b038594869491942e', 'hex')),
    );
    expect(frozen).toEqual(new PyFrozenSet([tuple(1), tuple(2, tuple(3))]));
  });
});

describe('dumps refuses Map keys and Set elements Python could not hash', () => {
  const refused: [string, unknown, string][] = [
    [
      'an array key',
      new Map([[[1], 2]]),
      'a dict key is a list, which Python cannot hash (use a PyTuple or PyFrozenSet instead) at value',
    ],
    [
      'an object key, nested',
      { a: new Map([[{}, 1]]) },
      'a dict key is a dict, which Python cannot hash (use a PyTuple or PyFrozenSet instead) at value.a',
    ],
    ['a tuple key holding an array', new Map([[tuple(1, [2]), 1]]), 'a dict key is a list'],
    [
      'a Set element',
      [new Set([new Set()])],
      'a set element is a set, which Python cannot hash (use a PyTuple or PyFrozenSet instead) at value[0]',
    ],
    ['a frozenset element', new PyFrozenSet([new Map()]), 'a frozenset element is a dict'],
  ];
  it.each(refused)('%s', (_what, value, message) => {
    for (const protocol of [0, 2, 4, 5]) {
      let error: unknown;
      try {
        dumps(value, { protocol });
      } catch (e) {
        error = e;
      }
      expect(error, `protocol ${protocol}`).toBeInstanceOf(PicklingError);
      expect((error as PicklingError).code).toBe('UNHASHABLE');
      expect((error as PicklingError).message).toContain(message);
    }
  });

  it('writes hashable keys and elements, tuples and frozensets included', () => {
    const value = new Map<unknown, unknown>([
      [tuple(1, tuple('a')), new Set([tuple(2), new PyFrozenSet([3])])],
      [new PyGlobal('m', 'n'), null],
    ]);
    expect(loads(dumps(value))).toEqual(value);
  });
});

describe('unhashableType on shared tuples', () => {
  it('looks at each tuple once: a dict keyed by 60 levels of (t, t) loads (2^60 visits would hang)', () => {
    // t0 = (1,) is memo 0; t(i+1) = (ti, ti) is memo i+1, each popped once memoized; then {t60: 0}.
    let body = 'K\x01\x85\x940';
    for (let i = 0; i < 60; i++) body += `h${String.fromCharCode(i)}h${String.fromCharCode(i)}\x86\x940`;
    const text = `\x80\x04}(${body}h${String.fromCharCode(60)}K\x00u.`;
    const value = loads(Uint8Array.from(text, (ch) => ch.charCodeAt(0))) as Map<unknown, unknown>;
    expect(value.size).toBe(1);
    let depth = 0;
    for (let t = [...value.keys()][0]; t instanceof PyTuple; t = t[0]) depth++;
    expect(depth).toBe(61);
  });
});

describe('unhashableType on a tuple used again and again', () => {
  /** A tuple of `items` (memo 0), then `uses` SETITEMs keyed by it: a few bytes each, from the memo. */
  function keyedByOneTuple(items: unknown[], uses: number): Uint8Array {
    const parts = [0x80, 4, 0x28];
    for (const item of items) parts.push(...(item === 'list' ? [0x5d] : [0x4b, (item as number) & 0xff]));
    parts.push(0x74, 0x94, 0x30, 0x7d, 0x94, 0x28);
    for (let i = 0; i < uses; i++) parts.push(0x68, 0, 0x4b, i & 0xff);
    parts.push(0x75, 0x2e);
    return Uint8Array.from(parts);
  }

  it('keeps the verdict of a large hashable tuple: the dict has one key, the last value', () => {
    const items = Array.from({ length: 2000 }, (_, i) => i);
    const value = loads(keyedByOneTuple(items, 500)) as Map<unknown, unknown>;
    expect(value.size).toBe(1);
    const [[key, last]] = [...value];
    expect([...(key as PyTuple)]).toEqual(items.map((i) => i & 0xff));
    expect(last).toBe(499 & 0xff);
  });

  it('refuses a large tuple holding a list every time, and judges tuples apart', () => {
    const items: unknown[] = Array.from({ length: 2000 }, (_, i) => i);
    items[1999] = 'list';
    expect(() => loads(keyedByOneTuple(items, 3))).toThrow(expect.objectContaining({ code: 'UNHASHABLE' }));
    const big = tuple(...Array.from({ length: 40 }, (_, i) => i));
    expect(unhashableType(big)).toBeUndefined();
    expect(unhashableType(big)).toBeUndefined();
    const bad = tuple(...Array.from({ length: 40 }, (_, i) => i), []);
    expect(unhashableType(bad)).toBe('list');
    expect(unhashableType(bad)).toBe('list');
    expect(unhashableType(tuple(big, bad))).toBe('list');
    expect(unhashableType(tuple(big, big))).toBeUndefined();
  });
});

describe('-0.0 as a set element or dict key', () => {
  it('decodes to PyFloat(-0), which Sets and Maps keep apart from +0, and re-encodes as -0.0', () => {
    // {-0.0, 1.5} and {-0.0: 'a'} as CPython 3.11 pickles them.
    for (const hex of [
      '80049517000000000000008f9428478000000000000000473ff8000000000000902e',
      '80049511000000000000007d944780000000000000008c016194732e',
    ]) {
      const data = Uint8Array.from(Buffer.from(hex, 'hex'));
      const value = loads(data) as Set<unknown> | Map<unknown, unknown>;
      const [first] = [...value.keys()];
      expect(first).toBeInstanceOf(PyFloat);
      expect(Object.is((first as PyFloat).value, -0)).toBe(true);
      expect(Buffer.from(dumps(value)).toString('hex')).toBe(hex);
    }
  });

  it('leaves +0 and other numbers as they are', () => {
    const value = loads(dumps(new Set([0, 1.5, -2]))) as Set<unknown>;
    expect([...value]).toEqual([0, 1.5, -2]);
  });
});
