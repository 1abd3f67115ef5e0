import { describe, expect, it } from 'vitest';
import {
  allowList,
  isTuple,
  PyDatetime,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyTimedelta,
  PyTimezone,
  PyTuple,
  PyUUID,
  Registry,
  tuple,
} from '../src/index.js';

describe('values', () => {
  it('tuples are frozen arrays whose map() returns a plain array', () => {
    const t = tuple(1, 'a');
    expect(Array.isArray(t)).toBe(true);
    expect(isTuple(t)).toBe(true);
    expect(Object.isFrozen(t)).toBe(true);
    expect([...t]).toEqual([1, 'a']);
    const mapped = t.map((x) => x);
    expect(mapped instanceof PyTuple).toBe(false);
  });

  it('PyTuple.from and PyTuple.of build frozen tuples too', () => {
    const made = [
      PyTuple.from([1, 2]),
      PyTuple.from('ab'),
      PyTuple.from([1, 2], (x) => x * 10),
      PyTuple.of(1, 2),
    ];
    for (const t of made) {
      expect(t).toBeInstanceOf(PyTuple);
      expect(Object.isFrozen(t)).toBe(true);
      expect(() => (t as unknown as unknown[]).push(3)).toThrow(TypeError);
    }
    expect(made.map((t) => [...t])).toEqual([
      [1, 2],
      ['a', 'b'],
      [10, 20],
      [1, 2],
    ]);
  });

  it('frozensets refuse mutation', () => {
    const s = new PyFrozenSet([1, 2]);
    expect(s.has(2)).toBe(true);
    expect(() => s.add(3)).toThrow(TypeError);
    expect(() => s.delete(1)).toThrow(TypeError);
    expect(s.size).toBe(2);
  });

  it('timedelta normalises like Python', () => {
    const d = new PyTimedelta(0, -1, 0);
    expect([d.days, d.seconds, d.microseconds]).toEqual([-1, 86399, 0]);
    const e = new PyTimedelta(1, 90000, 2_500_000);
    expect([e.days, e.seconds, e.microseconds]).toEqual([2, 3602, 500000]);
  });

  it('datetime converts to and from Date', () => {
    const date = new Date(Date.UTC(2024, 1, 29, 12, 30, 15, 123));
    const dt = PyDatetime.fromDate(date);
    expect(dt.microsecond).toBe(123000);
    expect(dt.tzinfo).toBe(PyTimezone.utc);
    expect(dt.toDate().getTime()).toBe(date.getTime());
    const plus2 = new PyDatetime(2024, 2, 29, 14, 30, 15, 123000, new PyTimezone(new PyTimedelta(0, 7200)));
    expect(plus2.toDate().getTime()).toBe(date.getTime());
    // In a fixed offset, as astimezone(timezone(timedelta(hours=-5, minutes=-30))) gives it.
    const minus530 = new PyTimezone(new PyTimedelta(0, -(5 * 3600 + 30 * 60)));
    const there = PyDatetime.fromDate(date, minus530);
    expect([there.day, there.hour, there.minute, there.microsecond, there.tzinfo]).toEqual([
      29,
      7,
      0,
      123000,
      minus530,
    ]);
    expect(there.toDate().getTime()).toBe(date.getTime());
  });

  it('datetime keeps the microseconds of a fixed offset both ways (figures from CPython)', () => {
    const date = new Date(Date.UTC(2024, 1, 29, 12, 30, 15, 123));
    const behind = new PyTimezone(new PyTimedelta(0, 0, -250500));
    // e.astimezone(timezone(timedelta(microseconds=-250500))) is 12:30:14.872500.
    const there = PyDatetime.fromDate(date, behind);
    expect([there.second, there.microsecond]).toEqual([14, 872500]);
    expect(there.toDate().getTime()).toBe(date.getTime());
    const ahead = PyDatetime.fromDate(date, new PyTimezone(new PyTimedelta(0, 0, 500)));
    expect([ahead.second, ahead.microsecond]).toEqual([15, 123500]);
    // (d - epoch) // timedelta(milliseconds=1): the instant rounded down to its millisecond.
    const cases: [number[], number, number][] = [
      [[2024, 2, 29, 12, 30, 15, 123400], -250500, 1709209815373],
      [[1970, 1, 1, 0, 0, 0, 999], 1, 0],
      [[1970, 1, 1, 0, 0, 0, 0], 1, -1],
      [[1969, 12, 31, 23, 59, 59, 999999], -1, 0],
    ];
    for (const [[y, mo, d, h, mi, s, us], offsetUs, ms] of cases) {
      const tz = new PyTimezone(new PyTimedelta(0, 0, offsetUs));
      expect(new PyDatetime(y!, mo!, d!, h!, mi!, s!, us!, tz).toDate().getTime()).toBe(ms);
    }
  });

  it('uuid keeps hex and prints the canonical form', () => {
    const u = new PyUUID('12345678-1234-5678-1234-567812345678');
    expect(u.hex).toBe('12345678123456781234567812345678');
    expect(u.toString()).toBe('12345678-1234-5678-1234-567812345678');
    expect(u.toBigInt()).toBe(0x12345678123456781234567812345678n);
    expect(() => new PyUUID('xyz')).toThrow(RangeError);
  });

  it('a Registry reduces with the most specific registered class, whatever the order of registration', () => {
    class Shape {}
    class Circle extends Shape {}
    class Disc extends Circle {}
    const reducerOf = (name: string) => () => new PyObject('reduce', new PyGlobal('geo', name), []);
    const registry = new Registry()
      .register({ module: 'geo', name: 'Circle', type: Circle, reduce: reducerOf('Circle') })
      .register({ module: 'geo', name: 'Shape', type: Shape, reduce: reducerOf('Shape') });
    const nameFor = (value: object) => (registry.reducerFor(value)!(value, { protocol: 4 }) as PyObject).name;
    expect(nameFor(new Shape())).toBe('Shape');
    expect(nameFor(new Circle())).toBe('Circle');
    expect(nameFor(new Disc())).toBe('Circle');
    expect(registry.reducerFor({})).toBeUndefined();
  });

  it('allowList matches exact names and module wildcards', () => {
    const allowed = allowList(['builtins.set', 'datetime.*']);
    expect(allowed('builtins', 'set')).toBe(true);
    expect(allowed('builtins', 'eval')).toBe(false);
    expect(allowed('datetime', 'datetime')).toBe(true);
  });
});
