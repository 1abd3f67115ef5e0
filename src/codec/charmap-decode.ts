/**
 * CPython's single-byte ("charmap") codecs, decoding only: cp1252, iso8859_2, koi8_r, mac_roman, cp437 and
 * the rest of the `encodings` modules built on a 256-character decoding table. The tables come from CPython
 * itself (`python-codecs.ts`), so every byte decodes as `bytes.decode(codec, errors)` decodes it, under
 * every error handler, whatever the JavaScript runtime's TextDecoder knows.
 */

import { CHARMAP_TABLES } from './python-codecs.js';

/** A single-byte codec: its CodecInfo name and the UTF-16 code unit of each byte (0xfffe: undefined). */
export interface CharmapCodec {
  readonly name: string;
  readonly table: Uint16Array;
}

const UNDEFINED = 0xfffe;
const codecs = new Map<string, CharmapCodec>();

/** The single-byte codec of this CodecInfo name ('cp1252', 'iso8859-2'...), or undefined. */
export function charmapCodec(name: string): CharmapCodec | undefined {
  let codec = codecs.get(name);
  if (codec === undefined) {
    const chars = CHARMAP_TABLES.get(name);
    if (chars === undefined) return undefined;
    const table = new Uint16Array(256);
    // A table of 128 characters is the high half; the low half is then ASCII.
    const low = 256 - chars.length;
    for (let b = 0; b < low; b++) table[b] = b;
    for (let i = 0; i < chars.length; i++) table[low + i] = chars.charCodeAt(i);
    codec = { name, table };
    codecs.set(name, codec);
  }
  return codec;
}

/**
 * `bytes[start, end).decode(codec, errors)`, or the index of the byte that failed: a byte the codec leaves
 * undefined fails under 'strict', and under 'surrogateescape' when below 0x80 (it cannot be escaped), as in
 * CPython.
 */
export function decodeCharmap(
  bytes: Uint8Array,
  start: number,
  end: number,
  codec: CharmapCodec,
  errors: 'strict' | 'replace' | 'ignore' | 'surrogateescape' | 'backslashreplace',
): string | number {
  const table = codec.table;
  const units = new Uint16Array(Math.max(end - start, 1) * (errors === 'backslashreplace' ? 4 : 1));
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    const unit = table[b]!;
    if (unit !== UNDEFINED) {
      units[n++] = unit;
      continue;
    }
    switch (errors) {
      case 'replace':
        units[n++] = 0xfffd;
        break;
      case 'ignore':
        break;
      case 'surrogateescape':
        if (b < 0x80) return i;
        units[n++] = 0xdc00 | b;
        break;
      case 'backslashreplace':
        units[n++] = 0x5c; // \x followed by two lowercase hex digits
        units[n++] = 0x78;
        units[n++] = HEX.charCodeAt(b >> 4);
        units[n++] = HEX.charCodeAt(b & 15);
        break;
      default:
        return i;
    }
  }
  let out = '';
  for (let i = 0; i < n; i += 0x1000) {
    out += String.fromCharCode.apply(null, units.subarray(i, Math.min(i + 0x1000, n)) as unknown as number[]);
  }
  return out;
}

const HEX = '0123456789abcdef';
