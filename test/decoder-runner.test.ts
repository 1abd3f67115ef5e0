import { describe, expect, it } from 'vitest';
import { dumps, loads, Unpickler, UnpicklingError } from '../src/codec/index.js';

// The decoding loop and its helpers are made once per Unpickler and reused by every load: these check that
// no load sees another's state, also when one runs inside another on the same instance.
describe('one Unpickler, many loads', () => {
  const inner = dumps({ k: 'v', n: [1, 2.5] });
  // ['shared', <persistent id 'x'>, 'shared']: the third item is a memo GET of the first.
  const marker = { persistent: true };
  const outer = dumps(['shared', marker, 'shared'], {
    persistentId: (v) => (v === marker ? 'x' : undefined),
  });

  it('a hook that loads with the same Unpickler gets its own state, and the outer load carries on', () => {
    const u: Unpickler = new Unpickler({ persistentLoad: () => u.load(inner).value });
    const result = u.load(outer);
    expect(result.value).toEqual(['shared', { k: 'v', n: [1, 2.5] }, 'shared']);
    expect(result.end).toBe(outer.length);
    // And the instance keeps working afterwards.
    expect(u.load(outer).value).toEqual(['shared', { k: 'v', n: [1, 2.5] }, 'shared']);
  });

  it('loads() inside a hook of loads() decodes both', () => {
    const value = loads(outer, { persistentLoad: () => loads(inner) });
    expect(value).toEqual(['shared', { k: 'v', n: [1, 2.5] }, 'shared']);
  });

  it('the memo of one loads() is not visible to the next, nor after clearMemo()', () => {
    expect(loads(dumps(['a', 'a']))).toEqual(['a', 'a']);
    // BINGET 0 with an empty memo: CPython refuses it, and so must a load that follows one that filled it.
    const get0 = Uint8Array.from([0x80, 0x04, 0x68, 0x00, 0x2e]);
    expect(() => loads(get0)).toThrow(UnpicklingError);
    expect(() => loads(get0)).toThrow(/Memo value not found at index 0/);
    const u = new Unpickler();
    const first = u.load(dumps(['a', 'a'])).value;
    expect(u.load(get0).value).toBe(first);
    u.clearMemo();
    expect(() => u.load(get0)).toThrow(/Memo value not found at index 0/);
  });

  it('a load after a failed one starts clean: no stack, marks or memo left over', () => {
    const u = new Unpickler();
    // MARK, 'x' memoized, then truncated inside a BININT.
    const broken = Uint8Array.from([0x80, 0x04, 0x28, 0x8c, 0x01, 0x78, 0x94, 0x4a, 0x01]);
    expect(() => u.load(broken)).toThrow(/truncated/);
    // A bare STOP after it: an empty stack, so a stack underflow, not a leftover value or MARK.
    expect(() => u.load(Uint8Array.from([0x2e]))).toThrow(/unpickling stack underflow/);
    expect(u.load(dumps([1, 'x'])).value).toEqual([1, 'x']);
  });

  it('container limits count each load on its own', () => {
    const u = new Unpickler({ limits: { maxContainerItems: 4 } });
    const dict = dumps({ a: 1, b: 2, c: 3, d: 4 });
    for (let i = 0; i < 5; i++) expect(u.load(dict).value).toEqual({ a: 1, b: 2, c: 3, d: 4 });
    expect(() => u.load(dumps({ a: 1, b: 2, c: 3, d: 4, e: 5 }))).toThrow(/maxContainerItems/);
    expect(u.load(dict).value).toEqual({ a: 1, b: 2, c: 3, d: 4 });
  });
});
