import { describe, expect, it } from 'vitest';
import { isDatetimeStateAt, lookaheadBudget } from '../src/codec/datetime-state-lookahead.js';

const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** `prefix` ends with the str; the read-ahead starts right after it. */
function stateAfter(prefix: string, rest: string, afterMark: boolean, budget = lookaheadBudget(0)): boolean {
  const data = latin1(prefix + rest);
  return isDatetimeStateAt(data, prefix.length, data.length, afterMark, budget);
}

describe('isDatetimeStateAt', () => {
  it('protocol 2: TUPLE1 then REDUCE, with memo puts between', () => {
    const prefix = 'cdatetime\ndate\nq\x01U\x04\x07\xe4\x01\x02';
    expect(stateAfter(prefix, 'q\x02\x85q\x03R.', false)).toBe(true);
    expect(stateAfter(prefix, '\x85R.', false)).toBe(true);
    // (datetime.date, 'str'): a tuple of the class and the str, not a call.
    expect(stateAfter(prefix, 'q\x02\x86q\x03.', false)).toBe(false);
    // A tuple of the str alone that is not then called.
    expect(stateAfter(prefix, '\x85q\x03a.', false)).toBe(false);
  });

  it('protocol 2: a tzinfo of several opcodes between the state and TUPLE2', () => {
    const prefix = 'cdatetime\ntime\nq\x01U\x06\x04\x05\x06\x00\x00\x07';
    const tzinfo = 'ctz\nUTC\nq\x02)\x81q\x03}q\x04b';
    expect(stateAfter(prefix, `q\x05${tzinfo}\x86q\x06R.`, false)).toBe(true);
    expect(stateAfter(prefix, `${tzinfo}\x87R.`, false)).toBe(false);
    // A list after the str that takes it: an APPEND pops below where the read-ahead started.
    expect(stateAfter(prefix, ']a.', false)).toBe(false);
  });

  it('protocols 0 and 1: MARK, the state, perhaps a tzinfo, TUPLE, REDUCE', () => {
    const prefix = "cdatetime\ndate\np1\n(S'\\x07\\xe4\\x01\\x02'\n";
    expect(stateAfter(prefix, 'p2\ntp3\nRp4\n.', true)).toBe(true);
    expect(stateAfter(prefix, 'p2\n(I1\nI2\ntp3\ntR.', true)).toBe(true);
    expect(stateAfter(prefix, 'p2\ntp3\n.', true)).toBe(false);
    expect(stateAfter(prefix, 'p2\nI1\nI2\ntR.', true)).toBe(false);
  });

  it('gives up, saying no, when the load has read ahead its budget', () => {
    const prefix = 'cdatetime\ntime\nU\x06\x04\x05\x06\x00\x00\x07';
    const budget = { left: 3 };
    expect(stateAfter(prefix, 'ctz\nUTC\n)\x81}b\x86R.', false, budget)).toBe(false);
    expect(budget.left).toBeLessThanOrEqual(0);
    expect(stateAfter(prefix, '\x85R.', false, budget)).toBe(false);
  });

  it('says no for data that ends, or an unknown opcode, before REDUCE', () => {
    const prefix = 'cdatetime\ndate\nU\x04\x07\xe4\x01\x02';
    expect(stateAfter(prefix, '\x85', false)).toBe(false);
    expect(stateAfter(prefix, 'U\x09ab', false)).toBe(false);
    expect(stateAfter(prefix, '\xff\x85R.', false)).toBe(false);
  });
});
