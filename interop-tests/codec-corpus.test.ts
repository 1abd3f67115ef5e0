/**
 * The codec against every CPython found, at every protocol each has (python-fixtures/corpus.py):
 * 1. mpwire decodes each CPython pickle (C and pure-Python picklers) to exactly its description;
 * 2. mpwire encodes each description to CPython 3.8-3.13's own bytes where the corpus says they are exact;
 * 3. every interpreter that reads the protocol loads mpwire's pickle back to the described value.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dumps, loads } from '../src/codec/index.js';
import {
  type CheckLoadsCase,
  type CheckLoadsReport,
  type CorpusDocument,
  decodeModes,
  decodesWith,
} from './support/corpus.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, findPythons } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex, fromTagged, hexToBytes, matchTagged } from './support/tagged.js';

const pythons = findPythons();
const corpora = new Map<string, CorpusDocument>();

/** Whether mpwire's encoder writes equal strings once (BINGET after the first), as CPython does for one object. */
const ENCODER_MEMOIZES_EQUAL_STRINGS = true;

beforeAll(async () => {
  console.log(`codec corpus against: ${describePythons(pythons)}`);
  for (const [label, corpus] of await runOnEach<CorpusDocument>(pythons, 'corpus.py', () => undefined)) {
    corpora.set(label, corpus);
  }
}, 120_000);

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

describe.each(pythons.map((p) => [p.label, p] as const))('CPython %s corpus', (label, python) => {
  it('mpwire decodes every pickle to its description', () => {
    const corpus = corpora.get(label)!;
    const failures: string[] = [];
    let decoded = 0;
    for (const mode of decodeModes(python)) {
      for (const value of corpus.values) {
        for (const entry of value.protocols) {
          if (!decodesWith(mode.options.encoding, entry.description)) continue;
          for (const [pickler, hex] of Object.entries(entry.pickles)) {
            const where = `${value.name} @${entry.protocol} ${pickler} (${mode.label}) ${hex.slice(0, 400)}`;
            decoded++;
            try {
              const problem = matchTagged(
                loads(hexToBytes(hex), mode.options),
                entry.description,
                mode.match,
              );
              if (problem) failures.push(`${where}: ${problem}`);
            } catch (error) {
              failures.push(`${where}: threw ${errorText(error)}`);
            }
          }
        }
      }
    }
    console.log(
      `CPython ${label}: decoded ${decoded} pickles (${corpus.values.length} values, protocols 0-${corpus.highestProtocol}), ${failures.length} failures`,
    );
    expectNoFailures(failures);
    expect(decoded).toBeGreaterThan(corpus.values.length);
  });

  const writesExactBytes = python.version[0] === 3 && python.version[1] >= 8 && python.version[1] <= 13;
  it.runIf(writesExactBytes)("mpwire's dumps writes CPython's bytes", () => {
    const corpus = corpora.get(label)!;
    const failures: string[] = [];
    let compared = 0;
    for (const value of corpus.values) {
      if (!value.javascriptLossless) continue;
      if (value.stringSharing === 'all-shared' && !ENCODER_MEMOIZES_EQUAL_STRINGS) continue;
      for (const entry of value.protocols) {
        if (!entry.exact) continue;
        const expected = entry.pickles.c!;
        compared++;
        try {
          const actual = bytesToHex(dumps(fromTagged(entry.description), { protocol: entry.protocol }));
          if (actual !== expected) {
            failures.push(`${value.name} @${entry.protocol}: expected ${expected}\n  actual   ${actual}`);
          }
        } catch (error) {
          failures.push(`${value.name} @${entry.protocol}: threw ${errorText(error)}`);
        }
      }
    }
    console.log(`CPython ${label}: compared ${compared} encodings byte for byte, ${failures.length} differ`);
    expectNoFailures(failures);
    expect(compared).toBeGreaterThan(corpus.values.length);
  });
});

describe('CPython loads what mpwire encodes', () => {
  it('every interpreter loads each encoded description at each protocol it reads', async () => {
    // Descriptions from the newest Python 3 (it has every value and every protocol).
    const source = [...pythons].reverse().find((p) => p.version[0] === 3) ?? pythons.at(-1)!;
    const corpus = corpora.get(source.label)!;
    const encoded: CheckLoadsCase[] = [];
    const encodeFailures: string[] = [];
    for (const value of corpus.values) {
      if (!value.javascriptLossless) continue;
      for (const entry of value.protocols) {
        const id = `${value.name} @${entry.protocol}`;
        try {
          const pickle = bytesToHex(dumps(fromTagged(entry.description), { protocol: entry.protocol }));
          encoded.push({ id, protocol: entry.protocol, pickle, description: entry.description });
        } catch (error) {
          encodeFailures.push(`${id}: dumps threw ${errorText(error)}`);
        }
      }
    }
    const reports = await runOnEach<CheckLoadsReport>(pythons, 'check_loads.py', (p) => ({
      cases: encoded.filter((c) => c.protocol <= p.highestProtocol),
    }));
    const loadFailures: string[] = [];
    for (const [label, report] of reports) {
      const counts = { ok: 0, mismatch: 0, 'load-error': 0, 'not-expressible': 0 };
      for (const result of report.results) {
        counts[result.status]++;
        if (result.status === 'mismatch' || result.status === 'load-error') {
          const pickle = encoded.find((c) => c.id === result.id)?.pickle;
          loadFailures.push(
            `${label} ${result.id}: ${result.status} ${JSON.stringify(result.detail)} pickle ${pickle}`,
          );
        }
      }
      console.log(
        `CPython ${label} loaded mpwire pickles: ${counts.ok} ok, ${counts.mismatch} mismatched, ${counts['load-error']} refused, ${counts['not-expressible']} not expressible there`,
      );
    }
    console.log(`mpwire encoded ${encoded.length} descriptions from CPython ${source.label}`);
    expectNoFailures(encodeFailures);
    expectNoFailures(loadFailures);
    expect(encoded.length).toBeGreaterThan(corpus.values.length);
  }, 120_000);
});
