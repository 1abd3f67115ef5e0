/**
 * CPython's single-byte ("charmap") codecs, decoding only: cp1252, iso8859_2, koi8_r, mac_roman, cp437 and
 * the rest of the `encodings` modules built on a 256-character decoding table. The tables come from CPython
 * itself (`python-codecs.ts`), so every byte decodes as `bytes.decode(codec, errors)` decodes it, under
 * every error handler, whatever the JavaScript runtime's TextDecoder knows.
 */

import { codeUnitsToString, unitsPerByte, writeUndecodable } from './decode-units.js';
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
 * `bytes[start, end).decode(codec, errors)`, or the index of the byte that failed (see `writeUndecodable`).
 */
export function decodeCharmap(
  bytes: Uint8Array,
  start: number,
  end: number,
  codec: CharmapCodec,
  errors: string,
): string | number {
  const table = codec.table;
  const units = new Uint16Array(Math.max(end - start, 1) * unitsPerByte(errors, 1));
  let n = 0;
  for (let i = start; i < end; i++) {
    const unit = table[bytes[i]!]!;
    if (unit !== UNDEFINED) units[n++] = unit;
    else {
      n = writeUndecodable(units, n, bytes, i, i + 1, errors);
      if (n < 0) return i;
    }
  }
  return codeUnitsToString(units, n);
}
