import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dumps, loads, PyFloat } from '../src/codec/index.js';
import { isPickledAsFloat, isSafeInteger } from '../src/codec/number-kind.js';

// The written-out tests against the builtins they replace, on the edges and on random doubles of every kind.
describe('number kind', () => {
  const edges = [
    0,
    -0,
    1,
    -1,
    0.5,
    -0.5,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 53,
    -(2 ** 53),
    2 ** 53 + 2,
    2 ** 64,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    Number.EPSILON,
    Infinity,
    -Infinity,
    Number.NaN,
    4503599627370495.5,
  ];

  it('isSafeInteger agrees with Number.isSafeInteger on the edges', () => {
    for (const value of edges) expect(isSafeInteger(value), String(value)).toBe(Number.isSafeInteger(value));
  });

  it('isPickledAsFloat is true exactly for non-safe-integers and -0', () => {
    for (const value of edges) {
      const expected = !Number.isSafeInteger(value) || Object.is(value, -0);
      expect(isPickledAsFloat(value), String(value)).toBe(expected);
    }
  });

  it('agree with the builtins on random doubles and integers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger(), fc.constant(-0)), (value) => {
        expect(isSafeInteger(value)).toBe(Number.isSafeInteger(value));
        expect(isPickledAsFloat(value)).toBe(!Number.isSafeInteger(value) || Object.is(value, -0));
      }),
      { numRuns: 5000 },
    );
  });

  it('a list mixing both kinds round-trips with each number its own type', () => {
    const values = [1, -0, 2 ** 53, 2 ** 53 - 1, 0.5, Number.NaN, -Infinity, 7, -(2 ** 53 - 1)];
    const back = loads(dumps(values), { floats: 'wrapped' }) as unknown[];
    expect(back.length).toBe(values.length);
    back.forEach((item, i) => {
      const value = values[i]!;
      if (isPickledAsFloat(value)) {
        expect(item, String(value)).toBeInstanceOf(PyFloat);
        expect(Object.is((item as PyFloat).value, value), String(value)).toBe(true);
      } else {
        expect(item).toBe(value);
      }
    });
  });
});
