/**
 * Python 2 `str` values read with `loads(data, { encoding, errors })`, against CPython's
 * `pickle.loads(data, encoding=..., errors=...)`:
 * - every single-byte codec's table (`src/codec/python-codecs.ts`) equals the decoding table of every CPython
 *   found, 2.7 included;
 * - every name CPython's `codecs.lookup` resolves (each alias and module of the `encodings` package, and
 *   spellings of them) finds the same codec, or is refused when the codec is not one mpwire decodes;
 * - all 256 bytes, and broken UTF-8, decode to the same text under each error handler, or fail alike.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loads, UnpicklingError } from '../src/codec/index.js';
import { CHARMAP_TABLES } from '../src/codec/python-codecs.js';
import { type DecodeErrorHandler, findTextCodec, type TextCodec } from '../src/codec/text-decode.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, findPythons, type PythonInterpreter } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex } from './support/tagged.js';

// The handlers that replace undecodable bytes, then names CPython consults only at an undecodable byte and
// fails there: surrogatepass (except on UTF-8's encoded surrogates), encode-only handlers, and no handler.
const HANDLERS = ['strict', 'replace', 'ignore', 'surrogateescape', 'backslashreplace']
  .concat(['surrogatepass', 'namereplace', 'xmlcharrefreplace', 'no-such-handler'])
  .map((name) => name as DecodeErrorHandler);

/** The name CPython's CodecInfo gives the codec mpwire found, or null when it decodes no such codec. */
function ourCodecName(encoding: string): string | null {
  let codec: TextCodec;
  try {
    codec = findTextCodec(encoding);
  } catch {
    return null;
  }
  if (typeof codec === 'object') return codec.name;
  return { ascii: 'ascii', latin1: 'iso8859-1', 'utf-8': 'utf-8' }[codec];
}

/** A BINSTRING pickle (protocol 2) of `data`, as the fixture builds it. */
function py2StrPickle(data: Uint8Array): Uint8Array {
  const n = data.length;
  return Uint8Array.from([0x80, 2, 0x54, n & 0xff, (n >> 8) & 0xff, n >> 16, 0, ...data, 0x2e]);
}

/**
 * Codecs an older CPython has that the tables (from the newest) do not: mac_centeuro, an alias of mac_latin2's
 * table, was removed in 3.9.
 */
const REMOVED_CODECS = new Set(['mac-centeuro']);
/** Names older CPythons resolve differently, each with the reason. */
function olderCPythonResolves(python: PythonInterpreter, name: string): boolean {
  const [major, minor] = python.version;
  const before = (m: number): boolean => major === 3 && minor < m;
  // cp65001 is UTF-8 everywhere from 3.8; before, a Windows-only codec.
  if (before(8) && /^cp_?65001$/.test(name)) return true;
  // Before 3.9, normalize_encoding kept non-ASCII letters (which then match no codec); now it drops them.
  if (before(9) && [...name].some((ch) => ch.charCodeAt(0) > 0x7f)) return true;
  return before(9) && name === 'mac_centeuro';
}

const pythons = findPythons();
const python3s = pythons.filter((p) => p.version[0] >= 3);

describe(`text codecs of Python 2 str against CPython (${describePythons(pythons)})`, () => {
  it('finds interpreters', () => {
    expect(pythons.length).toBeGreaterThan(0);
  });

  describe('single-byte codec tables', () => {
    let tables: Map<string, { python: string; tables: Record<string, (number | null)[]> }>;
    beforeAll(async () => {
      tables = await runOnEach(pythons, 'charmaps.py', () => undefined, ['tables']);
    }, 120_000);

    it('every byte of every codec decodes to the character CPython gives, or is undefined in both', () => {
      const failures: string[] = [];
      let compared = 0;
      for (const [label, { tables: theirs }] of tables) {
        for (const [codecName, table] of Object.entries(theirs)) {
          if (REMOVED_CODECS.has(codecName)) continue;
          if (ourCodecName(codecName) !== codecName) {
            failures.push(`${label} ${codecName}: not found by its own name`);
            continue;
          }
          for (let b = 0; b < 256; b++) {
            let ours: number | null;
            try {
              ours = (loads(py2StrPickle(Uint8Array.of(b)), { encoding: codecName }) as string).charCodeAt(0);
            } catch {
              ours = null;
            }
            if (ours !== table[b]) {
              failures.push(`${label} ${codecName} byte ${b}: CPython ${table[b]}, mpwire ${ours}`);
            }
          }
          compared++;
        }
      }
      expectNoFailures(failures);
      expect(compared).toBeGreaterThanOrEqual(60);
    });
  });

  describe('codec names', () => {
    // Spellings codecs.lookup normalises, names only some codecs know, and names no codec has.
    const spellings = ['ISO-8859-2', 'Windows 1252', 'Latin-1', 'LATIN_2', ' cp1252 ', 'cp-1252', 'Mac-Roman']
      .concat([
        'koi8-r',
        'KOI8_U',
        'utf-8',
        'UTF8',
        'us-ascii',
        'iso88591',
        'usascii',
        'iso-8859-1',
        'ibm819',
      ])
      .concat([
        'latin5',
        'iso_8859_15:1998',
        'iso8859.2',
        'cp.1252',
        'shift_jis',
        'utf-16',
        'hex',
        'rot13',
        '',
      ])
      .concat([
        'bytes',
        'no-such-codec',
        'latin\u00e9',
        '8859',
        'utf.8',
        'latin.1',
        'ansi_x3.4_1968',
        'ANSI X3.4-1968',
      ])
      .concat(['iso8859_1', 'iso8859.1', 'l1', 'mac_latin2', 'mac.latin2', 'ascii.', '.ascii', '--utf--8--']);
    let names: Map<string, { python: string; names: Record<string, string | null> }>;
    beforeAll(async () => {
      names = await runOnEach(python3s, 'charmaps.py', () => ({ names: spellings }), ['names']);
    }, 120_000);

    it('every name finds the codec CPython finds, or is refused when mpwire does not decode that codec', () => {
      const failures: string[] = [];
      let found = 0;
      for (const python of python3s) {
        const theirs = names.get(python.label)!.names;
        for (const [name, codec] of Object.entries(theirs)) {
          const expected = codec !== null && ourCodecName(codec) === codec ? codec : null;
          const ours = ourCodecName(name);
          if (ours === expected || olderCPythonResolves(python, name)) {
            if (ours !== null) found++;
            continue;
          }
          failures.push(`${python.label} ${JSON.stringify(name)}: CPython ${codec}, mpwire ${ours}`);
        }
      }
      expectNoFailures(failures);
      // Every alias of ASCII, Latin-1, UTF-8 and the single-byte codecs, on each interpreter.
      expect(found).toBeGreaterThanOrEqual(300 * python3s.length);
    });
  });

  describe('decoding under each error handler', () => {
    const allBytes = Uint8Array.from({ length: 256 }, (_, b) => b);
    const brokenUtf8 = Uint8Array.from([
      0x41, 0xe2, 0x82, 0x41, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xc0, 0x80, 0xff, 0xc3, 0xa9, 0xe2,
      0x82,
    ]);
    // A lone high surrogate, a low one, a pair written as two 3-byte sequences, and 'é'.
    const encodedSurrogates = Uint8Array.from([
      0x41, 0xed, 0xa0, 0x80, 0x42, 0xed, 0xb0, 0x80, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80, 0xc3, 0xa9,
    ]);
    const cases: { id: string; encoding: string; errors: string; data: Uint8Array }[] = [];
    const codecNames = ['ascii', 'latin-1', 'utf-8', ...CHARMAP_TABLES.keys()];
    for (const encoding of codecNames) {
      for (const errors of HANDLERS) {
        cases.push({ id: `${encoding} ${errors} all`, encoding, errors, data: allBytes });
        cases.push({ id: `${encoding} ${errors} empty`, encoding, errors, data: new Uint8Array(0) });
        cases.push({ id: `${encoding} ${errors} utf8`, encoding, errors, data: brokenUtf8 });
        cases.push({ id: `${encoding} ${errors} surrogates`, encoding, errors, data: encodedSurrogates });
      }
    }
    let results: Map<
      string,
      { python: string; results: Record<string, { text?: string; error?: string; message?: string }> }
    >;
    beforeAll(async () => {
      const request = { cases: cases.map((c) => ({ ...c, data: undefined, hex: bytesToHex(c.data) })) };
      results = await runOnEach(python3s, 'charmaps.py', () => request, ['decode']);
    }, 120_000);

    it('gives the text CPython gives, or refuses what CPython refuses', () => {
      const failures: string[] = [];
      for (const [label, { results: theirs }] of results) {
        for (const c of cases) {
          const want = theirs[c.id]!;
          let got: { text?: string; error?: string; message?: string };
          try {
            got = {
              text: loads(py2StrPickle(c.data), {
                encoding: c.encoding,
                errors: c.errors as DecodeErrorHandler,
              }) as string,
            };
          } catch (e) {
            got =
              e instanceof UnpicklingError
                ? { error: 'UnpicklingError', message: e.message }
                : { error: String(e) };
          }
          if (want.error !== undefined ? got.error === undefined : got.text !== want.text) {
            failures.push(`${label} ${c.id}: CPython ${JSON.stringify(want)}, mpwire ${JSON.stringify(got)}`);
          } else if (
            want.error === 'UnicodeDecodeError' &&
            (c.errors === 'strict' || c.errors === 'surrogatepass') &&
            !got.message?.includes(want.message!)
          ) {
            // The codec's own words: which byte, where, and why.
            failures.push(`${label} ${c.id}: CPython says ${want.message}, mpwire ${got.message}`);
          }
        }
      }
      expectNoFailures(failures);
      expect(cases.length).toBeGreaterThan(2500);
    });
  });
});
