/**
 * Byte-exactness of the core types against CPython's C pickler, at every protocol, plus CPython loading
 * mpwire's output back to the intended value.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dumps, PyByteArray, PyFloat, PyFrozenSet, PyGlobal, tuple } from '../src/index.js';
import {
  ALL_PROTOCOLS,
  cpythonCheckLoads,
  cpythonDumps,
  loadFailures,
  type OracleCase,
  PYTHON_MINOR,
  toHex,
} from './encoder-oracle.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const repeat = (text: string, n: number): string => text.repeat(n);

const ints: [string, number | bigint][] = [
  ['0', 0],
  ['1', 1],
  ['-1', -1],
  ['255', 255],
  ['256', 256],
  ['-256', -256],
  ['65535', 65535],
  ['65536', 65536],
  ['2**31-1', 2 ** 31 - 1],
  ['-2**31', -(2 ** 31)],
  ['2**31', 2 ** 31],
  ['-2**31-1', -(2 ** 31) - 1],
  ['2**32', 2 ** 32],
  ['-(2**40)', -(2 ** 40)],
  ['-(2**39)', -(2 ** 39)],
  ['-(2**32)', -(2 ** 32)],
  ['-(2**32)+1', -(2 ** 32) + 1],
  ['2**39', 2 ** 39],
  ['-(2**47)', -(2 ** 47)],
  ['-(2**47)-1', -(2 ** 47) - 1],
  ['2**47', 2 ** 47],
  ['-255*2**40', -255 * 2 ** 40],
  ['2**52+3', 2 ** 52 + 3],
  ['2**53-1', 2 ** 53 - 1],
  ['-(2**53-1)', -(2 ** 53 - 1)],
  ['2**53+1', 2n ** 53n + 1n],
  ['2**63', 2n ** 63n],
  ['-2**63', -(2n ** 63n)],
  ['2**64', 2n ** 64n],
  ['-2**64', -(2n ** 64n)],
  ['1<<2100', 1n << 2100n],
  ['-(1<<2100)', -(1n << 2100n)],
  ['-(1<<2047)', -(1n << 2047n)],
  ['-(1<<2047)-1', -(1n << 2047n) - 1n],
  ['-(2**63)-1', -(2n ** 63n) - 1n],
  ['-(2**63)+1', -(2n ** 63n) + 1n],
  ['-(2**71)', -(2n ** 71n)],
  ['-(2**72)', -(2n ** 72n)],
  ['-(2**2040)', -(2n ** 2040n)],
  ['-(2**2039)', -(2n ** 2039n)],
  ['2**2039', 2n ** 2039n],
  ['-(2**64)+(2**60)', -(2n ** 64n) + 2n ** 60n],
  ['(1<<100)+0xabcdef', (1n << 100n) + 0xabcdefn],
  ['-(1<<100)+1', -(1n << 100n) + 1n],
  ['5', 5n],
  // Chunk edges of the 64-bit path, and both sides of its 2**1000 limit.
  ['2**127', 2n ** 127n],
  ['-(2**127)', -(2n ** 127n)],
  ['-(2**127)-1', -(2n ** 127n) - 1n],
  ['2**128-1', 2n ** 128n - 1n],
  ['-(2**128)+1', -(2n ** 128n) + 1n],
  ['2**191+12345', 2n ** 191n + 12345n],
  ['-(2**200)+(2**64)', -(2n ** 200n) + 2n ** 64n],
  ['2**999', 2n ** 999n],
  ['-(2**1000)+1', -(2n ** 1000n) + 1n],
  ['2**1000', 2n ** 1000n],
  ['-(2**1000)', -(2n ** 1000n)],
  ['2**1023+1', 2n ** 1023n + 1n],
  ['2**1024', 2n ** 1024n],
  ['-(2**53)-1', -(2n ** 53n) - 1n],
];

const floats: [string, number | PyFloat][] = [
  ['-0.0', -0],
  ["float('inf')", Number.POSITIVE_INFINITY],
  ["float('-inf')", Number.NEGATIVE_INFINITY],
  ["float('nan')", Number.NaN],
  ['1e16', 1e16],
  ['1e15+0.5', 1e15 + 0.5],
  ['0.1', 0.1],
  ['1.0', new PyFloat(1)],
  ['-3.0', new PyFloat(-3)],
  ['1e-05', 1e-5],
  ['0.0001', 0.0001],
  ['1e22', new PyFloat(1e22)],
  ['5e-324', 5e-324],
  ['1.7976931348623157e308', 1.7976931348623157e308],
  ['123456.789', 123456.789],
  ['-1.5e-07', -1.5e-7],
  ['2.0**53', new PyFloat(2 ** 53)],
  ['2.0**60', 2 ** 60],
];

const strings: [string, string][] = [
  ["''", ''],
  ["'abc'", 'abc'],
  ["'h\\xe9llo'", 'héllo'],
  ["'\\u65e5\\u672c\\u8a9e'", '日本語'],
  ["'\\U0001f600'", '😀'],
  ["'\\ud800'", '\ud800'],
  ["'a\\udc00b\\ud83d'", 'a\udc00b\ud83d'],
  ["'\\x00\\n\\r\\x1a\\\\ \\x7f\\x80\\xff'", '\x00\n\r\x1a\\ \x7f\x80\xff'],
  ["'x'*255", repeat('x', 255)],
  ["'x'*256", repeat('x', 256)],
  ["'\\xe9'*127 + 'a'", `${repeat('é', 127)}a`],
  ["'\\xe9'*128", repeat('é', 128)],
  ["'\\xe9'*90", repeat('é', 90)],
  ["'a'*70000", repeat('a', 70000)],
  ["'\\xe9'*40000", repeat('é', 40000)],
  ["'\\u65e5'*21845", repeat('日', 21845)],
  ["'\\u65e5'*21846", repeat('日', 21846)],
  ["'\\u65e5'*30000 + '\\ud800'", `${repeat('日', 30000)}\ud800`],
];

const bytesOf = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

function buildCases(): OracleCase[] {
  const cases: OracleCase[] = [
    { name: 'None', python: 'None', value: () => null },
    { name: 'undefined', python: 'None', value: () => undefined },
    { name: 'True', python: 'True', value: () => true },
    { name: 'False', python: 'False', value: () => false },
    { name: 'bools', python: '[True, False, None]', value: () => [true, false, null] },
  ];
  for (const [python, value] of ints) cases.push({ name: `int ${python}`, python, value: () => value });
  for (const [python, value] of floats) cases.push({ name: `float ${python}`, python, value: () => value });
  for (const [python, value] of strings) cases.push({ name: `str ${python}`, python, value: () => value });
  cases.push(
    { name: 'bytes empty', python: "b''", value: () => new Uint8Array(0) },
    { name: 'bytes 2', python: "b'\\x00\\xff'", value: () => Uint8Array.of(0, 255) },
    { name: 'bytes 1', python: "b'\\xe9'", value: () => Uint8Array.of(0xe9) },
    { name: 'bytes 255', python: "b'\\x07'*255", value: () => bytesOf(255, 7) },
    { name: 'bytes 256', python: "b'\\x80'*256", value: () => bytesOf(256, 0x80) },
    { name: 'bytes 70000', python: "b'z'*70000", value: () => bytesOf(70000, 0x7a) },
    { name: 'Buffer is bytes', python: "b'hi'", value: () => Buffer.from('hi') },
    {
      name: 'bytes repeated',
      python: "v = b'ab'\nv = [v, v, b'cd']",
      value: () => {
        const ab = Uint8Array.of(0x61, 0x62);
        return [ab, ab, Uint8Array.of(0x63, 0x64)];
      },
    },
    {
      // CPython has one b'', so equal empty bytes share a memo entry; bytes(bytearray(b'A')) is a new object,
      // not the b'A' it shares for literals and unpickled values, and distinct objects are written twice.
      name: 'bytes of length 0 and 1, distinct objects',
      python: "v = [b'', bytes(bytearray(b'')), b'A', bytes(bytearray(b'A')), b'B', b'']",
      value: () => [
        new Uint8Array(0),
        new Uint8Array(0),
        Uint8Array.of(65),
        Uint8Array.of(65),
        Uint8Array.of(66),
        new Uint8Array(0),
      ],
    },
    {
      name: 'bytes of length 2, distinct objects',
      python: "v = [b'AB', bytes(bytearray(b'AB'))]",
      value: () => [Uint8Array.of(65, 66), Uint8Array.of(65, 66)],
    },
    { name: 'bytearray empty', python: 'bytearray()', value: () => new PyByteArray(0) },
    { name: 'bytearray ab', python: "bytearray(b'ab')", value: () => PyByteArray.fromBytes([0x61, 0x62]) },
    {
      name: 'bytearray 70000',
      python: "bytearray(b'q'*70000)",
      value: () => PyByteArray.fromBytes(bytesOf(70000, 0x71)),
    },
    { name: 'tuple 0', python: '()', value: () => tuple() },
    { name: 'tuple 1', python: '(1,)', value: () => tuple(1) },
    { name: 'tuple 2', python: "(1, 'a')", value: () => tuple(1, 'a') },
    { name: 'tuple 3', python: '(1, 2, 3)', value: () => tuple(1, 2, 3) },
    { name: 'tuple 4', python: '(1, 2, 3, 4)', value: () => tuple(1, 2, 3, 4) },
    {
      name: 'tuple nested',
      python: '((), ((1,),), [()])',
      value: () => tuple(tuple(), tuple(tuple(1)), [tuple()]),
    },
    { name: 'list empty', python: '[]', value: () => [] },
    { name: 'list 1', python: '[1]', value: () => [1] },
    { name: 'list 999', python: 'list(range(999))', value: () => range(999) },
    { name: 'list 1000', python: 'list(range(1000))', value: () => range(1000) },
    { name: 'list 1001', python: 'list(range(1001))', value: () => range(1001) },
    { name: 'list 2001', python: 'list(range(2001))', value: () => range(2001) },
    { name: 'list sparse', python: '[None, None]', value: () => new Array(2) },
    { name: 'dict empty', python: '{}', value: () => ({}) },
    { name: 'dict 1', python: "{'a': 1}", value: () => ({ a: 1 }) },
    { name: 'dict 2', python: "{'a': 1, 'b': [2]}", value: () => ({ a: 1, b: [2] }) },
    {
      name: 'dict null proto',
      python: "{'a': None}",
      value: () => Object.assign(Object.create(null), { a: null }),
    },
    {
      name: 'dict 1000',
      python: "{'k%d' % i: i for i in range(1000)}",
      value: () => Object.fromEntries(range(1000).map((i) => [`k${i}`, i])),
    },
    {
      name: 'dict 1001',
      python: "{'k%d' % i: i for i in range(1001)}",
      value: () => Object.fromEntries(range(1001).map((i) => [`k${i}`, i])),
    },
    {
      name: 'Map int keys 2001',
      python: '{i: -i for i in range(2001)}',
      value: () => new Map(range(2001).map((i) => [i, 0 - i || 0])),
    },
    {
      name: 'Map container keys and values',
      python: "{(1, (2,)): [3, {'x': (4,)}], ('k',): 'v', frozenset([5]): [6]}",
      value: () =>
        new Map<unknown, unknown>([
          [tuple(1, tuple(2)), [3, { x: tuple(4) }]],
          [tuple('k'), 'v'],
          [new PyFrozenSet([5]), [6]],
        ]),
    },
    {
      name: 'Map tuple keys',
      python: "{(1, 2): 'a', frozenset([3]): 'b', None: 0, 1.5: 2}",
      value: () =>
        new Map<unknown, unknown>([
          [tuple(1, 2), 'a'],
          [new PyFrozenSet([3]), 'b'],
          [null, 0],
          [1.5, 2],
        ]),
    },
    { name: 'set empty', python: 'set()', value: () => new Set() },
    { name: 'set 1', python: '{1}', value: () => new Set([1]) },
    { name: 'set 3', python: '{1, 2, 3}', value: () => new Set([1, 2, 3]) },
    { name: 'set 1000', python: 'set(range(1000))', value: () => new Set(range(1000)) },
    { name: 'set 1001', python: 'set(range(1001))', value: () => new Set(range(1001)) },
    { name: 'frozenset empty', python: 'frozenset()', value: () => new PyFrozenSet() },
    { name: 'frozenset 5', python: 'frozenset(range(5))', value: () => new PyFrozenSet(range(5)) },
    {
      name: 'nested',
      python: "[1, [2, (3, 4)], {'a': {1, 2}, 'b': frozenset([7])}, (), {}]",
      value: () => [1, [2, tuple(3, 4)], { a: new Set([1, 2]), b: new PyFrozenSet([7]) }, tuple(), {}],
    },
    {
      name: 'shared list',
      python: 'a = [1]\nv = [a, a, (a,)]',
      value: () => {
        const a = [1];
        return [a, a, tuple(a)];
      },
    },
    {
      name: 'shared dict and tuple',
      python: "d = {'x': 1}\nt = (d, 2)\nv = {'p': d, 'q': t, 'r': t}",
      value: () => {
        const d = { x: 1 };
        const t = tuple(d, 2);
        return { p: d, q: t, r: t };
      },
    },
    {
      name: 'recursive list',
      python: 'v = []\nv.append(v)',
      value: () => {
        const l: unknown[] = [];
        l.push(l);
        return l;
      },
    },
    {
      name: 'recursive dict',
      python: "v = {}\nv['self'] = v",
      value: () => {
        const d: Record<string, unknown> = {};
        d.self = d;
        return d;
      },
    },
    {
      name: 'recursive set via tuple',
      python: 'v = [1]\nv.append((v,))',
      value: () => {
        const l: unknown[] = [1];
        l.push(tuple(l));
        return l;
      },
    },
    {
      name: 'recursive tuple via list',
      python: 'l = []\nv = (l,)\nl.append(v)',
      value: () => {
        const l: unknown[] = [];
        const t = tuple(l);
        l.push(t);
        return t;
      },
    },
    {
      name: 'recursive 4-tuple via list',
      python: 'l = []\nv = (l, 1, 2, 3)\nl.append(v)',
      value: () => {
        const l: unknown[] = [];
        const t = tuple(l, 1, 2, 3);
        l.push(t);
        return t;
      },
    },
    {
      name: 'recursive tuple reached twice',
      python: 'a = []\nb = []\nv = (a, b)\na.append(v)\nb.append(v)',
      value: () => {
        const a: unknown[] = [];
        const b: unknown[] = [];
        const t = tuple(a, b);
        a.push(t);
        b.push(t);
        return t;
      },
    },
    {
      name: 'repeated strings',
      python: "['abc', 'abc', {'abc': 'abc'}, 'x', 'x']",
      value: () => ['abc', 'abc', { abc: 'abc' }, 'x', 'x'],
    },
    {
      name: 'repeated non-ASCII strings',
      python:
        "['h\\xe9', '\\U0001f600', '\\ud800x', 'h\\xe9', '\\U0001f600', '\\ud800x', '\\u65e5' * 85, '\\u65e5' * 85]",
      value: () => ['hé', '😀', '\ud800x', 'hé', '😀', '\ud800x', '日'.repeat(85), '日'.repeat(85)],
    },
    {
      name: 'memo past 256',
      python: "L = ['s%d' % i for i in range(300)]\nv = L + [L[0], L[299]]",
      value: () => {
        const l = range(300).map((i) => `s${i}`);
        return [...l, l[0], l[299]];
      },
    },
    {
      name: 'frames over 64 KiB',
      python: "v = ['x' * 1000 + str(i) for i in range(200)]",
      value: () => range(200).map((i) => `${'x'.repeat(1000)}${i}`),
    },
    {
      name: 'large payloads between small values',
      python: "v = [1, b'\\x00' * 70000, 'b' * 70000, 2, bytearray(70000), 'c']",
      value: () => [1, bytesOf(70000), 'b'.repeat(70000), 2, new PyByteArray(70000), 'c'],
    },
    {
      // Past 1 MiB the output moves to a chunk list; frames, memo growth and LONG_BINGET go on across it.
      name: 'output past 1 MiB',
      python:
        "L = ['s%d' % i for i in range(60000)]\nv = [i + 0.5 for i in range(100000)] + L + [b'\\x01' * 70000, L[0], L[59999]]",
      value: () => {
        const l = range(60000).map((i) => `s${i}`);
        return [...range(100000).map((i) => i + 0.5), ...l, bytesOf(70000, 1), l[0], l[59999]];
      },
    },
    {
      // Runs of floats are written a batch at a time; ints, -0.0, inf, 1e20 and other values break runs,
      // and runs cross frame boundaries at every offset within a float.
      name: 'runs of floats between other values',
      python:
        "v = [i + 0.25 for i in range(7300)] + [0, -0.0, 5, 1e20, float('-inf'), float(2**53), 2**53 - 1, 'x', None, [1.5, 2.5], 1.5]\nv = v * 9 + [0.5] * 20000",
      value: () => {
        const v: unknown[] = [
          ...range(7300).map((i) => i + 0.25),
          ...[0, -0, 5, 1e20, Number.NEGATIVE_INFINITY, 2 ** 53, 2 ** 53 - 1, 'x', null, [1.5, 2.5], 1.5],
        ];
        const all: unknown[] = [];
        for (let k = 0; k < 9; k++) all.push(...v);
        return [...all, ...new Array(20000).fill(0.5)];
      },
    },
    {
      name: 'frame of exactly 64 KiB',
      python: "v = ['y' * 65530, 'z']",
      value: () => ['y'.repeat(65530), 'z'],
    },
    { name: 'global int', python: 'int', value: () => new PyGlobal('builtins', 'int') },
    {
      name: 'globals repeated',
      python: '[int, int, range, OrderedDict, set]',
      value: () => [
        new PyGlobal('builtins', 'int'),
        new PyGlobal('builtins', 'int'),
        new PyGlobal('builtins', 'range'),
        new PyGlobal('collections', 'OrderedDict'),
        new PyGlobal('builtins', 'set'),
      ],
    },
    {
      // One Python str object per distinct string, as in data read from one source: CPython memoizes each once
      // and refers back to it, the case the string memo's filter and table (grown several times) must match.
      name: 'strings repeated at every distance, 30k items over 5k distinct',
      python: [
        "pool = ['k%d%s' % (j, '-\u00e9\u20ac' if j % 3 == 0 else '') for j in range(5000)]",
        'v = [pool[(i * 7919) % 5000] for i in range(30000)]',
      ].join('\n'),
      value: () => {
        const pool = Array.from({ length: 5000 }, (_, j) => `k${j}${j % 3 === 0 ? '-\u00e9\u20ac' : ''}`);
        return Array.from({ length: 30000 }, (_, i) => pool[(i * 7919) % 5000]);
      },
    },
    {
      name: 'dict of distinct keys whose values repeat the keys',
      python: [
        "pool = ['key%05d' % j for j in range(20000)]",
        'v = {pool[j]: pool[(j * 31) % 20000] for j in range(20000)}',
      ].join('\n'),
      value: () => {
        const pool = Array.from({ length: 20000 }, (_, j) => `key${String(j).padStart(5, '0')}`);
        const dict: Record<string, string> = {};
        for (let j = 0; j < 20000; j++) dict[pool[j]!] = pool[(j * 31) % 20000]!;
        return dict;
      },
      protocols: [2, 4],
    },
    {
      name: 'global nested name',
      python: 'Outer.Inner',
      value: () => new PyGlobal('__main__', 'Outer.Inner'),
      // 3.13 stopped memoizing the parent and the getattr tuple below protocol 4; mpwire writes 3.8-3.12's form.
      protocols: PYTHON_MINOR >= 13 ? [4, 5] : ALL_PROTOCOLS,
    },
  );
  return cases;
}

const cases = buildCases();
let expected: Record<string, Record<string, string>>;
const encoded: Record<string, Record<string, string>> = {};

beforeAll(() => {
  expected = cpythonDumps(cases);
  for (const c of cases) {
    encoded[c.name] = {};
    for (const p of c.protocols ?? ALL_PROTOCOLS)
      encoded[c.name]![p] = toHex(dumps(c.value(), { protocol: p }));
  }
});

describe('dumps is byte-identical to CPython', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    for (const p of c.protocols ?? ALL_PROTOCOLS) {
      expect({ protocol: p, hex: encoded[c.name]![p] }).toEqual({ protocol: p, hex: expected[c.name]![p] });
    }
  });

  it('uses protocol 4 by default', () => {
    expect(toHex(dumps({ a: 1, b: [2] }))).toBe(expected['dict 2']![4]);
  });
});

describe('CPython loads what dumps writes', () => {
  it('gives back the intended value at every protocol', () => {
    const results = cpythonCheckLoads(cases, encoded);
    const failures = loadFailures(results);
    expect(failures).toEqual([]);
    expect(Object.keys(results)).toHaveLength(cases.length);
  });
});

describe('the array dumps returns', () => {
  // 65 bytes to 4 KiB come from Node's Buffer pool; under and over that, a fresh ArrayBuffer.
  const sizes = [1, 60, 64, 65, 66, 200, 4000, 4095, 4096, 5000, 70_000];
  const valueOfSize = (n: number) => new Uint8Array(Math.max(0, n - 30)).fill(7);

  it('is a plain Uint8Array that no other result shares bytes with, at every size', () => {
    const results = sizes.map((n) => dumps(valueOfSize(n)));
    const copies = results.map((r) => Uint8Array.from(r));
    results.forEach((r, i) => {
      expect(Object.getPrototypeOf(r)).toBe(Uint8Array.prototype);
      expect(r).toEqual(copies[i]);
      r.fill(0xe0 + i);
    });
    // Each result still holds its own fill, and new results are intact: no two share a range of memory.
    for (let i = 0; i < results.length; i++) expect(results[i]!.every((b) => b === 0xe0 + i)).toBe(true);
    const again = sizes.map((n) => dumps(valueOfSize(n)));
    for (let i = 0; i < sizes.length; i++) expect(again[i]).toEqual(copies[i]);
  });

  it('outside the pool range owns its whole ArrayBuffer', () => {
    for (const r of [dumps(null), dumps(valueOfSize(70_000))]) {
      expect(r.byteOffset).toBe(0);
      expect(r.buffer.byteLength).toBe(r.length);
    }
  });
});
