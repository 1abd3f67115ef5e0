/**
 * Python's `decimal.Decimal(value)` for the values a pickle can hand it (str, float, tuple), giving the
 * canonical `str()` form that PyDecimal keeps: CPython pickles a Decimal as `Decimal(str(d))`, so only pickles
 * CPython did not write need this to agree with what CPython would load. Pure.
 */

/** A Decimal's parts: sign, coefficient digits (no leading zeros) and exponent, or a special value. */
interface DecimalParts {
  negative: boolean;
  /** Coefficient digits for a finite value, payload digits for a NaN, '' for Infinity. */
  digits: string;
  exponent: bigint | 'Infinity' | 'NaN' | 'sNaN';
}

/** Whitespace at either end as Python's `str.strip()` sees it (`str.isspace`), which is not JavaScript's. */
const PY_SPACE_AT_ENDS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: \x1c-\x1f and \x85 are whitespace to Python
  /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

const NUMERIC = /^([+-])?(?:(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?|(inf|infinity)|(s?nan)(\d*))$/i;

/** The canonical string of `Decimal(text)`, or undefined where CPython raises InvalidOperation (ConversionSyntax). */
export function decimalFromString(text: string): string | undefined {
  // CPython strips surrounding whitespace, drops underscores and reads any Unicode decimal digit.
  const ascii = asciiDigits(text.replace(PY_SPACE_AT_ENDS, '').replace(/_/g, ''));
  const m = ascii === undefined ? null : NUMERIC.exec(ascii);
  if (m === null) return undefined;
  const negative = m[1] === '-';
  if (m[5] !== undefined) return toSciString({ negative, digits: '', exponent: 'Infinity' });
  if (m[6] !== undefined) {
    const kind = m[6].toLowerCase() === 'nan' ? 'NaN' : 'sNaN';
    return toSciString({ negative, digits: stripZeros(m[7]!, ''), exponent: kind });
  }
  const whole = m[2] ?? '';
  const fraction = m[3] ?? '';
  if (whole === '' && fraction === '') return undefined;
  const exponent = BigInt(m[4] ?? '0') - BigInt(fraction.length);
  return toSciString({ negative, digits: stripZeros(whole + fraction, '0'), exponent });
}

/** The canonical string of `Decimal(x)` for a float: its exact value, as `Decimal.from_float`. */
export function decimalFromFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  const negative = x < 0 || Object.is(x, -0);
  if (!Number.isFinite(x)) return toSciString({ negative, digits: '', exponent: 'Infinity' });
  // |x| = mantissa * 2^power exactly; a negative power becomes mantissa * 5^-power * 10^power.
  let mantissa = Math.abs(x);
  let power = 0;
  while (!Number.isInteger(mantissa)) {
    mantissa *= 2;
    power--;
  }
  let coefficient = BigInt(mantissa);
  // Keep the ratio reduced, as as_integer_ratio does: an even mantissa gives one power of 2 back.
  while (power < 0 && coefficient % 2n === 0n) {
    coefficient /= 2n;
    power++;
  }
  const digits = power < 0 ? coefficient * 5n ** BigInt(-power) : coefficient;
  return toSciString({ negative, digits: digits.toString(), exponent: BigInt(Math.min(power, 0)) });
}

/**
 * The canonical string of `Decimal((sign, digits, exponent))`; throws an Error with CPython's ValueError
 * message for a malformed tuple. Items are ints (numbers, bigints or booleans) or, for the exponent, one of
 * 'F' (Infinity), 'n' (NaN) and 'N' (sNaN).
 */
export function decimalFromTuple(parts: readonly unknown[]): string {
  if (parts.length !== 3) throw new Error('argument must be a sequence of length 3');
  const [sign, digits, exponent] = parts;
  const signValue = intValue(sign);
  if (signValue !== 0n && signValue !== 1n) throw new Error('sign must be an integer with the value 0 or 1');
  if (!Array.isArray(digits)) throw new Error('coefficient must be a tuple of digits');
  let text = '';
  for (const d of digits) {
    const v = intValue(d);
    if (v === undefined || v < 0n || v > 9n) throw new Error('coefficient must be a tuple of digits');
    text += v.toString();
  }
  const negative = signValue === 1n;
  if (exponent === 'F') return toSciString({ negative, digits: '', exponent: 'Infinity' });
  if (exponent === 'n' || exponent === 'N') {
    return toSciString({
      negative,
      digits: stripZeros(text, ''),
      exponent: exponent === 'n' ? 'NaN' : 'sNaN',
    });
  }
  const e = intValue(exponent);
  if (e === undefined) throw new Error('exponent must be an integer');
  return toSciString({ negative, digits: stripZeros(text, '0'), exponent: e });
}

function intValue(value: unknown): bigint | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : undefined;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  return undefined;
}

function stripZeros(digits: string, empty: string): string {
  const stripped = digits.replace(/^0+/, '');
  return stripped === '' ? empty : stripped;
}

/** `text` with every Unicode decimal digit written as its ASCII digit; undefined if another non-ASCII is in it. */
function asciiDigits(text: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the test is for anything outside ASCII
  if (/^[\x00-\x7f]*$/.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out += ch;
    else if (/\p{Nd}/u.test(ch)) {
      // Unicode encodes each set of decimal digits as runs of 0-9: the value is the distance from the run's start.
      let start = cp;
      while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
      out += String((cp - start) % 10);
    } else return undefined;
  }
  return out;
}

/** Decimal's `__str__` (to-scientific-string). */
function toSciString({ negative, digits, exponent }: DecimalParts): string {
  const sign = negative ? '-' : '';
  if (exponent === 'Infinity') return `${sign}Infinity`;
  if (exponent === 'NaN' || exponent === 'sNaN') return `${sign}${exponent}${digits}`;
  const leftDigits = exponent + BigInt(digits.length);
  const dotPlace = exponent <= 0n && leftDigits > -6n ? leftDigits : 1n;
  let intPart: string;
  let fracPart: string;
  if (dotPlace <= 0n) {
    intPart = '0';
    fracPart = `.${'0'.repeat(Number(-dotPlace))}${digits}`;
  } else if (dotPlace >= BigInt(digits.length)) {
    intPart = digits + '0'.repeat(Number(dotPlace) - digits.length);
    fracPart = '';
  } else {
    intPart = digits.slice(0, Number(dotPlace));
    fracPart = `.${digits.slice(Number(dotPlace))}`;
  }
  const shift = leftDigits - dotPlace;
  const exp = shift === 0n ? '' : `E${shift > 0n ? '+' : ''}${shift}`;
  return sign + intPart + fracPart + exp;
}
