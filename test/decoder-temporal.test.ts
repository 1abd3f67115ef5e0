import { describe, expect, it } from 'vitest';
import {
  loads,
  PyDate,
  PyDatetime,
  PyTime,
  PyTuple,
  Registry,
  type UnpicklerOptions,
  UnpicklingError,
} from '../src/codec/index.js';

/** Builds a pickle from latin1 text pieces and byte arrays. */
function pk(...parts: (string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'string') for (let i = 0; i < p.length; i++) out.push(p.charCodeAt(i));
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

const DT_STATE = [0x07, 0xe4, 0x02, 0x1d, 0x17, 0x3b, 0x3a, 0x0f, 0x42, 0x3f]; // 2020-02-29 23:59:58.999999
const DATE_STATE = [0x07, 0xe4, 0x0c, 0x1f];
const TIME_STATE = [0x97, 0x3b, 0x00, 0x00, 0x00, 0x01]; // fold=1 23:59:00.000001

/** The state as SHORT_BINBYTES (the shortcut) or BINBYTES (the generic path). */
function stateOp(state: number[], short: boolean): (string | number[])[] {
  return short ? ['C', [state.length], state] : ['B', [state.length, 0, 0, 0], state];
}

function both(build: (short: boolean) => Uint8Array, options?: UnpicklerOptions): [unknown, unknown] {
  return [loads(build(true), options), loads(build(false), options)];
}

function outcome(data: Uint8Array, options?: UnpicklerOptions): unknown {
  try {
    return { value: loads(data, options) };
  } catch (e) {
    if (!(e instanceof UnpicklingError)) throw e;
    // The generic-path pickles are 3 bytes longer (BINBYTES): offsets are compared by the tests that need them.
    return { code: e.code, message: e.message.replace(/ \(at byte \d+\)$/, '') };
  }
}

describe('datetime/date/time states read straight from the pickle', () => {
  it('protocol 4 (MEMOIZE) gives what the generic path gives, GETs of the state and tuple slots included', () => {
    // [dt, state bytes (GET 2), args tuple (GET 3), state bytes again, the tuple's item is the same bytes]
    const build = (short: boolean): Uint8Array =>
      pk(
        '\x80\x04]\x94(\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94',
        ...stateOp(DT_STATE, short),
        '\x94\x85\x94R\x94h\x04h\x05h\x04e.',
      );
    const [fast, slow] = both(build);
    expect(fast).toEqual(slow);
    const list = fast as unknown[];
    expect(list[0]).toBeInstanceOf(PyDatetime);
    expect(list[0]).toMatchObject({ year: 2020, month: 2, day: 29, hour: 23, microsecond: 999_999, fold: 0 });
    expect(list[1]).toEqual(Uint8Array.from(DT_STATE));
    expect(list[2]).toBeInstanceOf(PyTuple);
    expect(list[1]).toBe(list[3]);
    expect((list[2] as PyTuple)[0]).toBe(list[1]);
  });

  it('the tuple slot fetched before the bytes slot still shares the bytes object', () => {
    const build = (short: boolean): Uint8Array =>
      pk(
        '\x80\x04]\x94(\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94',
        ...stateOp(DATE_STATE, short),
        '\x94\x85\x94R\x94h\x05h\x04e.',
      );
    const [fast, slow] = both(build);
    expect(fast).toEqual(slow);
    const list = fast as unknown[];
    expect(list[0]).toBeInstanceOf(PyDate);
    expect((list[1] as PyTuple)[0]).toBe(list[2]);
  });

  it('protocol 3 BINPUT and LONG_BINPUT, one index reused for the bytes and the tuple', () => {
    const build = (short: boolean): Uint8Array =>
      pk(
        '\x80\x03]q\x00(cdatetime\ntime\nq\x01',
        ...stateOp(TIME_STATE, short),
        'r\x00\x01\x00\x00\x85r\x00\x01\x00\x00Rq\x02j\x00\x01\x00\x00h\x01',
        ...stateOp(TIME_STATE, short),
        'q\x07\x85q\x08Rq\x09j\x00\x01\x00\x00h\x07h\x08e.',
      );
    const [fast, slow] = both(build);
    expect(fast).toEqual(slow);
    const list = fast as unknown[];
    expect(list).toHaveLength(6);
    expect(list[0]).toBeInstanceOf(PyTime);
    expect(list[0]).toMatchObject({ hour: 23, minute: 59, second: 0, microsecond: 1, fold: 1 });
    expect(list[1]).toBeInstanceOf(PyTuple);
    expect(list[1]).toBe(list[3]);
    expect((list[5] as PyTuple)[0]).toBe(list[4]);
  });

  it('memo slots overwritten later keep the later value', () => {
    const build = (short: boolean): Uint8Array =>
      pk(
        '\x80\x03]q\x00(cdatetime\ndate\nq\x01',
        ...stateOp(DATE_STATE, short),
        'q\x02\x85q\x03Rq\x04N\x94Nq\x02h\x02h\x03e.',
      );
    const [fast, slow] = both(build);
    expect(fast).toEqual(slow);
    expect((fast as unknown[])[2]).toBe(null);
  });

  it('invalid states, tzinfo arguments and registered decoders take the generic path', () => {
    const bad = [0x07, 0xe4, 0x02, 0x1e, 0, 0, 0, 0, 0, 0]; // February 30
    const cases: ((short: boolean) => Uint8Array)[] = [
      (s) => pk('\x80\x04\x8c\x08datetime\x8c\x08datetime\x93', ...stateOp(bad, s), '\x94\x85\x94R.'),
      (s) => pk('\x80\x04\x8c\x08datetime\x8c\x04time\x93', ...stateOp([24, 0, 0, 0, 0, 0], s), '\x85R.'),
      (s) => pk('\x80\x04\x8c\x08datetime\x8c\x04date\x93', ...stateOp([0, 0, 1, 1], s), '\x85R.'),
      (s) => pk('\x80\x04\x8c\x08datetime\x8c\x08datetime\x93', ...stateOp(DT_STATE, s), 'N\x86R.'),
      (s) => pk('\x80\x04\x8c\x08datetime\x8c\x08datetime\x93', ...stateOp(DT_STATE, s), '\x85R.'),
      (s) => pk('\x80\x04(\x8c\x08datetime\x8c\x08datetime\x93', ...stateOp(DT_STATE, s), '\x85R.'),
    ];
    for (const build of cases) expect(outcome(build(true))).toEqual(outcome(build(false)));
    const registry = new Registry();
    registry.register({
      module: 'datetime',
      name: 'date',
      decoder: { construct: (args) => ({ mine: args[0] }) },
    });
    const build = (s: boolean): Uint8Array =>
      pk('\x80\x04\x8c\x08datetime\x8c\x04date\x93', ...stateOp(DATE_STATE, s), '\x85R.');
    const [fast, slow] = both(build, { registry });
    expect(fast).toEqual(slow);
    expect(fast).toEqual({ mine: Uint8Array.from(DATE_STATE) });
    expect(outcome(build(true), { allowGlobals: [] })).toEqual(outcome(build(false), { allowGlobals: [] }));
  });

  it('memo limits are reported by the memo opcode, as on the generic path', () => {
    const build = (short: boolean): Uint8Array =>
      pk('\x80\x04\x8c\x08datetime\x8c\x04date\x93\x94', ...stateOp(DATE_STATE, short), '\x94\x85\x94R\x94.');
    for (const maxMemoEntries of [1, 2, 3, 4]) {
      const options = { limits: { maxMemoEntries } };
      expect(outcome(build(true), options)).toEqual(outcome(build(false), options));
    }
    const put = (short: boolean): Uint8Array =>
      pk('\x80\x03cdatetime\ndate\n', ...stateOp(DATE_STATE, short), 'r\x00\x10\x00\x00\x85R.');
    const options = { limits: { maxMemoEntries: 100 } };
    expect(outcome(put(true), options)).toEqual(outcome(put(false), options));
    expect(outcome(put(true), options)).toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });

  it('a stream of CPython datetimes decodes to the same values either way', () => {
    const parts: (string | number[])[] = ['\x80\x04]\x94(\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94'];
    const build = (short: boolean): Uint8Array => {
      const p = [...parts];
      for (let i = 0; i < 300; i++) {
        const st = [...DT_STATE];
        st[3] = 1 + (i % 28);
        st[6] = i % 60;
        if (i > 0) p.push('h\x03');
        p.push(...stateOp(st, short), '\x94\x85\x94R\x94');
      }
      p.push('e.');
      return pk(...p);
    };
    const [fast, slow] = both(build);
    expect(fast).toEqual(slow);
    expect((fast as unknown[]).length).toBe(300);
  });
});
