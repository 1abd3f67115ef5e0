/**
 * Text encodings the pickler needs, written straight into a byte array: UTF-8 with CPython's `surrogatepass`
 * (lone surrogates become their 3-byte form instead of U+FFFD), the pickle flavour of `raw-unicode-escape`
 * used by protocol 0's UNICODE opcode, and Python's `repr(float)` for protocol 0's FLOAT opcode.
 * Pure functions: no I/O, no `node:` imports.
 */

const textEncoder = new TextEncoder();

/**
 * `String.prototype.charCodeAt`, called as `charCodeAt.call(text, i)` in the per-character loops. The method
 * call `text.charCodeAt(i)` loads the method from the string first, and that load's inline cache is keyed by
 * string map (internalized, sequential, cons, sliced; one- and two-byte): once a loop has seen more than four
 * (dict keys and other values in one process are enough), the load goes megamorphic and every character
 * costs a generic lookup and call, about 5x slower. The known target compiles to a direct character load.
 * Each module keeps its own copy: through an import binding the target is not a compile-time constant.
 */
const charCodeAt = String.prototype.charCodeAt;

/** Below this many UTF-16 units a hand loop beats `TextEncoder.encodeInto`'s call overhead. */
const ENCODE_INTO_THRESHOLD = 48;

type WellFormedCheck = { isWellFormed?: () => boolean };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` has no unpaired surrogate (so `TextEncoder` gives the same bytes as surrogatepass). */
export function isWellFormedText(text: string): boolean {
  const check = (text as unknown as WellFormedCheck).isWellFormed;
  return check !== undefined ? check.call(text) : !LONE_SURROGATE.test(text);
}

/**
 * Writes `text` as UTF-8 (surrogatepass) at `bytes[offset]` and returns the number of bytes written.
 * The caller guarantees `3 * text.length` bytes of room.
 */
export function encodeUtf8Into(text: string, bytes: Uint8Array, offset: number): number {
  const length = text.length;
  let pos = offset;
  let i = 0;
  // ASCII fast path: most pickled strings (keys, names) never leave it.
  for (; i < length; i++) {
    const unit = charCodeAt.call(text, i);
    if (unit >= 0x80) break;
    bytes[pos++] = unit;
  }
  if (i === length) return length;
  return pos - offset + encodeUtf8From(text, i, bytes, pos);
}

/**
 * Writes `text` from UTF-16 index `start` on as UTF-8 (surrogatepass) at `bytes[offset]`; returns the number
 * of bytes written. The caller guarantees `3 * (text.length - start)` bytes of room.
 */
function encodeUtf8From(text: string, start: number, bytes: Uint8Array, offset: number): number {
  const length = text.length;
  let pos = offset;
  let i = start;
  if (length - i >= ENCODE_INTO_THRESHOLD && isWellFormedText(text)) {
    const rest = i === 0 ? text : text.slice(i);
    return textEncoder.encodeInto(rest, bytes.subarray(pos)).written;
  }
  for (; i < length; i++) {
    let unit = charCodeAt.call(text, i);
    if (unit < 0x80) {
      bytes[pos++] = unit;
    } else if (unit < 0x800) {
      bytes[pos++] = 0xc0 | (unit >> 6);
      bytes[pos++] = 0x80 | (unit & 0x3f);
    } else {
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
        const low = charCodeAt.call(text, i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          i++;
          bytes[pos++] = 0xf0 | (unit >> 18);
          bytes[pos++] = 0x80 | ((unit >> 12) & 0x3f);
          bytes[pos++] = 0x80 | ((unit >> 6) & 0x3f);
          bytes[pos++] = 0x80 | (unit & 0x3f);
          continue;
        }
      }
      // A BMP character, or a lone surrogate written as surrogatepass does.
      bytes[pos++] = 0xe0 | (unit >> 12);
      bytes[pos++] = 0x80 | ((unit >> 6) & 0x3f);
      bytes[pos++] = 0x80 | (unit & 0x3f);
    }
  }
  return pos - offset;
}

/**
 * `encodeUtf8Into` that also folds every UTF-16 unit into an FNV-1a hash (prime 0x01000193) in the same
 * pass: `hashCell[0]` holds the seed on entry and the hash on return. Returns the number of bytes written.
 * For short strings, whose memo lookup needs that hash anyway, one pass instead of two.
 */
export function encodeUtf8Hashing(
  text: string,
  bytes: Uint8Array,
  offset: number,
  hashCell: Int32Array,
): number {
  const length = text.length;
  let hash = hashCell[0]!;
  let pos = offset;
  for (let i = 0; i < length; i++) {
    let unit = charCodeAt.call(text, i);
    hash = Math.imul(hash ^ unit, 0x01000193);
    if (unit < 0x80) {
      bytes[pos++] = unit;
    } else if (unit < 0x800) {
      bytes[pos++] = 0xc0 | (unit >> 6);
      bytes[pos++] = 0x80 | (unit & 0x3f);
    } else {
      if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
        const low = charCodeAt.call(text, i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          hash = Math.imul(hash ^ low, 0x01000193);
          unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          i++;
          bytes[pos++] = 0xf0 | (unit >> 18);
          bytes[pos++] = 0x80 | ((unit >> 12) & 0x3f);
          bytes[pos++] = 0x80 | ((unit >> 6) & 0x3f);
          bytes[pos++] = 0x80 | (unit & 0x3f);
          continue;
        }
      }
      // A BMP character, or a lone surrogate written as surrogatepass does.
      bytes[pos++] = 0xe0 | (unit >> 12);
      bytes[pos++] = 0x80 | ((unit >> 6) & 0x3f);
      bytes[pos++] = 0x80 | (unit & 0x3f);
    }
  }
  hashCell[0] = hash;
  return pos - offset;
}

/** `text` as a standalone UTF-8 (surrogatepass) byte array; used for strings too large to encode in place. */
export function encodeUtf8(text: string): Uint8Array {
  if (isWellFormedText(text)) return textEncoder.encode(text);
  const scratch = new Uint8Array(text.length * 3);
  return scratch.subarray(0, encodeUtf8Into(text, scratch, 0));
}

const HEX_DIGITS = '0123456789abcdef';

function writeHexEscape(
  bytes: Uint8Array,
  pos: number,
  marker: number,
  value: number,
  digits: number,
): number {
  bytes[pos++] = 0x5c; // backslash
  bytes[pos++] = marker;
  for (let shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    bytes[pos++] = HEX_DIGITS.charCodeAt((value >> shift) & 0xf);
  }
  return pos;
}

/**
 * Writes `text` as CPython 3.8+'s pickler writes protocol 0 UNICODE arguments: `raw-unicode-escape`, with
 * `\`, NUL, `\n`, `\r` and `\x1a` also escaped as `\uXXXX`. Returns the new position. The caller guarantees
 * `6 * text.length` bytes of room.
 */
export function encodeRawUnicodeEscapeInto(text: string, bytes: Uint8Array, offset: number): number {
  let pos = offset;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    let unit = charCodeAt.call(text, i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
      const low = charCodeAt.call(text, i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
        i++;
        pos = writeHexEscape(bytes, pos, 0x55 /* U */, unit, 8);
        continue;
      }
    }
    if (unit >= 0x100 || unit === 0x5c || unit === 0 || unit === 0x0a || unit === 0x0d || unit === 0x1a) {
      pos = writeHexEscape(bytes, pos, 0x75 /* u */, unit, 4);
    } else {
      bytes[pos++] = unit;
    }
  }
  return pos;
}

/**
 * Python's `repr(float)`: the shortest digits that round-trip (JavaScript's own shortest form), laid out as
 * CPython does: exponent form when the decimal exponent is below -4 or at least 16, else positional with a
 * `.0` for integral values; `inf`, `-inf`, `nan`.
 */
export function formatFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const exponential = value.toExponential();
  const ePos = exponential.indexOf('e');
  const sign = value < 0 ? '-' : '';
  const mantissa = exponential.slice(value < 0 ? 1 : 0, ePos);
  const digits = mantissa.length > 1 ? mantissa[0] + mantissa.slice(2) : mantissa;
  const exponent = Number(exponential.slice(ePos + 1));
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const magnitude = Math.abs(exponent);
    return `${sign}${digits[0]}${fraction}e${exponent < 0 ? '-' : '+'}${magnitude < 10 ? '0' : ''}${magnitude}`;
  }
  const pointAt = exponent + 1;
  if (pointAt <= 0) return `${sign}0.${'0'.repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return `${sign}${digits}${'0'.repeat(pointAt - digits.length)}.0`;
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}
