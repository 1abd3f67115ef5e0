import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  dumps,
  loads,
  PyFloat,
  PyGlobal,
  PyPickleBuffer,
  Registry,
  Unpickler,
  type UnpicklerOptions,
  UnpicklingError,
  type UnpicklingLimits,
} from '../src/codec/index.js';

const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

// loads keeps an Unpickler per set of plain options: each call must still decode exactly as a new
// Unpickler with the same options would, whatever came before it.
describe('loads with options', () => {
  const pickle = dumps([1.5, 2, { a: 1, b: 'x' }, new Uint8Array([1, 2, 3])]);
  const optionSets: UnpicklerOptions[] = [
    {},
    { floats: 'wrapped' },
    { dicts: 'map' },
    { dicts: 'object', floats: 'wrapped' },
    { zeroCopyBytes: true },
    { bigints: 'always' },
    { floats: 'wrapped', zeroCopyBytes: true, dicts: 'map' },
  ];

  it('decodes as a new Unpickler with the same options, call after call, past the sets it keeps', () => {
    for (let round = 0; round < 3; round++) {
      for (const options of [...optionSets, ...optionSets.slice().reverse()]) {
        const expected = new Unpickler(options).load(pickle).value;
        // A literal each call, as callers write them: equal values, not the same object.
        expect(loads(pickle, { ...options })).toEqual(expected);
      }
    }
  });

  it('tells the option sets apart', () => {
    expect(loads(dumps(1.5), { floats: 'wrapped' })).toBeInstanceOf(PyFloat);
    expect(loads(dumps(1.5), { floats: 'number' })).toBe(1.5);
    expect(loads(dumps({ a: 1 }), { dicts: 'map' })).toBeInstanceOf(Map);
    expect(loads(dumps({ a: 1 }), { dicts: 'object' })).not.toBeInstanceOf(Map);
    const bytes = dumps(new Uint8Array(100_000));
    expect((loads(bytes, { zeroCopyBytes: true }) as Uint8Array).buffer).toBe(bytes.buffer);
    expect((loads(bytes, { zeroCopyBytes: false }) as Uint8Array).buffer).not.toBe(bytes.buffer);
  });

  it('goes on decoding after a pickle it refused', () => {
    const options = { floats: 'wrapped' } as const;
    // An EMPTY_LIST then a truncated BINFLOAT: refused mid-way, with state left behind.
    expect(() => loads(fromHex('80045d9447'), options)).toThrow(UnpicklingError);
    expect(loads(dumps([1.5, 'x']), options)).toEqual([new PyFloat(1.5), 'x']);
  });

  it('reads out-of-band buffers from the start on every call with the same options object', () => {
    const data = new Uint8Array([7, 8, 9]);
    const pickle = dumps(new PyPickleBuffer(data, false), { protocol: 5, bufferCallback: () => false });
    const options = { buffers: [data] };
    for (let call = 0; call < 3; call++) {
      expect(Array.from((loads(pickle, options) as PyPickleBuffer).data)).toEqual([7, 8, 9]);
    }
  });

  it('reads limits by value: a limits object changed between calls is honoured', () => {
    const deep = dumps([[[[[[1]]]]]]);
    const limits = { maxDepth: 3 };
    expect(() => loads(deep, { limits })).toThrow(UnpicklingError);
    limits.maxDepth = 100;
    expect(loads(deep, { limits })).toEqual([[[[[[1]]]]]]);
    expect(() => loads(deep, { limits: { maxDepth: 3 } })).toThrow(UnpicklingError);
    expect(loads(deep, { limits: { maxDepth: 100 } })).toEqual([[[[[[1]]]]]]);
  });

  it('reads an allowGlobals array by its names, a registry by identity', () => {
    const global = fromHex('800263706f7369780a73797374656d0a71002e'); // os.system, as CPython pickles it
    const allowed: string[] = [];
    expect(() => loads(global, { allowGlobals: allowed })).toThrow(UnpicklingError);
    allowed.push('posix.system');
    expect(loads(global, { allowGlobals: allowed })).toBeInstanceOf(PyGlobal);
    expect(() => loads(global, { allowGlobals: ['os.getcwd'] })).toThrow(UnpicklingError);
    const withClass = fromHex('80025d710063520a430a710129817102612e'); // [R.C()], as CPython pickles it
    const first = new Registry().register({ module: 'R', name: 'C', decoder: { construct: () => 'first' } });
    const second = new Registry().register({
      module: 'R',
      name: 'C',
      decoder: { construct: () => 'second' },
    });
    for (let round = 0; round < 2; round++) {
      expect(loads(withClass, { registry: first })).toEqual(['first']);
      expect(loads(withClass, { registry: second })).toEqual(['second']);
    }
  });

  it('calls the given hooks on every call, not those of an earlier call', () => {
    // pickle.Pickler with persistent_id returning each str: [pid 'a', pid 'b'], protocol 2.
    const pickle = fromHex('80025d710028580100000061710151580100000062710251652e');
    const seen: unknown[] = [];
    const first = loads(pickle, {
      persistentLoad: (pid) => {
        seen.push(pid);
        return `first:${pid}`;
      },
    });
    const second = loads(pickle, { persistentLoad: (pid) => `second:${pid}` });
    expect(first).toEqual(['first:a', 'first:b']);
    expect(second).toEqual(['second:a', 'second:b']);
    expect(seen).toEqual(['a', 'b']);
    const global = fromHex('800263706f7369780a73797374656d0a71002e'); // os.system, as CPython pickles it
    expect(loads(global)).toBeInstanceOf(PyGlobal);
    expect(() => loads(global, { allowGlobals: [] })).toThrow(UnpicklingError);
    expect(loads(global)).toBeInstanceOf(PyGlobal);
  });

  it("takes null options as none, as Python's None", () => {
    expect(loads(dumps([1]), null)).toEqual([1]);
    expect(new Unpickler(null).load(dumps([2])).value).toEqual([2]);
    expect(loads(dumps([3], null))).toEqual([3]);
  });

  describe('bad options', () => {
    const bad: [string, unknown][] = [
      ['dicts', { dicts: 'maps' }],
      ['floats', { floats: true }],
      ['bigints', { bigints: 'never' }],
      ['encoding', { encoding: 5 }],
      ['errors', { errors: null }],
      ['zeroCopyBytes', { zeroCopyBytes: 'yes' }],
      ['allowGlobals', { allowGlobals: 5 }],
      ['registry', { registry: {} }],
      ['persistentLoad', { persistentLoad: 'f' }],
      ['limits', { limits: 5 }],
      ['limit name', { limits: { maxdepth: 10 } }],
      ['NaN limit', { limits: { maxDepth: Number.NaN } }],
      ['negative limit', { limits: { maxDepth: -1 } }],
      ['fractional limit', { limits: { maxStringBytes: 2.5 } }],
      ['string limit', { limits: { maxDepth: '3' } }],
      ['allowGlobals string', { allowGlobals: 'datetime.*' }],
      ['allowGlobals item', { allowGlobals: ['datetime.*', 5] }],
      ['limits null', { limits: null }],
      ['limits array', { limits: [] }],
      ['buffers string', { buffers: 'abc' }],
      ['option name', { zeroCopy: true }],
      ['options', 5],
      ['options array', []],
      ['inherited option name', Object.create({ maxDepth: 1 })],
      ['extension value', { extensions: new Map([[1, 5]]) }],
      ['extension code', { extensions: new Map([[0, ['m', 'n']]]) }],
      [
        'throwing getter',
        Object.defineProperty({}, 'dicts', {
          get: () => {
            throw new Error('getter');
          },
          enumerable: true,
        }),
      ],
      [
        'throwing Proxy',
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error('trap');
            },
          },
        ),
      ],
      [
        'throwing buffers iterator',
        {
          buffers: {
            [Symbol.iterator]: () => {
              throw new TypeError('no');
            },
          },
        },
      ],
    ];
    it.each(bad)('refuses a bad %s with BAD_OPTION, from loads and from new Unpickler', (_, options) => {
      const codeOf = (run: () => unknown): string | undefined => {
        try {
          run();
        } catch (e) {
          return e instanceof UnpicklingError ? e.code : String(e);
        }
        return undefined;
      };
      const opts = options as UnpicklerOptions;
      expect(codeOf(() => new Unpickler(opts))).toBe('BAD_OPTION');
      expect(codeOf(() => loads(dumps(1), opts))).toBe('BAD_OPTION');
      // Also after a call with the same good values was kept, and one with no limits.
      expect(codeOf(() => loads(dumps(1), { limits: {} }))).toBeUndefined();
      expect(codeOf(() => loads(dumps(1), opts))).toBe('BAD_OPTION');
      expect(codeOf(() => loads(dumps(1), { limits: { maxDepth: 10 } }))).toBeUndefined();
      expect(codeOf(() => loads(dumps(1), { limits: { maxDepth: 10, maxdepth: 1 } as never }))).toBe(
        'BAD_OPTION',
      );
    });

    it('keeps the default for a limit given as undefined, and takes Infinity', () => {
      // 30 001 bytes of LONG4: about 72 000 decimal digits, over the default 68 800.
      const pickle = dumps(2n ** 240_000n);
      const codeOf = (options?: UnpicklerOptions): string | undefined => {
        try {
          loads(pickle, options);
        } catch (e) {
          return e instanceof UnpicklingError ? e.code : String(e);
        }
        return undefined;
      };
      expect(codeOf()).toBe('LIMIT_EXCEEDED');
      expect(codeOf({ limits: { maxBigIntDigits: undefined } })).toBe('LIMIT_EXCEEDED');
      expect(codeOf({ limits: { maxBigIntDigits: Number.POSITIVE_INFINITY } })).toBeUndefined();
    });

    it('takes a limit the limits object inherits, as it takes an option', () => {
      const limits = Object.create({ maxDepth: 1 }) as UnpicklingLimits;
      expect(() => loads(dumps([1, 2]), { limits })).toThrow(/maxDepth \(1\)/);
      expect(() => new Unpickler({ limits }).load(dumps([1, 2]))).toThrow(/maxDepth \(1\)/);
    });
  });
});

describe('loads input', () => {
  const value = { a: [1, 2.5, 'x'], b: null };
  const pickle = dumps(value);

  it('takes any bytes-like input, as Python takes bytes, bytearray or a memoryview', () => {
    const padded = new Uint8Array(pickle.length + 8);
    padded.set(pickle, 5);
    const inputs: (ArrayBufferView | ArrayBuffer)[] = [
      pickle,
      pickle.slice().buffer,
      new DataView(padded.buffer, 5, pickle.length),
      new Int8Array(padded.buffer, 5, pickle.length),
      Buffer.from(padded.buffer, 5, pickle.length),
    ];
    for (const input of inputs) {
      expect(loads(input)).toEqual(value);
      expect(new Unpickler().load(input).value).toEqual(value);
    }
    // A wider element type is read as its bytes, not element by element.
    const aligned = new Uint8Array(pickle.length + (pickle.length & 1));
    aligned.set(pickle);
    expect(loads(new Uint16Array(aligned.buffer))).toEqual(value);
  });

  it('refuses what is not bytes with an UnpicklingError that says what it got', () => {
    for (const [input, kind] of [
      ['abc', 'string'],
      [null, 'null'],
      [[0x80, 0x04, 0x4e, 0x2e], 'Array'],
      [{}, 'Object'],
    ] as const) {
      expect(() => loads(input as unknown as Uint8Array)).toThrow(
        expect.objectContaining({
          name: 'UnpicklingError',
          code: 'BAD_ARGUMENT',
          message: expect.stringContaining(`not ${kind}`),
        }),
      );
    }
  });
});

describe('protocol 5 buffers', () => {
  it('takes any bytes-like object as an out-of-band buffer, as CPython takes any buffer', () => {
    const nextBuffer = fromHex('8005972e'); // NEXT_BUFFER STOP
    const foreign = runInNewContext('new Uint8Array([1, 2, 3])') as Uint8Array;
    for (const [buffer, bytes] of [
      [foreign, [1, 2, 3]],
      [Uint16Array.of(0x0201), [1, 2]],
      [new DataView(Uint8Array.of(7, 8, 9).buffer, 1), [8, 9]],
      [Uint8Array.of(4).buffer, [4]],
    ] as const) {
      const value = loads(nextBuffer, { buffers: [buffer] }) as PyPickleBuffer;
      expect(value).toBeInstanceOf(PyPickleBuffer);
      expect([...value.data]).toEqual(bytes);
      expect(value.readonly).toBe(false);
    }
    expect(() => loads(nextBuffer, { buffers: ['ab' as unknown as Uint8Array] })).toThrow(
      /out-of-band buffers must be bytes-like .* not string/,
    );
  });

  it("READONLY_BUFFER makes CPython's read-only memoryview: bytes stay bytes, a bytearray is viewed, an int is refused", () => {
    // BYTEARRAY8 b'a' READONLY_BUFFER STOP
    const view = loads(fromHex('800596010000000000000061982e')) as PyPickleBuffer;
    expect(view).toBeInstanceOf(PyPickleBuffer);
    expect(view.readonly).toBe(true);
    expect([...view.data]).toEqual([0x61]);
    // SHORT_BINBYTES b'a' READONLY_BUFFER STOP
    expect(loads(fromHex('8005430161982e'))).toEqual(Uint8Array.of(0x61));
    // BININT1 1 READONLY_BUFFER STOP
    expect(() => loads(fromHex('80054b01982e'))).toThrow(
      /memoryview: a bytes-like object is required, not 'int'/,
    );
    // EMPTY_LIST READONLY_BUFFER STOP
    expect(() => loads(fromHex('80055d982e'))).toThrow(/not 'list'/);
  });

  it('PyPickleBuffer takes what PickleBuffer takes, and refuses the rest', () => {
    expect([...new PyPickleBuffer(Int32Array.of(0x01020304), true).data]).toEqual([4, 3, 2, 1]);
    const bytes = Uint8Array.of(1);
    expect(new PyPickleBuffer(bytes, false).data).toBe(bytes);
    expect(() => new PyPickleBuffer([1, 2] as unknown as Uint8Array, true)).toThrow(
      new TypeError(
        'PickleBuffer data must be bytes-like (a typed array, DataView or ArrayBuffer), not Array',
      ),
    );
    expect(() => new PyPickleBuffer(bytes, 1 as unknown as boolean)).toThrow(/readonly must be a boolean/);
  });
});
