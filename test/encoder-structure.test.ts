/**
 * The encoder's structure and edges: deep nesting without recursion, error codes and paths, options,
 * Pickler memo across dumps, persistent ids, INST/OBJ placeholders.
 */
import { execFileSync } from 'node:child_process';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { dumpsTransient } from '../src/codec/encoder.js';
import {
  dumps,
  loads,
  NDArray,
  Pickler,
  type PicklerOptions,
  PicklingError,
  PyArray,
  PyComplex,
  PyDate,
  PyDatetime,
  PyDecimal,
  PyDefaultDict,
  PyDeque,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyPickleBuffer,
  PyRange,
  PyTime,
  PyTimedelta,
  PyTimezone,
  PyTuple,
  PyUUID,
  PyZoneInfo,
  Registry,
  tuple,
} from '../src/index.js';
import { PYTHON, PYTHON_MINOR, toHex } from './encoder-oracle.js';

const DEPTH = 100_000;

function nestedLists(depth: number): unknown[] {
  const root: unknown[] = [];
  let current = root;
  for (let i = 1; i < depth; i++) {
    const next: unknown[] = [];
    current.push(next);
    current = next;
  }
  return root;
}

function nestedDicts(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let current = root;
  for (let i = 1; i < depth; i++) {
    const next: Record<string, unknown> = {};
    current.a = next;
    current = next;
  }
  return root;
}

/** Runs Python with `data` on stdin (prelude defines Thing) and returns what the script prints. */
function python(script: string, data: Uint8Array): string {
  const prelude = 'import sys, pickle\nclass Thing:\n    pass\ndata = sys.stdin.buffer.read()\n';
  return execFileSync(PYTHON, ['-c', prelude + script], { input: data, encoding: 'utf8' }).trim();
}

function catchPicklingError(run: () => unknown): PicklingError {
  try {
    run();
  } catch (error) {
    if (error instanceof PicklingError) return error;
    throw error;
  }
  throw new Error('expected a PicklingError');
}

describe('deep nesting is iterative', () => {
  it('writes a 100 000-deep list exactly as CPython would (protocol 2)', () => {
    const bytes = dumps(nestedLists(DEPTH), { protocol: 2 });
    const expected: number[] = [0x80, 2];
    for (let i = 0; i < DEPTH; i++) {
      expected.push(0x5d);
      if (i < 256) expected.push(0x71, i);
      else expected.push(0x72, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, 0);
    }
    for (let i = 1; i < DEPTH; i++) expected.push(0x61);
    expected.push(0x2e);
    expect(toHex(bytes)).toBe(toHex(Uint8Array.from(expected)));
  });

  it('CPython loads a 100 000-deep list and dict written at protocol 4', () => {
    const script = (key: string) =>
      `v = pickle.loads(data)\nd = 1\nwhile v:\n    v = v[${key}]\n    d += 1\nprint(d)`;
    expect(python(script('0'), dumps(nestedLists(DEPTH)))).toBe(String(DEPTH));
    expect(python(script("'a'"), dumps(nestedDicts(DEPTH)))).toBe(String(DEPTH));
  });

  it('names the path of a failure deep inside nested lists', () => {
    const root = nestedLists(50);
    let leaf = root;
    while (leaf.length > 0) leaf = leaf[0] as unknown[];
    leaf.push(Symbol('deep'));
    const error = catchPicklingError(() => dumps(root));
    expect(error.path).toBe(`value${'[0]'.repeat(50)}`);
  });
});

describe('errors', () => {
  it('refuses Python values whose fields CPython would refuse (BAD_VALUE), with their path', () => {
    const cases: [unknown, RegExp][] = [
      [new PyDate(2023, 2, 29), /day is out of range for month/],
      [new PyDate(2023, 4, 31), /day is out of range for month/],
      [[new PyDate(2023, 13, 1)], /month must be in 1\.\.12.* at value\[0\]$/],
      [new PyDatetime(2023, 1, 1, 24), /hour must be in 0\.\.23/],
      [new PyTime(0, 60), /minute must be in 0\.\.59/],
      [new PyTime(0, 0, 0, 0, null, 2 as 0), /fold must be either 0 or 1/],
      [{ d: new PyTimedelta(1e9) }, /days=1000000000; must have magnitude <= 999999999.* at value\.d$/],
      [new PyTimedelta(-1e9), /magnitude <= 999999999/],
      [new PyArray('b', [1, 300]), /array item 300 does not fit typecode 'b' \(-128\.\.127\)/],
      [new PyArray('B', [-1]), /array item -1 does not fit typecode 'B' \(0\.\.255\)/],
      [new PyArray('Q', [2n ** 64n]), /does not fit/],
      [new PyArray('i', [1.5]), /item 0 is 1\.5, not an integer/],
      [new PyArray('d', ['x' as unknown as number]), /not a number/],
      [new PyDecimal('1.2.3'), /"1\.2\.3" is not a Decimal/],
      [new PyRange(1, 5, 0), /range\(\) arg 3 must not be zero/],
      [Object.assign(PyDeque.fromItems([1, 2], 2), { maxlen: 1 }), /deque of 2 items over its maxlen 1/],
      // What CPython's loads (or its pickler) would refuse in these types' other fields.
      [new PyTimezone(new PyTimedelta(1)), /offset must be a timedelta strictly between/],
      [new PyTimezone(new PyTimedelta(-1)), /offset must be a timedelta strictly between/],
      [
        new PyTimezone(new PyTimedelta(0, 60), 5 as unknown as string),
        /timezone\(\) argument 2 must be str, not int/,
      ],
      [
        new PyDatetime(2020, 1, 1, 0, 0, 0, 0, 5),
        /tzinfo argument must be None or of a tzinfo subclass, not type 'int'/,
      ],
      [new PyTime(1, 0, 0, 0, 'UTC'), /not type 'str'/],
      [new PyDefaultDict(5), /first argument must be callable or None/],
      [new PyRange(0, 1.5), /'float' object cannot be interpreted as an integer/],
      [new PyUUID('12345678123456781234567812345678', 7), /7 is not a valid SafeUUID/],
      [new PyZoneInfo(5 as unknown as string), /a ZoneInfo key is a str, not int/],
      [new PyComplex((10n ** 400n) as unknown as number, 0), /a complex's parts are floats/],
      [new PyObject('reduce', 5, []), /the callable of a reduce reduction is number/],
      [new PyObject('newobj', 'x', []), /the class of a newobj reduction is string, which has no __new__/],
    ];
    // save_reduce checks the class of a __newobj__ reduction where it writes NEWOBJ, from protocol 2.
    const newobj = (args: unknown[]) => new PyObject('reduce', new PyGlobal('copyreg', '__newobj__'), args);
    for (const protocol of [2, 4]) {
      expect(catchPicklingError(() => dumps(newobj(['notaclass', 1]), { protocol })).message).toMatch(
        /args\[0\] from __newobj__ args is string, not a type/,
      );
      expect(catchPicklingError(() => dumps(newobj([]), { protocol })).message).toMatch(
        /__newobj__ arglist is empty/,
      );
    }
    for (const [value, message] of cases) {
      for (const protocol of [0, 2, 4]) {
        const error = catchPicklingError(() => dumps(value, { protocol }));
        expect(error.code).toBe('BAD_VALUE');
        expect(error.message).toMatch(message);
      }
    }
    // The edges themselves are values.
    expect(loads(dumps([new PyDate(2024, 2, 29), new PyTimedelta(-999_999_999)]))).toStrictEqual([
      new PyDate(2024, 2, 29),
      new PyTimedelta(-999_999_999),
    ]);
    // As Python's deque(items, maxlen): the last items are kept.
    expect([...PyDeque.fromItems([1, 2, 3], 2)]).toEqual([2, 3]);
    expect(() => PyDeque.fromItems([1], -1)).toThrow(RangeError);
    expect(() => PyDatetime.fromDate(new Date(Number.NaN))).toThrow(
      new RangeError('an invalid Date has no datetime'),
    );
    const extremes = new PyArray('q', [-(2n ** 63n), 2n ** 63n - 1n]);
    expect(loads(dumps(extremes))).toStrictEqual(extremes);
  });

  it('refuses a newline in a global name below protocol 4, where it would end the name early', () => {
    // The rest of the name would be read as opcodes: a loaded STACK_GLOBAL name could smuggle a call in.
    const smuggled = new PyGlobal('os', "system\n(S'echo INJECTED'\ntR0I1");
    for (const protocol of [0, 1, 2, 3]) {
      const error = catchPicklingError(() => dumps({ k: smuggled }, { protocol }));
      expect(error.code).toBe('UNPICKLABLE');
      expect(error.message).toMatch(/a newline in its module or name would end it early .* at value\.k$/);
    }
    const inst = new PyObject('inst', new PyGlobal('a\nb', 'C'), []);
    expect(catchPicklingError(() => dumps(inst, { protocol: 0 })).code).toBe('UNPICKLABLE');
    // At protocol 4 the names are counted strings: written as they are, as CPython would.
    expect(loads(dumps(smuggled, { protocol: 4 }))).toStrictEqual(smuggled);
  });

  it('says so when a registered reducer returns no reduction, instead of failing inside the dump', () => {
    class Point {
      x = 1;
    }
    for (const returned of [undefined, 5, 'itself']) {
      const registry = new Registry().register({
        module: 'geometry',
        name: 'Point',
        type: Point,
        reduce: (point) => (returned === 'itself' ? point : returned) as never,
      });
      const error = catchPicklingError(() => dumps([new Point()], { registry }));
      expect(error.code).toBe('UNPICKLABLE');
      expect(error.message).toMatch(
        /^the reducer registered for Point instance returned .*: a reducer must return a PyObject/,
      );
      expect(error.path).toBe('value[0]');
    }
  });

  it('names the array item whose getter threw', () => {
    for (const index of [0, 1, 2]) {
      const items = [1, 'two', 3];
      Object.defineProperty(items, index, {
        get() {
          throw new Error('unreadable');
        },
      });
      for (const [value, path] of [
        [items, `value[${index}]`],
        [[[5, items]], `value[0][1][${index}]`],
      ] as const) {
        const error = catchPicklingError(() => dumps(value));
        expect(error.code).toBe('USER_CODE');
        expect(error.path).toBe(path);
      }
    }
  });

  it('reports unpicklable values with their path', () => {
    const cases: [unknown, string][] = [
      [{ a: [1, 2, () => 1] }, 'value.a[2]'],
      [new Map([['k', Symbol('s')]]), 'value.get("k")'],
      [new Map([[tuple(1), Symbol('s')]]), 'value.values()[0]'],
      [{ 'a b': new Set([1, Symbol('s')]) }, 'value["a b"].values()[1]'],
      [[tuple(1, new (class Foo {})())], 'value[0][1]'],
      [new Float32Array(2), 'value'],
      [[1, 2n, new WeakMap()], 'value[2]'],
    ];
    for (const [value, path] of cases) {
      const error = catchPicklingError(() => dumps(value));
      expect({ code: error.code, path: error.path }).toEqual({ code: 'UNPICKLABLE', path });
      expect(error.message).toContain(`at ${path}`);
    }
  });

  it('says what to send instead of typed arrays other than Uint8Array and of raw buffers', () => {
    const hints: [unknown, string][] = [
      [
        new Float64Array(2),
        'cannot pickle Float64Array instance (only Uint8Array is bytes: wrap the array as NDArray.fromTypedArray(array)',
      ],
      [new BigInt64Array(1), 'NDArray.fromTypedArray(array) for numpy, or as a PyArray for array.array'],
      [
        new ArrayBuffer(4),
        'cannot pickle ArrayBuffer instance (pass new Uint8Array(buffer) to send its bytes)',
      ],
      [
        new DataView(new ArrayBuffer(4)),
        'pass new Uint8Array(view.buffer, view.byteOffset, view.byteLength)',
      ],
      [new (class Gadget {})(), 'no reducer registered: register one in a Registry passed as `registry`'],
    ];
    for (const [value, hint] of hints) expect(catchPicklingError(() => dumps(value)).message).toContain(hint);
    // What each hint suggests pickles.
    expect(loads(dumps(NDArray.fromTypedArray(new Float64Array([1.5, 2]))))).toBeInstanceOf(NDArray);
    const buffer = Uint8Array.of(1, 2, 3).buffer;
    expect(loads(dumps(new Uint8Array(buffer)))).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('names class instances that have no reducer', () => {
    class Widget {}
    const error = catchPicklingError(() => dumps({ w: new Widget() }));
    expect(error.message).toContain('Widget');
    expect(error.path).toBe('value.w');
  });

  it('reports paths inside placeholders', () => {
    const o = new PyObject('reduce', new PyGlobal('m', 'C'), [1, () => 0]);
    expect(catchPicklingError(() => dumps([o])).path).toBe('value[0].args[1]');
    const p = new PyObject('reduce', new PyGlobal('m', 'C'), []);
    p.state = { x: Symbol('s') };
    expect(catchPicklingError(() => dumps(p)).path).toBe('value.state.x');
  });

  it('rejects bad options with BAD_OPTION', () => {
    for (const protocol of [6, 1.5, -1.5, Number.NaN]) {
      expect(catchPicklingError(() => dumps(1, { protocol })).code).toBe('BAD_OPTION');
    }
    expect(catchPicklingError(() => new Pickler({ protocol: 4, bufferCallback: () => true })).code).toBe(
      'BAD_OPTION',
    );
    const wrongTypes: unknown[] = [
      { fixImports: 'no' },
      { memoizeStrings: 0 },
      { numpy: 'yes' },
      { persistentId: 'id' },
      { protocol: 5, bufferCallback: true },
      { registry: {} },
      { extensions: 5 },
    ];
    for (const options of wrongTypes) {
      expect(catchPicklingError(() => dumps(1, options as PicklerOptions)).code).toBe('BAD_OPTION');
    }
  });

  it('rejects what the protocol cannot express', () => {
    expect(catchPicklingError(() => dumps(new PyPickleBuffer(new Uint8Array(1), true))).code).toBe(
      'PROTOCOL',
    );
    expect(catchPicklingError(() => dumps(new PyGlobal('m', 'Ü'), { protocol: 2 })).code).toBe('UNPICKLABLE');
  });

  it('refuses a tuple that contains itself instead of looping', () => {
    const t = new PyTuple<unknown>();
    t.push(t);
    expect(catchPicklingError(() => dumps(t)).code).toBe('UNPICKLABLE');
  });

  it('refuses cycles through several tuples or a frozenset, and still writes 5000 nested tuples', () => {
    const a = new PyTuple<unknown>();
    const b = new PyTuple<unknown>(1, a);
    a.push(b);
    expect(catchPicklingError(() => dumps(a)).code).toBe('UNPICKLABLE');
    const c = new PyTuple<unknown>();
    c.push(new PyFrozenSet([c]));
    expect(catchPicklingError(() => dumps(c)).code).toBe('UNPICKLABLE');
    let nested: unknown = 0;
    for (let i = 0; i < 5000; i++) nested = tuple(nested, i);
    expect(() => dumps(nested)).not.toThrow();
  });

  it('refuses an invalid Date', () => {
    expect(catchPicklingError(() => dumps(new Date(Number.NaN))).code).toBe('UNPICKLABLE');
  });
});

describe('options and the Pickler object', () => {
  it('refuses an unknown option name and says which ones there are', () => {
    for (const options of [{ protocl: 2 }, { protocol: 4, memoiseStrings: false }]) {
      const error = catchPicklingError(() => dumps([1], options as PicklerOptions));
      expect(error.code).toBe('BAD_OPTION');
      expect(error.message).toMatch(/^unknown option \w+: the options are protocol, fixImports/);
    }
    expect(catchPicklingError(() => dumps([1], { protocol: '4' as unknown as number })).message).toBe(
      'pickle protocol must be an integer up to 5 (a negative one is the highest, as in CPython), not "4"',
    );
    expect(catchPicklingError(() => dumps([1], { protocol: Number.NaN })).message).toMatch(/, not NaN$/);
    expect(catchPicklingError(() => dumps([1], { protocol: 6 })).code).toBe('BAD_OPTION');
  });

  it('takes a negative protocol as the highest, as CPython (the Python 2 idiom protocol=-1)', () => {
    const highest = toHex(dumps([1, 'a'], { protocol: 5 }));
    for (const protocol of [-1, -7]) {
      expect(toHex(dumps([1, 'a'], { protocol }))).toBe(highest);
      expect(new Pickler({ protocol }).protocol).toBe(5);
    }
  });

  it('refuses an array of options, and options that throw when read, with BAD_OPTION', () => {
    const throwing = [
      Object.defineProperty({}, 'protocol', {
        get: () => {
          throw new Error('getter');
        },
        enumerable: true,
      }),
      new Proxy(
        {},
        {
          ownKeys: () => {
            throw new Error('trap');
          },
        },
      ),
    ];
    expect(catchPicklingError(() => dumps([1], [] as PicklerOptions)).message).toBe(
      'options must be an object, not an array',
    );
    for (const options of throwing) {
      for (const run of [() => dumps([1], options), () => new Pickler(options)]) {
        const error = catchPicklingError(run);
        expect(error.code).toBe('BAD_OPTION');
        expect(error.message).toMatch(/^the options could not be read: Error: (getter|trap)$/);
      }
    }
  });

  it('memoizeStrings: false writes equal strings separately, as CPython does for distinct objects', () => {
    const ours = toHex(dumps(['abc', 'abc'], { memoizeStrings: false, protocol: 2 }));
    const theirs = python("print(pickle.dumps(['abc', ''.join(['ab', 'c'])], 2).hex())", new Uint8Array());
    expect(ours).toBe(theirs);
    expect(toHex(dumps(['abc', 'abc'], { protocol: 2 }))).not.toBe(theirs);
  });

  it("memoizeStrings: false still shares '' and one-character Latin-1 strings, of which CPython has one each", () => {
    const value = ['', '', 'x', 'x', 'é', 'é', '€', '€'];
    const ours = toHex(dumps(value, { memoizeStrings: false, protocol: 4 }));
    const theirs = python(
      "print(pickle.dumps([str(), ''.join([]), chr(120), chr(120), chr(0xe9), chr(0xe9), chr(0x20ac), chr(0x20ac)], 4).hex())",
      new Uint8Array(),
    );
    expect(ours).toBe(theirs);
  });

  it('extensions: writes EXT1/EXT2/EXT4 from protocol 2 and GLOBAL below, as copyreg.add_extension makes CPython do', () => {
    const script = `
import copyreg, collections, datetime, pickle, sys
class Outer:
    class Inner: pass
copyreg.add_extension('collections', 'OrderedDict', 0x12)
copyreg.add_extension('datetime', 'date', 0x1234)
copyreg.add_extension('__main__', 'Outer.Inner', 0x12345678)
v = [collections.OrderedDict, collections.OrderedDict, datetime.date(2020, 1, 1), Outer.Inner, 'OrderedDict']
print(' '.join(pickle.dumps(v, p).hex() for p in range(6)))
`;
    const expected = execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' }).trim().split(' ');
    const extensions = new Map([
      ['collections.OrderedDict', 0x12],
      ['datetime.date', 0x1234],
      ['__main__.Outer.Inner', 0x12345678],
    ]);
    const orderedDict = new PyGlobal('collections', 'OrderedDict');
    const value = () => [
      orderedDict,
      orderedDict,
      new PyDate(2020, 1, 1),
      new PyGlobal('__main__', 'Outer.Inner'),
      'OrderedDict',
    ];
    // 3.13 writes the dotted name below protocol 2 with fewer memo entries (see the encoder's header).
    const protocols = PYTHON_MINOR >= 13 ? [2, 3, 4, 5] : [0, 1, 2, 3, 4, 5];
    const written = protocols.map((protocol) => toHex(dumps(value(), { protocol, extensions })));
    expect(written).toEqual(protocols.map((p) => expected[p]));
    expect(catchPicklingError(() => dumps(1, { extensions: new Map([['a.b', 0]]) })).code).toBe('BAD_OPTION');
  });

  it('fixImports: false keeps Python 3 names below protocol 3', () => {
    const theirs = python('print(pickle.dumps(int, 2, fix_imports=False).hex())', new Uint8Array());
    expect(toHex(dumps(new PyGlobal('builtins', 'int'), { protocol: 2, fixImports: false }))).toBe(theirs);
  });

  it('keeps the memo across dump() calls until clearMemo(), like CPython', () => {
    const pickler = new Pickler({ protocol: 2 });
    const shared = [1];
    const first = pickler.dump(shared);
    const second = pickler.dump([shared]);
    const script = [
      'import io',
      'f = io.BytesIO()',
      'p = pickle.Pickler(f, 2)',
      'shared = [1]',
      'p.dump(shared)',
      'n = f.tell()',
      'p.dump([shared])',
      "print(f.getvalue()[:n].hex() + ' ' + f.getvalue()[n:].hex())",
    ].join('\n');
    expect(`${toHex(first)} ${toHex(second)}`).toBe(python(script, new Uint8Array()));
    pickler.clearMemo();
    expect(toHex(pickler.dump(shared))).toBe(toHex(first));
  });

  // The first 16 objects memoized are found by a scan, later ones through their slots; references, tuple
  // cycles and dumps on one Pickler that cross that point must give CPython's bytes.
  it('writes shared references and cycles across the first 16 memoized objects as CPython does', () => {
    const script = [
      'import io',
      'def build():',
      '    early = [[i] for i in range(20)]',
      '    cyc = []',
      '    t = (cyc, early[3])',
      '    cyc.append(t)',
      '    d = {"k": early[0]}',
      // t2 is entered among the first 16 objects and memoized after them, through its own cycle.
      '    c2 = []',
      '    t2 = ([[i] for i in range(20)], c2)',
      '    c2.append(t2)',
      '    return [t2, early, early[15], early[16], early[2], t, d, [early[19], d, early[0]], cyc, t2]',
      'out = [pickle.dumps(build(), p).hex() for p in (2, 4)]',
      'f = io.BytesIO()',
      'pk = pickle.Pickler(f, 4)',
      'a = [[i] for i in range(10)]',
      'b = [[i] for i in range(10)]',
      'pk.dump(a)',
      'n = f.tell()',
      'pk.dump([b, a[9], a[0], b[9]])',
      'out += [f.getvalue()[:n].hex(), f.getvalue()[n:].hex()]',
      "print(' '.join(out))",
    ].join('\n');
    const build = (): unknown[] => {
      const early = Array.from({ length: 20 }, (_, i) => [i]);
      const cyc: unknown[] = [];
      const t = new PyTuple(cyc, early[3]);
      cyc.push(t);
      const d = { k: early[0] };
      const c2: unknown[] = [];
      const t2 = new PyTuple(
        Array.from({ length: 20 }, (_, i) => [i]),
        c2,
      );
      c2.push(t2);
      return [t2, early, early[15], early[16], early[2], t, d, [early[19], d, early[0]], cyc, t2];
    };
    const pickler = new Pickler({ protocol: 4 });
    const a = Array.from({ length: 10 }, (_, i) => [i]);
    const b = Array.from({ length: 10 }, (_, i) => [i]);
    const ours = [
      toHex(dumps(build(), { protocol: 2 })),
      toHex(dumps(build(), { protocol: 4 })),
      toHex(pickler.dump(a)),
      toHex(pickler.dump([b, a[9], a[0], b[9]])),
    ];
    expect(ours.join(' ')).toBe(python(script, new Uint8Array()));
  });

  it('forgets objects memoized by an earlier dumps() call, even when a new object takes their memo slot', () => {
    const inner = { a: 1 };
    const other = { b: 2 };
    const first = [inner, [inner]];
    const fresh = (value: unknown) => new Pickler({ protocol: 4 }).dump(value);
    for (const value of [first, [other, inner], [inner, other, inner], [[], [], inner, inner], first]) {
      expect(toHex(dumps(value))).toBe(toHex(fresh(value)));
    }
    const pickler = new Pickler({ protocol: 4 });
    pickler.dump([other, inner]);
    pickler.clearMemo();
    expect(toHex(pickler.dump([inner, other, inner]))).toBe(toHex(fresh([inner, other, inner])));
  });

  it('forgets every string after clearMemo(), whether the last pickle held a few or many', () => {
    const fresh = (value: unknown) => new Pickler({ protocol: 4 }).dump(value);
    const strings = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
    const pickler = new Pickler({ protocol: 4 });
    // Counts around the cheap clear's log (64 slots), with repeats so strings also enter the recent cache.
    for (const n of [0, 1, 5, 63, 64, 65, 200, 900, 3]) {
      for (const tag of ['s', 't', 's']) {
        const list = strings(n, tag);
        const value = [...list, ...list, tag];
        expect(toHex(pickler.dump(value))).toBe(toHex(fresh(value)));
        expect(toHex(dumps(value))).toBe(toHex(fresh(value)));
        pickler.clearMemo();
      }
    }
  });

  it('dumpsTransient (for Connection.send) gives the same bytes, as a view only up to its limit', () => {
    const small = { id: 7, tags: ['alpha', 'beta'] };
    const view = dumpsTransient(small, undefined, 16384);
    expect(toHex(view)).toBe(toHex(dumps(small)));
    expect(view.byteLength).toBeLessThan(view.buffer.byteLength); // the pickler's buffer
    const large = 'x'.repeat(20000);
    const own = dumpsTransient(large, undefined, 16384);
    expect(toHex(own)).toBe(toHex(dumps(large)));
    expect(own.byteLength).toBe(own.buffer.byteLength);
    // Past 1 MiB the output is in chunks: a short last chunk still gives the whole pickle, as a copy.
    const chunked = [...Array.from({ length: 200_000 }, (_, i) => i + 0.5)];
    expect(toHex(dumpsTransient(chunked, undefined, 16384))).toBe(toHex(dumps(chunked)));
    // With hooks the call gets a pickler of its own; its bytes are the same.
    const options = { persistentId: () => null };
    expect(toHex(dumpsTransient(small, options, 16384))).toBe(toHex(dumps(small, options)));
  });

  it('returns a fresh array each time', () => {
    const a = dumps([1, 2, 3]);
    const b = dumps('x');
    a.fill(0);
    expect(toHex(dumps('x'))).toBe(toHex(b));
  });

  it('calls persistentId for every value and supports nested dumps from it', () => {
    const seen: unknown[] = [];
    const bytes = dumps([1, 'a', null], {
      protocol: 2,
      persistentId: (v) => {
        seen.push(v);
        dumps({ nested: true });
        return undefined;
      },
    });
    expect(seen).toHaveLength(4);
    expect(toHex(bytes)).toBe(toHex(dumps([1, 'a', null], { protocol: 2 })));
  });

  it('writes protocol 0 persistent ids as text, as CPython does with str(pid)', () => {
    const ours = dumps([7, 8], {
      protocol: 0,
      persistentId: (v) => (v === 7 ? 42 : v === 8 ? 'ref' : undefined),
    });
    const script = [
      'import io',
      'class P(pickle.Pickler):',
      '    def persistent_id(self, v):',
      "        return 42 if v == 7 else ('ref' if v == 8 else None)",
      'f = io.BytesIO()',
      'P(f, 0).dump([7, 8])',
      'print(f.getvalue().hex())',
    ].join('\n');
    expect(toHex(ours)).toBe(python(script, new Uint8Array()));
  });

  it('reports an error thrown by code of the caller as USER_CODE, with the path and the original as cause', () => {
    const boom = new Error('boom');
    const withGetter = {
      a: [
        1,
        {
          x: 1,
          get b(): never {
            throw boom;
          },
        },
      ],
    };
    const fromGetter = catchPicklingError(() => dumps(withGetter));
    expect([fromGetter.code, fromGetter.path, fromGetter.cause]).toEqual(['USER_CODE', 'value.a[1].b', boom]);
    class Point {}
    const registry = new Registry().register({
      module: 'm',
      name: 'Point',
      type: Point,
      reduce: () => {
        throw boom;
      },
    });
    const fromReducer = catchPicklingError(() => dumps({ p: [new Point()] }, { registry }));
    expect([fromReducer.code, fromReducer.path, fromReducer.cause]).toEqual([
      'USER_CODE',
      'value.p[0]',
      boom,
    ]);
    const fromHook = catchPicklingError(() =>
      dumps([1, [2]], {
        persistentId: (v) => {
          if (v === 2) throw boom;
          return undefined;
        },
      }),
    );
    expect([fromHook.code, fromHook.path, fromHook.cause]).toEqual(['USER_CODE', 'value[1][0]', boom]);
  });

  it('lets a registry reducer take over a Map subclass', () => {
    class Bag extends Map<string, number> {}
    const registry = new Registry().register({
      module: 'm',
      name: 'Bag',
      type: Bag,
      reduce: (b: Bag) => new PyObject('reduce', new PyGlobal('m', 'Bag'), [[...b.keys()]]),
    });
    const bytes = dumps(new Bag([['k', 1]]), { registry, protocol: 2 });
    expect(toHex(bytes)).toBe(
      toHex(
        Uint8Array.from([
          ...Buffer.from('\x80\x02cm\nBag\nq\x00]q\x01X\x01\x00\x00\x00kq\x02a\x85q\x03Rq\x04.', 'latin1'),
        ]),
      ),
    );
  });
});

describe('INST and OBJ placeholders', () => {
  it('CPython loads INST (protocol 0) and OBJ (protocol 1) instances with their state', () => {
    for (const [kind, protocol] of [
      ['inst', 0],
      ['obj', 1],
      ['obj', 0],
    ] as const) {
      const o = new PyObject(kind, new PyGlobal('__main__', 'Thing'), []);
      o.state = { a: 1 };
      const bytes = dumps([o, o], { protocol });
      const out = python('v = pickle.loads(data)\nprint(type(v[0]).__name__, v[0].a, v[0] is v[1])', bytes);
      expect(out).toBe('Thing 1 True');
    }
  });
});

describe('identity memo past half a million containers', () => {
  // Over 2^19 containers the memo moves to a second table; shared references and cycles on both sides of
  // that point must still come back as one object, in the same bytes whichever table each entry sits in.
  const build = () => {
    const lists: unknown[][] = Array.from({ length: 600_000 }, (_, i) => [i]);
    const early = lists[10]!;
    const late = lists[590_000]!;
    late.push(late); // a cycle past the limit
    const value = [lists, early, late, lists[300_000]];
    return { value, early, late };
  };

  it('keeps shared references and cycles, with the same bytes dump after dump', () => {
    const { value } = build();
    const first = dumps(value);
    const second = dumps(value); // entries now stale in the first table, fresh in the second
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
    const back = loads(first) as [unknown[][], unknown[], unknown[], unknown[]];
    expect(back[0]).toHaveLength(600_000);
    expect(back[1]).toBe(back[0][10]);
    expect(back[2]).toBe(back[0][590_000]);
    expect(back[2]![1]).toBe(back[2]);
    expect(back[3]).toBe(back[0][300_000]);
    expect(back[0][599_999]).toEqual([599_999]);
  });

  it('matches a fresh Pickler for a fresh equal value', () => {
    const a = dumps(build().value);
    const b = new Pickler().dump(build().value);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});

describe('dumps that bet no object comes twice', () => {
  // Past its first 16 objects a dump logs objects instead of looking each up, and checks the log every 65536
  // objects and at the end; an object met twice sends it back to the start with the memo. A persistentId
  // hook keeps a pickler on the memo from the start: the bytes must be the same.
  const withMemo = (value: unknown, protocol = 4) =>
    new Pickler({ protocol, persistentId: () => undefined }).dump(value);
  const records = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, tags: [i, 'x'] }));

  it('writes the bytes of the memo path, with and without shared objects, at every protocol', () => {
    const shared = { shared: true };
    const early = records(5);
    const cases: [string, unknown][] = [
      ['no sharing', records(3000)],
      ['one of the first 16 objects again at the end', [...early, ...records(3000), early[2]]],
      ['an object shared within the speculative part', [...records(40), shared, ...records(40), shared]],
      ['an object again past the first check', [shared, ...records(40_000), shared]],
      [
        'a cycle past the first 16 objects',
        (() => {
          const list: unknown[] = records(30);
          list.push(list);
          return list;
        })(),
      ],
      [
        'a tuple holding a list holding the tuple',
        (() => {
          const inner: unknown[] = records(20);
          const t = tuple(1, inner);
          inner.push(t);
          return [t, t];
        })(),
      ],
    ];
    for (const [name, value] of cases) {
      for (const protocol of [0, 2, 4, 5]) {
        // A fresh pickler for each: one that met an object twice uses the memo for its next 16 dumps.
        const bet = new Pickler({ protocol }).dump(value);
        expect(toHex(bet), `${name} @${protocol}`).toBe(toHex(withMemo(value, protocol)));
      }
    }
  });

  it('goes back to the memo at once for a graph that shares everything (2^60 paths through 60 lists)', () => {
    let node: unknown[] = [1];
    for (let i = 0; i < 60; i++) node = [node, node, i];
    const value = [...records(20), node];
    expect(toHex(new Pickler({ protocol: 4 }).dump(value))).toBe(toHex(withMemo(value)));
  });

  it('keeps the memo of a Pickler across dump() calls after a dump that bet', () => {
    const objects = records(100);
    const pickler = new Pickler({ protocol: 4 });
    const reference = new Pickler({ protocol: 4, persistentId: () => undefined });
    expect(toHex(pickler.dump(objects))).toBe(toHex(reference.dump(objects)));
    // The second dump refers back to the first one's objects.
    expect(toHex(pickler.dump([objects[50], objects]))).toBe(toHex(reference.dump([objects[50], objects])));
  });

  it('reports an error as the memo path does', () => {
    const value = [...records(30), { bad: Symbol('x') }];
    const error = (() => {
      try {
        dumps(value);
      } catch (e) {
        return e as PicklingError;
      }
      throw new Error('dumped');
    })();
    expect(error).toBeInstanceOf(PicklingError);
    expect(error.code).toBe('UNPICKLABLE');
    expect(error.path).toBe('value[30].bad');
  });

  it('runs a getter again only when the dump starts again, and writes its value once', () => {
    let calls = 0;
    const shared = { n: 1 };
    const withGetter = {
      get value() {
        calls++;
        return 'v';
      },
    };
    const value = [...records(20), withGetter, shared, shared];
    // A fresh pickler: after a dump that met an object twice, the next 16 use the memo from the start.
    const pickler = new Pickler({ protocol: 4 });
    const bytes = pickler.dump(value);
    expect(calls).toBe(2);
    calls = 0;
    expect(toHex(bytes)).toBe(toHex(withMemo(value)));
    expect(calls).toBe(1);
    pickler.clearMemo();
    calls = 0;
    pickler.dump(value);
    expect(calls).toBe(1);
    // Without sharing, once.
    calls = 0;
    new Pickler({ protocol: 4 }).dump([...records(20), withGetter]);
    expect(calls).toBe(1);
  });
});

describe('nesting without end', () => {
  it('a reducer whose reduction holds a new value of its own type is LIMIT_EXCEEDED, with a path of bounded length', () => {
    class Runaway {}
    const registry = new Registry().register({
      module: 'm',
      name: 'Runaway',
      type: Runaway,
      reduce: () => new PyObject('reduce', new PyGlobal('m', 'Runaway'), [new Runaway()]),
    });
    const error = catchPicklingError(() => dumps(new Runaway(), { registry }));
    expect(error.code).toBe('LIMIT_EXCEEDED');
    expect(error.message).toMatch(/^values nested more than 1000000 deep/);
    expect(error.path).toMatch(/^value(\.args\[0\]){250}\.\.\.\(\d+ more\)\.\.\.(\.args\[0\]){250}$/);
  });
});

describe("another realm's objects as keys", () => {
  it('refuses its plain objects and Maps as dict keys and its Sets as set elements, as Python cannot hash them', () => {
    const foreign = runInNewContext('[{ a: 1 }, new Map(), new Set([1])]') as object[];
    for (const key of foreign) {
      expect(catchPicklingError(() => dumps(new Map([[key, 1]]))).code).toBe('UNHASHABLE');
      expect(catchPicklingError(() => dumps(new Set([key]))).code).toBe('UNHASHABLE');
    }
  });
});
