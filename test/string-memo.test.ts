import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dumps, Pickler } from '../src/codec/index.js';
import { StringMemo } from '../src/codec/string-memo.js';

// The memo against a Map: every answer of lookupOrAdd, through growth, clears of every size, and hashes forced
// to collide (which send lookups past the Bloom filter to the table and exercise the pending entries).
type Step = { kind: 'add'; text: string; hashing: 'true' | 'collide' | 'few' } | { kind: 'clear' };

function hashFor(text: string, hashing: 'true' | 'collide' | 'few'): number {
  if (hashing === 'true') return StringMemo.hash(text);
  if (hashing === 'collide') return 0x1234567;
  // A few hashes shared by many strings: some probes meet equal hashes of different strings.
  return StringMemo.hash(text) & 0x8000_0007;
}

function runAgainstMap(steps: Step[]): void {
  const memo = new StringMemo();
  const model = new Map<string, number>();
  let next = 0;
  for (const step of steps) {
    if (step.kind === 'clear') {
      memo.clear();
      model.clear();
      continue;
    }
    const expected = model.get(step.text) ?? -1;
    const got = memo.lookupOrAdd(step.text, hashFor(step.text, step.hashing), next);
    if (got !== expected) throw new Error(`${JSON.stringify(step.text)}: got ${got}, expected ${expected}`);
    if (expected < 0) model.set(step.text, next);
    next++;
  }
}

describe('StringMemo', () => {
  it('finds every string added, and no other, through growth past several doublings', () => {
    const memo = new StringMemo();
    const total = 20_000;
    for (let i = 0; i < total; i++) {
      expect(memo.lookupOrAdd(`s${i}`, StringMemo.hash(`s${i}`), i)).toBe(-1);
      // Every few strings, one seen before: the table must have taken the pending entries.
      if (i % 7 === 3) expect(memo.lookupOrAdd(`s${i >> 1}`, StringMemo.hash(`s${i >> 1}`), -5)).toBe(i >> 1);
    }
    for (let i = 0; i < total; i++) expect(memo.lookupOrAdd(`s${i}`, StringMemo.hash(`s${i}`), -5)).toBe(i);
    for (let i = 0; i < 1000; i++)
      expect(memo.lookupOrAdd(`t${i}`, StringMemo.hash(`t${i}`), total + i)).toBe(-1);
  });

  it('keeps every string apart when all hashes are equal', () => {
    const memo = new StringMemo();
    for (let i = 0; i < 300; i++) expect(memo.lookupOrAdd(`c${i}`, 42, i)).toBe(-1);
    for (let i = 0; i < 300; i++) expect(memo.lookupOrAdd(`c${i}`, 42, -1)).toBe(i);
  });

  it('moves to a Map when flooded with strings of one hash, and back to its table after clear', () => {
    // Strings chosen for one hash would make every lookup walk all the others (quadratic time).
    const memo = new StringMemo();
    const total = 50_000;
    for (let i = 0; i < total; i++) expect(memo.lookupOrAdd(`f${i}`, 7, i)).toBe(-1);
    expect(memo.byMap).toBe(true);
    for (let i = 0; i < total; i += 97) expect(memo.lookupOrAdd(`f${i}`, 7, -1)).toBe(i);
    expect(memo.lookupOrAdd('new', 7, total)).toBe(-1);
    expect(memo.lookupOrAdd('new', StringMemo.hash('new'), -1)).toBe(total);
    memo.clear();
    expect(memo.byMap).toBe(false);
    expect(memo.lookupOrAdd('f1', 7, 3)).toBe(-1);
    expect(memo.lookupOrAdd('f1', 7, -1)).toBe(3);
    // A few strings sharing a hash, as chance may give, stay in the table.
    for (let i = 0; i < 20; i++) memo.lookupOrAdd(`g${i}`, 9, 10 + i);
    for (let i = 0; i < 20; i++) expect(memo.lookupOrAdd(`g${i}`, 9, -1)).toBe(10 + i);
    expect(memo.byMap).toBe(false);
  });

  it('hashes with a basis of its own, so strings cannot be chosen for one hash in advance', () => {
    // With FNV-1a's standard basis, 100k distinct strings of one hash take seconds to find (a search over
    // 3-unit blocks). The basis is random to each process (equal to the standard one with odds of 2^-32).
    const standard = (text: string) => {
      let hash = 0x811c9dc5 ^ text.length;
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
      return hash;
    };
    expect(StringMemo.hash('abc')).not.toBe(standard('abc'));
    expect(StringMemo.hash('abc')).toBe(StringMemo.hash('abc'));
  });

  it('forgets everything on clear, for memos of every size, and works again after', () => {
    for (const size of [0, 1, 63, 64, 65, 1000, 5000, 300_000]) {
      const memo = new StringMemo();
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < size; i++)
          memo.lookupOrAdd(`r${round}-${i}`, StringMemo.hash(`r${round}-${i}`), i);
        // A lookup of an earlier string, so that the table holds some entries when cleared.
        if (size > 0) expect(memo.lookupOrAdd(`r${round}-0`, StringMemo.hash(`r${round}-0`), -1)).toBe(0);
        memo.clear();
        for (let i = 0; i < Math.min(size, 200); i++) {
          expect(memo.lookupOrAdd(`r${round}-${i}`, StringMemo.hash(`r${round}-${i}`), 7)).toBe(-1);
        }
        memo.clear();
      }
    }
  });

  it('leaves no stale table entries after many small pickles', () => {
    // Small clears empty the table slot by slot; a slot left behind would fill the table round after round.
    const memo = new StringMemo();
    for (let round = 0; round < 500; round++) {
      for (let i = 0; i < 60; i++) memo.lookupOrAdd(`p${round}-${i}`, StringMemo.hash(`p${round}-${i}`), i);
      expect(memo.lookupOrAdd(`p${round}-1`, StringMemo.hash(`p${round}-1`), -1)).toBe(1);
      expect(memo.lookupOrAdd(`p${round - 1}-1`, StringMemo.hash(`p${round - 1}-1`), 60)).toBe(-1);
      memo.clear();
    }
  });

  it('answers as a Map does for random strings, collisions and clears', () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 30,
        arbitrary: fc.record({
          kind: fc.constant('add' as const),
          text: fc.oneof(fc.string({ maxLength: 3 }), fc.string({ unit: 'binary', maxLength: 12 })),
          hashing: fc.constantFrom('true' as const, 'collide' as const, 'few' as const),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
    );
    // Strings are hashed one way for their whole life in a memo, as the pickler does.
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 400 }),
        fc.constantFrom('true', 'collide', 'few'),
        (steps, hashing) => {
          runAgainstMap(steps.map((s) => (s.kind === 'add' ? { ...s, hashing } : s)) as Step[]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers as a Map does across thousands of strings with few distinct hashes', () => {
    const steps: Step[] = [];
    for (let i = 0; i < 6000; i++) {
      steps.push({ kind: 'add', text: `k${(i * 7919) % 2500}`, hashing: 'few' });
      if (i % 1999 === 1998) steps.push({ kind: 'clear' });
    }
    expect(() => runAgainstMap(steps)).not.toThrow();
  });
});

describe('string memo in the pickler', () => {
  it('writes a repeated string as a memo get, however many new strings came between', () => {
    const strings = Array.from({ length: 50_000 }, (_, i) => `v${i}`);
    const value = [...strings, ...strings.filter((_, i) => i % 97 === 0)];
    const pickle = dumps(value);
    // Each repeat is a BINGET/LONG_BINGET (h or j) instead of a new string: the pickle is as long as the
    // strings once plus one get per repeat.
    const once = dumps(strings);
    const repeats = value.length - strings.length;
    expect(pickle.length).toBeGreaterThan(once.length);
    expect(pickle.length).toBeLessThanOrEqual(once.length + 5 * repeats + 16);
  });

  it('keeps strings across dumps of one Pickler until clearMemo', () => {
    const pickler = new Pickler({ protocol: 4 });
    const contains = (pickle: Uint8Array, text: string) => Buffer.from(pickle).includes(text, 0, 'latin1');
    const first = pickler.dump(['alpha', 'beta']);
    const again = pickler.dump(['beta', 'alpha']);
    expect(contains(first, 'alpha') && contains(first, 'beta')).toBe(true);
    expect(contains(again, 'alpha') || contains(again, 'beta')).toBe(false);
    pickler.clearMemo();
    expect(pickler.dump(['alpha', 'beta'])).toEqual(first);
  });
});
