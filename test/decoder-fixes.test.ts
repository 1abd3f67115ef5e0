import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  dumps,
  genops,
  loads,
  NDArray,
  NumpyDtype,
  NumpyScalar,
  PyDeque,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  Registry,
  Unpickler,
} from '../src/codec/index.js';

/** CPython's pickles of one Python expression at each protocol, after running `setup`. */
function pickleEach(setup: string, expr: string, protocols: readonly number[]): Uint8Array[] {
  const script = `import pickle, sys, json, collections\n${setup}\nv = ${expr}\nsys.stdout.write(json.dumps([pickle.dumps(v, p).hex() for p in json.loads(sys.argv[1])]))`;
  const out = execFileSync('python3', ['-c', script, JSON.stringify(protocols)]).toString();
  return (JSON.parse(out) as string[]).map((hex) => Uint8Array.from(Buffer.from(hex, 'hex')));
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ALL = [0, 1, 2, 3, 4, 5] as const;

describe('BUILD with a state on a typed standard-library value', () => {
  const setup = 'od = collections.OrderedDict(a=1, b=[2])\nod.x = 5';

  it('decodes an OrderedDict with instance attributes as its reduction, which re-encodes byte for byte', () => {
    const pickles = pickleEach(setup, 'od', ALL);
    for (const protocol of ALL) {
      const v = loads(pickles[protocol]!);
      expect(v, `protocol ${protocol}`).toBeInstanceOf(PyObject);
      const o = v as PyObject;
      expect([o.module, o.name]).toEqual(['collections', 'OrderedDict']);
      expect(o.dictItems).toEqual([
        ['a', 1],
        ['b', [2]],
      ]);
      expect(o.state).toEqual({ x: 5 });
      expect(hex(dumps(v, { protocol }))).toBe(hex(pickles[protocol]!));
    }
  });

  it('memo references after the BUILD get the placeholder, even when memoized long before it', () => {
    const big = 'big = collections.OrderedDict((str(i), i) for i in range(6000))\nbig.tag = "t"';
    for (const [protocol, pickle] of pickleEach(big, '[big, big]', [2, 4]).entries()) {
      const v = loads(pickle) as unknown[];
      expect(v[0], `protocol ${[2, 4][protocol]}`).toBeInstanceOf(PyObject);
      expect(v[1]).toBe(v[0]);
      expect((v[0] as PyObject).dictItems).toHaveLength(6000);
      expect((v[0] as PyObject).state).toEqual({ tag: 't' });
    }
  });

  it('an OrderedDict without attributes is still a PyOrderedDict', () => {
    const v = loads(pickleEach('', 'collections.OrderedDict(a=1)', [4])[0]!);
    expect(v).toBeInstanceOf(PyOrderedDict);
  });

  it('BUILD with a state on a plain list is still refused, as CPython does', () => {
    const pickle = Uint8Array.from(Buffer.from('80025d7d710158010000007871024b0173622e', 'hex'));
    expect(() => loads(pickle)).toThrow(expect.objectContaining({ code: 'BAD_STACK' }));
  });
});

describe('maxContainerItems on dicts decoded as plain objects', () => {
  const keyed = "{'k%d' % i: i for i in range(2500)}";

  it('counts items across SETITEMS batches and single SETITEMs', () => {
    for (const protocol of ALL) {
      const pickle = pickleEach('', keyed, [protocol])[0]!;
      for (const dicts of ['auto', 'object'] as const) {
        expect(
          () => loads(pickle, { dicts, limits: { maxContainerItems: 2000 } }),
          `p${protocol} ${dicts}`,
        ).toThrow(expect.objectContaining({ code: 'LIMIT_EXCEEDED' }));
        expect(
          Object.keys(loads(pickle, { dicts, limits: { maxContainerItems: 2500 } }) as object),
        ).toHaveLength(2500);
      }
    }
  });

  it('many small dicts together may hold more items than the limit', () => {
    const expr = "([{'a': i, 'b': i} for i in range(1500)], [{'c': i} for i in range(1500)])";
    for (const protocol of ALL) {
      const v = loads(pickleEach('', expr, [protocol])[0]!, {
        limits: { maxContainerItems: 2000 },
      }) as unknown[][];
      expect(v[0]).toHaveLength(1500);
      expect(v[1]![1499]).toEqual({ c: 1499 });
    }
  });

  it('rewriting the same keys does not count as new items', () => {
    // SETITEMS writing 'k' 3000 times into one dict, in batches of 1000 (protocol 2, hand-built).
    const parts: number[] = [0x80, 0x02, 0x7d];
    for (let batch = 0; batch < 3; batch++) {
      parts.push(0x28);
      for (let i = 0; i < 1000; i++) parts.push(0x58, 1, 0, 0, 0, 0x6b, 0x4b, i & 0xff);
      parts.push(0x75);
    }
    parts.push(0x2e);
    expect(loads(Uint8Array.from(parts), { limits: { maxContainerItems: 1500 } })).toEqual({ k: 999 & 0xff });
  });
});

const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy']);
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(hasNumpy)('numpy decodes without a registry', () => {
  const numpyPickles = (expr: string, protocols: readonly number[]): Uint8Array[] =>
    pickleEach('import numpy as np', expr, protocols);

  it('an array read from a writable protocol-5 buffer goes to protocol 2 with its data as bytes', () => {
    // Its data is a bytearray after the protocol-5 load; numpy's __setstate__ refuses a bytearray.
    const fromBuffer = loads(dumps(NDArray.fromList([1, 2], '<i2'), { protocol: 5 })) as NDArray;
    const data = hex(dumps(fromBuffer, { protocol: 2 }));
    const check = `import pickle, numpy as np\nprint(pickle.loads(bytes.fromhex('${data}')).tolist())`;
    expect(execFileSync('python3', ['-c', check]).toString().trim()).toBe('[1, 2]');
  });

  it('refuses what numpy refuses: an array state of version 2, _reconstruct of 4 arguments', () => {
    const setup = [
      'import numpy as np',
      'from numpy.core.multiarray import _reconstruct',
      'class Odd:',
      '    def __init__(self, version, extra): self.version, self.extra = version, extra',
      '    def __reduce__(self):',
      '        state = np.arange(3.0).__reduce__()[2]',
      "        return (_reconstruct, (np.ndarray, (0,), b'b') + self.extra, (self.version,) + state[1:])",
    ].join('\n');
    const [version0, version2, fourArguments] = [
      pickleEach(setup, 'Odd(0, ())', [2])[0]!,
      pickleEach(setup, 'Odd(2, ())', [2])[0]!,
      pickleEach(setup, 'Odd(1, (1,))', [2])[0]!,
    ];
    expect((loads(version0) as NDArray).toList()).toEqual([0, 1, 2]);
    expect(() => loads(version2)).toThrow(/can't handle version 2 of numpy.ndarray pickle/);
    expect(() => loads(fourArguments)).toThrow(/_reconstruct\(\) takes exactly 3 arguments \(4 given\)/);
  });

  it('arrays, dtypes and scalars at protocols 2, 4 and 5 by default', () => {
    const [arrays, dtypes, scalars] = [
      numpyPickles("np.arange(6, dtype='<i4').reshape(2, 3)", [2, 4, 5]),
      numpyPickles("np.dtype('<f8')", [2, 4, 5]),
      numpyPickles('np.float64(1.5)', [2, 4, 5]),
    ];
    for (let i = 0; i < 3; i++) {
      const a = loads(arrays[i]!) as NDArray;
      expect(a).toBeInstanceOf(NDArray);
      expect(a.shape).toEqual([2, 3]);
      expect(Array.from(a.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
      const d = loads(dtypes[i]!) as NumpyDtype;
      expect(d).toBeInstanceOf(NumpyDtype);
      expect(d.str).toBe('<f8');
      const s = loads(scalars[i]!) as NumpyScalar;
      expect(s).toBeInstanceOf(NumpyScalar);
      expect(s.value).toBe(1.5);
    }
  });

  it('also with a registry that has no numpy entries', () => {
    const registry = new Registry().register({ module: 'm', name: 'C', decoder: { construct: () => 'C' } });
    const a = loads(numpyPickles('np.zeros(3)', [4])[0]!, { registry });
    expect(a).toBeInstanceOf(NDArray);
  });

  it('numpy: false keeps placeholders', () => {
    const v = loads(numpyPickles('np.zeros(3)', [4])[0]!, { numpy: false });
    expect(v).toBeInstanceOf(PyObject);
    expect((v as PyObject).callable).toEqual(new PyGlobal('numpy._core.multiarray', '_reconstruct'));
  });

  it("the user's registration of a numpy global takes precedence", () => {
    const registry = new Registry().register({
      module: 'numpy._core.multiarray',
      name: 'scalar',
      decoder: { construct: (args) => ['mine', args.length] },
    });
    expect(loads(numpyPickles('np.float64(1.5)', [4])[0]!, { registry })).toEqual(['mine', 2]);
  });
});

describe('memoizing values before any OrderedDict was made', () => {
  it('None, ints and strs memoize as before', () => {
    expect(
      loads(
        Uint8Array.from(Buffer.from('\x80\x04N\x94K\x01\x94\x8c\x01a\x94h\x00h\x01h\x02\x87.', 'latin1')),
      ),
    ).toEqual([null, 1, 'a']);
  });
});

describe('bytes from a Node Buffer input', () => {
  // `pickle.dumps((b'ab', b'c'), 4)`; a Connection hands the decoder Buffers.
  const pickle = Buffer.from('8004950c0000000000000043026162944301639486942e', 'hex');

  it('are plain Uint8Array copies, not Buffers', () => {
    const [ab, c] = loads(pickle) as Uint8Array[];
    expect(Object.getPrototypeOf(ab)).toBe(Uint8Array.prototype);
    expect(Buffer.isBuffer(c)).toBe(false);
    expect([...ab!]).toEqual([0x61, 0x62]);
    expect(ab!.buffer).not.toBe(pickle.buffer);
  });

  it('zeroCopyBytes gives plain Uint8Array views of the input', () => {
    const [ab] = loads(pickle, { zeroCopyBytes: true }) as Uint8Array[];
    expect(Object.getPrototypeOf(ab)).toBe(Uint8Array.prototype);
    expect(ab!.buffer).toBe(pickle.buffer);
    expect([...ab!]).toEqual([0x61, 0x62]);
  });
});

/** Bytes from byte values and latin-1 strings, in order. */
const bytes = (...parts: (number | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p].map((ch) => ch.charCodeAt(0)))));

describe('a dict that becomes a Map keeps every reference to it', () => {
  const P2 = [0x80, 2] as const;
  it('memoized at two slots: both give the Map', () => {
    // EMPTY_DICT BINPUT 0 BINPUT 1 K1 K2 SETITEM POP, BINGET 0, BINGET 1, TUPLE2
    const value = loads(
      bytes(...P2, '}', 0x71, 0, 0x71, 1, 'K', 1, 'K', 2, 's', '0', 0x68, 0, 0x68, 1, 0x86, 0x2e),
    );
    const [a, b] = value as [Map<unknown, unknown>, Map<unknown, unknown>];
    expect(a).toBeInstanceOf(Map);
    expect(a).toBe(b);
    expect(a.get(1)).toBe(2);
  });

  it('its slot overwritten before the key came: the slot keeps what overwrote it', () => {
    // EMPTY_DICT BINPUT 0, K7 BINPUT 0 POP, K1 K2 SETITEM, BINGET 0, TUPLE2
    const value = loads(
      bytes(...P2, '}', 0x71, 0, 'K', 7, 0x71, 0, '0', 'K', 1, 'K', 2, 's', 0x68, 0, 0x86, 0x2e),
    );
    expect(value).toEqual([new Map([[1, 2]]), 7]);
  });

  it('handed out by GET before the key came: one Map everywhere', () => {
    // EMPTY_DICT BINPUT 0, BINGET 0, K1 K2 SETITEM, TUPLE2
    const value = loads(bytes(...P2, '}', 0x71, 0, 0x68, 0, 'K', 1, 'K', 2, 's', 0x86, 0x2e));
    const [a, b] = value as [Map<unknown, unknown>, Map<unknown, unknown>];
    expect(a).toBeInstanceOf(Map);
    expect(a).toBe(b);
  });

  it('a memo made sparse by a far index is not searched again and again', () => {
    // LONG_BINPUT 9 999 999, then 64 dicts memoized at 1 that each take an int key.
    const body = bytes('}', 0x71, 1, 'K', 1, 'K', 1, 's', '0');
    const parts = [
      bytes(...P2, 'N', 0x72, 0x7f, 0x96, 0x98, 0x00, '0'),
      ...Array(64).fill(body),
      bytes('N', 0x2e),
    ];
    expect(loads(Uint8Array.from(parts.flatMap((p) => [...p])))).toBe(null);
  });
});

describe('BUILD that replaces the value it builds on', () => {
  it('patches the memo slot a PUT gave it after it was made, however far below the memo end', () => {
    const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
    const parts: number[] = [0x80, 2, 'N'.charCodeAt(0)];
    for (let k = 0; k < 5000; k++) parts.push(0x72, ...u32(k)); // 5000 LONG_BINPUTs of None
    parts.push(...bytes('0', 'cuuid\nUUID\n', ')', 0x81)); // uuid.UUID.__new__(UUID)
    parts.push(0x71, 0); // BINPUT 0: far below the memo's end
    parts.push(...bytes('}', 'U', 3, 'int', 'K', 1, 's', 'b', '0', 0x68, 0, 0x2e)); // BUILD {'int': 1}, GET 0
    expect(loads(Uint8Array.from(parts))).toMatchObject({ hex: '00000000000000000000000000000001' });
  });
});

describe("protocol 0 INT, as CPython 3's C unpickler reads it", () => {
  it('takes a two-character line strtol reads as 0 or 1 for a bool, and ends the number at a NUL', () => {
    // What _pickle.loads gives in CPython 3.6 to 3.13 (pickle.py, and Python 2, differ on some).
    const cases: [string, unknown][] = [
      ['I-0\n.', false],
      ['I+0\n.', false],
      ['I 0\n.', false],
      ['I00\n.', false],
      ['I+1\n.', true],
      ['I 1\n.', true],
      ['I01\n.', true],
      ['I1\0\n.', true],
      ['I\x001\n.', false],
      ['I1\x002\n.', 1],
      ['I1\n.', 1],
      ['I0\n.', 0],
      ['I10\n.', 10],
      ['I 12\n.', 12],
      ['I1_0\n.', 10],
      ['I0x1f\n.', 31],
      ['I99999999999999999999\n.', 99999999999999999999n],
    ];
    for (const [text, expected] of cases) expect(loads(bytes(text)), JSON.stringify(text)).toBe(expected);
  });
});

describe('protocol 0 text CPython reads its own way', () => {
  it("keeps the sign of float('-nan'), whose pickle keeps it", () => {
    const bits = (text: string): string => hex(dumps(loads(bytes(text)), { protocol: 2 }));
    expect(bits('F-nan\n.')).toBe('800247fff80000000000002e');
    expect(bits('F-NaN\n.')).toBe('800247fff80000000000002e');
    expect(bits('Fnan\n.')).toBe('8002477ff80000000000002e');
    expect(bits('F+nan\n.')).toBe('8002477ff80000000000002e');
  });

  it("refuses INST names that are not ASCII, as load_inst's strict ASCII decode does", () => {
    expect(() => loads(bytes('(i\xc3\xa9\nX\n.'))).toThrow(
      "'ascii' codec can't decode byte 0xc3 in position 0: ordinal not in range(128)",
    );
    expect(() => loads(bytes('(imod\nX\xe9\n.'))).toThrow(/byte 0xe9 in position 1/);
    // GLOBAL's names are UTF-8.
    expect(loads(bytes('c\xc3\xa9\nX\n.'))).toEqual(new PyGlobal('\u00e9', 'X'));
  });
});

describe('Python 2 str decoding errors', () => {
  const py2Str = bytes(0x80, 2, 0x55, 4, 'caf\xe9.');

  it("say which byte, where and why, as CPython's codec does, and how to read the str instead", () => {
    expect(() => loads(py2Str)).toThrow(
      "'ascii' codec can't decode byte 0xe9 in position 3: ordinal not in range(128) (a Python 2 str, " +
        "decoded with encoding 'ASCII': pass encoding 'latin1', or 'bytes' to receive bytes",
    );
    expect(() => loads(py2Str, { encoding: 'utf-8' })).toThrow(
      "'utf-8' codec can't decode byte 0xe9 in position 3: unexpected end of data",
    );
    expect(loads(py2Str, { encoding: 'latin1' })).toBe('caf\u00e9');
  });

  it('refuse an encoding name with a NUL or a lone surrogate at once, as CPython refuses the options', () => {
    for (const data of [py2Str, bytes('N.')]) {
      for (const [options, reason] of [
        [{ encoding: 'latin1\0' }, /embedded null character/],
        [{ encoding: 'cp1252\0junk' }, /embedded null character/],
        [{ errors: 'strict\0' as 'strict' }, /embedded null character/],
        [{ encoding: 'latin1\udce9' }, /surrogates not allowed/],
      ] as const) {
        expect(() => loads(data, options)).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
        expect(() => loads(data, options)).toThrow(reason);
      }
    }
  });

  it('report a part of an encoded surrogate under surrogatepass as the strict decoder does', () => {
    const options = { encoding: 'utf-8', errors: 'surrogatepass' } as const;
    expect(() => loads(bytes(0x80, 2, 0x55, 2, 0xed, 0xa0, '.'), options)).toThrow(
      "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte",
    );
    expect(loads(bytes(0x80, 2, 0x55, 3, 0xed, 0xa0, 0x80, '.'), options)).toBe('\ud800');
  });
});

describe('options and decoders a user gives', () => {
  it('BUILD on a registered type whose decoder has no setState is NOT_SUPPORTED, and says what to add', () => {
    const registry = new Registry().register({
      module: 'app',
      name: 'Point',
      decoder: { construct: () => ({}) },
    });
    // app.Point() with a state: what pickling an instance of a plain class gives.
    const pickle = bytes('\x80\x02capp\nPoint\n)R}X\x01\x00\x00\x00xK\x01sb.');
    expect(() => loads(pickle, { registry })).toThrow(
      expect.objectContaining({
        code: 'NOT_SUPPORTED',
        message: expect.stringContaining('setState(obj, state)'),
      }),
    );
  });

  it("takes null, Python's None, for the options whose default is None", () => {
    const pickle = dumps([1, 'a'], { persistentId: null, bufferCallback: null });
    expect(hex(pickle)).toBe(hex(dumps([1, 'a'])));
    expect(loads(pickle, { buffers: null, persistentLoad: null })).toEqual([1, 'a']);
    expect(() => loads(pickle, { buffers: 5 as never })).toThrow(
      expect.objectContaining({ code: 'BAD_OPTION' }),
    );
  });
});

describe('an int argument beyond 2**53', () => {
  it('says so, where a deque maxlen of 2**60 read "must be an int, not int"', () => {
    // collections.deque([], 2**60): LONG1 of 8 bytes.
    const pickled = Uint8Array.from([
      ...Buffer.from('\x80\x02ccollections\ndeque\n]\x8a\x08', 'latin1'),
      ...[0, 0, 0, 0, 0, 0, 0, 0x10],
      ...Buffer.from('\x86R.', 'latin1'),
    ]);
    expect(() => loads(pickled)).toThrow(
      /deque maxlen 1152921504606846976 is beyond what mpwire can represent/,
    );
  });
});

describe('a dict a decoder returns from BUILD', () => {
  it('is found in every memo slot when it later becomes a Map', () => {
    // setState hands back the state dict itself, which BUILD then puts in the object's memo slot (0).
    const registry = new Registry().register({
      module: 'm',
      name: 'C',
      decoder: {
        construct: () => ({ placeholder: true }),
        setState: (_obj: unknown, state: unknown) => state,
      },
    });
    // m.C() BINPUT 0, EMPTY_DICT BINPUT 1, BUILD, SETITEM 1: 2 (a non-str key), POP, GET 0
    const pickled = bytes(
      0x80,
      2,
      'cm\nC\n)',
      0x81,
      0x71,
      0,
      '}',
      0x71,
      1,
      'b',
      'K',
      1,
      'K',
      2,
      's',
      '0',
      0x68,
      0,
      0x2e,
    );
    const value = loads(pickled, { registry });
    expect(value).toBeInstanceOf(Map);
    expect((value as Map<unknown, unknown>).get(1)).toBe(2);
  });
});

describe('what the review of the kept memo and the new limits found', () => {
  const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

  it('maxObjects counts bytes objects and unresolved persistent ids too', () => {
    const limits = { maxObjects: 10 };
    const manyBytes = bytes(0x80, 3, ']', '(', ...Array(11).fill('C\x00').join(''), 'e', '.');
    expect(() => loads(manyBytes, { limits })).toThrow(/more than maxObjects \(10\)/);
    const manyRefs = bytes(0x80, 3, ']', '(', ...Array(11).fill('NQ').join(''), 'e', '.');
    expect(() => loads(manyRefs, { limits })).toThrow(/more than maxObjects \(10\)/);
  });

  it('a stream whose later pickle reuses an earlier string still takes the dict-to-Map rerun', () => {
    const u = new Unpickler();
    // 'name' memoized at 0 by the first pickle.
    expect(
      u.load(bytes(0x80, 2, '}', 0x71, 1, 'X', ...u32(4), 'name', 0x71, 0, 'X', ...u32(1), 'a', 's', '.'))
        .value,
    ).toEqual({ name: 'a' });
    // d = {'name': 'b'} (GET 0 for the key), then d[1] = [d]: the dict is met again before its int key.
    const second = bytes(
      0x80,
      2,
      '}',
      0x71,
      2,
      0x68,
      0,
      'X',
      ...u32(1),
      'b',
      's',
      'K',
      1,
      ']',
      0x68,
      2,
      'a',
      's',
      '.',
    );
    const d = u.load(second).value as Map<unknown, unknown>;
    expect(d).toBeInstanceOf(Map);
    expect(d.get('name')).toBe('b');
    expect((d.get(1) as unknown[])[0]).toBe(d);
  });

  it("BUILD finds its value's slot when the state is PUT more than 4096 slots above it", () => {
    const parts: number[] = [0x80, 2, 'N'.charCodeAt(0), 0x72, ...u32(5000), '0'.charCodeAt(0)];
    parts.push(
      ...bytes(
        'cuuid\nUUID\n)',
        0x81,
        0x71,
        1,
        '}',
        0x72,
        ...u32(5000),
        'X',
        ...u32(3),
        'int',
        'K',
        5,
        's',
        'b',
        0x68,
        1,
        0x86,
        '.',
      ),
    );
    const [built, fetched] = loads(Uint8Array.from(parts)) as [unknown, unknown];
    expect(fetched).toBe(built);
    expect(built).toMatchObject({ hex: '00000000000000000000000000000005' });
  });

  it('a kept memo made sparse does not make each later datetime state search it', () => {
    const u = new Unpickler();
    u.load(bytes(0x80, 3, 'N', 0x72, ...u32(9_999_998), '.'));
    const date = bytes(0x80, 3, 'cdatetime\ndate\n', 'C', 4, 0x07, 0xe4, 1, 1, 0x71, 0, 0x85, 'R', '.');
    for (let i = 0; i < 20; i++) expect(u.load(date).value).toMatchObject({ year: 2020, month: 1, day: 1 });
  });

  it("READONLY_BUFFER on a class is refused, as CPython's memoryview refuses a type", () => {
    expect(() => loads(bytes(0x80, 5, 'cbuiltins\nint\n', 0x98, '.'))).toThrow(/not 'type'/);
  });
});

describe('a dict that takes a non-str key after it was referred to again', () => {
  it('stays a plain object elsewhere when it was memoized more than 4096 entries before the key (CPython bytes)', () => {
    for (const n of [10, 4100, 70000]) {
      const [pickle] = pickleEach(
        `d = {}\nd['a'] = [d] + [[i] for i in range(${n})]\nd[1] = 2`,
        "[{'u': 1}, d]",
        [4],
      );
      const [plain, d] = loads(pickle!) as [Record<string, number>, Map<unknown, unknown>];
      expect(plain).toEqual({ u: 1 });
      expect(d).toBeInstanceOf(Map);
      expect((d.get('a') as unknown[])[0]).toBe(d);
      expect(d.get(1)).toBe(2);
    }
  });

  it('copied by DUP, memoized and fetched again is one Map everywhere, as CPython gives one dict', () => {
    // EMPTY_DICT DUP MEMOIZE BINGET 0, SETITEM 1: 2, POP, BINGET 0, TUPLE3, STOP: ({1: 2},) * 3, one dict.
    const value = loads(
      Uint8Array.from(Buffer.from('80047d329468004b014b0273306800872e', 'hex')),
    ) as unknown[];
    expect(value[0]).toBeInstanceOf(Map);
    expect(value[0]).toBe(value[1]);
    expect(value[1]).toBe(value[2]);
    expect([...(value[0] as Map<unknown, unknown>)]).toEqual([[1, 2]]);
  });
});

describe("a __reduce__ with a state setter (Python 3.8's sixth item)", () => {
  const setup = [
    'def set_state(obj, state):',
    "    obj.st = ('set', state)",
    'class SS:',
    '    def __reduce__(self):',
    "        return (SS, (), 'state!', None, None, set_state)",
  ].join('\n');

  it('keeps the setter and its state, and re-encodes to the same bytes at every protocol', () => {
    const pickles = pickleEach(setup, '[SS(), SS()]', ALL);
    pickles.forEach((pickle, protocol) => {
      const [first, second] = loads(pickle) as [PyObject, PyObject];
      expect(first.stateSetter).toEqual(new PyGlobal('__main__', 'set_state'));
      expect(first.state).toBe('state!');
      expect(second.state).toBe('state!');
      expect(hex(dumps([first, second], { protocol }))).toBe(hex(pickle));
    });
  });

  it('takes only a POP right after the REDUCE for a state setter, not one after an argument byte 0x52', () => {
    // a = m.a(); x = m.f(a, 'S'), put at memo 82 (BINPUT 0x52), then POP: no state setter, as CPython writes.
    const pickle = Uint8Array.from(
      Buffer.from('\x80\x02cm\na\n)Rq\x00cm\nf\nh\x00X\x01\x00\x00\x00S\x86Rq\x520h\x520h\x00.', 'latin1'),
    );
    const a = loads(pickle) as PyObject;
    expect(a.stateSetter).toBeUndefined();
    expect(a.state).toBeUndefined();
    // a's own REDUCE only: no setter call added.
    const reduces = [...genops(dumps(a, { protocol: 2 }))].filter((op) => op.info.name === 'REDUCE');
    expect(reduces).toHaveLength(1);
  });

  it("gives a registered decoder's value the state through its setState, as a BUILD would", () => {
    class Made {
      state: unknown;
    }
    const withSetState = new Registry().register<Made>({
      module: '__main__',
      name: 'SS',
      decoder: {
        construct: () => new Made(),
        setState: (made, state) => {
          made.state = state;
          return undefined;
        },
      },
    });
    const without = new Registry().register<Made>({
      module: '__main__',
      name: 'SS',
      decoder: { construct: () => new Made() },
    });
    for (const pickle of pickleEach(setup, 'SS()', ALL)) {
      expect((loads(pickle, { registry: withSetState }) as Made).state).toBe('state!');
      expect(() => loads(pickle, { registry: without })).toThrow(/registered decoder has no setState/);
    }
  });

  it('a reducer that returns a stateSetter writes what CPython writes', () => {
    const registry = new Registry();
    class Settable {}
    registry.register({
      module: '__main__',
      name: 'SS',
      type: Settable,
      reduce: () => {
        const reduction = new PyObject('reduce', new PyGlobal('__main__', 'SS'), []);
        reduction.state = 'state!';
        reduction.stateSetter = new PyGlobal('__main__', 'set_state');
        return reduction;
      },
    });
    const pickles = pickleEach(setup, '[SS(), SS()]', ALL);
    pickles.forEach((pickle, protocol) => {
      expect(hex(dumps([new Settable(), new Settable()], { protocol, registry }))).toBe(hex(pickle));
    });
  });
});

describe('registered decoders reach instances written for protocols 0 and 1, and nested classes', () => {
  class Point {
    constructor(
      public x: unknown = undefined,
      public y: unknown = undefined,
    ) {}
  }
  class Inner {
    state: unknown;
  }
  const registry = new Registry()
    .register<Point>({
      module: '__main__',
      name: 'Point',
      decoder: {
        construct: (args) => new Point(...args),
        setState: (point, state) => {
          Object.assign(point, state);
          return undefined;
        },
      },
      type: Point,
      reduce: (point) => {
        const reduction = new PyObject('newobj', new PyGlobal('__main__', 'Point'), []);
        reduction.state = { x: point.x, y: point.y };
        return reduction;
      },
    })
    .register<Inner>({
      module: '__main__',
      name: 'Outer.Inner',
      decoder: {
        construct: () => new Inner(),
        setState: (inner, state) => {
          inner.state = state;
          return undefined;
        },
      },
    });
  const setup = [
    'class Point:',
    '    def __init__(self, x, y): self.x, self.y = x, y',
    'class Outer:',
    '    class Inner:',
    '        def __init__(self, v): self.v = v',
  ].join('\n');

  it("copyreg._reconstructor (CPython's protocols 0 and 1) and every other protocol give the registered type", () => {
    pickleEach(setup, "Point(1, 'y')", ALL).forEach((pickle) => {
      const point = loads(pickle, { registry });
      expect(point).toBeInstanceOf(Point);
      expect({ ...(point as Point) }).toEqual({ x: 1, y: 'y' });
    });
  });

  it('copyreg.__newobj__, what a newobj reduction is below protocol 2, gives the registered type back', () => {
    for (const protocol of [0, 1, 2]) {
      const point = loads(dumps(new Point(1, 'y'), { protocol, registry }), { registry });
      expect(point).toBeInstanceOf(Point);
      expect({ ...(point as Point) }).toEqual({ x: 1, y: 'y' });
    }
  });

  it("a nested class, getattr(Outer, 'Inner') below protocol 4, reaches the decoder registered for Outer.Inner", () => {
    pickleEach(setup, 'Outer.Inner(5)', ALL).forEach((pickle) => {
      const inner = loads(pickle, { registry });
      expect(inner).toBeInstanceOf(Inner);
      expect((inner as Inner).state).toEqual({ v: 5 });
    });
    // Not registered, or refused by the allow-list: getattr stays a placeholder call.
    const [pickle0] = pickleEach(setup, 'Outer.Inner(5)', [2]);
    expect(loads(pickle0!)).toBeInstanceOf(PyObject);
    expect(
      loads(pickle0!, { registry, allowGlobals: ['__main__.Outer', 'builtins.getattr'] }),
    ).toBeInstanceOf(PyObject);
  });
});

describe('registered user types modelled as plain objects, arrays or Maps, as dict keys and set elements', () => {
  const setup = [
    'import dataclasses',
    '@dataclasses.dataclass(frozen=True)',
    'class Key:',
    '    a: int',
  ].join('\n');
  // A frozen dataclass decoded to a plain object: Python hashes it, so it may be a key.
  const registry = new Registry().register<Record<string, unknown>>({
    module: '__main__',
    name: 'Key',
    decoder: {
      construct: () => ({}),
      setState: (key, state) => {
        Object.assign(key, state);
        return undefined;
      },
    },
  });

  it('decode as keys and elements, inside tuples too, where the same shapes of plain data are refused', () => {
    for (const pickle of pickleEach(setup, "[{Key(1): 'x'}, {Key(2)}, {(Key(3), 1): 'y'}]", ALL)) {
      const [dict, set, tupleKeyed] = loads(pickle, { registry }) as [
        Map<unknown, unknown>,
        Set<unknown>,
        Map<unknown, unknown>,
      ];
      expect([...dict]).toEqual([[{ a: 1 }, 'x']]);
      expect([...set]).toEqual([{ a: 2 }]);
      expect([...tupleKeyed.values()]).toEqual(['y']);
    }
    // {'a': 1} itself as a key is what Python refuses.
    const plainKey = Uint8Array.from(Buffer.from('80047d947d948c0161944b017394680073' + '2e', 'hex'));
    expect(() => loads(plainKey)).toThrow(/unhashable type: 'dict'/);
  });

  it('encode as Map keys and Set elements when a registered reducer writes them', () => {
    class Pair extends Array<number> {}
    const encoding = new Registry().register<Pair>({
      module: '__main__',
      name: 'Key',
      type: Pair,
      reduce: (pair) => {
        const reduction = new PyObject('reduce', new PyGlobal('__main__', 'Key'), [pair[0]]);
        return reduction;
      },
    });
    const key = Pair.from([1]) as Pair;
    expect(() => dumps(new Map([[key, 'x']]), { registry: encoding })).not.toThrow();
    expect(() => dumps(new Set([key]), { registry: encoding })).not.toThrow();
    expect(() => dumps(new Map([[[1], 'x']]))).toThrow(/a dict key is a list/);
  });
});

describe("reductions written as Python's __reduce_ex__ gives them", () => {
  const setup = [
    'class P:',
    '    def __init__(self, a, b=0): self.a, self.b = a, b',
    '    def __eq__(self, other): return type(other) is type(self) and vars(other) == vars(self)',
    'class Q(P):',
    '    def __getnewargs_ex__(self): return ((self.a,), {"b": self.b})',
  ].join('\n');
  const stateOf = (value: { a: number; b: number }): Record<string, number> => ({ a: value.a, b: value.b });

  it('(copyreg.__newobj__, (cls,), state) is NEWOBJ from protocol 2, and __newobj_ex__ NEWOBJ_EX from 4, as CPython writes', () => {
    class P {
      constructor(
        readonly a: number,
        readonly b: number,
      ) {}
    }
    class Q extends P {}
    const registry = new Registry()
      .register<P>({
        module: '__main__',
        name: 'P',
        type: P,
        reduce: (p) => {
          const reduction = new PyObject('reduce', new PyGlobal('copyreg', '__newobj__'), [
            new PyGlobal('__main__', 'P'),
          ]);
          reduction.state = stateOf(p);
          return reduction;
        },
      })
      .register<Q>({
        module: '__main__',
        name: 'Q',
        type: Q,
        reduce: (q) => {
          const reduction = new PyObject('reduce', new PyGlobal('copyreg', '__newobj_ex__'), [
            new PyGlobal('__main__', 'Q'),
            [q.a], // a plain array is the argument tuple, as a reduction's args are
            new Map([['b', q.b]]),
          ]);
          reduction.state = stateOf(q);
          return reduction;
        },
      });
    pickleEach(setup, 'P(1, 2)', [2, 3, 4, 5]).forEach((pickle, i) => {
      expect(hex(dumps(new P(1, 2), { protocol: i + 2, registry }))).toBe(hex(pickle));
    });
    pickleEach(setup, 'Q(1, b=2)', [4, 5]).forEach((pickle, i) => {
      expect(hex(dumps(new Q(1, 2), { protocol: i + 4, registry }))).toBe(hex(pickle));
    });
  });

  it('a NEWOBJ_EX placeholder goes below protocol 4 as copyreg.__newobj_ex__, which CPython loads as the same object', () => {
    const [pickle] = pickleEach(setup, 'Q(1, b=2)', [4]);
    const placeholder = loads(pickle!);
    const check = [
      'import pickle, sys',
      setup,
      'ok = all(pickle.loads(bytes.fromhex(h)) == Q(1, b=2) for h in sys.argv[1:])',
      'sys.stdout.write(str(ok))',
    ].join('\n');
    const rewritten = [0, 1, 2, 3].map((protocol) => hex(dumps(placeholder, { protocol })));
    expect(execFileSync('python3', ['-c', check, ...rewritten]).toString()).toBe('True');
  });
});

describe('LONG4 past the maxBigIntDigits estimate', () => {
  const long4 = (body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(2 + 1 + 4 + body.length + 1);
    out.set([0x80, 0x02, 0x8b]);
    new DataView(out.buffer).setInt32(3, body.length, true);
    out.set(body, 7);
    out[out.length - 1] = 0x2e;
    return out;
  };

  it('counts only the bytes that are not sign extension, as the value CPython reads (-1 in 40 000 bytes)', () => {
    expect(loads(long4(new Uint8Array(40_000).fill(0xff)))).toBe(-1);
    const small = new Uint8Array(40_000);
    small[0] = 5;
    expect(loads(long4(small))).toBe(5);
  });

  it('still refuses a value of more digits than the limit', () => {
    const big = new Uint8Array(40_000).fill(0x11);
    expect(() => loads(long4(big))).toThrow(/exceeds maxBigIntDigits \(68800\)/);
  });
});

describe('SETITEM and APPEND on lists and deques, as CPython runs them on any object', () => {
  const load = (text: string): unknown => loads(Uint8Array.from(Buffer.from(text, 'latin1')));

  it('sets a list or deque item by index, from the end when negative, and refuses one out of range', () => {
    expect(load('\x80\x02]K\x01aK\x00K\x07s.')).toEqual([7]);
    expect(load('\x80\x02]K\x01aK\x02a(J\xff\xff\xff\xffK\x09u.')).toEqual([1, 9]);
    const deque = load('\x80\x02ccollections\ndeque\n)RK\x01aK\x00K\x07s.');
    expect(deque).toBeInstanceOf(PyDeque);
    expect([...(deque as PyDeque)]).toEqual([7]);
    expect(() => load('\x80\x02]K\x05K\x07s.')).toThrow(/list assignment index out of range/);
    expect(() => load('\x80\x02]K\x01aX\x01\x00\x00\x00aK\x07s.')).toThrow(/list indices must be integers/);
  });

  it('keeps only the last maxlen items of a deque given more by APPENDS, as a full deque drops its oldest', () => {
    // deque([], 2) then APPENDS 1, 2, 3: CPython gives deque([2, 3], maxlen=2).
    const deque = load('\x80\x02ccollections\ndeque\n)K\x02\x86R(K\x01K\x02K\x03e.') as PyDeque;
    expect([...deque]).toEqual([2, 3]);
    expect(deque.maxlen).toBe(2);
  });
});
