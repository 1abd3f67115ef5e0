import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { dumps, loads, PyFloat, PyTuple, PyUUID, tuple, type UnpicklingError } from '../src/codec/index.js';

/** CPython's pickles of each expression (one protocol), with each value as JSON (ints as decimal strings). */
function pickledWithRepr(exprs: readonly string[], protocol: number): { pickle: Uint8Array; repr: string }[] {
  const script = [
    'import pickle, sys, json',
    'exprs = json.loads(sys.argv[1])',
    `sys.stdout.write(json.dumps([[pickle.dumps(v, ${protocol}).hex(), json.dumps(str(v) if isinstance(v, int) else v)] for v in map(eval, exprs)]))`,
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, JSON.stringify(exprs)]).toString();
  return (JSON.parse(out) as [string, string][]).map(([hex, repr]) => ({
    pickle: Uint8Array.from(Buffer.from(hex, 'hex')),
    repr,
  }));
}

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
/** SHORT_BINUNICODE of raw bytes. */
const shortUnicode = (raw: number[]): Uint8Array => Uint8Array.from([0x8c, raw.length, ...raw, 0x2e]);

describe('LONG1/LONG4 at every byte length the decoder treats differently', () => {
  const exprs: string[] = [];
  for (const n of [...Array.from({ length: 80 }, (_, i) => i + 1), 1015, 1023, 1024, 1025, 1031, 1100]) {
    exprs.push(
      `(1 << ${8 * n - 1}) - 1`,
      `-(1 << ${8 * n - 1})`,
      `(1 << ${8 * n - 2}) + 12345`,
      `-(1 << ${8 * n - 2}) - 99`,
    );
  }
  it('matches CPython for lengths 1..80 and around 1 KiB (number, 64-bit word and hex-string paths)', () => {
    for (const { pickle, repr } of pickledWithRepr(exprs, 2)) {
      const v = loads(pickle);
      const expected = BigInt(JSON.parse(repr) as string);
      expect(BigInt(v as number | bigint)).toBe(expected);
      const safe = expected >= -(2n ** 53n - 1n) && expected <= 2n ** 53n - 1n;
      expect(typeof v).toBe(safe ? 'number' : 'bigint');
    }
  });
  it('non-minimal encodings still give numbers when the value is safe', () => {
    expect(loads(bytes('\x80\x02\x8a\x0a\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00.'))).toBe(5);
    expect(loads(bytes('\x80\x02\x8a\x0a\xfb\xff\xff\xff\xff\xff\xff\xff\xff\xff.'))).toBe(-5);
    expect(loads(bytes('\x80\x02\x8a\x07\xff\xff\xff\xff\xff\xff\xff.'))).toBe(-1);
  });
});

describe('short str decoding in JS agrees with CPython', () => {
  const pieces = ['a', 'é', '€', '😀', '\\ud800', '\\udfff', '\\u07ff', '\\u0800', '\\uffff', '\\U0010ffff'];
  const exprs: string[] = [];
  for (const p of pieces)
    for (const n of [1, 3, 7, 8, 9, 16, 21, 31, 63, 64, 65]) exprs.push(`'x' * ${n} + '${p}'`);
  for (const p of pieces) exprs.push(`'${p}' * 40`);
  it('ASCII, 2-, 3- and 4-byte sequences and encoded surrogates at lengths around the thresholds', () => {
    for (const { pickle, repr } of pickledWithRepr(exprs, 4)) {
      const s = loads(pickle) as string;
      const expected = JSON.parse(repr) as string;
      expect(s).toBe(expected);
    }
  });
  it("gives the same strings without Node's Buffer, as in a browser", async () => {
    const cases = pickledWithRepr(exprs, 4);
    vi.stubGlobal('Buffer', undefined);
    vi.resetModules();
    try {
      const codec = await import('../src/codec/index.js');
      for (const { pickle, repr } of cases) expect(codec.loads(pickle)).toBe(JSON.parse(repr) as string);
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
  it('refuses invalid short UTF-8 as CPython does', () => {
    const invalid = [
      [0x80],
      [0x61, 0xc3],
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xc3, 0x28],
      [0xe0, 0x80, 0x80],
      [0xe2, 0x82],
      [0xe2, 0x28, 0xac],
      [0xf0, 0x80, 0x80, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0xf0, 0x9f, 0x98],
      [0xff],
    ];
    for (const raw of invalid) {
      const padded = [...Array(12).fill(0x61), ...raw];
      for (const body of [raw, padded]) {
        expect(() => loads(shortUnicode(body)), JSON.stringify(body)).toThrow(
          expect.objectContaining({ code: 'BAD_ARGUMENT', offset: 0 }),
        );
      }
    }
  });
});

describe('runs of numbers appended to a list', () => {
  // 2e4 items of each int width and floats: CPython starts frames inside APPENDS batches.
  const script = [
    'import pickle, sys',
    'v = [[i * 0.5, i % 256, 256 + i, -i - 70000][i % 4] for i in range(20000)] + ["end"]',
    'sys.stdout.write(pickle.dumps(v, 4).hex())',
  ].join('\n');
  const pickle = Uint8Array.from(Buffer.from(execFileSync('python3', ['-c', script]).toString(), 'hex'));
  const expected: unknown[] = [];
  for (let i = 0; i < 20000; i++) expected.push([i * 0.5, i % 256, 256 + i, -i - 70000][i % 4]);
  expected.push('end');
  it('give the values of the opcodes, across frames, for every option', () => {
    expect(loads(pickle)).toEqual(expected);
    expect(loads(pickle, { bigints: 'always' })).toEqual(
      expected.map((v, i) => (typeof v === 'number' && i % 4 !== 0 ? BigInt(v) : v)),
    );
    const wrapped = loads(pickle, { floats: 'wrapped' }) as unknown[];
    expect(wrapped[4]).toEqual(new PyFloat(2));
    expect(wrapped.slice(0, 12).filter((v) => v instanceof PyFloat)).toHaveLength(3);
  });
  it('are refused over maxContainerItems by APPENDS, as item by item', () => {
    expect(() => loads(pickle, { limits: { maxContainerItems: 1500 } })).toThrow(
      expect.objectContaining({ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/^APPENDS: /) }),
    );
  });
  it('fail at the same APPENDS as item by item when later batches go over maxContainerItems', () => {
    // floats: 'wrapped' turns the number runs off, so every item goes through the stack.
    for (const maxContainerItems of [1000, 1001, 5000, 19999]) {
      const caught = (options: Parameters<typeof loads>[1]): UnpicklingError => {
        try {
          loads(pickle, options);
        } catch (e) {
          return e as UnpicklingError;
        }
        throw new Error('no error');
      };
      const fast = caught({ limits: { maxContainerItems } });
      const slow = caught({ limits: { maxContainerItems }, floats: 'wrapped' });
      expect([fast.code, fast.offset, fast.message]).toEqual([slow.code, slow.offset, slow.message]);
    }
  });
  it('batches of numbers next to batches holding other values, and a list inside a list', () => {
    const script = [
      'import pickle, sys',
      'inner = [i * 0.25 for i in range(3000)]',
      'v = [i * 1.5 for i in range(4500)] + ["x"] + list(range(2500)) + [inner] + [-1.0] * 3000 + [None]',
      'sys.stdout.write(pickle.dumps([v, inner], 4).hex())',
    ].join('\n');
    const mixed = Uint8Array.from(Buffer.from(execFileSync('python3', ['-c', script]).toString(), 'hex'));
    const inner = Array.from({ length: 3000 }, (_, i) => i * 0.25);
    const v = [
      ...Array.from({ length: 4500 }, (_, i) => i * 1.5),
      'x',
      ...Array.from({ length: 2500 }, (_, i) => i),
      inner,
      ...new Array(3000).fill(-1),
      null,
    ];
    const got = loads(mixed) as unknown[][];
    expect(got).toEqual([v, inner]);
    expect(got[0]![7001]).toBe(got[1]);
  });
});

describe('short strings of small pickles, kept across loads', () => {
  it('come back equal to what was pickled, whatever shares a cache slot', () => {
    // 6000 strings over 512 slots: every slot is shared many times, by strings of equal and other lengths.
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const texts: string[] = [];
    for (let i = 0; i < 6000; i++) {
      const length = next() % 27;
      let text = '';
      for (let k = 0; k < length; k++) text += String.fromCharCode(32 + (next() % (i % 7 === 0 ? 200 : 95)));
      texts.push(text);
    }
    texts.push('key', 'kez', 'yek', 'ab', 'ba', '', 'a'.repeat(24), 'a'.repeat(25));
    for (let round = 0; round < 2; round++) {
      for (const text of texts) {
        const value = new Map<string, unknown>([
          [text, text],
          ['v', [text]],
        ]);
        expect(loads(dumps(value), { dicts: 'map' })).toEqual(value);
        expect(loads(dumps([text]))).toEqual([text]);
      }
    }
    // A large pickle takes the uncached path and gives the same strings.
    expect(loads(dumps(texts))).toEqual(texts);
  });
});

describe('tuples built from the stack', () => {
  it('every tuple opcode gives a frozen PyTuple that behaves as one built by its constructor', () => {
    // EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3, MARK...TUPLE (4 items), then LIST and FROZENSET for comparison.
    const pickle = bytes(
      '\x80\x04(\x29K\x01\x85K\x01K\x02\x86K\x01K\x02K\x03\x87(K\x01K\x02K\x03K\x04t(K\x05l\x8f(K\x06\x91t.',
    );
    const [empty, one, two, three, four, list] = loads(pickle) as unknown[][];
    const tuples = [empty, one, two, three, four];
    tuples.forEach((t, n) => {
      expect(t).toBeInstanceOf(PyTuple);
      expect(t!.constructor).toBe(PyTuple);
      expect(Array.isArray(t)).toBe(true);
      expect(Object.isFrozen(t)).toBe(true);
      expect(t).toHaveLength(n);
      expect(Object.getPrototypeOf(t!.map((x) => x))).toBe(Array.prototype);
      expect(Object.keys(t!)).toEqual(Object.keys(tuple(...t!)));
    });
    expect(four).toEqual(tuple(1, 2, 3, 4));
    expect(list).toEqual([5]);
    expect(Object.getPrototypeOf(list)).toBe(Array.prototype);
    expect(Object.isFrozen(list)).toBe(false);
  });
});

describe('dicts decoded as plain objects', () => {
  it('are indistinguishable from object literals, with any number of keys', () => {
    for (const n of [0, 1, 4, 5, 8, 9, 40]) {
      const expected: Record<string, number> = {};
      for (let i = 0; i < n; i++) expected[`key${i}`] = i;
      const body = Object.keys(expected)
        .map((k) => `\x8c${String.fromCharCode(k.length)}${k}K${String.fromCharCode(expected[k]!)}`)
        .join('');
      const d = loads(bytes(`\x80\x04}(${body}u.`)) as Record<string, number>;
      expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
      expect(d.constructor).toBe(Object);
      expect(d).toStrictEqual(expected);
      expect(Object.keys(d)).toEqual(Object.keys(expected));
      expect(JSON.stringify(d)).toBe(JSON.stringify(expected));
    }
  });
  it("keep '__proto__' as an own key", () => {
    const d = loads(bytes('\x80\x04}(\x8c\x09__proto__K\x01\x8c\x01aK\x02u.')) as Record<string, number>;
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(Object.keys(d)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(d, '__proto__')?.value).toBe(1);
  });
});

describe('BUILD replacing a value made just before', () => {
  const enc = (s: string): number[] => [...new TextEncoder().encode(s)];
  // uuid.UUID NEWOBJ'd, memoized at 5 and then, by a hand-written PUT, at 0 below the memo's end; BUILD
  // makes it a PyUUID, and every memo slot holding the placeholder must now give the PyUUID.
  const pickle = new Uint8Array([
    0x80,
    0x02,
    0x28, // PROTO 2, MARK
    0x4b,
    0x07,
    0x71,
    0x00, // BININT1 7, BINPUT 0
    0x30, // POP
    0x63,
    ...enc('uuid\nUUID\n'),
    0x29,
    0x81, // GLOBAL uuid.UUID, EMPTY_TUPLE, NEWOBJ
    0x71,
    0x05,
    0x71,
    0x00, // BINPUT 5, BINPUT 0
    0x7d,
    0x58,
    0x03,
    0,
    0,
    0,
    ...enc('int'),
    0x4b,
    0x05,
    0x73,
    0x62, // {'int': 5} SETITEM, BUILD
    0x68,
    0x00,
    0x68,
    0x05, // BINGET 0, BINGET 5
    0x74,
    0x2e, // TUPLE, STOP
  ]);

  it('patches memo slots written below the memo length after the value was made', () => {
    const [a, b, c] = loads(pickle) as PyTuple;
    expect(a).toBeInstanceOf(PyUUID);
    expect((a as PyUUID).hex).toBe('00000000000000000000000000000005');
    expect(b).toBe(a);
    expect(c).toBe(a);
  });
});
