/**
 * The field ranges of Python's `datetime` types, shared by the decoder (which refuses states out of range)
 * and the encoder (which refuses values CPython could not build). Messages are CPython's. Pure.
 */

/** `timedelta.max.days`: a timedelta's days lie within ±999 999 999. */
export const MAX_TIMEDELTA_DAYS = 999_999_999;

const DAYS_IN_MONTH: readonly number[] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in `month` (1..12) of `year`, by the proleptic Gregorian calendar CPython's datetime uses. */
function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1]!;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** What CPython's `date(year, month, day)` would refuse, or undefined when it is a date. */
export function dateProblem(year: number, month: number, day: number): string | undefined {
  if (!Number.isInteger(year) || year < 1 || year > 9999) return `year ${year} is out of range`;
  if (!Number.isInteger(month) || month < 1 || month > 12) return 'month must be in 1..12';
  if (!Number.isInteger(day) || day < 1 || day > daysInMonth(year, month))
    return 'day is out of range for month';
  return undefined;
}

/** What CPython's `time(hour, minute, second, microsecond)` would refuse, or undefined. */
export function timeProblem(
  hour: number,
  minute: number,
  second: number,
  microsecond: number,
): string | undefined {
  if (!Number.isInteger(hour) || hour < 0 || hour > 23) return 'hour must be in 0..23';
  if (!Number.isInteger(minute) || minute < 0 || minute > 59) return 'minute must be in 0..59';
  if (!Number.isInteger(second) || second < 0 || second > 59) return 'second must be in 0..59';
  if (!Number.isInteger(microsecond) || microsecond < 0 || microsecond > 999_999)
    return 'microsecond must be in 0..999999';
  return undefined;
}
