/**
 * Hand-made pickles that use the memo in ways no pickler writes (holes left by PUT, MEMOIZE after them,
 * an index written twice), decoded by mpwire and by every unpickler of every CPython 3 found: mpwire must
 * give what CPython gives, or refuse what CPython refuses. CPython's MEMOIZE writes at the number of memo
 * entries (`memo_len`), not after the highest index.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loads, UnpicklingError } from '../src/codec/index.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, pythonsAtLeast } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex, matchTagged, type Tagged } from './support/tagged.js';

/** Bytes from opcode characters, byte values and strings (latin-1), in order. */
function pickle(...parts: (string | number | readonly number[])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') for (const ch of part) out.push(ch.charCodeAt(0));
    else out.push(...part);
  }
  return Uint8Array.from(out);
}

const PROTO4 = [0x80, 4];
const MEMOIZE = 0x94;
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const shortUnicode = (text: string): string => `\x8c${String.fromCharCode(text.length)}${text}`;

const CASES: Record<string, Uint8Array> = {
  // [7, 8, 7, 8]: the list is entry 0, BINPUT 5 makes 2 entries, so MEMOIZE writes index 2.
  memoize_after_put_hole: pickle(
    PROTO4,
    ']',
    MEMOIZE,
    '(K',
    7,
    'q',
    5,
    'K',
    8,
    MEMOIZE,
    'h',
    5,
    'h',
    2,
    'e.',
  ),
  // MEMOIZE after BINPUT 1 writes index 1 again (one entry), twice: 3.
  memoize_overwrites_entry: pickle(PROTO4, 'K', 1, 'q', 1, '0K', 2, MEMOIZE, '0K', 3, MEMOIZE, '0h', 1, '.'),
  // The same, then index 0, which nothing wrote: refused.
  memoize_leaves_index_0_empty: pickle(PROTO4, 'K', 1, 'q', 1, '0K', 2, MEMOIZE, '0h', 0, '.'),
  // A list holding 9 and itself: LONG_BINPUT 1000, then the list MEMOIZEd at index 1.
  memoize_after_far_long_binput: pickle(
    PROTO4,
    'K',
    9,
    'r',
    u32(1000),
    '0]',
    MEMOIZE,
    'j',
    u32(1000),
    'ah',
    1,
    'a.',
  ),
  // A text PUT, then MEMOIZE: (5, 6).
  memoize_after_text_put: pickle(PROTO4, 'K', 5, 'p7\n0K', 6, MEMOIZE, '0(g7\nh', 1, 't.'),
  // A date pickled after a hole, then every memo entry it made fetched back: the state bytes, the argument
  // tuple and the date itself sit at indexes 4, 5 and 6.
  date_after_put_hole: pickle(
    PROTO4,
    'K',
    0,
    'q',
    7,
    '0(',
    shortUnicode('datetime'),
    MEMOIZE,
    shortUnicode('date'),
    MEMOIZE,
    0x93,
    MEMOIZE,
    'C',
    4,
    [0x07, 0xe9, 0x0c, 0x06],
    MEMOIZE,
    0x85,
    MEMOIZE,
    'R',
    MEMOIZE,
    'h',
    4,
    'h',
    5,
    'h',
    6,
    'h',
    3,
    'h',
    7,
    't.',
  ),
};

interface LoadDescribeReport {
  python: string;
  results: { id: string; loaders: Record<string, { description: Tagged } | { error: string }> }[];
}

const pythons = pythonsAtLeast(3, 4);
let reports = new Map<string, LoadDescribeReport>();

beforeAll(async () => {
  console.log(`memo pickles against: ${describePythons(pythons)}`);
  const cases = Object.entries(CASES).map(([id, data]) => ({ id, pickle: bytesToHex(data) }));
  reports = await runOnEach<LoadDescribeReport>(pythons, 'load_describe.py', () => ({ cases }));
}, 120_000);

describe('the memo of hand-made pickles, against CPython', () => {
  it.each(pythons.map((p) => [p.label] as const))('mpwire gives what CPython %s gives', (label) => {
    const report = reports.get(label)!;
    const failures: string[] = [];
    let compared = 0;
    for (const { id, loaders } of report.results) {
      let value: unknown;
      let thrown: unknown;
      try {
        value = loads(CASES[id]!);
      } catch (error) {
        thrown = error;
      }
      for (const [loader, outcome] of Object.entries(loaders)) {
        compared++;
        const where = `${id} (${loader})`;
        if ('error' in outcome) {
          if (!(thrown instanceof UnpicklingError))
            failures.push(`${where}: CPython refused (${outcome.error}), mpwire did not`);
        } else if (thrown !== undefined) {
          failures.push(`${where}: mpwire threw ${String(thrown)}`);
        } else {
          const problem = matchTagged(value, outcome.description, { floats: 'number', py2str: 'latin1' });
          if (problem) failures.push(`${where}: ${problem}`);
        }
      }
    }
    expectNoFailures(failures);
    expect(compared).toBe(2 * Object.keys(CASES).length);
  });

  it('CPython refuses the pickle that fetches an index MEMOIZE skipped, so the refusal is checked', () => {
    for (const report of reports.values()) {
      const outcome = report.results.find((r) => r.id === 'memoize_leaves_index_0_empty')!;
      for (const loader of Object.values(outcome.loaders)) expect(loader).toHaveProperty('error');
    }
  });
});
