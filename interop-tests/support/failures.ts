import { expect } from 'vitest';

/** Fails with the total and the first failures, so thousands of identical failures stay readable. */
export function expectNoFailures(failures: readonly string[], shown = 40): void {
  expect({ failures: failures.length, first: failures.slice(0, shown) }).toEqual({ failures: 0, first: [] });
}
