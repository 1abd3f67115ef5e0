/**
 * The tagged JSON converters checked against each other on the CPython corpus descriptions, so a codec
 * failure in the other suites is never a converter bug.
 */
import { describe, expect, it } from 'vitest';
import { PyByteArray, PyFloat, PyTuple } from '../src/codec/values.js';
import { pythonsAtLeast } from './support/pythons.js';
import { runFixture } from './support/run-python.js';
import { floatTag, fromTagged, matchTagged, parseFloatTag, type Tagged, toTagged } from './support/tagged.js';

interface CorpusDocument {
  values: { name: string; protocols: { protocol: number; description: Tagged }[] }[];
}

const newest = pythonsAtLeast(3, 6).at(-1);

describe('tagged JSON', () => {
  it('formats and parses floats exactly as float.hex() does', () => {
    const samples: [number, string][] = [
      [1, '0x1.0000000000000p+0'],
      [-0, '-0x0.0p+0'],
      [0, '0x0.0p+0'],
      [5e-324, '0x0.0000000000001p-1022'],
      [1.7976931348623157e308, '0x1.fffffffffffffp+1023'],
      [0.1, '0x1.999999999999ap-4'],
      [Number.NaN, 'nan'],
      [Number.NEGATIVE_INFINITY, '-inf'],
    ];
    for (const [value, text] of samples) {
      expect(floatTag(value)).toBe(text);
      expect(Object.is(parseFloatTag(text), value)).toBe(true);
    }
  });

  it('describes shared and cyclic JavaScript values with def/ref', () => {
    const shared = [1];
    const cyclic: unknown[] = [shared, shared];
    cyclic.push(cyclic);
    expect(toTagged(cyclic)).toEqual([
      'def',
      0,
      [
        'list',
        [
          ['def', 1, ['list', [['int', '1']]]],
          ['ref', 1],
          ['ref', 0],
        ],
      ],
    ]);
    expect(toTagged(PyTuple.fromItems([new PyFloat(2), -0, 2 ** 53]))).toEqual([
      'tuple',
      [
        ['float', '0x1.0000000000000p+1'],
        ['float', '-0x0.0p+0'],
        ['float', '0x1.0000000000000p+53'],
      ],
    ]);
  });

  it('reports each kind of difference', () => {
    const strict = { floats: 'wrapped', py2str: 'latin1' } as const;
    const list = [1];
    const cases: [unknown, Tagged][] = [
      [1, ['float', '0x1.0000000000000p+0']],
      [new PyFloat(1), ['int', '1']],
      [2n, ['int', '2']],
      [PyByteArray.fromBytes([1]), ['bytes', '01']],
      [
        [1, 2],
        [
          'tuple',
          [
            ['int', '1'],
            ['int', '2'],
          ],
        ],
      ],
      [
        { b: 1, a: 2 },
        [
          'dict',
          [
            [
              ['str', 'a'],
              ['int', '2'],
            ],
            [
              ['str', 'b'],
              ['int', '1'],
            ],
          ],
        ],
      ],
      [
        new Map([['0', 1]]),
        [
          'dict',
          [
            [
              ['str', '1'],
              ['int', '1'],
            ],
          ],
        ],
      ],
      [
        { '0': 1 },
        [
          'dict',
          [
            [
              ['str', '0'],
              ['int', '1'],
            ],
          ],
        ],
      ],
      [
        [list, list],
        [
          'list',
          [
            ['list', [['int', '1']]],
            ['list', [['int', '1']]],
          ],
        ],
      ],
      [
        [[1], [1]],
        [
          'list',
          [
            ['def', 0, ['list', [['int', '1']]]],
            ['ref', 0],
          ],
        ],
      ],
      [-0, ['int', '0']],
    ];
    for (const [actual, description] of cases) {
      expect(matchTagged(actual, description, strict), JSON.stringify(description)).not.toBeNull();
    }
    expect(
      matchTagged(
        [list, list],
        [
          'list',
          [
            ['def', 0, ['list', [['int', '1']]]],
            ['ref', 0],
          ],
        ],
        strict,
      ),
    ).toBeNull();
  });

  it.runIf(newest)('builds every corpus description into a value that matches it', async () => {
    const corpus = await runFixture<CorpusDocument>(newest!, 'corpus.py');
    const mismatches: string[] = [];
    let checked = 0;
    for (const value of corpus.values) {
      for (const { protocol, description } of value.protocols) {
        const built = fromTagged(description, 'wrapped');
        const problem = matchTagged(built, description, { floats: 'wrapped', py2str: 'latin1' });
        checked++;
        if (problem) mismatches.push(`${value.name} @${protocol}: ${problem}`);
      }
    }
    console.log(`tagged self-check: ${checked} descriptions from Python ${newest!.label}`);
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(1000);
  });
});
