/** Unit tests of `genops` and `dis` on hand-built pickles; the CPython comparison is dis-reference.test.ts. */
import { describe, expect, it } from 'vitest';
import { DisassemblyError, type DisassemblyMemo, dis, genops } from '../src/codec/dis.js';
import { UnpicklingError } from '../src/codec/errors.js';
import { PyByteArray } from '../src/codec/values.js';

const bytes = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(
    parts.flatMap((part) => (typeof part === 'string' ? Array.from(part, (c) => c.charCodeAt(0)) : part)),
  );

const u64 = (n: number): number[] =>
  Array.from({ length: 8 }, (_, i) => (i < 4 ? (n >>> (8 * i)) & 0xff : 0));

function float8(value: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, false);
  return Array.from(new Uint8Array(view.buffer));
}

function thrownBy(action: () => unknown): DisassemblyError {
  try {
    action();
  } catch (error) {
    if (error instanceof DisassemblyError) return error;
    throw error;
  }
  throw new Error('expected a DisassemblyError');
}

describe('genops', () => {
  it('yields each opcode with its decoded argument and its byte range, through STOP only', () => {
    const data = bytes(
      [0x80, 4, 0x95],
      u64(9),
      [0x8c, 1],
      'a',
      [0x94],
      'K',
      [200],
      'J',
      [0xff, 0xff, 0xff, 0xff],
      '..junk',
    );
    const ops = [...genops(data)].map(({ info, arg, pos, end }) => ({ name: info.name, arg, pos, end }));
    expect(ops).toEqual([
      { name: 'PROTO', arg: 4, pos: 0, end: 2 },
      { name: 'FRAME', arg: 9, pos: 2, end: 11 },
      { name: 'SHORT_BINUNICODE', arg: 'a', pos: 11, end: 14 },
      { name: 'MEMOIZE', arg: null, pos: 14, end: 15 },
      { name: 'BININT1', arg: 200, pos: 15, end: 17 },
      { name: 'BININT', arg: -1, pos: 17, end: 22 },
      { name: 'STOP', arg: null, pos: 22, end: 23 },
    ]);
  });

  it('decodes arguments to the JavaScript value types of the codec', () => {
    const data = bytes(
      '(I01\nI00\nL123456789012345678901L\n',
      [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0x80],
      "cos\npath\nS'a\\x41'\nF0.5\nG",
      float8(-2.5),
      [0x96],
      u64(2),
      [1, 2, 0x43, 1, 0xff, 0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
      't.',
    );
    const args = [...genops(data)].map((op) => op.arg);
    expect(args).toEqual([
      null,
      true,
      false,
      123456789012345678901n,
      -(2n ** 71n),
      'os path',
      'aA',
      0.5,
      -2.5,
      PyByteArray.fromBytes([1, 2]),
      Uint8Array.of(0xff),
      2n ** 63n - 1n,
      null,
      null,
    ]);
    expect(args[9]).toBeInstanceOf(PyByteArray);
  });

  it('throws a DisassemblyError at the opcode whose argument runs past the data, after the opcodes before it', () => {
    const seen: string[] = [];
    const error = thrownBy(() => {
      for (const op of genops(bytes('N', [0x58, 5, 0, 0, 0], 'ab'))) seen.push(op.info.name);
    });
    expect(seen).toEqual(['NONE']);
    expect(error).toBeInstanceOf(UnpicklingError);
    expect(error).toMatchObject({
      code: 'TRUNCATED',
      offset: 1,
      reason: 'expected 5 bytes in a unicodestring4, but only 2 remain',
      message: 'expected 5 bytes in a unicodestring4, but only 2 remain (at byte 1)',
    });
  });

  it('reports an unknown opcode and data that ends before STOP with their offsets', () => {
    expect(thrownBy(() => [...genops(bytes('N', [0xff]))])).toMatchObject({
      code: 'UNKNOWN_OPCODE',
      offset: 1,
      reason: "at position 1, opcode b'\\xff' unknown",
    });
    expect(thrownBy(() => [...genops(bytes('NN'))])).toMatchObject({
      code: 'TRUNCATED',
      offset: 2,
      reason: 'pickle exhausted before seeing STOP',
    });
  });
});

describe('dis', () => {
  it('takes any bytes-like input as loads does, and refuses misspelt or mistyped options', () => {
    const pickle = bytes('(I1\nl.');
    const listing = dis(pickle);
    const copy = new ArrayBuffer(pickle.length);
    new Uint8Array(copy).set(pickle);
    expect(dis(copy)).toBe(listing);
    expect(dis(new DataView(copy))).toBe(listing);
    expect(dis(pickle, null)).toBe(listing);
    expect([...genops(copy)].map((op) => op.info.name)).toEqual(['MARK', 'INT', 'LIST', 'STOP']);
    expect(() => dis([40, 108, 46] as unknown as Uint8Array)).toThrow(/pickle data must be bytes/);
    for (const options of [{ indentlevel: 2 }, { indentLevel: '2' }, { annotate: 'yes' }, { memo: {} }]) {
      expect(() => dis(pickle, options as never)).toThrow(
        expect.objectContaining({ code: 'BAD_OPTION' }) as unknown as Error,
      );
    }
    // pickletools' ' ' * indentlevel: a negative level indents nothing.
    expect(dis(pickle, { indentLevel: -1 })).toBe(dis(pickle, { indentLevel: 0 }));
    expect(() => dis(pickle, { indentLevel: 1e9 })).toThrow(/indentLevel must be an integer up to 10000/);
  });

  it('prints offsets, opcode bytes, MARK indentation, arguments and MARK notes as pickletools does', () => {
    expect(dis(bytes('(lp0\nI1\naV\\u20ac\np1\na.'))).toBe(
      [
        '    0: (    MARK',
        '    1: l        LIST       (MARK at 0)',
        '    2: p    PUT        0',
        '    5: I    INT        1',
        '    8: a    APPEND',
        "    9: V    UNICODE    '€'",
        '   17: p    PUT        1',
        '   20: a    APPEND',
        '   21: .    STOP',
        'highest protocol among opcodes = 0',
        '',
      ].join('\n'),
    );
  });

  it('formats floats the way Python repr does', () => {
    const cases: [number, string][] = [
      [1e16, '1e+16'],
      [1e15, '1000000000000000.0'],
      [1e-5, '1e-05'],
      [1e-4, '0.0001'],
      [-0, '-0.0'],
      [0.1, '0.1'],
      [1.5e-7, '1.5e-07'],
      [123456789012345680, '1.2345678901234568e+17'],
      [5e-324, '5e-324'],
      [Number.POSITIVE_INFINITY, 'inf'],
      [Number.NEGATIVE_INFINITY, '-inf'],
      [Number.NaN, 'nan'],
    ];
    for (const [value, repr] of cases) {
      const line = dis(bytes('G', float8(value), '.')).split('\n')[0];
      expect(line).toBe(`    0: G    BINFLOAT   ${repr}`);
    }
  });

  it('prints str arguments with Python repr quoting and escapes, keeping encoded surrogate halves apart', () => {
    const utf8 = (...octets: number[]) =>
      /SHORT_BINUNICODE (.*)\n/.exec(dis(bytes([0x8c, octets.length], octets, '.')))?.[1];
    expect(utf8(0x27)).toBe(`"'"`);
    expect(utf8(0x27, 0x22)).toBe(`'\\'"'`);
    expect(utf8(0x0a, 0x7f, 0xc2, 0xa0, 0xc3, 0xa9)).toBe(`'\\n\\x7f\\xa0é'`);
    expect(utf8(0xe2, 0x80, 0x8b, 0xf0, 0x9f, 0x98, 0x80)).toBe(`'\\u200b😀'`);
    expect(utf8(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80)).toBe(`'\\ud83d\\ude00'`);
  });

  it('indents by indentLevel and annotates with pickletools summaries', () => {
    expect(dis(bytes('(N)t.'), { indentLevel: 1, annotate: true })).toBe(
      [
        '    0: (    MARK                      Push markobject onto the stack.',
        '    1: N     NONE                     Push None on the stack.',
        '    2: )     EMPTY_TUPLE              Push an empty tuple.',
        '    3: t     TUPLE      (MARK at 0)   Build a tuple out of the topmost stack slice, after markobject.',
        '    4: .    STOP                      Stop the unpickling machine.',
        'highest protocol among opcodes = 1',
        '',
      ].join('\n'),
    );
  });

  it('throws after printing the offending line (APPEND leaves the list, so STOP underflows), with the listing so far', () => {
    const error = thrownBy(() => dis(bytes(']N', [0x94, 0x94], 'a0.')));
    expect(error).toMatchObject({
      code: 'BAD_STACK',
      offset: 6,
      reason: 'tries to pop 1 items from stack with only 0 items',
      listing: [
        '    0: ]    EMPTY_LIST',
        '    1: N    NONE',
        '    2: \\x94 MEMOIZE    (as 0)',
        '    3: \\x94 MEMOIZE    (as 1)',
        '    4: a    APPEND',
        '    5: 0    POP',
        '    6: .    STOP',
        '',
      ].join('\n'),
    });
  });

  it('reports memo misuse with pickletools messages and codes', () => {
    expect(thrownBy(() => dis(bytes('h', [3], '.')))).toMatchObject({
      code: 'MEMO_MISSING',
      offset: 0,
      reason: 'memo key 3 has never been stored into',
      listing: '    0: h    BINGET     3\n',
    });
    expect(thrownBy(() => dis(bytes('(q', [0], '.')))).toMatchObject({
      code: 'BAD_STACK',
      offset: 1,
      reason: "can't store markobject in the memo",
    });
  });

  it('shares a caller-supplied memo across pickles written by one pickler', () => {
    const memo: DisassemblyMemo = new Map();
    dis(bytes([0x80, 2], ']q', [5], '.'), { memo });
    expect([...memo]).toEqual([[5, 'list']]);
    expect(dis(bytes([0x80, 2], 'h', [5], '.'), { memo })).toContain('    2: h    BINGET     5\n');
    expect(() => dis(bytes([0x80, 2], 'h', [5], '.'))).toThrow(DisassemblyError);
  });

  it('lists BINUNICODE8 and BINBYTES8, which pickle.dumps writes only above 4 GiB', () => {
    const listing = dis(bytes([0x80, 4, 0x8d], u64(2), 'hi', [0x8e], u64(1), [0], [0x86], '.'));
    expect(listing).toContain("    2: \\x8d BINUNICODE8 'hi'\n");
    expect(listing).toContain("   13: \\x8e BINBYTES8  b'\\x00'\n");
  });

  it("reads a protocol 0 STRING of one quote as '', as pickletools tests startswith and endswith", () => {
    expect(dis(bytes("S'\n."))).toBe(
      "    0: S    STRING     ''\n    3: .    STOP\nhighest protocol among opcodes = 0\n",
    );
  });

  // '(' * depth + 'l' * depth + '.': each line is indented by every MARK still open.
  const nestedLists = (depth: number): Uint8Array =>
    new Uint8Array([...'('.repeat(depth), ...'l'.repeat(depth), '.'].map((c) => c.charCodeAt(0)));

  it('gives the listing to out in pieces, the same text, and out has what was made before a failure', () => {
    const pickle = nestedLists(200);
    const pieces: string[] = [];
    expect(dis(pickle, { out: (text) => pieces.push(text) })).toBe('');
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe(dis(pickle));
    const bad = bytes(']N', [0x94, 0x94], 'a0.');
    const made: string[] = [];
    const error = thrownBy(() => dis(bad, { out: (text) => made.push(text) }));
    expect(error).toMatchObject({ code: 'BAD_STACK', offset: 6, listing: '' });
    expect(made.join('')).toBe((thrownBy(() => dis(bad)) as DisassemblyError).listing);
    expect(() => dis(pickle, { out: 'stdout' as never })).toThrow(/out must be a function, not str/);
  });

  it('says a listing longer than a string can hold is LIMIT_EXCEEDED, and lists it through out', () => {
    // 340 levels of 10000 blanks: about 1.16e9 characters (pickletools prints it); a string holds 2^29 - 24.
    const pickle = nestedLists(340);
    const error = thrownBy(() => dis(pickle, { indentLevel: 10_000 }));
    expect(error).toBeInstanceOf(DisassemblyError);
    expect(error).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect((error as Error).message).toMatch(
      /^the listing is longer than a string can hold; pass the out option/,
    );
    let length = 0;
    let last = '';
    dis(pickle, {
      indentLevel: 10_000,
      out: (text) => {
        length += text.length;
        last = text;
      },
    });
    // Line k (from 0) of the MARKs and of the LISTs is indented by k and by 340 - k levels (a LIST's line is
    // made before its MARK is popped).
    let expected = 0;
    for (let k = 0; k < 340; k++) {
      expected += `${String(k).padStart(5)}: (    ${' '.repeat(10_000 * k)}MARK\n`.length;
      const pos = 340 + k;
      const note = ` (MARK at ${339 - k})`;
      expected +=
        `${String(pos).padStart(5)}: l    ${' '.repeat(10_000 * (340 - k))}LIST${' '.repeat(6)}${note}\n`
          .length;
    }
    expected += '  680: .    STOP\nhighest protocol among opcodes = 0\n'.length;
    expect(length).toBe(expected);
    expect(last.endsWith('  680: .    STOP\nhighest protocol among opcodes = 0\n')).toBe(true);
  });

  it('starts at start, counting offsets from the start of the data, as pickletools in a part-read file', () => {
    const two = bytes('I1\n.I2\n.');
    expect(dis(two, { start: 4 })).toBe(
      '    4: I    INT        2\n    7: .    STOP\nhighest protocol among opcodes = 0\n',
    );
    expect([...genops(two, 4)].map((op) => [op.pos, op.end])).toEqual([
      [4, 7],
      [7, 8],
    ]);
    expect(() => dis(two, { start: 8 })).toThrow(/pickle exhausted before seeing STOP/);
    for (const start of [-1, 9, 1.5, '4']) {
      expect(() => dis(two, { start: start as never })).toThrow(
        /start must be an integer from 0 to the data's length, 8/,
      );
      expect(() => [...genops(two, start as never)]).toThrow(/start must be an integer/);
    }
  });
});

describe('dis of long arguments', () => {
  it('lists a bytes argument of megabytes, its repr made a block at a time', () => {
    // BINBYTES of 4 MiB of zero bytes: one line of 16 MiB of \x00 escapes.
    const size = 4 << 20;
    const pickle = new Uint8Array(2 + 5 + size + 1);
    pickle.set([0x80, 0x03, 0x42]);
    new DataView(pickle.buffer).setUint32(3, size, true);
    pickle[pickle.length - 1] = 0x2e;
    const listing = dis(pickle);
    expect(listing.length).toBe(
      '    0: \\x80 PROTO      3\n'.length +
        `    2: B    BINBYTES   b''\n`.length +
        4 * size +
        `${String(pickle.length - 1).padStart(5)}: .    STOP\nhighest protocol among opcodes = 3\n`.length,
    );
    expect(listing.startsWith("    0: \\x80 PROTO      3\n    2: B    BINBYTES   b'\\x00\\x00")).toBe(true);
  });
});
