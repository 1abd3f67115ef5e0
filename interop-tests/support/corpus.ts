/**
 * The shapes of what python-fixtures/corpus.py and check_loads.py write (python-fixtures/README.md), and the
 * decode options each interpreter's pickles need.
 */
import type { UnpicklerOptions } from '../../src/codec/index.js';
import type { PythonInterpreter } from './pythons.js';
import type { MatchOptions, Tagged } from './tagged.js';

export interface CorpusProtocolEntry {
  readonly protocol: number;
  readonly description: Tagged;
  /** Pickle hex by pickler: `c`/`python` on Python 3, `pickle`/`cPickle` on 2.7. */
  readonly pickles: Readonly<Record<string, string>>;
  /** mpwire's `dumps` of the description must equal `pickles.c`. */
  readonly exact: boolean;
}

export interface CorpusValue {
  readonly name: string;
  readonly stringSharing: 'none' | 'all-shared' | 'mixed';
  readonly javascriptLossless: boolean;
  readonly protocols: readonly CorpusProtocolEntry[];
  readonly refused: readonly { protocol: number; pickler: string; reason: string }[];
}

export interface CorpusDocument {
  readonly python: string;
  readonly highestProtocol: number;
  readonly values: readonly CorpusValue[];
}

export interface CheckLoadsCase {
  readonly id: string;
  readonly protocol: number;
  readonly pickle: string;
  readonly description: Tagged;
}

export interface CheckLoadsResult {
  readonly id: string;
  readonly status: 'ok' | 'mismatch' | 'load-error' | 'not-expressible';
  readonly detail?: unknown;
}

export interface CheckLoadsReport {
  readonly python: string;
  readonly results: readonly CheckLoadsResult[];
}

/** One way of decoding an interpreter's pickles: `loads` options and what the description then means. */
export interface DecodeMode {
  readonly label: string;
  readonly options: UnpicklerOptions;
  readonly match: MatchOptions;
}

const PLAIN_DATA_TAGS = new Set([
  'none',
  'bool',
  'int',
  'float',
  'str',
  'py2str',
  'bytes',
  'tuple',
  'list',
  'dict',
  'set',
  'frozenset',
  'def',
  'ref',
]);

/** True when every tag in a description is plain data (no reconstructor, global or placeholder). */
function isPlainData(t: unknown): boolean {
  if (!Array.isArray(t)) return true;
  if (typeof t[0] === 'string' && !PLAIN_DATA_TAGS.has(t[0])) return false;
  return t.every((part) => !Array.isArray(part) || isPlainData(part));
}

/**
 * Whether a description has a reference value when Python 2 pickles are decoded with `encoding`. With
 * 'bytes', CPython 3 itself cannot rebuild most reconstructed values from Python 2 (`bytearray(u'..',
 * b'latin-1')`, `Decimal(b'1.10')`, UUID state keyed by b'int' all raise), so only plain data is checked.
 */
export function decodesWith(encoding: string | undefined, description: Tagged): boolean {
  return encoding !== 'bytes' || isPlainData(description);
}

/**
 * Python 2 byte strings decode as latin-1 text and as bytes; Python 3 pickles need no encoding. Each is
 * checked with `floats: 'wrapped'` (ints and floats told apart) and with the defaults.
 */
export function decodeModes(python: PythonInterpreter): DecodeMode[] {
  const encodings: { encoding?: string; py2str: MatchOptions['py2str'] }[] =
    python.version[0] === 2
      ? [
          { encoding: 'latin1', py2str: 'latin1' },
          { encoding: 'bytes', py2str: 'bytes' },
        ]
      : [{ py2str: 'latin1' }];
  return encodings.flatMap(({ encoding, py2str }) =>
    (['wrapped', 'number'] as const).map((floats) => ({
      label: `${encoding ? `encoding=${encoding}, ` : ''}floats=${floats}`,
      options: {
        ...(encoding ? { encoding } : {}),
        ...(floats === 'wrapped' ? { floats: 'wrapped' as const } : {}),
      },
      match: { floats, py2str },
    })),
  );
}
