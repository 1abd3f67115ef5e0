/**
 * numpy interop against CPython with numpy installed.
 *
 * 1. Decode: CPython pickles each case (arrays of every common dtype and layout, numpy scalars, a list of
 *    arrays) at protocols 0 to 5 and 5 with out-of-band buffers; mpwire decodes and compares with the
 *    description CPython wrote (dtype, shape, order, C-order bytes, element values).
 * 2. Encode: mpwire re-encodes each decoded value at the same protocol; the bytes must equal numpy's own
 *    pickle, and CPython loads them and checks `np.array_equal`, dtype and type against what numpy's own
 *    pickle of the original loads as (numpy turns non-native byte orders native when loading protocol 0–4).
 *    The same with no registry at all (numpy is built into `dumps`), for numpy 2's module spelling.
 * 3. Build: arrays made in TypeScript (fromTypedArray / fromList / NumpyScalar.of) are encoded and CPython
 *    compares them with the numpy expression they stand for.
 *
 * numpy-1 pickles: only interpreters with numpy 2 may be present, so numpy-1-style pickles are made by
 * numpy 2 itself with `_reconstruct`, `scalar` and `_frombuffer` renamed to their numpy 1.x modules
 * (`numpy.core.multiarray`, `numpy.core.numeric`) — the names numpy 1.x writes — while pickling. numpy 2
 * still loads `numpy.core` names, so encoding with `coreModule: 'numpy.core'` is checked the same way.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dumps, loads } from '../src/codec/index.js';
import {
  NDArray,
  type NumpyCodecOptions,
  NumpyDtype,
  NumpyScalar,
  numpyRegistry,
} from '../src/codec/numpy.js';
import { type PyComplex, PyObject, type PyPickleBuffer } from '../src/codec/values.js';
import { findPythons, type PythonInterpreter } from './support/pythons.js';

const HARNESS = `
import importlib, importlib.util, json, pickle, struct, sys, warnings
import numpy as np

NUMPY2 = int(np.__version__.split('.')[0]) >= 2
NATIVE = 'numpy._core' if NUMPY2 else 'numpy.core'
_ma = importlib.import_module(NATIVE + '.multiarray')
_nm = importlib.import_module(NATIVE + '.numeric')
RENAMED = [(_ma._reconstruct, 'multiarray'), (_ma.scalar, 'multiarray'), (_nm._frombuffer, 'numeric')]

def spellings():
    out = []
    for core in ('numpy._core', 'numpy.core'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            try:
                if importlib.util.find_spec(core + '.multiarray') is not None:
                    out.append(core)
            except ImportError:
                pass
    return out

def dumps_as(obj, protocol, core, oob):
    saved = [f.__module__ for f, _ in RENAMED]
    buffers = []
    try:
        # One str per module, as numpy's functions of one module share their __module__ object.
        names = {}
        for f, sub in RENAMED:
            f.__module__ = names.setdefault(sub, core + '.' + sub)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            data = pickle.dumps(obj, protocol, buffer_callback=buffers.append if oob else None)
    finally:
        for (f, _), module in zip(RENAMED, saved):
            f.__module__ = module
    return data, [bytes(b.raw()) for b in buffers]

def loads(data, buffers):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return pickle.loads(data, buffers=buffers)

def fbits(x):
    return struct.pack('>d', x).hex()

def tag(v):
    if v is None: return ['none']
    if isinstance(v, bool): return ['bool', v]
    if isinstance(v, int): return ['int', str(v)]
    if isinstance(v, float): return ['float', fbits(v)]
    if isinstance(v, complex): return ['complex', fbits(v.real), fbits(v.imag)]
    if isinstance(v, bytes): return ['bytes', v.hex()]
    if isinstance(v, str): return ['str', v]
    if isinstance(v, list): return ['list', [tag(x) for x in v]]
    if isinstance(v, tuple): return ['record', [tag(x) for x in v]]
    if isinstance(v, np.ndarray): return tag(v.tolist())
    raise TypeError('cannot describe %r' % (v,))

def dtype_desc(dt):
    if dt.names is not None:
        return ['struct', dt.itemsize, [[n, dtype_desc(dt.fields[n][0]), dt.fields[n][1]] for n in dt.names]]
    if dt.subdtype is not None:
        return ['sub', dtype_desc(dt.subdtype[0]), list(dt.subdtype[1])]
    return dt.str

def desc(v):
    if isinstance(v, np.ndarray):
        items = v.view('i8').tolist() if v.dtype.kind in 'Mm' else v.tolist()
        return ['ndarray', {
            'dtype': dtype_desc(v.dtype),
            'shape': list(v.shape),
            'fortran': bool(v.flags.f_contiguous and not v.flags.c_contiguous),
            'bytes': None if v.dtype.hasobject else v.tobytes('C').hex(),
            'items': tag(items),
        }]
    if isinstance(v, np.generic):
        value = tag(v.item()) if v.dtype.kind in 'biufcSU' else ['none']
        return ['scalar', dtype_desc(v.dtype), v.tobytes().hex(), value]
    if isinstance(v, list):
        return ['list', [desc(x) for x in v]]
    return tag(v)

def same(expected, actual, where='value'):
    if isinstance(expected, np.ndarray):
        if type(actual) is not type(expected):
            return '%s: type %s, expected %s' % (where, type(actual).__name__, type(expected).__name__)
        if actual.dtype != expected.dtype:
            return '%s: dtype %r, expected %r' % (where, actual.dtype, expected.dtype)
        if actual.shape != expected.shape:
            return '%s: shape %r, expected %r' % (where, actual.shape, expected.shape)
        nan = expected.dtype.names is None and expected.dtype.kind in 'fcMm'
        if not np.array_equal(actual, expected, equal_nan=nan):
            return '%s: values %r, expected %r' % (where, actual, expected)
        if actual.dtype.names is None and actual.dtype.kind not in 'OV' and actual.tobytes('C') != expected.tobytes('C'):
            return '%s: bytes differ' % where
        if expected.ndim > 1 and bool(actual.flags.f_contiguous and not actual.flags.c_contiguous) != bool(expected.flags.f_contiguous and not expected.flags.c_contiguous):
            return '%s: memory order differs' % where
        return None
    if isinstance(expected, np.generic):
        if type(actual) is not type(expected) or actual.dtype != expected.dtype:
            return '%s: %r, expected %r' % (where, actual, expected)
        return None if actual.tobytes() == expected.tobytes() else '%s: bytes of %r differ' % (where, actual)
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return '%s: %r, expected %r' % (where, actual, expected)
        for i, (e, a) in enumerate(zip(expected, actual)):
            problem = same(e, a, '%s[%d]' % (where, i))
            if problem:
                return problem
        return None
    return None if actual == expected else '%s: %r, expected %r' % (where, actual, expected)

def main():
    request = json.load(sys.stdin)
    env = {'np': np}
    if request['mode'] == 'generate':
        out = {'numpy': np.__version__, 'spellings': spellings(), 'fixtures': []}
        for case in request['cases']:
            value = eval(case['expr'], env)
            for core in out['spellings']:
                for protocol, oob in request['protocols']:
                    data, buffers = dumps_as(value, protocol, core, oob)
                    out['fixtures'].append({
                        'id': case['id'], 'core': core, 'protocol': protocol, 'oob': oob,
                        'pickle': data.hex(), 'buffers': [b.hex() for b in buffers], 'desc': desc(value),
                    })
        json.dump(out, sys.stdout)
    else:
        results = []
        for check in request['checks']:
            try:
                actual = loads(bytes.fromhex(check['pickle']), [bytes.fromhex(b) for b in check['buffers']])
                # The oracle is what numpy's own pickle of the value loads as: numpy itself turns non-native
                # byte orders native when loading protocol 0-4 pickles, for instance.
                expected = loads(pickle.dumps(eval(check['expr'], env), check['protocol']), None)
                problem = same(expected, actual)
            except Exception as e:
                problem = '%s: %s' % (type(e).__name__, e)
            results.append(problem)
        json.dump(results, sys.stdout)

main()
`;

interface Case {
  readonly id: string;
  /** The Python expression, evaluated with `np` bound. */
  readonly expr: string;
  /**
   * Why mpwire's bytes cannot equal numpy's at protocol 5: NDArray is always contiguous, while numpy falls
   * back to `_reconstruct` (or writes order 'K') for a non-contiguous or axis-permuted source.
   */
  readonly notExpressibleAt5?: string;
}

const CASES: readonly Case[] = [
  { id: 'bool', expr: 'np.array([True, False, True])' },
  { id: 'int8', expr: 'np.array([-128, 0, 127], dtype=np.int8)' },
  { id: 'int16', expr: 'np.array([-32768, 1, 32767], dtype=np.int16)' },
  { id: 'int32', expr: 'np.array([-2**31, 7, 2**31 - 1], dtype=np.int32)' },
  { id: 'int64', expr: 'np.array([-2**63, 2**53 + 1, 2**63 - 1], dtype=np.int64)' },
  { id: 'uint8', expr: 'np.array([0, 200, 255], dtype=np.uint8)' },
  { id: 'uint16', expr: 'np.array([0, 65535], dtype=np.uint16)' },
  { id: 'uint32', expr: 'np.array([0, 2**32 - 1], dtype=np.uint32)' },
  { id: 'uint64', expr: 'np.array([0, 2**64 - 1], dtype=np.uint64)' },
  { id: 'float16', expr: 'np.array([1.5, -0.0, np.inf, 65504, 0.1], dtype=np.float16)' },
  { id: 'float32', expr: 'np.array([1.5, np.nan, -np.inf, 1e-45], dtype=np.float32)' },
  { id: 'float64', expr: 'np.array([0.1, -0.0, np.nan, 1e308, 5e-324])' },
  { id: 'complex64', expr: 'np.array([1 - 2j, np.inf * 1j], dtype=np.complex64)' },
  { id: 'complex128', expr: 'np.array([0.5 + 0.25j, -1j])' },
  {
    id: 'datetime64[ns]',
    expr: "np.array(['2020-01-01T00:00:00.000000001', 'NaT'], dtype='datetime64[ns]')",
  },
  { id: 'timedelta64[3us]', expr: "np.array([1, -2], dtype='m8[3us]')" },
  { id: 'S5', expr: "np.array([b'ab', b'hello', b''], dtype='S5')" },
  { id: '<U3', expr: "np.array(['a', 'h\u00e9\u00e9', '\u{1F600}'], dtype='<U3')" },
  { id: '>i4', expr: "np.array([1, -2, 3], dtype='>i4')" },
  { id: '>f8 2-d', expr: "np.array([[1.5, 2.5], [3.5, 4.5]], dtype='>f8')" },
  // Field names are longer than one character: a one-character name equal to the b'b' typecode's latin-1
  // text is memo-shared by CPython 3.8/3.13 and not by 3.11/3.12, so its protocol-2 bytes vary by version.
  {
    id: 'structured',
    expr: "np.array([(1, 2.5, b'x', [1, 2]), (-1, 0.5, b'yz', [3, 4])], dtype=[('id', '<i4'), ('val', '>f8'), ('tag', 'S2'), ('pair', '<u2', (2,))])",
  },
  { id: 'aligned struct', expr: "np.zeros(2, dtype=np.dtype([('name', 'U2'), ('num', 'i1')], align=True))" },
  { id: 'record array', expr: "np.rec.array([(1, 2.0)], dtype=[('x1', '<i4'), ('y1', '<f8')])" },
  { id: 'void', expr: "np.array([b'ab', b'c'], dtype='V2')" },
  { id: '0-d', expr: 'np.array(3.5)' },
  { id: 'empty', expr: "np.zeros((0,), dtype='f8')" },
  { id: 'empty 2-d', expr: "np.zeros((2, 0), dtype='i4')" },
  { id: '2-d C', expr: "np.arange(6, dtype='i4').reshape(2, 3)" },
  { id: '2-d Fortran', expr: "np.asfortranarray(np.arange(6, dtype='f8').reshape(2, 3))" },
  { id: '3-d Fortran', expr: "np.asfortranarray(np.arange(24, dtype='u2').reshape(2, 3, 4))" },
  { id: 'strided slice', expr: "np.arange(10, dtype='i2')[::3]", notExpressibleAt5: 'non-contiguous source' },
  {
    id: 'column slice',
    expr: "np.arange(12, dtype='i8').reshape(3, 4)[:, 1:3]",
    notExpressibleAt5: 'non-contiguous source',
  },
  { id: 'transposed', expr: "np.arange(6, dtype='i4').reshape(2, 3).T" },
  {
    id: 'permuted axes',
    expr: "np.arange(24, dtype='i2').reshape(2, 3, 4).transpose(1, 0, 2)",
    notExpressibleAt5: "numpy 2 writes order 'K' with an axis permutation",
  },
  { id: 'object', expr: "np.array([1, 'a', None], dtype=object)" },
  { id: 'list of arrays', expr: '[np.arange(3), np.arange(3)]' },
  // numpy writes each dtype's type string ('U3', '>i4'...) and datetime unit (b'ms') anew, never shared.
  {
    id: 'equal flexible dtypes',
    expr: "[np.zeros(1, 'U3'), np.zeros(1, 'U3'), np.zeros(1, '>i4'), np.zeros(1, '>i4'), np.str_('ab'), np.str_('cd')]",
  },
  {
    id: 'equal datetime units',
    expr: "[np.zeros(1, 'M8[D]'), np.zeros(1, 'M8[ms]'), np.zeros(1, 'M8[D]'), np.zeros(1, 'M8[ms]')]",
  },
  { id: 'nested struct', expr: "np.zeros(1, [('p', [('x', '<f4'), ('y', '<f4')])])" },
  // Dtypes numpy's buffer export refuses, so protocol 5 writes them with _reconstruct, in band.
  {
    id: 'fields out of order',
    expr: "np.arange(4, dtype='u1').view({'names': ['ab', 'cd'], 'formats': ['u1', 'u1'], 'offsets': [1, 0]})",
  },
  {
    id: 'overlapping fields',
    expr: "np.zeros(2, dtype={'names': ['ab', 'cd'], 'formats': ['<i4', '<i2'], 'offsets': [0, 2]})",
  },
  { id: 'colon in a field name', expr: "np.zeros(2, dtype=[('a:b', '<i4')])" },
  // numpy keys a field by its title only when the title is a str.
  { id: 'titled fields', expr: "np.zeros(1, [(('a title', 'ab'), 'i4'), ((1, 'cd'), 'i2')])" },
  // No bytes and one-byte bytes are shared objects in CPython: numpy's b'b', 1-byte data and scalars share them.
  {
    id: 'one-byte data',
    expr: "[np.int8(5), np.int8(5), np.uint8(98), np.array([98], 'u1'), np.zeros(0, 'u1'), np.bool_(True), np.bool_(True)]",
  },
  { id: 'scalar float32', expr: 'np.float32(1.5)' },
  { id: 'scalar float16', expr: 'np.float16(0.1)' },
  { id: 'scalar int64', expr: 'np.int64(-7)' },
  { id: 'scalar uint64', expr: 'np.uint64(2**64 - 1)' },
  { id: 'scalar bool', expr: 'np.bool_(True)' },
  { id: 'scalar complex128', expr: 'np.complex128(1 - 2j)' },
  { id: 'scalar str', expr: "np.str_('h\u00e9')" },
  { id: 'scalar bytes', expr: "np.bytes_(b'ab')" },
  { id: 'scalar datetime64', expr: "np.datetime64('2020-01-02', 'D')" },
];

/** Protocol and out-of-band flag pairs each case is pickled at. */
const PROTOCOLS: readonly (readonly [number, boolean])[] = [
  [0, false],
  [1, false],
  [2, false],
  [3, false],
  [4, false],
  [5, false],
  [5, true],
];

interface Fixture {
  readonly id: string;
  readonly core: 'numpy._core' | 'numpy.core';
  readonly protocol: number;
  readonly oob: boolean;
  readonly pickle: string;
  readonly buffers: readonly string[];
  readonly desc: unknown;
}

interface Generated {
  readonly numpy: string;
  readonly spellings: readonly string[];
  readonly fixtures: readonly Fixture[];
}

interface Check {
  readonly expr: string;
  readonly protocol: number;
  readonly pickle: string;
  readonly buffers: readonly string[];
}

const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

let harnessPath: string | undefined;
afterAll(() => {
  if (harnessPath) rmSync(join(harnessPath, '..'), { recursive: true, force: true });
});
function runHarness(python: PythonInterpreter, request: unknown): unknown {
  if (!harnessPath) {
    harnessPath = join(mkdtempSync(join(tmpdir(), 'mpwire-numpy-')), 'numpy_harness.py');
    writeFileSync(harnessPath, HARNESS);
  }
  const out = execFileSync(python.executable, [harnessPath], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
  return JSON.parse(out);
}

function hasNumpy(python: PythonInterpreter): boolean {
  try {
    execFileSync(python.executable, ['-c', 'import numpy'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

const floatBits = (x: number): string => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return toHex(new Uint8Array(view.buffer));
};

function dtypeDesc(dtype: NumpyDtype): unknown {
  if (dtype.fields)
    return ['struct', dtype.itemsize, dtype.fields.map((f) => [f.name, dtypeDesc(f.dtype), f.offset])];
  if (dtype.subarray) return ['sub', dtypeDesc(dtype.subarray.base), [...dtype.subarray.shape]];
  return dtype.str;
}

/** Tags one element the way the harness tags numpy's `tolist()` output. */
function tagElement(value: unknown, dtype: NumpyDtype): unknown {
  if (dtype.fields) {
    const record = value as Record<string, unknown>;
    return ['record', dtype.fields.map((f) => tagElement(record[f.name], f.dtype))];
  }
  if (dtype.subarray) return tagNested(value, dtype.subarray.shape.length, dtype.subarray.base);
  switch (dtype.kind) {
    case 'b':
      return ['bool', value];
    case 'i':
    case 'u':
    case 'M':
    case 'm':
      return ['int', String(value)];
    case 'f':
      return ['float', floatBits(value as number)];
    case 'c':
      return ['complex', floatBits((value as PyComplex).real), floatBits((value as PyComplex).imag)];
    case 'S':
    case 'V':
      return ['bytes', toHex(value as Uint8Array)];
    case 'U':
      return ['str', value];
    default:
      return tagObject(value);
  }
}

function tagObject(value: unknown): unknown {
  if (value === null) return ['none'];
  if (typeof value === 'string') return ['str', value];
  if (typeof value === 'number' && Number.isInteger(value)) return ['int', String(value)];
  if (typeof value === 'bigint') return ['int', String(value)];
  return ['unexpected', String(value)];
}

function tagNested(value: unknown, depth: number, dtype: NumpyDtype): unknown {
  if (depth === 0) return tagElement(value, dtype);
  return ['list', (value as unknown[]).map((item) => tagNested(item, depth - 1, dtype))];
}

/** C-order bytes of an array, whatever its memory order. */
function cOrderBytes(array: NDArray): Uint8Array {
  if (array.order === 'C' || array.ndim < 2) return array.bytes;
  const itemsize = array.dtype.itemsize;
  const out = new Uint8Array(array.bytes.length);
  const shape = array.shape;
  const index = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < array.size; c++) {
    let f = 0;
    for (let d = shape.length - 1; d >= 0; d--) f = f * shape[d]! + index[d]!;
    out.set(array.bytes.subarray(f * itemsize, (f + 1) * itemsize), c * itemsize);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Describes a decoded value in the harness's form. */
function describeValue(value: unknown): unknown {
  if (value instanceof NDArray) {
    return [
      'ndarray',
      {
        dtype: dtypeDesc(value.dtype),
        shape: [...value.shape],
        fortran:
          value.order === 'F' && value.shape.filter((n) => n > 1).length > 1 && !value.shape.includes(0),
        bytes: value.dtype.kind === 'O' ? null : toHex(cOrderBytes(value)),
        items: tagNested(value.toList(), value.ndim, value.dtype),
      },
    ];
  }
  if (value instanceof NumpyScalar) {
    const described = 'biufcSU'.includes(value.dtype.kind) ? tagElement(value.value, value.dtype) : ['none'];
    return ['scalar', dtypeDesc(value.dtype), toHex(value.bytes), described];
  }
  if (Array.isArray(value)) return ['list', value.map(describeValue)];
  return tagObject(value);
}

const pythons = findPythons().filter(hasNumpy);
const skipReason =
  pythons.length === 0
    ? `no interpreter can import numpy (tried ${findPythons()
        .map((p) => p.label)
        .join(', ')})`
    : '';
if (skipReason) console.log(`numpy interop suite skipped: ${skipReason}`);

describe('numpy interop', () => {
  it.skipIf(skipReason !== '')(
    `finds CPython with numpy${skipReason ? ` (skipped: ${skipReason})` : ''}`,
    () => {
      expect(pythons.length).toBeGreaterThan(0);
    },
  );
  for (const python of pythons) {
    describe(`CPython ${python.label}`, () => {
      const generated = runHarness(python, {
        mode: 'generate',
        cases: CASES,
        protocols: PROTOCOLS,
      }) as Generated;
      const exprOf = new Map(CASES.map((c) => [c.id, c.expr]));
      console.log(
        `numpy interop: CPython ${python.label} (${python.executable}), numpy ${generated.numpy}, ` +
          `spellings ${generated.spellings.join(', ')}, ${generated.fixtures.length} pickles`,
      );

      const label = (f: Fixture) =>
        `${f.id} | ${f.core} | protocol ${f.protocol}${f.oob ? ' out-of-band' : ''}`;
      const decodeFixture = (f: Fixture): unknown =>
        loads(fromHex(f.pickle), { registry: numpyRegistry(), buffers: f.buffers.map(fromHex) });
      const encodeFixture = (value: unknown, f: Fixture): { pickle: Uint8Array; buffers: Uint8Array[] } => {
        const options: NumpyCodecOptions = { coreModule: f.core, pickleBuffers: f.protocol >= 5 };
        const buffers: Uint8Array[] = [];
        const pickle = dumps(value, {
          protocol: f.protocol,
          registry: numpyRegistry(options),
          ...(f.oob
            ? {
                bufferCallback: (b: PyPickleBuffer) => {
                  buffers.push(b.data);
                  return false;
                },
              }
            : {}),
        });
        return { pickle, buffers };
      };

      it.each(generated.fixtures.map((f) => [label(f), f] as const))('decodes %s', (_name, fixture) => {
        expect(describeValue(decodeFixture(fixture))).toEqual(fixture.desc);
      });

      const notExpressible = new Map(CASES.map((c) => [c.id, c.notExpressibleAt5]));
      const byteComparable = generated.fixtures.filter((f) => f.protocol < 5 || !notExpressible.get(f.id));
      it.each(byteComparable.map((f) => [label(f), f] as const))(
        're-encodes %s to numpy’s own bytes',
        (_name, fixture) => {
          const { pickle, buffers } = encodeFixture(decodeFixture(fixture), fixture);
          expect(toHex(pickle)).toBe(fixture.pickle);
          expect(buffers.map(toHex)).toEqual(fixture.buffers);
        },
      );

      // numpy is built into dumps: with no registry it must write numpy's own bytes at every protocol, in the
      // module spelling each value was read with (numpy 1.x cannot import numpy 2's).
      it.each(byteComparable.map((f) => [label(f), f] as const))(
        're-encodes %s to numpy’s own bytes with no registry',
        (_name, fixture) => {
          const buffers: Uint8Array[] = [];
          const bufferCallback = (b: PyPickleBuffer) => {
            buffers.push(b.data);
            return false;
          };
          const pickle = dumps(decodeFixture(fixture), {
            protocol: fixture.protocol,
            ...(fixture.oob ? { bufferCallback } : {}),
          });
          expect(toHex(pickle)).toBe(fixture.pickle);
          expect(buffers.map(toHex)).toEqual(fixture.buffers);
        },
      );

      // Under bigints: 'always' every int comes as a bigint, numpy's own bookkeeping (versions, itemsizes,
      // offsets, shapes) included; the values are the same and so are the bytes they re-encode to.
      it("decodes every pickle with bigints: 'always' and re-encodes it to numpy's own bytes", () => {
        const failures: string[] = [];
        for (const fixture of byteComparable) {
          try {
            const value = loads(fromHex(fixture.pickle), {
              bigints: 'always',
              buffers: fixture.buffers.map(fromHex),
            });
            const buffers: Uint8Array[] = [];
            const pickle = dumps(value, {
              protocol: fixture.protocol,
              ...(fixture.oob ? { bufferCallback: (b: PyPickleBuffer) => void buffers.push(b.data) } : {}),
            });
            if (toHex(pickle) !== fixture.pickle || buffers.map(toHex).join() !== fixture.buffers.join())
              failures.push(`${label(fixture)}: other bytes`);
          } catch (error) {
            failures.push(`${label(fixture)}: ${String(error)}`);
          }
        }
        expect(failures).toEqual([]);
      });

      it('CPython loads every re-encoded value as an equal numpy object', () => {
        const checks: Check[] = generated.fixtures.map((f) => {
          const { pickle, buffers } = encodeFixture(decodeFixture(f), f);
          return {
            expr: exprOf.get(f.id)!,
            protocol: f.protocol,
            pickle: toHex(pickle),
            buffers: buffers.map(toHex),
          };
        });
        const results = runHarness(python, { mode: 'check', checks }) as (string | null)[];
        const failures = results.flatMap((problem, i) =>
          problem ? [`${label(generated.fixtures[i]!)}: ${problem}`] : [],
        );
        expect(failures).toEqual([]);
        expect(results).toHaveLength(generated.fixtures.length);
      });

      it('CPython loads arrays and scalars built in TypeScript, in both module spellings and every protocol', () => {
        const built: [string, () => unknown][] = [
          [
            'np.array([[1.5], [-2.0]])',
            () => NDArray.fromTypedArray(new Float64Array([1.5, -2]), { shape: [2, 1] }),
          ],
          [
            "np.array([1, -2, 3], dtype='>i4')",
            () => NDArray.fromTypedArray(new Int32Array([1, -2, 3]), { dtype: '>i4' }),
          ],
          ['np.array([True, False])', () => NDArray.fromTypedArray(new Uint8Array([1, 0]), { dtype: '?' })],
          [
            "np.array([1 + 2j], dtype='c8')",
            () => NDArray.fromTypedArray(new Float32Array([1, 2]), { dtype: '<c8' }),
          ],
          ["np.array([2**63 - 1], dtype='i8')", () => NDArray.fromList([2n ** 63n - 1n], 'i8')],
          ["np.array(['ab', 'c\u00e9'], dtype='<U2')", () => NDArray.fromList(['ab', 'cé'], '<U2')],
          ["np.array([b'abc', b''], dtype='S3')", () => NDArray.fromList(['abc', ''], 'S3')],
          ["np.array([0.5, 65504], dtype='<f2')", () => NDArray.fromList([0.5, 65504], '<f2')],
          // A subarray dtype gives the array its base dtype and its dimensions, as numpy's ndarray does.
          [
            "np.array([[1, 2], [3, 4]], dtype='<i4')",
            () =>
              NDArray.fromList(
                [
                  [1, 2],
                  [3, 4],
                ],
                NumpyDtype.subarray('<i4', [2]),
              ),
          ],
          [
            "np.array([1577836800000000000], dtype='M8[ns]')",
            () => NDArray.fromList([1577836800000000000n], 'M8[ns]'),
          ],
          [
            "np.asfortranarray(np.arange(6, dtype='i2').reshape(2, 3))",
            () =>
              new NDArray({
                dtype: 'i2',
                shape: [2, 3],
                order: 'F',
                bytes: new Uint8Array(new Int16Array([0, 3, 1, 4, 2, 5]).buffer),
              }),
          ],
          [
            "np.array([(1, 2.5)], dtype=[('a', '<i4'), ('b', '<f8')])",
            () =>
              NDArray.fromList(
                [{ a: 1, b: 2.5 }],
                NumpyDtype.structured([
                  { name: 'a', dtype: '<i4' },
                  { name: 'b', dtype: '<f8' },
                ]),
              ),
          ],
          ["np.array(7, dtype='u1')", () => NDArray.fromList(7, 'u1')],
          ["np.zeros((0, 3), dtype='f4')", () => new NDArray({ dtype: 'f4', shape: [0, 3] })],
          ['np.float32(1.5)', () => NumpyScalar.of('f4', 1.5)],
          ['np.int64(-7)', () => NumpyScalar.of('<i8', -7)],
          ["np.str_('h\u00e9')", () => NumpyScalar.of('<U2', 'hé')],
          [
            '[np.float64(0.25), np.arange(2)]',
            () => [NumpyScalar.of('f8', 0.25), NDArray.fromList([0, 1], 'i8')],
          ],
        ];
        const checks: Check[] = [];
        const labels: string[] = [];
        for (const core of generated.spellings as ('numpy._core' | 'numpy.core')[]) {
          for (const [protocol, oob] of PROTOCOLS) {
            for (const [expr, build] of built) {
              const f: Fixture = { id: expr, core, protocol, oob, pickle: '', buffers: [], desc: null };
              const { pickle, buffers } = encodeFixture(build(), f);
              checks.push({ expr, protocol, pickle: toHex(pickle), buffers: buffers.map(toHex) });
              labels.push(label(f));
            }
          }
        }
        const results = runHarness(python, { mode: 'check', checks }) as (string | null)[];
        expect(results.flatMap((problem, i) => (problem ? [`${labels[i]}: ${problem}`] : []))).toEqual([]);
        expect(results).toHaveLength(checks.length);
      });

      it('leaves arrays numpy loads and an NDArray cannot hold as placeholders that re-encode to the same bytes', () => {
        const generated = JSON.parse(
          execFileSync(python.executable, ['-c', PLACEHOLDER_HARNESS, 'generate'], {
            encoding: 'utf8',
            timeout: 120_000,
          }),
        ) as Record<string, string>;
        const ids = Object.keys(generated);
        // StringDType exists from numpy 2 on.
        expect(ids.filter((id) => !id.startsWith('stringdtype')).length).toBe(16);
        const reencoded: Record<string, string> = {};
        for (const id of ids) {
          const protocol = Number(id.split('-').pop());
          const value = loads(fromHex(generated[id]!));
          const held = id.startsWith('mixed') ? (value as Record<string, unknown>).arr : value;
          expect(held, id).toBeInstanceOf(PyObject);
          if (id.startsWith('mixed'))
            expect((value as Record<string, unknown>).plain).toBeInstanceOf(NDArray);
          reencoded[id] = toHex(dumps(value, { protocol }));
          expect(reencoded[id], id).toBe(generated[id]);
        }
        const problems = execFileSync(python.executable, ['-c', PLACEHOLDER_HARNESS, 'check'], {
          input: JSON.stringify(reencoded),
          encoding: 'utf8',
          timeout: 120_000,
        });
        expect(JSON.parse(problems)).toEqual([]);
      });
    });
  }
});

/**
 * numpy values an NDArray cannot hold: records holding objects (arrays and np.void), numpy 2's StringDType, and
 * an ndarray subclass whose `__reduce__` appends to the state (numpy's own InfoArray recipe). `generate` prints
 * their pickles at protocols 2 to 5; `check` loads re-encoded ones and lists what differs from the originals.
 */
const PLACEHOLDER_HARNESS = `
import json, pickle, sys
import numpy as np

class InfoArray(np.ndarray):
    def __new__(cls, a, info=None):
        obj = np.asarray(a).view(cls)
        obj.info = info
        return obj
    def __array_finalize__(self, obj):
        self.info = getattr(obj, 'info', None)
    def __reduce__(self):
        reduced = super().__reduce__()
        return reduced[0], reduced[1], reduced[2] + (self.info,)
    def __setstate__(self, state):
        self.info = state[-1]
        super().__setstate__(state[:-1])

records = np.dtype([('n', 'i4'), ('obj', 'O')])
values = {
    'objects-in-records': np.array([(1, 'x'), (2, None)], dtype=records),
    'record-with-object': np.array([(1, 'x')], dtype=records)[0],
    'infoarray': InfoArray([1, 2, 3], info='metres'),
    'mixed': {'ok': 1, 'arr': np.array([(3, [1])], dtype=records), 'plain': np.arange(3)},
}
if hasattr(np, 'dtypes') and hasattr(np.dtypes, 'StringDType'):
    values['stringdtype'] = np.array(['ab', 'c'], dtype=np.dtypes.StringDType())

def same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if not isinstance(a, (np.ndarray, np.generic)):
        return a == b
    if type(a) is not type(b) or a.dtype != b.dtype:
        return False
    if isinstance(a, np.void):
        return a.tolist() == b.tolist()
    return a.shape == b.shape and a.tolist() == b.tolist() and getattr(a, 'info', None) == getattr(b, 'info', None)

if sys.argv[1] == 'generate':
    json.dump({'%s-%d' % (k, p): pickle.dumps(v, p).hex() for k, v in values.items() for p in range(2, 6)}, sys.stdout)
else:
    problems = []
    for key, data in json.load(sys.stdin).items():
        loaded = pickle.loads(bytes.fromhex(data))
        if not same(values[key.rsplit('-', 1)[0]], loaded):
            problems.append('%s: %r' % (key, loaded))
    json.dump(problems, sys.stdout)
`;
