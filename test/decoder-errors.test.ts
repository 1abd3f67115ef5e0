import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_UNPICKLING_LIMITS,
  dumps,
  loads,
  type PyTuple,
  Registry,
  Unpickler,
  type UnpicklerOptions,
  UnpicklingError,
  type UnpicklingErrorCode,
} from '../src/codec/index.js';

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

function refusal(data: Uint8Array, options?: UnpicklerOptions): UnpicklingError {
  try {
    loads(data, options);
  } catch (e) {
    if (e instanceof UnpicklingError) return e;
    throw new Error(`escaped a non-UnpicklingError: ${String(e)}`);
  }
  throw new Error(`accepted ${JSON.stringify(Buffer.from(data).toString('latin1'))}`);
}

function expectRefused(
  pickle: string,
  code?: UnpicklingErrorCode,
  options?: UnpicklerOptions,
): UnpicklingError {
  const e = refusal(bytes(pickle), options);
  if (code) expect(e.code, JSON.stringify(pickle)).toBe(code);
  return e;
}

describe('pickles CPython 3.13 test/pickletester.py refuses', () => {
  it('test_bad_stack', () => {
    const bad = [
      '.',
      '0',
      '1',
      '2',
      '(2',
      'R',
      ')R',
      'a',
      'Na',
      'b',
      'Nb',
      'd',
      'e',
      '(e',
      'ibuiltins\nlist\n',
      'l',
      'o',
      '(o',
      'p1\n',
      'q\x00',
      'r\x00\x00\x00\x00',
      's',
      'Ns',
      'NNs',
      't',
      'u',
      '(u',
      '}(Nu',
      '\x81',
      ')\x81',
      '\x85',
      '\x86',
      'N\x86',
      '\x87',
      'N\x87',
      'NN\x87',
      '\x90',
      '(\x90',
      '\x91',
      '\x92',
      ')}\x92',
      '\x93',
      'Vlist\n\x93',
      '\x94',
    ];
    for (const p of bad) expectRefused(p);
    expect(expectRefused('0', 'BAD_STACK').message).toContain('unpickling stack underflow');
    expect(expectRefused('d', 'BAD_STACK').message).toContain('could not find MARK');
  });

  it('test_bad_mark', () => {
    const bad = [
      'N(.',
      'N(2',
      'cbuiltins\nlist\n)(R',
      'cbuiltins\nlist\n()R',
      ']N(a',
      'cbuiltins\nValueError\n)R}(b',
      'cbuiltins\nValueError\n)R(}b',
      '(Nd',
      'N(p1\n',
      'N(q\x00',
      'N(r\x00\x00\x00\x00',
      '}NN(s',
      '}N(Ns',
      '}(NNs',
      '}((u',
      'cbuiltins\nlist\n)(\x81',
      'cbuiltins\nlist\n()\x81',
      'N(\x85',
      'NN(\x86',
      'N(N\x86',
      'NNN(\x87',
      'NN(N\x87',
      'N(NN\x87',
      ']((\x90',
      'cbuiltins\nlist\n)}(\x92',
      'cbuiltins\nlist\n)(}\x92',
      'cbuiltins\nlist\n()}\x92',
      'Vbuiltins\n(Vlist\n\x93',
      'Vbuiltins\nVlist\n(\x93',
      'N(\x94',
    ];
    for (const p of bad) expectRefused(p, 'BAD_STACK');
    expect(expectRefused('N(.').message).toContain('unexpected MARK found');
  });

  it('test_badly_quoted_string and test_badly_escaped_string', () => {
    for (const p of [
      "S'\n.",
      'S"\n.',
      "S' \n.",
      'S" \n.',
      `S'"\n.`,
      `S"'\n.`,
      "S' ' \n.",
      'S" " \n.',
      "S ''\n.",
      'S ""\n.',
      'S \n.',
      'S\n.',
      'S.',
    ]) {
      expectRefused(p);
    }
    expectRefused("S'\\'\n.", 'BAD_ARGUMENT');
  });

  it('memo: test_misc_get, test_negative_put; and GET/BINGET/LONG_BINGET/DUP identity', () => {
    expectRefused('g0\np0', 'MEMO_MISSING');
    expectRefused('jens:', 'MEMO_MISSING');
    expectRefused('hens:', 'MEMO_MISSING');
    expectRefused('Va\np-1\n.', 'BAD_ARGUMENT');
    const v = loads(bytes('((Kdtp0\nh\x00l.')) as unknown[];
    expect(v).toHaveLength(2);
    expect(v[0]).toBe(v[1]);
    for (const p of [
      '((lp100000\ng100000\nt.',
      '(]q\xffh\xfft.',
      '(]r\x00\x00\x01\x00j\x00\x00\x01\x00t.',
      '((l2t.',
    ]) {
      const t = loads(bytes(p)) as PyTuple;
      expect(t).toEqual([[], []]);
      expect(t[0]).toBe(t[1]);
    }
  });

  it('test_bad_ext_code', () => {
    for (const p of [
      '\x82\x01.',
      '\x82\xff.',
      '\x83\x01\x00.',
      '\x83\xff\xff.',
      '\x84\x01\x00\x00\x00.',
      '\x84\xff\xff\xff\x7f.',
    ]) {
      expectRefused(p, 'NOT_SUPPORTED');
    }
    for (const p of [
      '\x82\x00.',
      '\x83\x00\x00.',
      '\x84\x00\x00\x00\x00.',
      '\x84\x00\x00\x00\x80.',
      '\x84\xff\xff\xff\xff.',
    ]) {
      expectRefused(p, 'BAD_ARGUMENT');
    }
  });

  it('test_bad_reduce, test_bad_newobj, test_bad_newobj_ex', () => {
    expect(loads(bytes('cbuiltins\nint\n)R.'))).toBe(0);
    expectRefused('N)R.', 'BAD_STACK');
    expectRefused('cbuiltins\nint\nNR.', 'BAD_STACK');
    expect(loads(bytes('cbuiltins\nint\n)\x81.'))).toBe(0);
    expectRefused('cbuiltins\nlen\n)\x81.', 'BAD_STACK');
    expectRefused('cbuiltins\nint\nN\x81.', 'BAD_STACK');
    expect(loads(bytes('cbuiltins\nint\n)}\x92.'))).toBe(0);
    expectRefused('cbuiltins\nlen\n)}\x92.', 'BAD_STACK');
    expectRefused('cbuiltins\nint\nN}\x92.', 'BAD_STACK');
    expectRefused('cbuiltins\nint\n)N\x92.', 'BAD_STACK');
  });

  it('test_load_global / test_load_stack_global refusals', () => {
    expectRefused('c\xff\nlog\n.', 'BAD_ARGUMENT');
    expectRefused('cmath\n\xff\n.', 'BAD_ARGUMENT');
    expectRefused('c\nlog\n.', 'TRUNCATED');
    expectRefused('cmath\n\n.', 'TRUNCATED');
    expectRefused('\x80\x04cmath\n\n.', 'TRUNCATED');
    expectRefused('\x8c\x01\xff\x8c\x03log\x93.', 'BAD_ARGUMENT');
    expectRefused('\x8c\x00\x8c\x03log\x93.', 'BAD_VALUE');
    expectRefused('\x8c\x04math\x8c\x00\x93.', 'BAD_VALUE');
    expectRefused('N\x8c\x03log\x93.', 'BAD_STACK');
    expectRefused('\x8c\x04mathN\x93.', 'BAD_STACK');
    expect(loads(bytes('\x80\x04\x8c\x08builtins\x8c\x09str.upper\x93.'))).toMatchObject({
      name: 'str.upper',
    });
    expectRefused('cbuiltins\nstr.upper\n.', 'BAD_VALUE');
  });

  it('test_truncated_data: every proper prefix of real pickles is refused as truncated', () => {
    const script =
      "import pickle,sys,json,datetime\nv=[1,-300,70000,2**40,2**700,1.5,'ab\\u20ac'*3,b'xy',bytearray(b'z'),(1,),{'k':{1,2}},frozenset([3]),None,True,datetime.date(2020,1,1)]\nsys.stdout.write(json.dumps([pickle.dumps(v,p).hex() for p in range(6)]))";
    const rows = (JSON.parse(execFileSync('python3', ['-c', script]).toString()) as string[]).map((h) =>
      Uint8Array.from(Buffer.from(h, 'hex')),
    );
    for (const full of rows) {
      for (let n = 0; n < full.length; n++) {
        const e = refusal(full.subarray(0, n));
        expect(['TRUNCATED', 'BAD_ARGUMENT', 'BAD_STACK']).toContain(e.code);
        // Protocols 4 and 5 frame their opcodes: a cut inside the frame is truncated data, not a bad frame.
        if (full[1]! >= 4 && n > 2) expect(e.code).toBe('TRUNCATED');
      }
    }
    expectRefused('', 'TRUNCATED');
    expectRefused('N', 'TRUNCATED');
  });

  it('unsupported protocol and unknown opcode', () => {
    expect(expectRefused('\x80\x06N.', 'UNSUPPORTED_PROTOCOL').message).toContain(
      'unsupported pickle protocol: 6',
    );
    const e = expectRefused('NN\xff.', 'UNKNOWN_OPCODE');
    expect(e.offset).toBe(2);
  });

  it('buffers: NEXT_BUFFER without or with too few buffers', () => {
    expectRefused('\x80\x05\x97.', 'NOT_SUPPORTED');
    expectRefused('\x80\x05\x97\x97\x86.', 'NOT_SUPPORTED', { buffers: [new Uint8Array(1)] });
  });
});

describe('hostile lengths and limits', () => {
  it('a BINUNICODE8 claiming 2^60 bytes in a 20-byte input is TRUNCATED at once', () => {
    const e = expectRefused('\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x10abcdefgh.', 'TRUNCATED');
    expect(e.offset).toBe(2);
    for (const op of ['\x8e', '\x96'])
      expectRefused(`\x80\x05${op}\xff\xff\xff\xff\xff\xff\xff\xffab.`, 'TRUNCATED');
    expectRefused('X\xff\xff\xff\xffab.', 'TRUNCATED');
    expectRefused('\x8b\xff\xff\xff\x7fab.', 'TRUNCATED');
    expectRefused('T\xff\xff\xff\xffab.', 'BAD_ARGUMENT');
  });

  it('FRAME longer than the data is truncated data', () => {
    expectRefused('\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00N.', 'TRUNCATED');
    expectRefused('\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x01N.', 'TRUNCATED');
    expect(refusal(bytes('\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN.')).message).toBe(
      'FRAME: pickle data was truncated: a frame of 18446744073709551615 bytes is longer than the 2 bytes left (at byte 2)',
    );
  });

  it('tells no data from data that stops short of STOP, and both from a cut argument', () => {
    expect(expectRefused('', 'TRUNCATED').message).toBe(
      'no pickle here: the data ends where it starts (CPython: "Ran out of input") (at byte 0)',
    );
    expect(expectRefused('K\x01', 'TRUNCATED').message).toBe(
      'pickle data was truncated: it ends before STOP (at byte 2)',
    );
    expect(expectRefused('\x80\x04K', 'TRUNCATED').message).toBe(
      'pickle data was truncated in BININT1 (at byte 2)',
    );
    // A stream of pickles read with Unpickler.load: past the last one there is no pickle, not a cut one.
    const stream = new Unpickler();
    const one = dumps(1);
    expect(() => stream.load(one, one.length)).toThrow(/no pickle here/);
  });

  it('each limit refuses with LIMIT_EXCEEDED', () => {
    expect(DEFAULT_UNPICKLING_LIMITS.maxDepth).toBeGreaterThan(0);
    expectRefused('\x80\x04N.', 'LIMIT_EXCEEDED', { limits: { maxInputBytes: 2 } });
    expect(loads(bytes('\x80\x04N.garbage'), { limits: { maxInputBytes: 4 } })).toBeNull();
    expectRefused('((((t.', 'LIMIT_EXCEEDED', { limits: { maxDepth: 3 } });
    expectRefused(']]]]]', 'LIMIT_EXCEEDED', { limits: { maxDepth: 3 } });
    expectRefused('N\x94\x94\x94.', 'LIMIT_EXCEEDED', { limits: { maxMemoEntries: 2 } });
    expectRefused('Nr\x00\x00\x00\x01.', 'LIMIT_EXCEEDED', { limits: { maxMemoEntries: 1000 } });
    expectRefused('X\x05\x00\x00\x00abcde.', 'LIMIT_EXCEEDED', { limits: { maxStringBytes: 4 } });
    expectRefused('B\x05\x00\x00\x00abcde.', 'LIMIT_EXCEEDED', { limits: { maxStringBytes: 4 } });
    expectRefused(`L${'9'.repeat(50)}L\n.`, 'LIMIT_EXCEEDED', { limits: { maxBigIntDigits: 40 } });
    expectRefused(`\x8b\x40\x00\x00\x00${'\x01'.repeat(64)}.`, 'LIMIT_EXCEEDED', {
      limits: { maxBigIntDigits: 100 },
    });
    // The one-byte-length forms count too, and a limit is the largest size allowed.
    for (const op of ['\x8c', 'C', 'U']) {
      expectRefused(`${op}\x05abcde.`, 'LIMIT_EXCEEDED', { limits: { maxStringBytes: 4 } });
      expect(() =>
        loads(bytes(`${op}\x04abcd.`), { limits: { maxStringBytes: 4, maxInputBytes: 100 } }),
      ).not.toThrow();
    }
    // Digits are counted, not signs or the L: 30 digits pass a limit of 30.
    expect(loads(bytes(`L-${'9'.repeat(30)}L\n.`), { limits: { maxBigIntDigits: 30 } })).toBe(
      -(10n ** 30n - 1n),
    );
    expectRefused(`I-${'9'.repeat(31)}\n.`, 'LIMIT_EXCEEDED', { limits: { maxBigIntDigits: 30 } });
    // LONG1: 10**20 (21 digits, 9 bytes) passes a limit of 21, 10**21 does not.
    const long1 = (n: bigint): string => {
      const out: number[] = [];
      for (let v = n; v > 0n; v >>= 8n) out.push(Number(v & 0xffn));
      if (out[out.length - 1]! >= 0x80) out.push(0);
      return `\x80\x02\x8a${String.fromCharCode(out.length, ...out)}.`;
    };
    expect(loads(bytes(long1(10n ** 20n)), { limits: { maxBigIntDigits: 21 } })).toBe(10n ** 20n);
    expectRefused(long1(10n ** 21n), 'LIMIT_EXCEEDED', { limits: { maxBigIntDigits: 21 } });
    expectRefused('(NNNNl.', 'LIMIT_EXCEEDED', { limits: { maxContainerItems: 3 } });
    expectRefused(']NaNaNaNa.', 'LIMIT_EXCEEDED', { limits: { maxContainerItems: 3 } });
    expectRefused('}(NNK\x01NK\x02NK\x03Nu.', 'LIMIT_EXCEEDED', { limits: { maxContainerItems: 3 } });
  });

  it('refuses reconstructors copying one list from the memo over and over (maxCopiedItemsPerByte)', () => {
    // A 20000-item list (memo 0) handed to `name` 300 times, a few bytes each: 6e6 items from 46 KB.
    const amplified = (module: string, name: string, uses: number): Uint8Array => {
      const text = (s: string) => [0x8c, s.length, ...Buffer.from(s)];
      const parts = [0x80, 4, 0x28];
      for (let i = 0; i < 20000; i++) parts.push(0x4b, i & 0xff);
      parts.push(0x6c, 0x94, 0x30, ...text(module), ...text(name), 0x93, 0x94, 0x30, 0x5d, 0x94, 0x28);
      for (let i = 0; i < uses; i++) parts.push(0x68, 1, 0x68, 0, 0x85, 0x52);
      parts.push(0x65, 0x2e);
      return Uint8Array.from(parts);
    };
    for (const [module, name] of [
      ['builtins', 'set'],
      ['builtins', 'tuple'],
      ['builtins', 'bytes'],
      ['collections', 'deque'],
    ]) {
      const e = refusal(amplified(module!, name!, 300));
      expect(e.code).toBe('LIMIT_EXCEEDED');
      expect(e.message).toMatch(/maxCopiedItemsPerByte \(4\)/);
      // Within the allowance (1M items whatever the length), and past it with the limit raised.
      expect((loads(amplified(module!, name!, 40)) as unknown[]).length).toBe(40);
      const raised = loads(amplified(module!, name!, 300), { limits: { maxCopiedItemsPerByte: Infinity } });
      expect((raised as unknown[]).length).toBe(300);
    }
    expect(DEFAULT_UNPICKLING_LIMITS.maxCopiedItemsPerByte).toBe(4);
  });

  it('lets reconstructors copy what a pickle CPython wrote holds, however large', () => {
    // Protocol 2 writes a set as set([...]) and bytes as _codecs.encode(str, 'latin1'): one copy of each.
    const items = Array.from({ length: 300_000 }, (_, i) => i);
    const script =
      'import pickle,sys,collections\n' +
      'v=[set(range(300000)), bytes(range(256))*2000, collections.deque(range(300000)), frozenset(range(300000))]\n' +
      'sys.stdout.write(pickle.dumps(v, 2).hex())';
    const hex = execFileSync('python3', ['-c', script], { maxBuffer: 64 << 20 }).toString();
    const data = Uint8Array.from(Buffer.from(hex, 'hex'));
    const [set, payload, deque, frozen] = loads(data) as [Set<number>, Uint8Array, unknown[], Set<number>];
    expect([...set]).toEqual(items);
    expect(payload.length).toBe(512_000);
    expect([...deque]).toEqual(items);
    expect(frozen.size).toBe(300_000);
  });

  it('random mutations of real pickles only ever raise UnpicklingError', () => {
    const hex = execFileSync('python3', [
      '-c',
      "import pickle,sys,datetime,collections\nsys.stdout.write(pickle.dumps([{'a':(1,2.5,'x'*70)},{1:b'z'},datetime.datetime(2020,1,1),collections.OrderedDict(a=[1]),{3,4},2**100],4).hex())",
    ]).toString();
    const base = Uint8Array.from(Buffer.from(hex, 'hex'));
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 3000; i++) {
      const d = base.slice();
      for (let k = 0; k <= rand(3); k++) d[rand(d.length)] = rand(256);
      try {
        loads(d);
      } catch (e) {
        expect(e).toBeInstanceOf(UnpicklingError);
      }
    }
  });
});

describe('registry and user decoders', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
  }

  it('a registered global is built by its decoder, BUILD goes to setState', () => {
    const registry = new Registry().register<Point>({
      module: 'geo',
      name: 'Point',
      decoder: {
        construct: (args) => new Point(Number(args[0] ?? 0), Number(args[1] ?? 0)),
        setState: (p, state) => {
          p.y = (state as { y: number }).y;
          return undefined;
        },
      },
    });
    const p = loads(bytes('\x80\x02cgeo\nPoint\nK\x01K\x02\x86R}X\x01\x00\x00\x00yK\x09sb.'), { registry });
    expect(p).toStrictEqual(new Point(1, 9));
    const other = loads(bytes('\x80\x02cgeo\nOther\n)R.'), { registry });
    expect(other).toMatchObject({ kind: 'reduce', module: 'geo', name: 'Other' });
  });

  it('a decoder that throws becomes BAD_VALUE with the cause', () => {
    const boom = new RangeError('boom');
    const registry = new Registry().register({
      module: 'm',
      name: 'n',
      decoder: {
        construct: () => {
          throw boom;
        },
      },
    });
    const e = refusal(bytes('cm\nn\n)R.'), { registry });
    expect(e.code).toBe('BAD_VALUE');
    expect(e.cause).toBe(boom);
    expect(e.offset).toBe(6);
  });

  it('stdlib reconstructors reject bad arguments with BAD_VALUE', () => {
    expectRefused('\x80\x02cdatetime\ndate\nC\x04\x07\xe4\x02\x1e\x85R.', 'BAD_VALUE');
    expectRefused('\x80\x02cdatetime\ntimedelta\nJ\x00\xca\x9a\x3b\x85R.', 'BAD_VALUE');
  });
});

describe('limits on what a load holds in memory', () => {
  const repeat = (op: string, n: number): Uint8Array =>
    Uint8Array.from([...Buffer.from(op.repeat(n), 'latin1'), 0x2e]);

  it('maxDepth counts every value on the stack, not only containers', () => {
    expect(() => loads(repeat('N', 101), { limits: { maxDepth: 100 } })).toThrow(
      /NONE: more than maxDepth \(100\) values on the unpickling stack/,
    );
    expect(() => loads(repeat('K\x01', 101), { limits: { maxDepth: 100 } })).toThrow(UnpicklingError);
    const tuple100 = Uint8Array.from(Buffer.from(`(${'N'.repeat(100)}t.`, 'latin1'));
    expect(loads(tuple100, { limits: { maxDepth: 101 } })).toHaveLength(100);
  });

  it('maxObjects counts the containers and objects made, wherever they go', () => {
    const limits = { maxObjects: 10 };
    // Ten empty dicts appended to a list: eleven containers.
    const dictsInList = Uint8Array.from([...Buffer.from(`]${'}a'.repeat(10)}`, 'latin1'), 0x2e]);
    expect(() => loads(dictsInList, { limits })).toThrow(
      /more than maxObjects \(10\) containers and objects/,
    );
    expect(loads(dictsInList, { limits: { maxObjects: 11 } })).toHaveLength(10);
    for (const op of ['}', ']', ')', '\x8f']) {
      const error = (() => {
        try {
          loads(Uint8Array.from([0x80, 4, ...repeat(op, 11)]), { limits });
        } catch (e) {
          return e as UnpicklingError;
        }
        return undefined;
      })();
      expect(error?.code, JSON.stringify(op)).toBe('LIMIT_EXCEEDED');
    }
    expect(DEFAULT_UNPICKLING_LIMITS.maxObjects).toBe(10_000_000);
  });
});
