/**
 * `array.array`'s type codes as 64-bit Linux and macOS builds of CPython have them (LP64: 'l'/'L' are 8
 * bytes; 'u'/'w' UTF-32), shared by the reader and the writer: each item's size, signedness and kind, and
 * the machine format code `array._array_reconstructor` takes for it (arraymodule.c). Pure.
 */

export interface ArrayTypecode {
  /** Bytes per item. */
  readonly size: number;
  readonly signed: boolean;
  readonly float: boolean;
  /** The machine format code of the item type on a little-endian machine. */
  readonly mformat: number;
}

const integer = (size: number, signed: boolean, mformat: number): ArrayTypecode => ({
  size,
  signed,
  float: false,
  mformat,
});

export const ARRAY_TYPECODES: Readonly<Record<string, ArrayTypecode>> = {
  b: integer(1, true, 1),
  B: integer(1, false, 0),
  h: integer(2, true, 4),
  H: integer(2, false, 2),
  i: integer(4, true, 8),
  I: integer(4, false, 6),
  l: integer(8, true, 12),
  L: integer(8, false, 10),
  q: integer(8, true, 12),
  Q: integer(8, false, 10),
  f: { size: 4, signed: true, float: true, mformat: 14 },
  d: { size: 8, signed: true, float: true, mformat: 16 },
  u: { size: 4, signed: false, float: false, mformat: 20 },
  w: { size: 4, signed: false, float: false, mformat: 20 },
};

/** The smallest and largest item of an integer type code. */
export function integerItemBounds(typecode: ArrayTypecode): readonly [bigint, bigint] {
  const bits = BigInt(8 * typecode.size);
  return typecode.signed ? [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n] : [0n, (1n << bits) - 1n];
}

/** CPython's OverflowError for an integer item its type code cannot hold, as a message; else undefined. */
export function integerItemProblem(typecode: string, item: bigint): string | undefined {
  const [min, max] = integerItemBounds(ARRAY_TYPECODES[typecode]!);
  return item < min || item > max
    ? `array item ${item} does not fit typecode '${typecode}' (${min}..${max})`
    : undefined;
}
