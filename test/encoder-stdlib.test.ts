/**
 * Byte-exactness of the standard-library value classes, placeholders, persistent ids, pickle buffers and
 * registry reducers against CPython, at every protocol each one exists in.
 */
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dumps,
  type PicklerOptions,
  PyArray,
  PyByteArray,
  PyComplex,
  PyCounter,
  PyDate,
  PyDatetime,
  PyDecimal,
  PyDefaultDict,
  PyDeque,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PyPersistentRef,
  PyPickleBuffer,
  PyRange,
  PySlice,
  PyTime,
  PyTimedelta,
  PyTimezone,
  PyUUID,
  PyZoneInfo,
  Registry,
  tuple,
} from '../src/index.js';
import {
  ALL_PROTOCOLS,
  cpythonCheckLoads,
  cpythonDumps,
  loadFailures,
  type OracleCase,
  PYTHON_MINOR,
  toHex,
} from './encoder-oracle.js';

const THING = new PyGlobal('__main__', 'Thing');
const ist = () => new PyTimezone(new PyTimedelta(0, 19800), 'IST');
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** 3.8/3.9 share the module str between array._array_reconstructor and array.array; mpwire writes 3.10+'s form. */
const ARRAY_PROTOCOLS = PYTHON_MINOR >= 10 ? ALL_PROTOCOLS : [0, 1, 2, 3];

/** A JavaScript class standing for the harness's `Ext` objects, which persistent_id turns into ids. */
class Ext {
  constructor(readonly name: string) {}
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

const registry = new Registry().register({
  module: '__main__',
  name: 'Point',
  type: Point,
  reduce: (p: Point) => new PyObject('reduce', new PyGlobal('__main__', 'Point'), tuple(p.x, p.y)),
});

interface EncoderCase extends OracleCase {
  readonly options?: PicklerOptions;
}

function placeholder(
  kind: PyObject['kind'],
  args: readonly unknown[],
  extra: {
    state?: unknown;
    listItems?: unknown[];
    dictItems?: [unknown, unknown][];
    kwargs?: Map<string, unknown>;
  } = {},
): PyObject {
  const o = new PyObject(kind, THING, args, extra.kwargs);
  if ('state' in extra) o.state = extra.state;
  if (extra.listItems) o.listItems.push(...extra.listItems);
  if (extra.dictItems) o.dictItems.push(...extra.dictItems);
  return o;
}

const cases: EncoderCase[] = [
  {
    name: 'datetime naive',
    python: 'dt(2020, 1, 2, 3, 4, 5, 6)',
    value: () => new PyDatetime(2020, 1, 2, 3, 4, 5, 6),
  },
  {
    name: 'datetime utc fold',
    python: 'dt(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc, fold=1)',
    value: () => new PyDatetime(1999, 12, 31, 23, 59, 59, 999999, PyTimezone.utc, 1),
  },
  {
    name: 'datetimes sharing utc',
    python: '[dt(2020, 1, 1, tzinfo=timezone.utc), dt(2021, 1, 1, tzinfo=timezone(timedelta(0)))]',
    value: () => [
      new PyDatetime(2020, 1, 1, 0, 0, 0, 0, PyTimezone.utc),
      new PyDatetime(2021, 1, 1, 0, 0, 0, 0, new PyTimezone(new PyTimedelta(0))),
    ],
  },
  {
    name: 'datetime named zone',
    python: "dt(1, 2, 3, tzinfo=timezone(timedelta(hours=5, minutes=30), 'IST'))",
    value: () => new PyDatetime(1, 2, 3, 0, 0, 0, 0, ist()),
  },
  {
    name: 'Date',
    python: 'dt(2020, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc)',
    value: () => new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)),
  },
  {
    name: 'Date shared',
    python: 'd = dt(2024, 2, 29, tzinfo=timezone.utc)\nv = [d, d]',
    value: () => {
      const d = new Date(Date.UTC(2024, 1, 29));
      return [d, d];
    },
  },
  { name: 'date', python: 'date(2024, 2, 29)', value: () => new PyDate(2024, 2, 29) },
  { name: 'time', python: 'time(12, 30, 15, 500)', value: () => new PyTime(12, 30, 15, 500) },
  {
    name: 'time aware fold',
    python: 'time(1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-3)), fold=1)',
    value: () => new PyTime(1, 2, 3, 4, new PyTimezone(new PyTimedelta(0, -3 * 3600)), 1),
  },
  {
    name: 'timedelta',
    python: 'timedelta(days=-1, seconds=5, microseconds=7)',
    value: () => new PyTimedelta(-1, 5, 7),
  },
  { name: 'timezone utc', python: 'timezone.utc', value: () => PyTimezone.utc },
  { name: 'timezone named', python: "timezone(timedelta(hours=5, minutes=30), 'IST')", value: ist },
  {
    name: 'Decimal',
    python: "[Decimal('1.10'), Decimal('-0'), Decimal('NaN'), Decimal('1E+2'), Decimal('7')]",
    value: () => ['1.10', '-0', 'NaN', '1E+2', '7'].map((d) => new PyDecimal(d)),
  },
  {
    // Decimal.__reduce__ writes str(self), the canonical text, whatever text made it.
    name: 'Decimal from any text CPython takes',
    python: "[Decimal(t) for t in ['1e5', ' 1_000 ', '+.5', 'Infinity', 'snan12', '0E-10', '-1e-7']]",
    value: () =>
      ['1e5', ' 1_000 ', '+.5', 'Infinity', 'snan12', '0E-10', '-1e-7'].map((d) => new PyDecimal(d)),
    noRoundTrip: true,
  },
  {
    name: 'UUID',
    python: "UUID('12345678-1234-5678-1234-567812345678')",
    value: () => new PyUUID('12345678-1234-5678-1234-567812345678'),
  },
  {
    name: 'UUID small safe',
    python: 'UUID(int=5, is_safe=SafeUUID.safe)',
    value: () => new PyUUID('00000000-0000-0000-0000-000000000005', 0),
  },
  {
    name: 'complex',
    python: '[complex(1, -2.5), 3j]',
    value: () => [new PyComplex(1, -2.5), new PyComplex(0, 3)],
  },
  {
    name: 'range',
    python: '[range(1, 10, 2), range(0), range(2**70)]',
    value: () => [new PyRange(1, 10, 2), new PyRange(0, 0), new PyRange(0, 2n ** 70n)],
  },
  {
    name: 'slice',
    python: "[slice(1, None), slice(None, 5, -1), slice('a', (1,), 2.5)]",
    value: () => [new PySlice(1, null), new PySlice(null, 5, -1), new PySlice('a', tuple(1), 2.5)],
  },
  {
    name: 'OrderedDict',
    python: "OrderedDict([('a', 1), ('b', [2])])",
    value: () =>
      new PyOrderedDict<string, unknown>([
        ['a', 1],
        ['b', [2]],
      ]),
  },
  { name: 'OrderedDict empty', python: 'OrderedDict()', value: () => new PyOrderedDict() },
  {
    name: 'OrderedDict 1000 and 1001',
    python: '[OrderedDict((i, i) for i in range(1000)), OrderedDict((i, i) for i in range(1001))]',
    value: () => [
      new PyOrderedDict(range(1000).map((i) => [i, i])),
      new PyOrderedDict(range(1001).map((i) => [i, i])),
    ],
  },
  {
    name: 'defaultdict',
    python: "[defaultdict(list, {'a': [1]}), defaultdict(None), defaultdict(int, {1: 2, 3: 4})]",
    value: () => [
      new PyDefaultDict(new PyGlobal('builtins', 'list'), [['a', [1]]]),
      new PyDefaultDict(null),
      new PyDefaultDict(new PyGlobal('builtins', 'int'), [
        [1, 2],
        [3, 4],
      ]),
    ],
  },
  {
    name: 'Counter',
    python: "Counter({'a': 2, 'b': 1})",
    value: () =>
      new PyCounter<string>([
        ['a', 2],
        ['b', 1],
      ]),
  },
  {
    name: 'deque',
    python: '[deque([1, 2, 3]), deque([1], maxlen=5), deque(), deque(range(1001), maxlen=2000)]',
    value: () => [
      PyDeque.fromItems([1, 2, 3]),
      PyDeque.fromItems([1], 5),
      new PyDeque(),
      PyDeque.fromItems(range(1001), 2000),
    ],
  },
  {
    name: 'array',
    python:
      "[array.array('i', [1, -2]), array.array('d', [1.5]), array.array('f', [0.1]), array.array('B', b'ab'), array.array('q', [-1, 2**40]), array.array('Q', [2**64-1]), array.array('h', []), array.array('u', 'h\\xe9\\u65e5')]",
    protocols: ARRAY_PROTOCOLS,
    value: () => [
      new PyArray('i', [1, -2]),
      new PyArray('d', [1.5]),
      new PyArray('f', [0.1]),
      new PyArray('B', [0x61, 0x62]),
      new PyArray('q', [-1, 2 ** 40]),
      new PyArray('Q', [2n ** 64n - 1n]),
      new PyArray('h', []),
      new PyArray('u', 'hé日'),
    ],
  },
  {
    name: 'array pair',
    python: "[array.array('i', [1]), array.array('i', [2])]",
    protocols: ARRAY_PROTOCOLS,
    value: () => [new PyArray('i', [1]), new PyArray('i', [2])],
  },
  {
    // Their machine bytes are b'' and b'\x01', objects CPython shares, so the second of each is a BINGET.
    name: 'arrays whose machine bytes are empty or one byte',
    python: "[array.array('d'), array.array('i'), array.array('b', [1]), array.array('B', [1])]",
    protocols: ARRAY_PROTOCOLS,
    value: () => [new PyArray('d', []), new PyArray('i', []), new PyArray('b', [1]), new PyArray('B', [1])],
  },
  {
    // Python classes' module and qualified name are interned strs, so equal literals hit their memo slots.
    name: 'Python-defined globals share names with equal strings',
    python:
      "['collections', 'Counter', Counter({'a': 1}), 'uuid', UUID(int=5), 'UUID', Thing, 'Thing', '__main__']",
    value: () => [
      'collections',
      'Counter',
      new PyCounter([['a', 1]]),
      'uuid',
      new PyUUID('00000000-0000-0000-0000-000000000005'),
      'UUID',
      THING,
      'Thing',
      '__main__',
    ],
    noRoundTrip: true,
  },
  {
    // C types: the module is interned but each `__qualname__` is a new str that no equal literal hits.
    name: 'C-type globals have names of their own',
    python:
      "['datetime', date(2020, 1, 1), 'date', 'datetime', 'builtins', complex(1, 2), 'complex', 'OrderedDict', OrderedDict(), 'collections']",
    value: () => [
      'datetime',
      new PyDate(2020, 1, 1),
      'date',
      'datetime',
      'builtins',
      new PyComplex(1, 2),
      'complex',
      'OrderedDict',
      new PyOrderedDict(),
      'collections',
    ],
  },
  {
    // Builtin functions give the builtins module's own name as their module: one str among them, but not
    // the interned 'builtins' of types and literals. Both kinds' names are new strs.
    name: 'builtin functions and types',
    python: "[len, max, 'builtins', getattr, int, 'len', 'int', complex]",
    value: () => [
      new PyGlobal('builtins', 'len'),
      new PyGlobal('builtins', 'max'),
      'builtins',
      new PyGlobal('builtins', 'getattr'),
      new PyGlobal('builtins', 'int'),
      'len',
      'int',
      new PyGlobal('builtins', 'complex'),
    ],
  },
  {
    // The classes and functions of __main__ share its __name__ as their module: written once.
    name: 'globals of __main__ share their module',
    python: '[Thing, Point, R, Outer.Inner]',
    value: () => [
      new PyGlobal('__main__', 'Thing'),
      new PyGlobal('__main__', 'Point'),
      new PyGlobal('__main__', 'R'),
      new PyGlobal('__main__', 'Outer.Inner'),
    ],
    noRoundTrip: true,
  },
  ...(PYTHON_MINOR >= 9
    ? [
        {
          // ZoneInfo's reduction is getattr(ZoneInfo, '_unpickle'): a C function, a heap type's own name and
          // a method name made anew, none shared with equal strs elsewhere.
          name: 'ZoneInfo beside equal strings and builtins',
          python:
            "import zoneinfo\nv = [zoneinfo.ZoneInfo('UTC'), complex(1, 2), 'ZoneInfo', '_unpickle', 'getattr', 'builtins', len]",
          value: () => [
            PyZoneInfo.of('UTC'),
            new PyComplex(1, 2),
            'ZoneInfo',
            '_unpickle',
            'getattr',
            'builtins',
            new PyGlobal('builtins', 'len'),
          ],
        },
      ]
    : []),
  {
    // array.array is a heap type from 3.10: neither its module nor its name is shared.
    name: 'heap-type globals share neither string',
    python: "['array', array.array('i', [1]), 'array']",
    protocols: ARRAY_PROTOCOLS,
    value: () => ['array', new PyArray('i', [1]), 'array'],
  },
  {
    name: 'placeholder reduce',
    python: "R((Thing, (1, 'a')))",
    value: () => placeholder('reduce', [1, 'a']),
    noRoundTrip: true,
  },
  {
    name: 'placeholder reduce with state and items',
    python: "R((Thing, (), {'s': 1}, iter(range(1001)), iter([('k', 'v'), (1, 2)])))",
    value: () =>
      placeholder('reduce', [], {
        state: { s: 1 },
        listItems: range(1001),
        dictItems: [
          ['k', 'v'],
          [1, 2],
        ],
      }),
    noRoundTrip: true,
  },
  {
    name: 'placeholder reduce items 1000',
    python: 'R((Thing, (), None, iter(range(1000)), iter([(1, 2)])))',
    value: () => placeholder('reduce', [], { listItems: range(1000), dictItems: [[1, 2]] }),
    noRoundTrip: true,
  },
  {
    name: 'placeholder newobj',
    python: "R((copyreg.__newobj__, (Thing, 1, 2), {'a': 1}))",
    value: () => placeholder('newobj', [1, 2], { state: { a: 1 } }),
    noRoundTrip: true,
  },
  {
    name: 'placeholder newobj_ex',
    python: "R((copyreg.__newobj_ex__, (Thing, (1,), {'k': 2})))",
    value: () => placeholder('newobj_ex', tuple(1), { kwargs: new Map([['k', 2]]) }),
    protocols: [0, 1, 4, 5],
    noRoundTrip: true,
  },
  {
    name: 'placeholder recursive through state',
    python: "v = R()\nv._r = (Thing, (), {'self': v})",
    value: () => {
      const o = placeholder('reduce', []);
      o.state = new Map([['self', o]]);
      return o;
    },
    noRoundTrip: true,
  },
  {
    // Reduced again while its arguments are written, it gets a new argument tuple, as a __reduce__ that
    // builds one (the usual kind, like Point's) gives CPython. A class returning one stored tuple would
    // have CPython share it: mpwire cannot tell the two apart, and writes the usual kind.
    name: 'placeholder recursive through args',
    python: 'v = Point.__new__(Point)\nv.x, v.y = [v], 1',
    value: () => {
      const l: unknown[] = [];
      const o = new PyObject('reduce', new PyGlobal('__main__', 'Point'), [l, 1]);
      l.push(o);
      return o;
    },
    noRoundTrip: true,
  },
  {
    name: 'placeholder shared',
    python: 't = R((Thing, ()))\nv = [t, t, R((Thing, (), None))]',
    value: () => {
      const t = placeholder('reduce', []);
      return [t, t, placeholder('reduce', [], { state: undefined })];
    },
    noRoundTrip: true,
  },
  {
    name: 'persistent ids',
    python: "[Ext('a'), 1, {'k': Ext('b')}]",
    value: () => [new Ext('a'), 1, { k: new Ext('b') }],
    options: { persistentId: (v) => (v instanceof Ext ? `ext:${v.name}` : undefined) },
    persistent: true,
  },
  {
    name: 'PyPersistentRef',
    python: "[Ext('a'), Ext('b')]",
    value: () => [new PyPersistentRef('ext:a', false), new PyPersistentRef('ext:b', true)],
    persistent: true,
  },
  {
    name: 'pickle buffers in band',
    python: "[pickle.PickleBuffer(b'ab'), pickle.PickleBuffer(bytearray(b'cd'))]",
    value: () => [
      new PyPickleBuffer(Uint8Array.of(0x61, 0x62), true),
      new PyPickleBuffer(Uint8Array.of(0x63, 0x64), false),
    ],
    protocols: [5],
  },
  {
    name: 'pickle buffers out of band',
    python: "[pickle.PickleBuffer(b'ab'), pickle.PickleBuffer(bytearray(b'cd'))]",
    value: () => [
      new PyPickleBuffer(Uint8Array.of(0x61, 0x62), true),
      new PyPickleBuffer(Uint8Array.of(0x63, 0x64), false),
    ],
    protocols: [5],
    options: { bufferCallback: () => false },
    outOfBand: true,
    noRoundTrip: true,
  },
  {
    name: 'pickle buffers over wider typed arrays, DataViews and ArrayBuffers write their bytes',
    python:
      "import array\nv = [pickle.PickleBuffer(array.array('i', [0x01020304, -2])), pickle.PickleBuffer(b'\\x05\\x06'), pickle.PickleBuffer(bytearray(4))]",
    value: () => [
      new PyPickleBuffer(Int32Array.of(0x01020304, -2), false),
      new PyPickleBuffer(new DataView(Uint8Array.of(9, 5, 6).buffer, 1), true),
      new PyPickleBuffer(new ArrayBuffer(4), false),
    ],
    protocols: [5],
  },
  {
    name: 'a Uint8Array of another realm is bytes',
    python: "v = b'\\x01\\x02\\x03'\nv = [v, v]",
    value: () => {
      const foreign = runInNewContext('new Uint8Array([1, 2, 3])') as Uint8Array;
      return [foreign, foreign];
    },
  },
  {
    name: 'plain objects, Maps, Sets and Dates of another realm are dicts, sets and datetimes',
    python:
      "o = {'a': 1, 'b': [2]}\nv = [o, o, {'k': 3}, {4}, dt(2024, 1, 2, 3, 4, 5, 6000, tzinfo=timezone.utc), {}]",
    value: () =>
      runInNewContext(
        "const o = { a: 1, b: [2] }; [o, o, new Map([['k', 3]]), new Set([4]), new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), Object.create(null)]",
      ) as unknown,
  },
  {
    name: 'registry reducer',
    python: '[Point(1, 2), Point(3, 4)]',
    value: () => [new Point(1, 2), new Point(3, 4)],
    options: { registry },
  },
  {
    name: 'bytearray shares no memo with bytes',
    python: "v = bytearray(b'xy')\nv = [v, v, b'xy']",
    value: () => {
      const ba = PyByteArray.fromBytes([0x78, 0x79]);
      return [ba, ba, Uint8Array.of(0x78, 0x79)];
    },
  },
];

let expected: Record<string, Record<string, string>>;
const encoded: Record<string, Record<string, string>> = {};

beforeAll(() => {
  expected = cpythonDumps(cases);
  for (const c of cases) {
    encoded[c.name] = {};
    for (const p of c.protocols ?? ALL_PROTOCOLS) {
      encoded[c.name]![p] = toHex(dumps(c.value(), { ...c.options, protocol: p }));
    }
  }
});

describe('stdlib values, placeholders and hooks are byte-identical to CPython', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    for (const p of c.protocols ?? ALL_PROTOCOLS) {
      expect({ protocol: p, hex: encoded[c.name]![p] }).toEqual({ protocol: p, hex: expected[c.name]![p] });
    }
  });

  it('CPython loads them back to the intended values', () => {
    const loadable = cases.filter((c) => !c.noRoundTrip);
    const results = cpythonCheckLoads(loadable, encoded);
    const failures = loadFailures(results);
    expect(failures).toEqual([]);
    expect(Object.keys(results)).toHaveLength(loadable.length);
  });
});

describe('registry reducers', () => {
  it('are told the protocol, as __reduce_ex__ is', () => {
    const seen: number[] = [];
    const withProtocol = new Registry().register({
      module: '__main__',
      name: 'Point',
      type: Point,
      reduce: (p: Point, { protocol }) => {
        seen.push(protocol);
        return new PyObject('reduce', new PyGlobal('__main__', 'Point'), tuple(p.x, p.y));
      },
    });
    for (const protocol of ALL_PROTOCOLS) dumps(new Point(1, 2), { protocol, registry: withProtocol });
    expect(seen).toEqual([...ALL_PROTOCOLS]);
  });
});
