/**
 * Byte-to-text decoders the unpickler needs, each matching the CPython codec it stands for: UTF-8 with
 * `surrogatepass` (every str opcode), `raw-unicode-escape` (protocol-0 UNICODE), the `string-escape` rules of
 * protocol-0 STRING, and the `encoding`/`errors` choices for Python 2 `str`. Pure functions; no `node:` imports
 * (Node's global Buffer is used for speed when present, with the same results without it).
 */

import { type CharmapCodec, charmapCodec, decodeCharmap } from './charmap-decode.js';
import {
  CHAR_CODE_CHUNK,
  codeUnitsToString,
  type DecodeErrorHandler,
  unitsPerByte,
  writeUndecodable,
} from './decode-units.js';
import { CODEC_ALIASES, CODEC_MODULES } from './python-codecs.js';

export type { DecodeErrorHandler };

/** A byte sequence that the named codec cannot decode. The decoder turns it into an UnpicklingError. */
export class TextDecodeFailure extends Error {
  override readonly name = 'TextDecodeFailure';
}

/** Latin-1: every byte is the code point of the same value. */
export function decodeLatin1(bytes: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end; i += CHAR_CODE_CHUNK) {
    out += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(i + CHAR_CODE_CHUNK, end)) as unknown as number[],
    );
  }
  return out;
}

// `ignoreBOM` because TextDecoder would otherwise drop a leading U+FEFF that Python keeps.
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const fromCharCode = String.fromCharCode;

/**
 * Node's `Buffer.prototype.latin1Slice`, which takes any Uint8Array as `this`; undefined in browsers. For
 * ASCII strings of 9–64 bytes it is 2–3× faster than copying into an array for fromCharCode.apply.
 */
const nodeLatin1Slice = (
  globalThis as {
    Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } };
  }
).Buffer?.prototype.latin1Slice;

/** Up to 8 ASCII bytes as a string: explicit arguments beat both TextDecoder and apply() for short keys. */
function shortAscii(b: Uint8Array, s: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCharCode(b[s]!);
    case 2:
      return fromCharCode(b[s]!, b[s + 1]!);
    case 3:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    default:
      return fromCharCode(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
  }
}

/** Up to this many bytes, decoding in JS beats TextDecoder's per-call cost (a subarray and a native call). */
const JS_UTF8_MAX_BYTES = 64;

// Reused between calls: short strings are decoded into `shortUnits` (never resized, so its backing store
// stays put), then copied into the pooled array of exactly their length for one fromCharCode.apply. Setting
// `length` on one shared array instead shrinks and regrows its backing store on every string.
const shortUnits: number[] = new Array<number>(JS_UTF8_MAX_BYTES).fill(0);
const unitsByLength: number[][] = Array.from({ length: JS_UTF8_MAX_BYTES + 1 }, (_, n) =>
  new Array<number>(n).fill(0),
);

/**
 * Valid UTF-8 (with surrogatepass) of at most JS_UTF8_MAX_BYTES bytes as a string; null for anything else,
 * which the caller hands to the full decoder so that every error is judged in one place.
 */
function decodeShortUtf8(bytes: Uint8Array, start: number, end: number): string | null {
  const units = shortUnits;
  let n = 0;
  let i = start;
  // The ASCII prefix, already checked by the caller, is copied as is.
  while (i < end && bytes[i]! < 0x80) units[n++] = bytes[i++]!;
  while (i < end) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      units[n++] = b0;
      i++;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (end - i < 2) return null;
      const b1 = bytes[i + 1]!;
      if ((b1 & 0xc0) !== 0x80) return null;
      units[n++] = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (end - i < 3) return null;
      const b1 = bytes[i + 1]!;
      const b2 = bytes[i + 2]!;
      // E0 80..9F is overlong; ED A0..BF (surrogates) is allowed: this is surrogatepass.
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b0 === 0xe0 && b1 < 0xa0)) return null;
      units[n++] = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (end - i < 4) return null;
      const b1 = bytes[i + 1]!;
      const b2 = bytes[i + 2]!;
      const b3 = bytes[i + 3]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      if ((b0 === 0xf0 && b1 < 0x90) || (b0 === 0xf4 && b1 > 0x8f)) return null;
      const cp = (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)) - 0x10000;
      units[n++] = 0xd800 | (cp >> 10);
      units[n++] = 0xdc00 | (cp & 0x3ff);
      i += 4;
    } else {
      return null;
    }
  }
  const out = unitsByLength[n]!;
  for (let k = 0; k < n; k++) out[k] = units[k]!;
  return fromCharCode.apply(null, out);
}

/** Slots of the recent-strings cache of `decodeAsciiCached` (a power of two). */
const RECENT_STRINGS = 512;
/** Longest string `decodeAsciiCached` caches. */
export const RECENT_STRING_MAX_BYTES = 24;
const recentStrings: (string | undefined)[] = new Array<string | undefined>(RECENT_STRINGS).fill(undefined);

/**
 * A short ASCII string, the same string object as the last time these bytes were decoded when the cache
 * still holds it; null when the bytes are not all ASCII. For small pickles, which carry the same dict keys
 * message after message: a key string used before is already internalized, so setting it as a property
 * skips the string-table lookup a fresh string needs (one small record dict decodes about 18 % faster).
 */
export function decodeAsciiCached(bytes: Uint8Array, start: number, end: number): string | null {
  let hash = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) return null;
    hash = Math.imul(hash ^ b, 0x01000193);
  }
  const slot = hash & (RECENT_STRINGS - 1);
  const cached = recentStrings[slot];
  if (cached !== undefined && cached.length === end - start) {
    let i = 0;
    while (i < cached.length && cached.charCodeAt(i) === bytes[start + i]) i++;
    if (i === cached.length) return cached;
  }
  const length = end - start;
  const text =
    length <= 8
      ? shortAscii(bytes, start, length)
      : nodeLatin1Slice !== undefined
        ? nodeLatin1Slice.call(bytes, start, end)
        : decodeLatin1(bytes, start, end);
  recentStrings[slot] = text;
  return text;
}

/**
 * Decodes UTF-8 as CPython's `bytes.decode('utf-8', 'surrogatepass')`: encoded lone surrogates (ED A0..BF xx)
 * are kept as UTF-16 code units. Returns null when the bytes are not valid (surrogatepass) UTF-8.
 */
export function decodeUtf8Surrogatepass(bytes: Uint8Array, start: number, end: number): string | null {
  const length = end - start;
  if (length <= JS_UTF8_MAX_BYTES) {
    let i = start;
    while (i < end && bytes[i]! < 0x80) i++;
    if (i === end) {
      if (length <= 8) return shortAscii(bytes, start, length);
      if (nodeLatin1Slice !== undefined) return nodeLatin1Slice.call(bytes, start, end);
      // ASCII: the bytes are the code units, straight into the pooled array of this length.
      const out = unitsByLength[length]!;
      for (let k = 0; k < length; k++) out[k] = bytes[start + k]!;
      return fromCharCode.apply(null, out);
    }
    return decodeShortUtf8(bytes, start, end) ?? decodeUtf8WithHandler(bytes, start, end, 'strict', true);
  }
  try {
    // TextDecoder (native, SIMD) is the fastest path for longer strings, even for ASCII.
    return fatalUtf8.decode(bytes.subarray(start, end));
  } catch {
    // TextDecoder rejects encoded surrogates; the slow path accepts them and still rejects real errors.
    return decodeUtf8WithHandler(bytes, start, end, 'strict', true);
  }
}

/**
 * A UTF-8 decoder with CPython's error handlers. `allowSurrogates` gives `surrogatepass`. Invalid input is
 * handled per maximal invalid subpart (as CPython and WHATWG do). Returns null for 'strict' failures.
 */
export function decodeUtf8WithHandler(
  bytes: Uint8Array,
  start: number,
  end: number,
  errors: DecodeErrorHandler,
  allowSurrogates = false,
): string | null {
  // A byte gives at most two code units, or four ('\\xNN') under backslashreplace.
  const units = new Uint16Array(Math.max(end - start, 1) * unitsPerByte(errors, 2));
  let n = 0;
  let i = start;
  while (i < end) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      units[n++] = b0;
      i++;
      continue;
    }
    let need = 0;
    let cp = 0;
    let lower = 0x80;
    let upper = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      if (b0 === 0xe0) lower = 0xa0;
      else if (b0 === 0xed && !allowSurrogates) upper = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      if (b0 === 0xf0) lower = 0x90;
      else if (b0 === 0xf4) upper = 0x8f;
    }
    let j = i + 1;
    let ok = need > 0;
    for (let k = 0; ok && k < need; k++) {
      if (j >= end) {
        ok = false;
        break;
      }
      const b = bytes[j]!;
      if (b < lower || b > upper) {
        ok = false;
        break;
      }
      lower = 0x80;
      upper = 0xbf;
      cp = (cp << 6) | (b & 0x3f);
      j++;
    }
    if (ok) {
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units[n++] = 0xd800 | (cp >> 10);
        units[n++] = 0xdc00 | (cp & 0x3ff);
      } else {
        units[n++] = cp;
      }
      i = j;
      continue;
    }
    // bytes[i..j) is the maximal invalid subpart (at least one byte).
    if (j === i) j = i + 1;
    n = writeUndecodable(units, n, bytes, i, j, errors);
    if (n < 0) return null;
    i = j;
  }
  return codeUnitsToString(units, n);
}

/** ASCII with an error handler: bytes >= 0x80 are errors. Returns null where the handler fails. */
export function decodeAscii(
  bytes: Uint8Array,
  start: number,
  end: number,
  errors: DecodeErrorHandler,
): string | null {
  let i = start;
  while (i < end && bytes[i]! < 0x80) i++;
  if (i === end) return decodeLatin1(bytes, start, end);
  const units = new Uint16Array((end - start) * unitsPerByte(errors, 1));
  let n = 0;
  for (let k = start; k < end; k++) {
    const b = bytes[k]!;
    if (b < 0x80) units[n++] = b;
    else {
      n = writeUndecodable(units, n, bytes, k, k + 1, errors);
      if (n < 0) return null;
    }
  }
  return codeUnitsToString(units, n);
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/**
 * CPython's `raw-unicode-escape` decoder (protocol-0 UNICODE): `\uXXXX` and `\UXXXXXXXX` after an odd number
 * of backslashes are escapes, every other byte is its Latin-1 code point.
 * @throws TextDecodeFailure on a truncated or out-of-range escape.
 */
export function decodeRawUnicodeEscape(bytes: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && bytes[i] !== 0x5c) i++;
  if (i === end) return decodeLatin1(bytes, start, end);
  let out = decodeLatin1(bytes, start, i);
  while (i < end) {
    const b = bytes[i]!;
    if (b !== 0x5c) {
      let j = i + 1;
      while (j < end && bytes[j] !== 0x5c) j++;
      out += decodeLatin1(bytes, i, j);
      i = j;
      continue;
    }
    let run = 0;
    while (i < end && bytes[i] === 0x5c) {
      run++;
      i++;
    }
    const next = i < end ? bytes[i] : -1;
    if ((run & 1) === 0 || (next !== 0x75 && next !== 0x55)) {
      out += '\\'.repeat(run);
      continue;
    }
    out += '\\'.repeat(run - 1);
    const count = next === 0x75 ? 4 : 8;
    i++;
    let cp = 0;
    for (let k = 0; k < count; k++, i++) {
      const h = i < end ? hexValue(bytes[i]!) : -1;
      if (h < 0) {
        throw new TextDecodeFailure(
          count === 4 ? 'truncated \\uXXXX escape' : 'truncated \\UXXXXXXXX escape',
        );
      }
      cp = cp * 16 + h;
    }
    if (cp > 0x10ffff) throw new TextDecodeFailure('\\Uxxxxxxxx out of range');
    out += String.fromCodePoint(cp);
  }
  return out;
}

/**
 * CPython's `PyBytes_DecodeEscape` as protocol-0 STRING uses it: backslash escapes of a Python 2 `str` repr
 * back to bytes. Unknown escapes are kept literally, as CPython does.
 * @throws TextDecodeFailure on `\x` without two hex digits or a trailing backslash.
 */
export function decodeStringEscape(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  let n = 0;
  let i = start;
  while (i < end) {
    const b = bytes[i++]!;
    if (b !== 0x5c) {
      out[n++] = b;
      continue;
    }
    if (i >= end) throw new TextDecodeFailure('Trailing \\ in string');
    const e = bytes[i++]!;
    switch (e) {
      case 0x0a:
        break;
      case 0x5c:
        out[n++] = 0x5c;
        break;
      case 0x27:
        out[n++] = 0x27;
        break;
      case 0x22:
        out[n++] = 0x22;
        break;
      case 0x62:
        out[n++] = 0x08;
        break;
      case 0x66:
        out[n++] = 0x0c;
        break;
      case 0x74:
        out[n++] = 0x09;
        break;
      case 0x6e:
        out[n++] = 0x0a;
        break;
      case 0x72:
        out[n++] = 0x0d;
        break;
      case 0x76:
        out[n++] = 0x0b;
        break;
      case 0x61:
        out[n++] = 0x07;
        break;
      case 0x78: {
        const h1 = i < end ? hexValue(bytes[i]!) : -1;
        const h2 = i + 1 < end ? hexValue(bytes[i + 1]!) : -1;
        if (h1 < 0 || h2 < 0) throw new TextDecodeFailure(`invalid \\x escape at position ${i - 2 - start}`);
        out[n++] = h1 * 16 + h2;
        i += 2;
        break;
      }
      default:
        if (e >= 0x30 && e <= 0x37) {
          let c = e - 0x30;
          if (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x37) {
            c = c * 8 + bytes[i++]! - 0x30;
            if (i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x37) c = c * 8 + bytes[i++]! - 0x30;
          }
          // CPython stores the low byte of an octal escape above \377 (and warns).
          out[n++] = c & 0xff;
        } else {
          out[n++] = 0x5c;
          out[n++] = e;
        }
    }
  }
  return out.slice(0, n);
}

/** The codecs the decoder implements itself, by the name this library gives them. */
export type BuiltinCodec = 'ascii' | 'latin1' | 'utf-8';

/**
 * A codec name as CPython's `codecs.lookup` reads it: lower-cased, then `encodings.normalize_encoding`
 * (runs of punctuation become one '_'; non-ASCII letters and digits drop out).
 */
function normalizeEncodingName(encoding: string): string {
  let name = '';
  let punct = false;
  for (const ch of encoding.toLowerCase()) {
    if (/^[\p{L}\p{N}.]$/u.test(ch)) {
      if (punct && name !== '') name += '_';
      if (ch.charCodeAt(0) < 0x80) name += ch;
      punct = false;
    } else punct = true;
  }
  return name;
}

/** The built-in codecs by their CodecInfo name. */
const BUILTIN_CODECS = new Map<string, BuiltinCodec>([
  ['ascii', 'ascii'],
  ['iso8859-1', 'latin1'],
  ['utf-8', 'utf-8'],
]);

/**
 * The CodecInfo name of the codec a normalised name finds, as `encodings.search_function` finds it: an alias
 * (tried again with dots as underscores), else a module of that name; undefined when neither is one of the
 * codecs mpwire decodes.
 */
function codecInfoName(name: string): string | undefined {
  const alias = CODEC_ALIASES.get(name) ?? CODEC_ALIASES.get(name.replace(/\./g, '_'));
  if (alias !== undefined) return alias;
  return name.includes('.') ? undefined : CODEC_MODULES.get(name);
}

/**
 * The built-in codec a name finds exactly as CPython's `codecs.lookup` finds it (`encodings.normalize_encoding`,
 * then the aliases); undefined for any other codec. `_codecs.encode` reductions use it.
 */
export function pythonCodecName(encoding: string): BuiltinCodec | undefined {
  const name = codecInfoName(normalizeEncodingName(encoding));
  return name === undefined ? undefined : BUILTIN_CODECS.get(name);
}

/** A codec Python 2 `str` values are decoded with: a built-in one, or one of CPython's single-byte codecs. */
export type TextCodec = BuiltinCodec | CharmapCodec;

/**
 * The codec `encoding` names, found as CPython's `codecs.lookup` finds it, under every alias CPython knows.
 * @throws TextDecodeFailure for a codec mpwire does not decode (multi-byte codecs such as shift_jis or
 * utf-16, and names CPython does not know either).
 */
export function findTextCodec(encoding: string): TextCodec {
  const name = codecInfoName(normalizeEncodingName(encoding));
  const codec = name === undefined ? undefined : (BUILTIN_CODECS.get(name) ?? charmapCodec(name));
  if (codec === undefined) {
    throw new TextDecodeFailure(
      `unsupported encoding '${encoding}': Python 2 str values decode with ASCII, Latin-1, UTF-8 or one of ` +
        "CPython's single-byte codecs (cp1252, iso8859_15, koi8_r, mac_roman...); pass encoding: 'bytes' " +
        'to receive them as bytes and decode them yourself',
    );
  }
  return codec;
}

/**
 * Decodes a Python 2 `str` with a codec and error handler, as `bytes.decode(encoding, errors)`.
 * @throws TextDecodeFailure when the bytes do not decode.
 */
export function decodeWithCodec(
  bytes: Uint8Array,
  start: number,
  end: number,
  codec: TextCodec,
  errors: DecodeErrorHandler,
): string {
  if (codec === 'latin1') return decodeLatin1(bytes, start, end);
  if (typeof codec === 'object') {
    const result = decodeCharmap(bytes, start, end, codec, errors);
    if (typeof result === 'number') {
      throw decodeFailure(
        errors,
        `'charmap' codec can't decode byte 0x${bytes[result]!.toString(16).padStart(2, '0')} in position ` +
          `${result - start}: character maps to <undefined>`,
      );
    }
    return result;
  }
  const result =
    codec === 'ascii'
      ? decodeAscii(bytes, start, end, errors)
      : decodeUtf8WithHandler(bytes, start, end, errors, errors === 'surrogatepass');
  if (result === null) {
    const position =
      codec === 'ascii' ? asciiFailure(bytes, start, end) : utf8Failure(bytes, start, end, errors);
    throw decodeFailure(errors, `'${codec}' codec ${position}`);
  }
  return result;
}

/** `can't decode byte 0xe9 in position 3`, or `bytes in position 3-4`, as CPython words it. */
function cannotDecode(bytes: Uint8Array, start: number, at: number, length: number): string {
  return length === 1
    ? `can't decode byte 0x${bytes[at]!.toString(16).padStart(2, '0')} in position ${at - start}`
    : `can't decode bytes in position ${at - start}-${at - start + length - 1}`;
}

/** Where and why strict ASCII fails on these bytes, as CPython reports it. */
function asciiFailure(bytes: Uint8Array, start: number, end: number): string {
  let at = start;
  while (at < end && bytes[at]! < 0x80) at++;
  if (at === end) return "can't decode the bytes";
  return `${cannotDecode(bytes, start, at, 1)}: ordinal not in range(128)`;
}

/**
 * Where and why UTF-8 fails on these bytes, as CPython's decoder reports it: the first bad sequence, with
 * "invalid start byte", "invalid continuation byte" (the valid prefix is the bytes reported) or "unexpected
 * end of data" (the rest of the bytes). Encoded surrogates are valid under surrogatepass.
 */
function utf8Failure(bytes: Uint8Array, start: number, end: number, errors: string): string {
  const surrogates = errors === 'surrogatepass';
  let at = start;
  while (at < end) {
    const lead = bytes[at]!;
    if (lead < 0x80) {
      at++;
      continue;
    }
    const length =
      lead >= 0xc2 && lead <= 0xdf
        ? 2
        : lead >= 0xe0 && lead <= 0xef
          ? 3
          : lead >= 0xf0 && lead <= 0xf4
            ? 4
            : 0;
    if (length === 0) return `${cannotDecode(bytes, start, at, 1)}: invalid start byte`;
    // An encoded surrogate, whole, is a character under surrogatepass; a part of one fails as in strict mode,
    // since CPython's handler re-raises the strict decoder's error when it cannot complete the surrogate.
    if (
      surrogates &&
      lead === 0xed &&
      at + 2 < end &&
      bytes[at + 1]! >= 0xa0 &&
      bytes[at + 1]! <= 0xbf &&
      bytes[at + 2]! >= 0x80 &&
      bytes[at + 2]! <= 0xbf
    ) {
      at += 3;
      continue;
    }
    // The range the second byte must fall in, which rules out overlong forms, surrogates and values past U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      if (at + k >= end) return `${cannotDecode(bytes, start, at, end - at)}: unexpected end of data`;
      const next = bytes[at + k]!;
      if (k === 1 ? next < low || next > high : next < 0x80 || next > 0xbf) {
        return `${cannotDecode(bytes, start, at, k)}: invalid continuation byte`;
      }
    }
    at += length;
  }
  return "can't decode the bytes";
}

/** The failure at an undecodable byte, as CPython reports it for this handler. */
function decodeFailure(errors: string, codecMessage: string): TextDecodeFailure {
  if (errors === 'strict' || errors === 'surrogatepass') return new TextDecodeFailure(codecMessage);
  if (errors === 'namereplace' || errors === 'xmlcharrefreplace') {
    return new TextDecodeFailure(`${codecMessage}, and errors='${errors}' only applies to encoding`);
  }
  return new TextDecodeFailure(`${codecMessage}, and '${errors}' is not an error handler name`);
}

/** Python `str.encode('latin-1')`: null when a code point is above U+00FF. */
export function encodeLatin1(text: string): Uint8Array | null {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return null;
    out[i] = c;
  }
  return out;
}
