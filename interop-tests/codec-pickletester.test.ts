/**
 * CPython's own unpickling test suite (test/pickletester.py of every interpreter found) run against mpwire's
 * decoder: every pickle the suite expects refused must throw UnpicklingError (never another error type), and
 * the canonical DATA pickles must decode to the value CPython loads from them.
 */
import type { TestContext } from 'vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { loads, UnpicklingError } from '../src/codec/index.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, findPythons } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { hexToBytes, matchTagged, type Tagged } from './support/tagged.js';

interface RefusalCase {
  readonly test: string;
  readonly pickle: string;
  readonly kwargs: Record<string, unknown>;
  readonly cpythonError: string;
}

interface Harvest {
  readonly python: string;
  readonly available: boolean;
  readonly reason?: string;
  readonly refused: readonly RefusalCase[];
  readonly acceptedByC: readonly RefusalCase[];
  readonly canonical: readonly { name: string; protocol: number; pickle: string; description: Tagged }[];
  readonly testErrors: readonly { test: string; error: string }[];
}

const pythons = findPythons();
const harvests = new Map<string, Harvest>();

beforeAll(async () => {
  console.log(`pickletester cases from: ${describePythons(pythons)}`);
  for (const [label, harvest] of await runOnEach<Harvest>(
    pythons,
    'pickletester_cases.py',
    () => undefined,
  )) {
    harvests.set(label, harvest);
  }
}, 120_000);

/** The harvest of one interpreter, or a skip naming why its test package is missing. */
function harvestOf(label: string, context: TestContext): Harvest {
  const harvest = harvests.get(label)!;
  if (!harvest.available) context.skip(`Python ${label}: ${harvest.reason}`);
  return harvest;
}

/** Python keyword arguments of `pickle.loads` as mpwire options. */
function optionsOf(kwargs: Record<string, unknown>): Record<string, unknown> {
  const { fix_imports: fixImports, ...rest } = kwargs;
  return fixImports === undefined ? rest : { ...rest, fixImports };
}

describe.each(pythons.map((p) => [p.label, p] as const))('CPython %s test.pickletester', (label, python) => {
  it('every pickle the suite expects refused throws UnpicklingError', (context) => {
    const harvest = harvestOf(label, context);
    const failures: string[] = [];
    const byTest = new Map<string, number>();
    for (const c of harvest.refused) {
      byTest.set(c.test, (byTest.get(c.test) ?? 0) + 1);
      const where = `${c.test} ${c.pickle} (CPython: ${c.cpythonError})`;
      try {
        const value = loads(hexToBytes(c.pickle), optionsOf(c.kwargs));
        failures.push(`${where}: accepted, gave ${String(value)}`);
      } catch (error) {
        if (!(error instanceof UnpicklingError)) {
          failures.push(
            `${where}: threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
          );
        }
      }
    }
    console.log(
      `CPython ${label}: ${harvest.refused.length} must-refuse pickles (${[...byTest].map(([t, n]) => `${t} ${n}`).join(', ')}); ${failures.length} not refused with UnpicklingError`,
    );
    expect(harvest.testErrors).toEqual([]);
    expect(harvest.acceptedByC).toEqual([]);
    expectNoFailures(failures);
    expect(harvest.refused.length).toBeGreaterThan(100);
  });

  it('the canonical DATA pickles decode to what CPython loads', (context) => {
    const harvest = harvestOf(label, context);
    const py2 = python.version[0] === 2;
    const failures: string[] = [];
    for (const c of harvest.canonical) {
      try {
        const value = loads(hexToBytes(c.pickle), {
          floats: 'wrapped',
          ...(py2 ? { encoding: 'latin1' } : {}),
        });
        const problem = matchTagged(value, c.description, { floats: 'wrapped', py2str: 'latin1' });
        if (problem) failures.push(`${c.name} ${c.pickle}: ${problem}`);
      } catch (error) {
        failures.push(
          `${c.name} ${c.pickle}: threw ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    console.log(`CPython ${label}: canonical ${harvest.canonical.map((c) => c.name).join(', ')}`);
    expectNoFailures(failures);
    expect(harvest.canonical.length).toBeGreaterThanOrEqual(3);
  });
});

it('reports the distinct must-refuse pickles over all interpreters', (context) => {
  // An interpreter without its test package (Debian's python3, for one) has no harvest to count.
  if (![...harvests.values()].some((h) => h.available)) {
    context.skip('no interpreter found has test.pickletester');
  }
  const distinct = new Set<string>();
  for (const harvest of harvests.values()) for (const c of harvest.refused) distinct.add(c.pickle);
  console.log(
    `pickletester: ${distinct.size} distinct must-refuse pickles over ${harvests.size} interpreters`,
  );
  expect(distinct.size).toBeGreaterThan(100);
});
