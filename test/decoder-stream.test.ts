/**
 * An Unpickler keeps its memo between loads, as CPython's does, so a stream of pickles one Pickler dumped in
 * turn reads back with its objects shared. A load that fails, or is rerun, leaves the kept memo as it was.
 */
import { describe, expect, it } from 'vitest';
import { dumps, loads, Pickler, PyDatetime, Unpickler, UnpicklingError } from '../src/codec/index.js';

const bytes = (...parts: (number | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p].map((ch) => ch.charCodeAt(0)))));
const PROTO3 = [0x80, 3] as const;
/** BINGET i, STOP: the memo entry `i` alone. */
const get = (i: number): Uint8Array => bytes(...PROTO3, 0x68, i, 0x2e);

describe('Unpickler memo across loads', () => {
  it("reads a Pickler's stream with objects shared across pickles", () => {
    const pickler = new Pickler();
    const shared = { name: 'shared', items: [1, 2] };
    const parts = [pickler.dump(shared), pickler.dump([shared, 'x']), pickler.dump({ again: shared })];
    const u = new Unpickler();
    const [a, b, c] = parts.map((p) => u.load(p).value) as [unknown, unknown[], Record<string, unknown>];
    expect(a).toEqual(shared);
    expect(b[0]).toBe(a);
    expect(c.again).toBe(a);
  });

  it('a load that fails leaves the memo as it was: entries it overwrote, added or counted', () => {
    const u = new Unpickler();
    const first = u.load(bytes(...PROTO3, ']', 0x71, 0, 'K', 1, 'a', 0x2e)).value;
    expect(first).toEqual([1]);
    // BINPUT 0 over the list, BINPUT 5 (a new entry), then truncated in a BININT.
    expect(() => u.load(bytes(...PROTO3, 'K', 9, 0x71, 0, 0x71, 5, 'J', 1))).toThrow(/truncated/);
    expect(u.load(get(0)).value).toBe(first);
    expect(() => u.load(get(5))).toThrow(/Memo value not found at index 5/);
    // MEMOIZE writes at the number of entries: 1, as before the failed load.
    const memoized = u.load(bytes(0x80, 4, 'K', 3, 0x94, 0x2e)).value;
    expect(memoized).toBe(3);
    expect(u.load(get(1)).value).toBe(3);
  });

  it('counts every kept entry against maxMemoEntries until clearMemo()', () => {
    const u = new Unpickler({ limits: { maxMemoEntries: 3 } });
    const three = dumps(['a', 'b'], { protocol: 2 }); // BINPUTs of the list, 'a' and 'b'
    expect(u.load(bytes(...PROTO3, 'K', 1, 0x71, 0, 'K', 2, 0x71, 1, 0x30, 0x2e)).value).toBe(1);
    expect(() => u.load(bytes(...PROTO3, 'K', 1, 0x71, 2, 'K', 2, 0x71, 3, 0x30, 0x2e))).toThrow(
      /maxMemoEntries/,
    );
    u.clearMemo();
    expect(u.load(three).value).toEqual(['a', 'b']);
  });

  it('a datetime state read straight from the data stays readable after the data is gone', () => {
    const u = new Unpickler();
    const state = [0x07, 0xe4, 1, 2, 3, 4, 5, 0, 0, 6];
    // datetime.datetime, C <state> BINPUT 1, TUPLE1, BINPUT 2, REDUCE: the state and the tuple memoized.
    const data = bytes(...PROTO3, 'c', 'datetime\ndatetime\n', 0x71, 0, 'C', 10, ...state, 0x71, 1, 0x85);
    const pickle = Uint8Array.from([...data, 0x71, 2, 0x52, 0x2e]);
    expect(u.load(pickle).value).toEqual(new PyDatetime(2020, 1, 2, 3, 4, 5, 6));
    pickle.fill(0);
    expect(u.load(get(1)).value).toEqual(Uint8Array.from(state));
    expect(u.load(get(2)).value).toEqual([Uint8Array.from(state)]);
  });

  it('a dict of an earlier load that takes a non-str key after a GET is refused, and the memo kept', () => {
    const u = new Unpickler();
    const dict = u.load(bytes(...PROTO3, '}', 0x71, 0, 0x2e)).value;
    // GET 0 twice, SETITEM 1: 2 on the second: the dict would have to become a Map the caller already has.
    const setIntKey = bytes(...PROTO3, 0x68, 0, 0x68, 0, 'K', 1, 'K', 2, 's', 0x86, 0x2e);
    expect(() => u.load(setIntKey)).toThrow(UnpicklingError);
    expect(() => u.load(setIntKey)).toThrow(/dicts: 'map'/);
    expect(u.load(get(0)).value).toBe(dict);
    expect(dict).toEqual({});
  });

  it("a load rerun to make a dict a Map leaves the memo holding that load's own objects once", () => {
    const u = new Unpickler();
    u.load(bytes(...PROTO3, 'K', 5, 0x71, 0, 0x2e));
    // A dict MEMOIZEd (at 1), GET 1, SETITEM 1: 2 on it: a rerun with the dict a Map from the start.
    const value = u.load(bytes(0x80, 4, '}', 0x94, 0x68, 1, 'K', 1, 'K', 2, 's', 0x86, 0x2e)).value;
    const [m1, m2] = value as [Map<unknown, unknown>, Map<unknown, unknown>];
    expect(m1).toBeInstanceOf(Map);
    expect(m1).toBe(m2);
    expect(m1.get(1)).toBe(2);
    expect(u.load(get(1)).value).toBe(m1);
    expect(u.load(get(0)).value).toBe(5);
    // MEMOIZE writes at 2: the rerun did not count entry 1 twice.
    expect(u.load(bytes(0x80, 4, 'K', 8, 0x94, 0x2e)).value).toBe(8);
    expect(u.load(get(2)).value).toBe(8);
  });

  it('a load nested in a hook has a memo of its own; clearMemo() during a load is refused', () => {
    const inner = dumps(['inner', 'inner']);
    const u: Unpickler = new Unpickler({
      persistentLoad: (pid) => {
        if (pid === 'clear') u.clearMemo();
        return u.load(inner).value;
      },
    });
    const outer = dumps(['outer', 'p', 'outer'], { persistentId: (v) => (v === 'p' ? 'x' : undefined) });
    expect(u.load(outer).value).toEqual(['outer', ['inner', 'inner'], 'outer']);
    // The outer pickle's objects are in the memo (the list at 0, 'outer' at 1), the inner one's are not.
    expect(u.load(get(1)).value).toBe('outer');
    const clearing = dumps(['p'], { persistentId: (v) => (v === 'p' ? 'clear' : undefined) });
    expect(() => u.load(clearing)).toThrow(/clearMemo called while it is loading/);
    expect(u.load(get(1)).value).toBe('outer');
  });

  it('loads() and a fresh Unpickler keep nothing between pickles', () => {
    const u = new Unpickler();
    u.load(dumps(['a']));
    expect(loads(dumps(['b']))).toEqual(['b']);
    expect(() => loads(get(0))).toThrow(/Memo value not found/);
    expect(u.load(get(0)).value).toEqual(['a']);
  });
});
