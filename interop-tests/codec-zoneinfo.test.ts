/**
 * Datetimes in `zoneinfo.ZoneInfo` zones against every CPython 3.9+ found, at every protocol: `loads` gives a
 * PyDatetime whose tzinfo is a PyZoneInfo, `dumps` gives CPython's bytes back (from the decoded value and
 * from one built in TypeScript), and `toDate()` gives the instant CPython computes, fold included, in
 * repeated and skipped hours.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dumps, loads, PyDatetime, PyZoneInfo } from '../src/codec/index.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, pythonsAtLeast } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex, hexToBytes } from './support/tagged.js';

interface Case {
  id: string;
  key: string;
  fields: [number, number, number, number, number, number, number];
  fold: 0 | 1;
  cache: boolean;
}

const CASES: Case[] = [
  ['berlin summer', 'Europe/Berlin', [2024, 5, 1, 12, 0, 0, 0], 0],
  ['berlin winter, microseconds', 'Europe/Berlin', [2024, 1, 15, 23, 59, 59, 999_999], 0],
  ['berlin repeated hour, fold 0', 'Europe/Berlin', [2024, 10, 27, 2, 30, 0, 0], 0],
  ['berlin repeated hour, fold 1', 'Europe/Berlin', [2024, 10, 27, 2, 30, 0, 0], 1],
  ['berlin skipped hour, fold 0', 'Europe/Berlin', [2024, 3, 31, 2, 30, 0, 0], 0],
  ['berlin skipped hour, fold 1', 'Europe/Berlin', [2024, 3, 31, 2, 30, 0, 0], 1],
  ['berlin 1950', 'Europe/Berlin', [1950, 6, 1, 8, 0, 0, 0], 0],
  ['new york repeated hour, fold 1', 'America/New_York', [2021, 11, 7, 1, 30, 0, 0], 1],
  ['new york skipped hour', 'America/New_York', [2021, 3, 14, 2, 15, 0, 0], 0],
  ['lord howe half-hour change, fold 1', 'Australia/Lord_Howe', [2024, 4, 7, 1, 45, 0, 0], 1],
  ['kolkata', 'Asia/Kolkata', [2023, 8, 15, 9, 30, 0, 0], 0],
  ['utc', 'UTC', [2000, 2, 29, 0, 0, 0, 0], 0],
  ['sao paulo midnight gap', 'America/Sao_Paulo', [2018, 11, 4, 0, 30, 0, 0], 0],
].flatMap(([id, key, fields, fold]) => [
  {
    id: id as string,
    key: key as string,
    fields: fields as Case['fields'],
    fold: fold as 0 | 1,
    cache: true,
  },
  {
    id: `${id}, no_cache`,
    key: key as string,
    fields: fields as Case['fields'],
    fold: fold as 0 | 1,
    cache: false,
  },
]);

interface Result {
  id: string;
  pickles: Record<string, string>;
  shared: Record<string, string>;
  epoch_ms: Record<string, number>;
  from_instant: { fields: number[]; fold: 0 | 1 };
}

const pythons = pythonsAtLeast(3, 9);

describe(`zoneinfo datetimes against CPython (${describePythons(pythons)})`, () => {
  let outputs: Map<string, { python: string; available: boolean; results: Result[] }>;
  beforeAll(async () => {
    outputs = await runOnEach(pythons, 'zoneinfo_cases.py', () => ({ cases: CASES }));
  }, 120_000);

  it('has a CPython with zoneinfo and its data', () => {
    expect([...outputs.values()].some((o) => o.available)).toBe(true);
  });

  it('decodes to PyZoneInfo, writes the same bytes back, and gives the same instant', () => {
    const failures: string[] = [];
    let checked = 0;
    for (const [label, output] of outputs) {
      for (const result of output.results) {
        const c = CASES.find((x) => x.id === result.id)!;
        for (const [protocol, hex] of Object.entries(result.pickles)) {
          const where = `${label} ${c.id} protocol ${protocol}`;
          const value = loads(hexToBytes(hex));
          if (!(value instanceof PyDatetime) || !(value.tzinfo instanceof PyZoneInfo)) {
            failures.push(`${where}: not a PyDatetime in a PyZoneInfo`);
            continue;
          }
          // Below protocol 4 CPython writes a datetime without its fold.
          const fold = Number(protocol) >= 4 ? c.fold : 0;
          if (value.tzinfo.key !== c.key || value.tzinfo.fromCache !== c.cache || value.fold !== fold) {
            failures.push(
              `${where}: ${value.tzinfo.key} fromCache ${value.tzinfo.fromCache} fold ${value.fold}`,
            );
          }
          if (bytesToHex(dumps(value, { protocol: Number(protocol) })) !== hex) {
            failures.push(`${where}: re-encoded bytes differ`);
          }
          const built = new PyDatetime(
            ...c.fields,
            c.cache ? PyZoneInfo.of(c.key) : new PyZoneInfo(c.key, false),
            c.fold,
          );
          if (bytesToHex(dumps(built, { protocol: Number(protocol) })) !== hex) {
            failures.push(`${where}: bytes of a value built in TypeScript differ`);
          }
          const ms = value.toDate().getTime();
          const expected = result.epoch_ms[protocol];
          if (ms !== expected) failures.push(`${where}: instant ${ms}, CPython ${expected}`);
          const shared = result.shared[protocol]!;
          const pair = loads(hexToBytes(shared)) as PyDatetime[];
          if (c.cache && pair[0]!.tzinfo !== pair[1]!.tzinfo)
            failures.push(`${where}: the zone is not shared`);
          if (bytesToHex(dumps(pair, { protocol: Number(protocol) })) !== shared) {
            failures.push(`${where}: re-encoded pair differs`);
          }
          checked++;
        }
      }
    }
    expectNoFailures(failures);
    expect(checked).toBeGreaterThanOrEqual(CASES.length * 6);
  });

  it('gives the wall time and fold of an instant in a zone as astimezone does (PyDatetime.fromDate)', () => {
    const failures: string[] = [];
    for (const [label, output] of outputs) {
      for (const result of output.results) {
        const c = CASES.find((x) => x.id === result.id)!;
        const instant = result.epoch_ms['5']!;
        const d = PyDatetime.fromDate(new Date(instant), PyZoneInfo.of(c.key));
        const got = [d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond];
        const want = result.from_instant;
        if (got.join() !== want.fields.join() || d.fold !== want.fold) {
          failures.push(
            `${label} ${c.id}: ${got.join()} fold ${d.fold}, CPython ${want.fields.join()} fold ${want.fold}`,
          );
        }
        if (d.toDate().getTime() !== instant) failures.push(`${label} ${c.id}: no round trip to the instant`);
      }
    }
    expectNoFailures(failures);
  });

  it('reads the cached zone of a key as one object, as ZoneInfo(key) is in CPython', () => {
    expect(PyZoneInfo.of('Europe/Paris')).toBe(PyZoneInfo.of('Europe/Paris'));
    expect(() => new PyZoneInfo('Nowhere/Else').offsetAt(0)).toThrow(RangeError);
  });
});
