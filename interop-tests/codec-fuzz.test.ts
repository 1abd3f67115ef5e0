/**
 * Seeded mutation fuzz of the decoder over CPython's own pickles: truncations, byte flips, spliced opcodes
 * and inflated length fields. Whatever the input, `loads` returns or throws UnpicklingError; a hang would
 * time the test out. MPWIRE_FUZZ_SEED picks another sequence; the seed in use is printed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ArgumentKind, loads, OPCODE_BY_CODE, OPCODES, UnpicklingError } from '../src/codec/index.js';
import type { CorpusDocument } from './support/corpus.js';
import { expectNoFailures } from './support/failures.js';
import { prng } from './support/prng.js';
import { findPythons } from './support/pythons.js';
import { runFixture } from './support/run-python.js';
import { bytesToHex, hexToBytes } from './support/tagged.js';

const MUTATIONS = 20_000;
const seed = Number(process.env.MPWIRE_FUZZ_SEED ?? 1_234_567);
const bases: Uint8Array[] = [];

/** Width of the length prefix of each length-carrying argument kind (FRAME's uint8 is a length too). */
const LENGTH_WIDTH: Partial<Record<ArgumentKind, number>> = {
  string1: 1,
  bytes1: 1,
  unicodestring1: 1,
  long1: 1,
  string4: 4,
  bytes4: 4,
  unicodestring4: 4,
  long4: 4,
  bytes8: 8,
  bytearray8: 8,
  unicodestring8: 8,
  uint8: 8,
};
const FIXED_WIDTH: Partial<Record<ArgumentKind, number>> = {
  uint1: 1,
  uint2: 2,
  int4: 4,
  uint4: 4,
  float8: 8,
};
const LINE_KINDS: ReadonlySet<ArgumentKind> = new Set<ArgumentKind>([
  'stringnl',
  'stringnl_noescape',
  'unicodestringnl',
  'decimalnl_short',
  'decimalnl_long',
  'floatnl',
]);

/** Offsets and widths of every length field in a well-formed pickle (walks opcodes as pickletools.genops). */
function lengthFields(data: Uint8Array): { offset: number; width: number }[] {
  const fields: { offset: number; width: number }[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  while (pos < data.length) {
    const op = OPCODE_BY_CODE[data[pos]!];
    if (!op || op.name === 'STOP') break;
    pos++;
    const width = LENGTH_WIDTH[op.arg];
    if (width !== undefined) {
      fields.push({ offset: pos, width });
      const length =
        width === 1
          ? data[pos]!
          : width === 4
            ? view.getUint32(pos, true)
            : Number(view.getBigUint64(pos, true));
      // FRAME's argument is a length, but the frame's bytes are ordinary opcodes that follow.
      pos += width + (op.name === 'FRAME' ? 0 : length);
    } else if (LINE_KINDS.has(op.arg) || op.arg === 'stringnl_noescape_pair') {
      const end = data.indexOf(0x0a, pos);
      const last = op.arg === 'stringnl_noescape_pair' && end >= 0 ? data.indexOf(0x0a, end + 1) : end;
      if (last < 0) break;
      pos = last + 1;
    } else {
      pos += FIXED_WIDTH[op.arg] ?? 0;
    }
  }
  return fields;
}

function mutate(base: Uint8Array, random: () => number): Uint8Array {
  const at = (n: number) => Math.floor(random() * n);
  const kind = at(4);
  if (kind === 0) return base.slice(0, at(base.length));
  if (kind === 1) {
    const out = base.slice();
    for (let flips = 1 + at(3); flips > 0; flips--) out[at(out.length)] = at(256);
    return out;
  }
  if (kind === 2) {
    // Splice in one real opcode byte, maybe followed by a few random argument bytes.
    const opcode = OPCODES[at(OPCODES.length)]!.code;
    const extra = Array.from({ length: at(4) }, () => at(256));
    const cut = at(base.length + 1);
    return Uint8Array.from([...base.subarray(0, cut), opcode, ...extra, ...base.subarray(cut)]);
  }
  const fields = lengthFields(base);
  const out = base.slice();
  if (fields.length === 0) return out.slice(0, at(out.length));
  const { offset, width } = fields[at(fields.length)]!;
  const huge = [0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f];
  for (let i = 0; i < width; i++) out[offset + i] = i === width - 1 ? huge[i]! : at(2) ? 0xff : huge[i]!;
  return out;
}

beforeAll(async () => {
  const newest = findPythons().at(-1)!;
  const oldest = findPythons()[0]!;
  for (const python of new Set([oldest, newest])) {
    const corpus = await runFixture<CorpusDocument>(python, 'corpus.py');
    for (const value of corpus.values) {
      for (const entry of value.protocols)
        for (const hex of Object.values(entry.pickles)) bases.push(hexToBytes(hex));
    }
  }
}, 120_000);

describe(`decoder mutation fuzz (${MUTATIONS} mutations, seed ${seed})`, () => {
  it('only ever throws UnpicklingError', () => {
    const random = prng(seed);
    const failures: string[] = [];
    let refused = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const input = mutate(bases[Math.floor(random() * bases.length)]!, random);
      try {
        loads(input);
      } catch (error) {
        if (error instanceof UnpicklingError) refused++;
        else if (failures.length < 50) {
          failures.push(
            `${bytesToHex(input).slice(0, 600)}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
          );
        }
      }
    }
    console.log(
      `fuzz: ${MUTATIONS} mutated pickles from ${bases.length} CPython pickles, ${refused} refused with UnpicklingError, ${MUTATIONS - refused - failures.length} accepted`,
    );
    expectNoFailures(failures);
    expect(refused).toBeGreaterThan(MUTATIONS / 4);
  });
});
