/**
 * Hand-made pickles no pickler writes, decoded by mpwire and by every unpickler of every CPython that knows
 * their opcodes: mpwire must give what CPython gives, or refuse what CPython refuses.
 * - The memo: holes left by PUT, MEMOIZE after them, an index written twice. CPython's MEMOIZE writes at the
 *   number of memo entries (`memo_len`), not after the highest index.
 * - Hashing: dict keys and set elements Python cannot hash (lists, dicts, sets, tuples holding them), met by
 *   SETITEM(S), ADDITEMS, FROZENSET and `set()`/`dict()` reductions, which CPython refuses.
 * - Standard-library reductions with arguments CPython's pickler never writes (timedelta's seven fields,
 *   Decimal from any spelling, float or tuple, `_codecs.encode` and `bytes()` checks, and more).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loads, UnpicklingError } from '../src/codec/index.js';
import { expectNoFailures } from './support/failures.js';
import { describePythons, findPythons, type PythonInterpreter } from './support/pythons.js';
import { runOnEach } from './support/run-python.js';
import { bytesToHex, matchTagged, type Tagged } from './support/tagged.js';

/** Bytes from opcode characters, byte values and strings (latin-1), in order. */
function pickle(...parts: (string | number | readonly number[])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') for (const ch of part) out.push(ch.charCodeAt(0));
    else out.push(...part);
  }
  return Uint8Array.from(out);
}

const PROTO4 = [0x80, 4];
const MEMOIZE = 0x94;
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const shortUnicode = (text: string): string => `\x8c${String.fromCharCode(text.length)}${text}`;

/** Each pickle, keyed by name; pickles that use protocol 4 opcodes are only given to CPython 3.4+. */
const MEMO_CASES: Record<string, Uint8Array> = {
  // [7, 8, 7, 8]: the list is entry 0, BINPUT 5 makes 2 entries, so MEMOIZE writes index 2.
  memoize_after_put_hole: pickle(
    PROTO4,
    ']',
    MEMOIZE,
    '(K',
    7,
    'q',
    5,
    'K',
    8,
    MEMOIZE,
    'h',
    5,
    'h',
    2,
    'e.',
  ),
  // MEMOIZE after BINPUT 1 writes index 1 again (one entry), twice: 3.
  memoize_overwrites_entry: pickle(PROTO4, 'K', 1, 'q', 1, '0K', 2, MEMOIZE, '0K', 3, MEMOIZE, '0h', 1, '.'),
  // The same, then index 0, which nothing wrote: refused.
  memoize_leaves_index_0_empty: pickle(PROTO4, 'K', 1, 'q', 1, '0K', 2, MEMOIZE, '0h', 0, '.'),
  // A list holding 9 and itself: LONG_BINPUT 1000, then the list MEMOIZEd at index 1.
  memoize_after_far_long_binput: pickle(
    PROTO4,
    'K',
    9,
    'r',
    u32(1000),
    '0]',
    MEMOIZE,
    'j',
    u32(1000),
    'ah',
    1,
    'a.',
  ),
  // A text PUT, then MEMOIZE: (5, 6).
  memoize_after_text_put: pickle(PROTO4, 'K', 5, 'p7\n0K', 6, MEMOIZE, '0(g7\nh', 1, 't.'),
  // A date pickled after a hole, then every memo entry it made fetched back: the state bytes, the argument
  // tuple and the date itself sit at indexes 4, 5 and 6.
  date_after_put_hole: pickle(
    PROTO4,
    'K',
    0,
    'q',
    7,
    '0(',
    shortUnicode('datetime'),
    MEMOIZE,
    shortUnicode('date'),
    MEMOIZE,
    0x93,
    MEMOIZE,
    'C',
    4,
    [0x07, 0xe9, 0x0c, 0x06],
    MEMOIZE,
    0x85,
    MEMOIZE,
    'R',
    MEMOIZE,
    'h',
    4,
    'h',
    5,
    'h',
    6,
    'h',
    3,
    'h',
    7,
    't.',
  ),
};

const PROTO2 = [0x80, 2];
const EMPTY_SET = 0x8f;
const ADDITEMS = 0x90;
const FROZENSET = 0x91;
const TUPLE1 = 0x85;

/** Dict keys and set elements; the protocol 2 ones run on Python 2.7 too. */
const HASH_CASES_PROTO2: Record<string, Uint8Array> = {
  dict_key_list: pickle(PROTO2, '}(]K', 1, 'u.'),
  dict_key_dict: pickle(PROTO2, '}(}K', 1, 'u.'),
  dict_key_tuple_holding_list: pickle(PROTO2, '}(]', TUPLE1, 'K', 1, 'u.'),
  dict_key_tuple_of_tuples: pickle(PROTO2, '}((K', 1, 'K', 2, 't', TUPLE1, 'K', 1, 'u.'),
  dict_key_list_setitem: pickle(PROTO2, '}]K', 1, 's.'),
  dict_key_tuple_setitem: pickle(PROTO2, '}(K', 1, 'K', 2, 'tK', 3, 's.'),
  ordereddict_key_list: pickle(PROTO2, 'ccollections\nOrderedDict\n)R(]K', 1, 'u.'),
  set_reduce_of_lists: pickle(PROTO2, 'c__builtin__\nset\n]]a', TUPLE1, 'R.'),
  set_reduce_of_tuples: pickle(PROTO2, 'c__builtin__\nset\n]((K', 1, 't(K', 2, 'te', TUPLE1, 'R.'),
  dict_reduce_list_key: pickle(PROTO2, 'c__builtin__\ndict\n]](]K', 1, 'ea', TUPLE1, 'R.'),
  dict_reduce_pairs: pickle(PROTO2, 'c__builtin__\ndict\n]](K', 1, 'K', 2, 'ea', TUPLE1, 'R.'),
  dict_key_signaling_nan_decimal: pickle(
    PROTO2,
    '}(cdecimal\nDecimal\nX',
    u32(4),
    'sNaN',
    TUPLE1,
    'RK',
    1,
    'u.',
  ),
};

const HASH_CASES_PROTO4: Record<string, Uint8Array> = {
  set_element_list: pickle(PROTO4, EMPTY_SET, '(]', ADDITEMS, '.'),
  set_element_set: pickle(PROTO4, EMPTY_SET, '(', EMPTY_SET, ADDITEMS, '.'),
  set_element_frozenset: pickle(PROTO4, EMPTY_SET, '((', FROZENSET, ADDITEMS, '.'),
  frozenset_element_dict: pickle(PROTO4, '(}', FROZENSET, '.'),
  frozenset_element_tuple_holding_set: pickle(PROTO4, '(', EMPTY_SET, TUPLE1, FROZENSET, '.'),
  frozenset_element_tuple: pickle(PROTO4, '(K', 1, TUPLE1, FROZENSET, '.'),
  set_element_negative_zero: pickle(PROTO4, EMPTY_SET, '(G', [0x80, 0, 0, 0, 0, 0, 0, 0], ADDITEMS, '.'),
  dict_key_negative_zero: pickle(PROTO4, '}G', [0x80, 0, 0, 0, 0, 0, 0, 0], 'K', 1, 's.'),
  frozenset_element_negative_zero: pickle(PROTO4, '(G', [0x80, 0, 0, 0, 0, 0, 0, 0], FROZENSET, '.'),
};

/** A BINUNICODE argument. */
const text = (value: string): (string | number[])[] => {
  const utf8 = [...Buffer.from(value, 'utf8')];
  return ['X', u32(utf8.length), utf8];
};
/** `module.name(*args)` at protocol 2: GLOBAL, the arguments in a MARK...TUPLE, REDUCE. */
const call = (module: string, name: string, ...args: (string | number | readonly number[])[]) =>
  pickle(PROTO2, `c${module}\n${name}\n(`, ...args, 'tR.');
/** `array._array_reconstructor(array, typecode, mformat, machine bytes)`. */
const reconstructArray = (typecode: string, mformat: number, bytes: number[]) =>
  call(
    'array',
    '_array_reconstructor',
    'carray\narray\n',
    ...text(typecode),
    'K',
    mformat,
    'C',
    bytes.length,
    bytes,
  );

/**
 * Standard-library values from arguments CPython's pickler never writes: what CPython 3.7+ builds or
 * refuses (3.6 wanted timezone offsets in whole minutes).
 */
const STDLIB_CASES: Record<string, Uint8Array> = {
  timedelta_seven_args: call('datetime', 'timedelta', 'K', 1, 'K', 2, 'K', 3, 'K', 4, 'K', 5, 'K', 6, 'K', 7),
  timedelta_negative_microseconds: call('datetime', 'timedelta', 'K', 0, 'K', 0, 'J', u32(-100)),
  timedelta_eight_args: call(
    'datetime',
    'timedelta',
    'K',
    1,
    'K',
    1,
    'K',
    1,
    'K',
    1,
    'K',
    1,
    'K',
    1,
    'K',
    1,
    'K',
    1,
  ),
  timezone_microsecond_offset: pickle(
    PROTO2,
    'cdatetime\ntimezone\n(cdatetime\ntimedelta\n(K',
    0,
    'K',
    0,
    'M',
    [0x58, 0x4d],
    'tRtR.',
  ),
  decimal_spelling: call('decimal', 'Decimal', ...text(' 00012.3400 ')),
  decimal_exponent: call('decimal', 'Decimal', ...text('100e-2')),
  decimal_small: call('decimal', 'Decimal', ...text('0.0000001')),
  decimal_nan_payload: call('decimal', 'Decimal', ...text('-sNaN0012')),
  decimal_infinity: call('decimal', 'Decimal', ...text('-inf')),
  decimal_syntax_error: call('decimal', 'Decimal', ...text('1.2.3')),
  decimal_from_float: call('decimal', 'Decimal', 'G', [0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a]),
  decimal_from_tuple: call('decimal', 'Decimal', '(K', 0, '(K', 1, 'K', 2, 'tJ', u32(-1), 't'),
  decimal_tuple_bad_sign: call('decimal', 'Decimal', '(K', 2, '(K', 1, 'tK', 0, 't'),
  decimal_tuple_too_short: call('decimal', 'Decimal', ...text('NaN'), 0x85),
  decimal_bad_context: call('decimal', 'Decimal', ...text('1'), 'K', 5),
  decimal_from_list: call('decimal', 'Decimal', ']'),
  codecs_latin1: call('_codecs', 'encode', ...text('\u00e9t\u00e9'), ...text('latin1')),
  codecs_ascii: call('_codecs', 'encode', ...text('abc'), ...text('ascii')),
  codecs_ascii_refused: call('_codecs', 'encode', ...text('\u00e9'), ...text('ascii')),
  codecs_encoding_not_str: call('_codecs', 'encode', ...text('a'), 'K', 5),
  codecs_obj_not_str: call('_codecs', 'encode', 'K', 5, ...text('latin1')),
  codecs_nul_in_encoding: call('_codecs', 'encode', ...text('a'), ...text('\0')),
  bytes_str_without_encoding: call('__builtin__', 'bytes', ...text('a')),
  bytes_encoding_without_str: call('__builtin__', 'bytes', ']', ...text('latin1')),
  bytes_from_a_frozenset: call('__builtin__', 'bytes', 'c__builtin__\nfrozenset\n(](K', 7, 'etR'),
  bytes_from_a_dict: call('__builtin__', 'bytes', '}K', 65, 'N', 's'),
  dict_call_with_str_keys: call('__builtin__', 'dict', '](', ...text('a'), 'K', 1, 'ta'),
  dict_call_with_two_args: call('__builtin__', 'dict', '}}'),
  reconstructor_with_a_tuple_base: call('copy_reg', '_reconstructor', 'c__builtin__\nobject\n)N'),
  array_reconstructor_int_format: reconstructArray('u', 9, [0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe]),
  array_reconstructor_own_format: reconstructArray('l', 12, [1, 0, 0, 0, 0, 0, 0, 0]),
  array_reconstructor_float_format_for_ints: reconstructArray('i', 14, [0, 0, 0x80, 0x3f]),
  array_reconstructor_text_format_for_ints: reconstructArray('i', 20, [0x41, 0, 0, 0, 0x42, 0, 0, 0]),
  counter_from_pairs: call(
    'collections',
    'Counter',
    '](',
    ...text('a'),
    'K',
    5,
    0x86,
    ...text('b'),
    'K',
    7,
    0x86,
    'e',
  ),
  counter_from_str: call('collections', 'Counter', ...text('aab')),
  counter_from_list: call('collections', 'Counter', '](', ...text('a'), ...text('b'), ...text('a'), 'e'),
  counter_from_tuple: call('collections', 'Counter', 'K', 1, 'K', 2, 'K', 1, 0x87),
  counter_from_dict: call('collections', 'Counter', '}', ...text('a'), 'K', 3, 's'),
  counter_from_none: call('collections', 'Counter', 'N'),
  counter_from_unhashables: call('collections', 'Counter', '](]]e'),
  defaultdict_none_factory: call('collections', 'defaultdict', 'N'),
  defaultdict_tuple_factory: call('collections', 'defaultdict', ')'),
  array_u_from_chars: call('array', 'array', ...text('u'), '](', ...text('a'), ...text('b'), 'e'),
  array_u_from_ints: call('array', 'array', ...text('u'), ']K', 1, 'a'),
  reconstructor_of_a_tuple: call('copy_reg', '_reconstructor', ')c__builtin__\nobject\nN'),
  time_with_a_class_as_tzinfo: pickle(
    PROTO2,
    'cdatetime\ntime\n(C',
    6,
    [12, 30, 15, 0, 0, 0xfa],
    'cdatetime\ntimezone\ntR.',
  ),
};

/** A Python 2 module name in a protocol 3 pickle: CPython maps names only below protocol 3. */
const PY2_NAME_CASES: Record<string, Uint8Array> = {
  python2_module_at_protocol_3: pickle([0x80, 3], 'c__builtin__\nset\n)R.'),
  python2_module_at_protocol_2: pickle(PROTO2, 'c__builtin__\nset\n)R.'),
};

/** UUID.__setstate__, which reads state['int'], came with 3.8's __slots__; 3.7 set any state as __dict__. */
const UUID_CASES: Record<string, Uint8Array> = {
  uuid_state_without_int: pickle(PROTO2, 'cuuid\nUUID\n)', 0x81, '}', ...text('x'), 'K', 1, 'sb.'),
};

const CASES: Record<string, { data: Uint8Array; since: readonly [number, number] }> = Object.fromEntries([
  ...Object.entries(MEMO_CASES).map(([id, data]) => [id, { data, since: [3, 4] as const }]),
  ...Object.entries(HASH_CASES_PROTO2).map(([id, data]) => [id, { data, since: [2, 7] as const }]),
  ...Object.entries(HASH_CASES_PROTO4).map(([id, data]) => [id, { data, since: [3, 4] as const }]),
  ...Object.entries(STDLIB_CASES).map(([id, data]) => [id, { data, since: [3, 7] as const }]),
  ...Object.entries(UUID_CASES).map(([id, data]) => [id, { data, since: [3, 8] as const }]),
  ...Object.entries(PY2_NAME_CASES).map(([id, data]) => [id, { data, since: [3, 0] as const }]),
]);

interface LoadDescribeReport {
  python: string;
  results: { id: string; loaders: Record<string, { description: Tagged } | { error: string }> }[];
}

const pythons = findPythons();
let reports = new Map<string, LoadDescribeReport>();
const runsOn = (python: PythonInterpreter, since: readonly [number, number]): boolean =>
  python.version[0] > since[0] || (python.version[0] === since[0] && python.version[1] >= since[1]);

beforeAll(async () => {
  console.log(`hand-made pickles against: ${describePythons(pythons)}`);
  reports = await runOnEach<LoadDescribeReport>(pythons, 'load_describe.py', (python) => ({
    cases: Object.entries(CASES)
      .filter(([, c]) => runsOn(python, c.since))
      .map(([id, c]) => ({ id, pickle: bytesToHex(c.data) })),
  }));
}, 120_000);

describe('hand-made pickles, against CPython', () => {
  it.each(pythons.map((p) => [p.label] as const))('mpwire gives what CPython %s gives', (label) => {
    const report = reports.get(label)!;
    const failures: string[] = [];
    let compared = 0;
    for (const { id, loaders } of report.results) {
      let value: unknown;
      let thrown: unknown;
      try {
        value = loads(CASES[id]!.data);
      } catch (error) {
        thrown = error;
      }
      for (const [loader, outcome] of Object.entries(loaders)) {
        compared++;
        const where = `${id} (${loader})`;
        if ('error' in outcome) {
          if (!(thrown instanceof UnpicklingError))
            failures.push(`${where}: CPython refused (${outcome.error}), mpwire did not`);
        } else if (thrown !== undefined) {
          failures.push(`${where}: mpwire threw ${String(thrown)}`);
        } else {
          const problem = matchTagged(value, outcome.description, {
            floats: 'number',
            py2str: 'latin1',
            unorderedSets: true,
          });
          if (problem) failures.push(`${where}: ${problem}`);
        }
      }
    }
    expectNoFailures(failures);
    const python = pythons.find((p) => p.label === label)!;
    const expected = Object.values(CASES).filter((c) => runsOn(python, c.since)).length;
    expect(report.results.length).toBe(expected);
    expect(compared).toBe(2 * expected);
  });

  it('CPython refuses the pickles it should, so the refusals are checked', () => {
    const refused = [
      'memoize_leaves_index_0_empty',
      'dict_key_list',
      'set_element_list',
      'frozenset_element_dict',
    ];
    for (const report of reports.values()) {
      for (const id of refused) {
        const outcome = report.results.find((r) => r.id === id);
        if (outcome === undefined) continue; // a case this interpreter cannot read
        for (const loader of Object.values(outcome.loaders))
          expect(loader, `${id} on ${report.python}`).toHaveProperty('error');
      }
    }
  });
});
