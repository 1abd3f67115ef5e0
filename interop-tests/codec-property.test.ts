/**
 * Property tests through real CPython, both directions, with bounded fast-check samples batched into one
 * Python process per interpreter:
 * - arbitrary value -> mpwire dumps (each protocol) -> CPython pickle.loads -> equal to the value;
 * - arbitrary value -> CPython pickle.dumps (each protocol) -> mpwire loads -> equal to the value.
 * MPWIRE_FC_SEED picks another sample; the seed in use is printed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dumps, loads, type UnpicklerOptions } from '../src/codec/index.js';
import { PyByteArray, PyFloat, PyFrozenSet, PyTuple } from '../src/codec/values.js';
import { type CheckLoadsCase, type CheckLoadsReport, decodesWith } from './support/corpus.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, findPythons } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex, hexToBytes, matchTagged, type Tagged, toTagged } from './support/tagged.js';

const SAMPLES = 150;
const seed = Number(process.env.MPWIRE_FC_SEED ?? 20_240_601);
const pythons = findPythons();

/** One code point, lone surrogates included (JavaScript strings and Python str both carry them). */
const codeUnit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('\ud800', '\udbff', '\udc00', '\udc80', '\udfff', '\x00', '\\', '\n'),
  },
);
const text = fc.string({ unit: codeUnit, maxLength: 12 });
const int = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }).filter((n) => !Number.isSafeInteger(Number(n))),
);
const float = fc.oneof(
  fc.double().filter((x) => !Number.isSafeInteger(x)),
  fc.double().map((x) => new PyFloat(x)),
  fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, 5e-324),
);
const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  int,
  float,
  text,
  fc.uint8Array({ maxLength: 12 }),
  fc.uint8Array({ maxLength: 12 }).map((b) => PyByteArray.fromBytes(b)),
);
/** Hashable, and distinct under Python's equality too (no 1 next to 1.0 or True). */
const setElements = fc.oneof(
  fc.uniqueArray(text, { maxLength: 5 }),
  fc.uniqueArray(fc.integer(), { maxLength: 5 }),
);

const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => PyTuple.fromItems(items)),
    fc.dictionary(text, tie('value'), { maxKeys: 4 }),
    fc
      .uniqueArray(fc.integer(), { maxLength: 4 })
      .chain((keys) =>
        fc.tuple(
          fc.constant(keys),
          fc.array(tie('value'), { minLength: keys.length, maxLength: keys.length }),
        ),
      )
      .map(([keys, values]) => new Map(keys.map((k, i) => [k, values[i]]))),
    setElements.map((items) => new Set<unknown>(items)),
    setElements.map((items) => new PyFrozenSet<unknown>(items)),
  ),
}));

const samples = fc.sample(value, { numRuns: SAMPLES, seed });
const descriptions: Tagged[] = samples.map((v) => toTagged(v));

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

describe(`codec properties through CPython (${SAMPLES} values, seed ${seed})`, () => {
  it('CPython loads mpwire pickles of arbitrary values', async () => {
    console.log(`property tests against: ${describePythons(pythons)}`);
    const cases: CheckLoadsCase[] = [];
    const encodeFailures: string[] = [];
    samples.forEach((sample, i) => {
      for (let protocol = 0; protocol <= 5; protocol++) {
        const id = `${i} @${protocol}`;
        try {
          const pickle = bytesToHex(dumps(sample, { protocol }));
          cases.push({ id, protocol, pickle, description: descriptions[i]! });
        } catch (error) {
          encodeFailures.push(`${id} ${JSON.stringify(descriptions[i])}: dumps threw ${errorText(error)}`);
        }
      }
    });
    const reports = await runOnEach<CheckLoadsReport>(pythons, 'check_loads.py', (p) => ({
      cases: cases.filter((c) => c.protocol <= p.highestProtocol),
    }));
    const failures: string[] = [];
    for (const [label, report] of reports) {
      let ok = 0;
      for (const result of report.results) {
        if (result.status === 'ok') ok++;
        else {
          const c = cases.find((x) => x.id === result.id)!;
          failures.push(
            `${label} ${result.id} ${result.status} ${JSON.stringify(result.detail)} pickle ${c.pickle} value ${JSON.stringify(c.description)}`,
          );
        }
      }
      console.log(`CPython ${label}: loaded ${ok} of ${report.results.length} mpwire pickles as described`);
    }
    expectNoFailures(encodeFailures);
    expectNoFailures(failures);
    expect(cases.length).toBe(SAMPLES * 6);
  }, 120_000);

  it('mpwire loads CPython pickles of arbitrary values', async () => {
    interface DumpReport {
      readonly results: readonly { id: string; pickle?: string; error?: string }[];
    }
    const reports = await runOnEach<DumpReport>(pythons, 'dump_tagged.py', (p) => ({
      cases: descriptions.flatMap((description, i) =>
        Array.from({ length: p.highestProtocol + 1 }, (_, protocol) => ({
          id: `${i} @${protocol}`,
          protocol,
          description,
        })),
      ),
    }));
    const failures: string[] = [];
    for (const python of pythons) {
      const report = reports.get(python.label)!;
      // Python 2 writes bytes as its str; decoding them as bytes gives back the Uint8Array.
      const options: UnpicklerOptions =
        python.version[0] === 2 ? { floats: 'wrapped', encoding: 'bytes' } : { floats: 'wrapped' };
      let ok = 0;
      let skipped = 0;
      for (const result of report.results) {
        const description = descriptions[Number(result.id.split(' ')[0])]!;
        if (!decodesWith(options.encoding, description)) {
          skipped++;
          continue;
        }
        if (result.pickle === undefined) {
          failures.push(
            `${python.label} ${result.id}: CPython could not pickle ${JSON.stringify(description)}: ${result.error}`,
          );
          continue;
        }
        try {
          // CPython rebuilt the value, so its sets (and Python 2 dicts) iterate in its own order.
          const problem = matchTagged(loads(hexToBytes(result.pickle), options), description, {
            floats: 'wrapped',
            py2str: 'bytes',
            unorderedSets: true,
            unorderedDicts: python.version[0] === 2,
          });
          if (problem) failures.push(`${python.label} ${result.id} ${result.pickle}: ${problem}`);
          else ok++;
        } catch (error) {
          failures.push(`${python.label} ${result.id} ${result.pickle}: threw ${errorText(error)}`);
        }
      }
      console.log(
        `CPython ${python.label}: mpwire decoded ${ok} of ${report.results.length} CPython pickles as described, ${skipped} without a reference under encoding=bytes`,
      );
    }
    expectNoFailures(failures);
  }, 120_000);
});
