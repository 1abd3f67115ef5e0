/**
 * The code-unit buffers the ASCII, UTF-8 and single-byte decoders build text in: what CPython's error
 * handlers (`errors=`) put in place of bytes a codec cannot decode, and the join into a string.
 */

/**
 * How undecodable bytes are handled, as CPython's `errors=` argument. 'surrogatepass' lets UTF-8 decode
 * encoded surrogates (ED A0..BF xx) and fails otherwise, as in CPython.
 */
export type DecodeErrorHandler =
  | 'strict'
  | 'replace'
  | 'ignore'
  | 'surrogateescape'
  | 'backslashreplace'
  | 'surrogatepass';

const HEX = '0123456789abcdef';

/**
 * Writes what `errors` puts in place of the undecodable bytes `bytes[from, to)` at `units[n]` (four units a
 * byte must be free) and returns the new length, or -1 where the handler fails: 'strict', any name that
 * replaces nothing ('surrogatepass', encode-only and unknown names, which CPython consults only here), and
 * 'surrogateescape' on a byte below 0x80. 'replace' gives one U+FFFD for the whole run: the UTF-8 decoder
 * passes a maximal invalid subpart, the others one byte.
 */
export function writeUndecodable(
  units: Uint16Array,
  n: number,
  bytes: Uint8Array,
  from: number,
  to: number,
  errors: string,
): number {
  switch (errors) {
    case 'replace':
      units[n] = 0xfffd;
      return n + 1;
    case 'ignore':
      return n;
    case 'surrogateescape':
      for (let k = from; k < to; k++) {
        const b = bytes[k]!;
        if (b < 0x80) return -1;
        units[n++] = 0xdc00 | b;
      }
      return n;
    case 'backslashreplace':
      for (let k = from; k < to; k++) {
        const b = bytes[k]!;
        units[n++] = 0x5c; // \x followed by two lowercase hex digits
        units[n++] = 0x78;
        units[n++] = HEX.charCodeAt(b >> 4);
        units[n++] = HEX.charCodeAt(b & 15);
      }
      return n;
    default:
      return -1;
  }
}

/** Code units a decoder's buffer needs per input byte: `least`, or four for backslashreplace's `\xNN`. */
export function unitsPerByte(errors: string, least: number): number {
  return errors === 'backslashreplace' ? 4 : least;
}

/** Code units handed to one `String.fromCharCode` call at most. */
export const CHAR_CODE_CHUNK = 0x1000;

/** Joins UTF-16 code units into a string without passing huge argument lists to fromCharCode. */
export function codeUnitsToString(units: number[] | Uint16Array, length: number): string {
  if (length <= CHAR_CODE_CHUNK) {
    return String.fromCharCode.apply(
      null,
      (length === units.length ? units : units.slice(0, length)) as number[],
    );
  }
  let out = '';
  for (let i = 0; i < length; i += CHAR_CODE_CHUNK) {
    out += String.fromCharCode.apply(null, units.slice(i, Math.min(i + CHAR_CODE_CHUNK, length)) as number[]);
  }
  return out;
}
