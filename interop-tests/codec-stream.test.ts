/**
 * Streams of pickles that refer back to earlier ones: one `Pickler` dumps several values in turn and its memo
 * outlives each dump, so a later pickle names objects of an earlier one by memo index. CPython's `Unpickler`
 * keeps its memo between loads to read them, and so does mpwire's: every interpreter's stream, at every
 * protocol, reads back with the objects shared across pickles, and mpwire's streams read back in CPython.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Pickler, PyDatetime, tuple, Unpickler } from '../src/codec/index.js';
import { describePythons, findPythons, type PythonInterpreter } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex } from './support/tagged.js';

interface Stream {
  protocol: number;
  stream: string;
  ends: number[];
}
interface ReadResult {
  protocol: number;
  ends: number[];
  values: string[];
  shared: boolean[];
  same: boolean;
}

/** The values pickle_stream.py dumps, one per pickle, sharing objects across them as it does. */
function streamValues(): unknown[] {
  const shared = ['shared', 7];
  const d = { k: shared };
  const dt = new PyDatetime(2020, 1, 2, 3, 4, 5, 6);
  return [shared, [shared, d], tuple(d, dt), [dt, shared, 'tail']];
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

let pythons: PythonInterpreter[] = [];
beforeAll(async () => {
  pythons = await findPythons();
});

describe('pickle streams with one memo across pickles', () => {
  it(`reads CPython's streams load by load with objects shared across loads (${describePythons()})`, async () => {
    const written = await runOnEach<{ streams: Stream[] }>(pythons, 'pickle_stream.py', () => ({
      mode: 'write',
    }));
    let streams = 0;
    for (const [label, { streams: list }] of written) {
      for (const { protocol, stream, ends } of list) {
        const where = `Python ${label} protocol ${protocol}`;
        const data = fromHex(stream);
        const unpickler = new Unpickler();
        const loaded: unknown[] = [];
        let offset = 0;
        for (const end of ends) {
          const result = unpickler.load(data, offset);
          expect(result.end, where).toBe(end);
          loaded.push(result.value);
          offset = result.end;
        }
        const [a, b, c, d] = loaded as [unknown[], unknown[], unknown[], unknown[]];
        expect(loaded, where).toEqual(streamValues());
        expect(b[0], where).toBe(a);
        expect(c[0], where).toBe(b[1]);
        expect(d[0], where).toBe(c[1]);
        expect(d[1], where).toBe(a);
        // Read alone, a later pickle names objects it does not hold: a missing memo entry, or with MEMOIZE
        // (which writes at the memo's length) one of its own objects in their place.
        let alone: unknown;
        try {
          alone = new Unpickler().load(data, ends[0]).value;
        } catch (error) {
          alone = error;
        }
        expect(alone, where).not.toEqual(b);
        streams++;
      }
    }
    expect(streams).toBeGreaterThan(0);
  });

  it(`writes streams CPython reads load by load with the same sharing (${describePythons()})`, async () => {
    const results = await runOnEach<{ results: ReadResult[] }>(pythons, 'pickle_stream.py', (python) => {
      const streams: Stream[] = [];
      for (let protocol = 0; protocol <= python.highestProtocol; protocol++) {
        const pickler = new Pickler({ protocol });
        const parts = streamValues().map((value) => pickler.dump(value));
        const ends: number[] = [];
        let total = 0;
        for (const part of parts) {
          total += part.length;
          ends.push(total);
        }
        streams.push({ protocol, stream: parts.map(bytesToHex).join(''), ends });
      }
      return { mode: 'read', streams };
    });
    for (const [label, { results: list }] of results) {
      for (const result of list) {
        const where = `Python ${label} protocol ${result.protocol}: ${result.values.join(' | ')}`;
        expect(result.same, where).toBe(true);
        expect(result.shared, where).toEqual([true, true, true, true]);
      }
    }
  });
});
