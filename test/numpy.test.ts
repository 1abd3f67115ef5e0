/**
 * Unit tests for numpy support, driven through the Registry entries exactly as the decoder and encoder call
 * them. The argument and state values below are what CPython 3.11 + numpy 2.4 put in the pickles (read off
 * `x.__reduce_ex__(proto)` and `pickletools.dis`), written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { dumps } from '../src/codec/encoder.js';
import { PicklingError } from '../src/codec/errors.js';
import {
  halfToNumber,
  NDArray,
  type NumpyCodecOptions,
  NumpyDtype,
  NumpyScalar,
  numberToHalf,
  numpyRegistry,
  registerNumpy,
} from '../src/codec/numpy.js';
import { Registry } from '../src/codec/registry.js';
import { FreshString } from '../src/codec/stdlib-encode.js';
import {
  PyByteArray,
  PyComplex,
  PyGlobal,
  PyObject,
  PyPickleBuffer,
  PyTuple,
  tuple,
} from '../src/codec/values.js';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function decoder(registry: Registry, module: string, name: string) {
  const entry = registry.decoderFor(module, name);
  if (!entry) throw new Error(`no decoder for ${module}.${name}`);
  return entry;
}

/** REDUCE `numpy.dtype(*args)` then BUILD `state`, as the decoder does. */
function decodeDtype(registry: Registry, args: unknown[], state: unknown): NumpyDtype {
  const entry = decoder(registry, 'numpy', 'dtype');
  const dtype = entry.construct(args, undefined) as NumpyDtype;
  const replaced = entry.setState?.(dtype, state);
  expect(replaced).toBeUndefined();
  return dtype;
}

/** REDUCE `_reconstruct(ndarray, (0,), b'b')` then BUILD `state`. */
function decodeReconstruct(registry: Registry, state: unknown, module = 'numpy._core.multiarray'): NDArray {
  const entry = decoder(registry, module, '_reconstruct');
  const array = entry.construct(
    [new PyGlobal('numpy', 'ndarray'), tuple(0), hex('62')],
    undefined,
  ) as NDArray;
  entry.setState?.(array, state);
  return array;
}

function reduce(registry: Registry, value: object, protocol = 4): PyObject {
  const reducer = registry.reducerFor(value);
  if (!reducer) throw new Error('no reducer');
  return reducer(value, { protocol });
}

const f8State = tuple(3, '<', null, null, null, -1, -1, 0);
const i4State = tuple(3, '<', null, null, null, -1, -1, 0);

describe('NumpyDtype.from', () => {
  it.each([
    ['<f8', 'f', 8, '<', 'd', '<f8'],
    ['float64', 'f', 8, '<', 'd', '<f8'],
    ['>i4', 'i', 4, '>', 'i', '>i4'],
    ['?', 'b', 1, '|', '?', '|b1'],
    ['<i1', 'i', 1, '|', 'b', '|i1'],
    ['u8', 'u', 8, '<', 'L', '<u8'],
    ['e', 'f', 2, '<', 'e', '<f2'],
    ['complex64', 'c', 8, '<', 'F', '<c8'],
    ['>S5', 'S', 5, '|', 'S', '|S5'],
    ['<U3', 'U', 12, '<', 'U', '<U3'],
    ['V8', 'V', 8, '|', 'V', '|V8'],
    ['O', 'O', 8, '|', 'O', '|O'],
    ['M8[ns]', 'M', 8, '<', 'M', '<M8[ns]'],
    ['timedelta64[3us]', 'm', 8, '<', 'm', '<m8[3us]'],
    ['m8', 'm', 8, '<', 'm', '<m8'],
  ])('%s', (spec, kind, itemsize, byteOrder, char, str) => {
    const dtype = NumpyDtype.from(spec);
    expect([dtype.kind, dtype.itemsize, dtype.byteOrder, dtype.char, dtype.str]).toEqual([
      kind,
      itemsize,
      byteOrder,
      char,
      str,
    ]);
  });

  it('shares simple native dtypes like numpy, but not flexible or swapped ones', () => {
    expect(NumpyDtype.from('f8')).toBe(NumpyDtype.from('<f8'));
    expect(NumpyDtype.from('float64')).toBe(NumpyDtype.from('d'));
    expect(NumpyDtype.from('>f8')).not.toBe(NumpyDtype.from('>f8'));
    expect(NumpyDtype.from('S5')).not.toBe(NumpyDtype.from('S5'));
    expect(new NumpyDtype('f8')).not.toBe(NumpyDtype.from('f8'));
    expect(new NumpyDtype('f8').equals(NumpyDtype.from('f8'))).toBe(true);
  });

  it('takes the names numpy 2 takes, with the sizes they have on 64-bit Linux', () => {
    // What np.dtype(name).str gives there.
    const names: Record<string, string> = {
      int: '<i8',
      uint: '<u8',
      float: '<f8',
      complex: '<c16',
      str: '<U0',
      bytes: '|S0',
      longdouble: '<f16',
      float128: '<f16',
      clongdouble: '<c32',
      complex256: '<c32',
      intp: '<i8',
      uintp: '<u8',
      p: '<i8',
      P: '<u8',
      half: '<f2',
      single: '<f4',
      double: '<f8',
      csingle: '<c8',
      cdouble: '<c16',
      byte: '|i1',
      ubyte: '|u1',
      short: '<i2',
      intc: '<i4',
      long: '<i8',
      ulonglong: '<u8',
      object_: '|O',
      str_: '<U0',
      void: '|V0',
      c: '|S1',
    };
    for (const [name, str] of Object.entries(names)) expect(NumpyDtype.from(name).str, name).toBe(str);
  });

  it.each(['f3', 'i16', 'x8', 'M8[parsec]', 'f8[ns]', ''])('refuses %j', (spec) => {
    expect(() => NumpyDtype.from(spec)).toThrow(RangeError);
  });

  it('builds structured and aligned dtypes with numpy offsets, size and flags', () => {
    const packed = NumpyDtype.structured([
      { name: 'a', dtype: '<U2' },
      { name: 'b', dtype: 'i1' },
    ]);
    expect(packed.fields?.map((f) => [f.name, f.offset])).toEqual([
      ['a', 0],
      ['b', 8],
    ]);
    expect([packed.itemsize, packed.alignment, packed.flags]).toEqual([9, 1, 24]);
    const aligned = NumpyDtype.structured(
      [
        { name: 'a', dtype: '<U2' },
        { name: 'b', dtype: 'i1' },
      ],
      { align: true },
    );
    expect([aligned.itemsize, aligned.alignment, aligned.flags]).toEqual([12, 4, 152]);
    expect(aligned.isAlignedStruct).toBe(true);
  });

  it('builds subarray dtypes that inherit the base flags', () => {
    const sub = NumpyDtype.subarray('O', [2]);
    expect([sub.kind, sub.itemsize, sub.alignment, sub.flags, sub.hasObject]).toEqual(['V', 16, 8, 63, true]);
  });
});

describe('building arrays and scalars from JavaScript values', () => {
  it('refuses what numpy refuses: integers out of bounds, non-numbers, ragged lists', () => {
    expect(() => NDArray.fromList([300, -1], 'u1')).toThrow(
      new RangeError('integer 300 is out of bounds for |u1'),
    );
    expect(() => NDArray.fromList([2 ** 31], 'i4')).toThrow(/2147483648 is out of bounds for <i4/);
    expect(() => NDArray.fromList([2n ** 63n], 'i8')).toThrow(/out of bounds for <i8/);
    expect(() => NDArray.fromList([-1n], 'u8')).toThrow(/-1 is out of bounds for <u8/);
    expect(() => NumpyScalar.of('i1', -129)).toThrow(/-129 is out of bounds for \|i1/);
    expect(() => NDArray.fromList(['abc'], 'f8')).toThrow(new TypeError('expected a number, got "abc"'));
    expect(() => NDArray.fromList([1, [2, 3]], 'f8')).toThrow(
      /itself an array: the nested arrays are not rectangular/,
    );
    expect(() => NDArray.fromList([1, [2]], 'i4')).toThrow(RangeError);
    // The bounds themselves are values, and None (null) is NaN in a float array, as in numpy.
    expect(NDArray.fromList([-128, 127], 'i1').get(1)).toBe(127);
    expect(NDArray.fromList([0n, 2n ** 64n - 1n], 'u8').get(1)).toBe(2n ** 64n - 1n);
    expect(NDArray.fromList([null, true], 'f8').get(0)).toBeNaN();
    expect(NumpyScalar.of('u1', 255).value).toBe(255);
  });
});

describe('dtype reduction (encoding)', () => {
  const registry = numpyRegistry();

  // The type string is a FreshString: numpy formats it anew for each reduction, so it shares no memo entry.
  it('writes numpy.dtype(str, False, True) and the version-3 state for plain types', () => {
    const r = reduce(registry, NumpyDtype.from('<f8'));
    expect(r.kind).toBe('reduce');
    expect([r.module, r.name]).toEqual(['numpy', 'dtype']);
    expect(r.args).toEqual([new FreshString('f8'), false, true]);
    expect(r.state).toEqual(f8State);
    expect(r.state).toBeInstanceOf(PyTuple);
  });

  it.each([
    ['>i4', 'i4', [3, '>', null, null, null, -1, -1, 0]],
    ['?', 'b1', [3, '|', null, null, null, -1, -1, 0]],
    ['S5', 'S5', [3, '|', null, null, null, 5, 1, 0]],
    ['<U3', 'U3', [3, '<', null, null, null, 12, 4, 8]],
    ['O', 'O8', [3, '|', null, null, null, -1, -1, 63]],
    ['V8', 'V8', [3, '|', null, null, null, 8, 1, 0]],
  ])('%s', (spec, typeArgument, state) => {
    const r = reduce(registry, NumpyDtype.from(spec));
    expect(r.args[0]).toEqual(new FreshString(typeArgument));
    expect([...(r.state as unknown[])]).toEqual(state);
  });

  it('writes datetime units as version 4 with (None, (unit, count, 1, 1))', () => {
    const r = reduce(registry, NumpyDtype.from('M8[ns]'));
    expect(r.args[0]).toEqual(new FreshString('M8'));
    const state = r.state as unknown[];
    expect(state.slice(0, 8)).toEqual([4, '<', null, null, null, -1, -1, 0]);
    expect(state[8]).toEqual(tuple(null, tuple(hex('6e73'), 1, 1, 1)));
  });

  it('reads a datetime unit count only as numpy does: a whole number that fits a C int', () => {
    const state = (count: number): unknown =>
      tuple(4, '<', null, null, null, -1, -1, 0, tuple(null, tuple(hex('6e73'), count, 1, 1)));
    expect(decodeDtype(registry, ['M8', false, true], state(3)).str).toBe('<M8[3ns]');
    for (const count of [1.5, 2 ** 40, 0]) {
      expect(() => decodeDtype(registry, ['M8', false, true], state(count))).toThrow(/bad datetime unit/);
    }
  });

  it('writes structured dtypes with names, a fields dict (titles too) and itemsize', () => {
    const dtype = NumpyDtype.structured([
      { name: 'a', dtype: '<i4', title: 'T' },
      { name: 'b', dtype: NumpyDtype.subarray('>f8', [2]) },
    ]);
    const r = reduce(registry, dtype);
    expect(r.args[0]).toEqual(new FreshString('V20'));
    const [version, endian, subarray, names, fields, elsize, alignment, flags] = r.state as unknown[];
    expect([version, endian, subarray, names, elsize, alignment, flags]).toEqual([
      3,
      '|',
      null,
      tuple('a', 'b'),
      20,
      1,
      16,
    ]);
    const map = fields as Map<unknown, unknown>;
    expect([...map.keys()]).toEqual(['a', 'T', 'b']);
    expect(map.get('a')).toEqual(tuple(NumpyDtype.from('<i4'), 0, 'T'));
    expect(map.get('T')).toBe(map.get('a'));
    const sub = (map.get('b') as unknown[])[0] as NumpyDtype;
    const subState = reduce(registry, sub).state as unknown[];
    expect(sub.subarray?.base.str).toBe('>f8');
    expect(subState.slice(0, 3)).toEqual([3, '|', tuple(sub.subarray?.base, tuple(2))]);
  });
});

describe('dtype decoding', () => {
  const registry = numpyRegistry();

  it('reads the plain version-3 state', () => {
    const dtype = decodeDtype(registry, ['f8', false, true], f8State);
    expect(dtype.equals(NumpyDtype.from('<f8'))).toBe(true);
    expect(dtype.str).toBe('<f8');
  });

  it('reads byte order, flexible sizes and datetime units', () => {
    expect(decodeDtype(registry, ['i4', false, true], tuple(3, '>', null, null, null, -1, -1, 0)).str).toBe(
      '>i4',
    );
    expect(decodeDtype(registry, ['U3', false, true], tuple(3, '<', null, null, null, 12, 4, 8)).str).toBe(
      '<U3',
    );
    const dt = decodeDtype(
      registry,
      ['m8', false, true],
      tuple(4, '<', null, null, null, -1, -1, 0, tuple(null, tuple(hex('7573'), 3, 1, 1))),
    );
    expect([dt.str, dt.datetimeUnit, dt.datetimeCount]).toEqual(['<m8[3us]', 'us', 3]);
  });

  it('reads structured, titled, record and subarray dtypes', () => {
    const i4 = decodeDtype(registry, ['i4', false, true], i4State);
    const fields = new Map<unknown, unknown>([
      ['a', tuple(i4, 0, 'title')],
      ['title', tuple(i4, 0, 'title')],
    ]);
    const titled = decodeDtype(
      registry,
      ['V4', false, true],
      tuple(3, '|', null, tuple('a'), fields, 4, 1, 16),
    );
    expect(titled.fields).toEqual([{ name: 'a', dtype: i4, offset: 0, title: 'title' }]);
    const record = decodeDtype(
      registry,
      [new PyGlobal('numpy', 'record'), false, true],
      tuple(3, '|', null, tuple('a'), { a: tuple(i4, 0) }, 4, 1, 16),
    );
    expect([record.isRecord, record.itemsize, record.names]).toEqual([true, 4, ['a']]);
    const sub = decodeDtype(
      registry,
      ['V24', false, true],
      tuple(3, '|', tuple(i4, tuple(2, 3)), null, null, 24, 4, 0),
    );
    expect(sub.subarray?.shape).toEqual([2, 3]);
    expect(sub.subarray?.base).toBe(i4);
  });

  it('reads the old versions 0, 1 and 2 (names in fields[-1] before version 2, no flags before 3)', () => {
    const i4 = decodeDtype(registry, ['i4', 0, 1], tuple('<', null, null, -1, -1));
    expect(i4.str).toBe('<i4');
    const v1 = decodeDtype(
      registry,
      ['V4', 0, 1],
      tuple(
        1,
        '|',
        null,
        new Map<unknown, unknown>([
          ['x', tuple(i4, 0)],
          [-1, tuple('x')],
        ]),
        4,
        1,
      ),
    );
    expect(v1.names).toEqual(['x']);
    const obj = decodeDtype(registry, ['O8', 0, 1], tuple('|', null, null, -1, -1));
    const v2 = decodeDtype(
      registry,
      ['V8', 0, 1],
      tuple(2, '|', null, tuple('o'), { o: tuple(obj, 0) }, 8, 1),
    );
    expect(v2.hasObject).toBe(true);
  });

  it('decodes Python 2 byte-string field names as ASCII', () => {
    const i4 = decodeDtype(registry, [hex('6934'), 0, 1], i4State);
    const name = hex('6162');
    const dtype = decodeDtype(
      registry,
      ['V4', 0, 1],
      tuple(3, '|', null, tuple(name), new Map([[name, tuple(i4, 0)]]), 4, 1, 16),
    );
    expect(dtype.names).toEqual(['ab']);
  });

  it('refuses malformed states with a message that names the problem', () => {
    expect(() =>
      decodeDtype(registry, ['f8', false, true], tuple(5, '<', null, null, null, -1, -1, 0)),
    ).toThrow(/version 5/);
    expect(() =>
      decodeDtype(registry, ['f8', false, true], tuple(3, 'x', null, null, null, -1, -1, 0)),
    ).toThrow(/endian/);
    expect(() => decodeDtype(registry, ['f8', false, true], [1, 2])).toThrow(/2 items/);
    const i4 = decodeDtype(registry, ['i4', false, true], i4State);
    expect(() =>
      decodeDtype(
        registry,
        ['V2', false, true],
        tuple(3, '|', null, tuple('a'), { a: tuple(i4, 0) }, 2, 1, 16),
      ),
    ).toThrow(/runs past itemsize/);
    expect(() => decoder(registry, 'numpy', 'dtype').construct([42, false, true], undefined)).toThrow(
      /number 42/,
    );
  });
});

describe('ndarray decoding', () => {
  const registry = numpyRegistry();
  const i4 = () => decodeDtype(registry, ['i4', false, true], i4State);
  // numpy.array([[1, 2, 3], [4, 5, 6]], dtype='<i4') data bytes.
  const matrixBytes = hex('010000000200000003000000040000000500000006000000');

  it('fills the array _reconstruct made, in place, from the BUILD state', () => {
    const array = decodeReconstruct(registry, tuple(1, tuple(2, 3), i4(), false, matrixBytes));
    expect(array.shape).toEqual([2, 3]);
    expect(array.dtype.str).toBe('<i4');
    expect(array.order).toBe('C');
    expect(array.data).toBeInstanceOf(Int32Array);
    expect([...(array.data as Int32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(array.toList()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(array.get(1, -1)).toBe(6);
    expect(array.bytes).toBe(matrixBytes);
    expect(array.pythonClass).toBeNull();
  });

  it('accepts the numpy 1.x module spelling and the 4-item state', () => {
    const array = decodeReconstruct(
      registry,
      tuple(tuple(6), i4(), false, matrixBytes),
      'numpy.core.multiarray',
    );
    expect(array.toList()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('views the pickle bytes without copying when aligned, and copies when not', () => {
    const aligned = decodeReconstruct(registry, tuple(1, tuple(6), i4(), false, matrixBytes));
    expect(aligned.dataIsView).toBe(true);
    (aligned.data as Int32Array)[0] = 9;
    expect(matrixBytes[0]).toBe(9);
    matrixBytes[0] = 1;
    const padded = new Uint8Array(25);
    padded.set(matrixBytes, 1);
    const misaligned = decodeReconstruct(registry, tuple(1, tuple(6), i4(), false, padded.subarray(1)));
    expect(misaligned.dataIsView).toBe(false);
    expect([...(misaligned.data as Int32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('converts big-endian elements to host order in data and keeps the raw bytes', () => {
    const be = decodeDtype(registry, ['i4', false, true], tuple(3, '>', null, null, null, -1, -1, 0));
    const raw = hex('00000001 00000100 fffffffe');
    const array = decodeReconstruct(registry, tuple(1, tuple(3), be, false, raw));
    expect([...(array.data as Int32Array)]).toEqual([1, 256, -2]);
    expect(array.dataIsView).toBe(false);
    expect(array.bytes).toBe(raw);
    expect(array.toList()).toEqual([1, 256, -2]);
  });

  it('indexes Fortran-ordered data by logical position', () => {
    // np.asfortranarray(np.arange(6, dtype='<i4').reshape(2, 3)) keeps memory 0 3 1 4 2 5.
    const raw = hex('000000000300000001000000040000000200000005000000');
    const array = decodeReconstruct(registry, tuple(1, tuple(2, 3), i4(), true, raw));
    expect(array.order).toBe('F');
    expect(array.toList()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(array.get(0, 1)).toBe(1);
  });

  it('reads protocol-2 data given as a latin-1 string (Python 2 str or _codecs.encode)', () => {
    const asText = decodeReconstruct(
      registry,
      tuple(1, tuple(2), i4(), false, '\x01\x00\x00\x00\xff\x00\x00\x00'),
    );
    expect(asText.toList()).toEqual([1, 255]);
    const placeholder = new PyObject('reduce', new PyGlobal('_codecs', 'encode'), [
      '\x07\x00\x00\x00',
      'latin1',
    ]);
    expect(decodeReconstruct(registry, tuple(1, tuple(1), i4(), false, placeholder)).toList()).toEqual([7]);
  });

  it('reads empty protocol-2 data written as builtins.bytes()', () => {
    const emptyBytes = new PyObject('reduce', new PyGlobal('builtins', 'bytes'), []);
    const array = decodeReconstruct(registry, tuple(1, tuple(0), i4(), false, emptyBytes));
    expect([array.shape, array.size, array.bytes.length]).toEqual([[0], 0, 0]);
  });

  it('keeps an ndarray subclass class name', () => {
    const entry = decoder(registry, 'numpy._core.multiarray', '_reconstruct');
    const array = entry.construct(
      [new PyGlobal('numpy', 'matrix'), tuple(0), hex('62')],
      undefined,
    ) as NDArray;
    entry.setState?.(array, tuple(1, tuple(1, 1), i4(), false, hex('05000000')));
    expect(array.pythonClass?.qualifiedName).toBe('numpy.matrix');
    expect(array.toList()).toEqual([[5]]);
  });

  it('decodes object arrays, reordering numpy’s C-order list into Fortran memory', () => {
    const o = decodeDtype(registry, ['O8', false, true], tuple(3, '|', null, null, null, -1, -1, 63));
    const array = decodeReconstruct(registry, tuple(1, tuple(2, 2), o, true, ['a', 'b', 'c', 'd']));
    expect(array.objects).toEqual(['a', 'c', 'b', 'd']);
    expect(array.toList()).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(() => array.bytes).toThrow(/object array/);
  });

  it('refuses data whose size does not match the shape', () => {
    expect(() => decodeReconstruct(registry, tuple(1, tuple(7), i4(), false, matrixBytes))).toThrow(
      /24 bytes do not match/,
    );
    expect(() => decodeReconstruct(registry, tuple(1, tuple(-1), i4(), false, matrixBytes))).toThrow(
      /not a dimension/,
    );
    expect(() => decodeReconstruct(registry, 'nope')).toThrow(/4- or 5-tuple/);
  });

  it('reads _frombuffer (protocol 5) from bytearray, bytes and out-of-band PickleBuffers', () => {
    const entry = decoder(registry, 'numpy._core.numeric', '_frombuffer');
    const writable = entry.construct(
      [PyByteArray.fromBytes(matrixBytes), i4(), tuple(2, 3), 'C'],
      undefined,
    ) as NDArray;
    expect([writable.writeable, writable.toList()]).toEqual([
      true,
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ]);
    const readonly = entry.construct(
      [new PyPickleBuffer(matrixBytes, true), i4(), tuple(3, 2), 'F'],
      undefined,
    ) as NDArray;
    expect([readonly.writeable, readonly.order, readonly.get(1, 0)]).toEqual([false, 'F', 2]);
    const fromBytes = decoder(registry, 'numpy.core.numeric', '_frombuffer').construct(
      [matrixBytes, i4(), tuple(6), 'C'],
      undefined,
    ) as NDArray;
    expect([fromBytes.writeable, fromBytes.bytes]).toEqual([false, matrixBytes]);
    expect(() => entry.construct([matrixBytes, i4(), tuple(), 'C'], undefined)).toThrow(
      /needs 4 bytes, got 24/,
    );
  });
});

describe('numpy 2 order-K buffers', () => {
  it('copies an axis-permuted buffer into a C-order array', () => {
    // np.arange(6, dtype='u1').reshape(2, 3).transpose(1, 0) written as _frombuffer(buf, u1, (2, 3), 'K', (1, 0)).
    const registry = numpyRegistry();
    const entry = decoder(registry, 'numpy._core.numeric', '_frombuffer');
    const array = entry.construct(
      [hex('000102030405'), NumpyDtype.from('u1'), tuple(2, 3), 'K', tuple(1, 0)],
      undefined,
    );
    expect((array as NDArray).shape).toEqual([3, 2]);
    expect((array as NDArray).order).toBe('C');
    expect(toHex((array as NDArray).bytes)).toBe('000301040205');
    expect(() =>
      entry.construct([hex('00'), NumpyDtype.from('u1'), tuple(1), 'K', tuple(0, 0)], undefined),
    ).toThrow(/not a permutation/);
  });

  it('gives every element its place for items of every width, any rank, and unaligned buffers', () => {
    const entry = decoder(numpyRegistry(), 'numpy._core.numeric', '_frombuffer');
    const cases: [string, number[], number[]][] = [
      ['u1', [4], [0]],
      ['u2', [3, 5], [1, 0]],
      ['S3', [2, 3, 4], [2, 0, 1]],
      ['<u4', [2, 3, 4], [1, 2, 0]],
      ['<f8', [3, 1, 4, 2], [3, 1, 0, 2]],
      ['<c16', [2, 3], [1, 0]],
      ['V5', [2, 2, 3], [0, 2, 1]],
    ];
    for (const [spec, shape, axes] of cases) {
      const dtype = NumpyDtype.from(spec);
      const size = shape.reduce((a, b) => a * b, 1);
      for (const shift of [0, 1]) {
        // An odd byte offset makes the buffer unaligned for the word copies.
        const backing = new Uint8Array(size * dtype.itemsize + shift);
        for (let i = 0; i < backing.length; i++) backing[i] = (i * 37 + 11) & 0xff;
        const buffer = backing.subarray(shift);
        const array = entry.construct(
          [buffer, dtype, tuple(...shape), 'K', tuple(...axes)],
          undefined,
        ) as NDArray;
        const resultShape = axes.map((axis) => shape[axis]!);
        expect(array.shape).toEqual(resultShape);
        // Reference: result element at index r is source element at s, s[axes[i]] = r[i].
        const expected = new Uint8Array(buffer.length);
        const index = new Array<number>(shape.length).fill(0);
        for (let flat = 0; flat < size; flat++) {
          let rest = flat;
          for (let d = resultShape.length - 1; d >= 0; d--) {
            index[axes[d]!] = rest % resultShape[d]!;
            rest = Math.floor(rest / resultShape[d]!);
          }
          let sourceFlat = 0;
          for (let d = 0; d < shape.length; d++) sourceFlat = sourceFlat * shape[d]! + index[d]!;
          const from = sourceFlat * dtype.itemsize;
          expected.set(buffer.subarray(from, from + dtype.itemsize), flat * dtype.itemsize);
        }
        expect(toHex(array.bytes)).toBe(toHex(expected));
      }
    }
  });

  it("refuses items of no bytes, as numpy's frombuffer does, instead of walking a shape of any size", () => {
    const entry = decoder(numpyRegistry(), 'numpy._core.numeric', '_frombuffer');
    for (const order of ['C', 'K']) {
      expect(() =>
        entry.construct(
          [hex(''), NumpyDtype.from('V0'), tuple(2 ** 25, 2 ** 25), order, tuple(1, 0)],
          undefined,
        ),
      ).toThrow('_frombuffer: itemsize cannot be zero in type');
    }
  });
});

describe('object arrays from nested lists', () => {
  it('take the dimensions numpy gives them: as deep as the lists are rectangular', () => {
    const ragged = NDArray.fromList([[1, 2], [3]], 'O');
    expect([ragged.shape, ragged.toList()]).toEqual([[2], [[1, 2], [3]]]);
    expect(NDArray.fromList([[2, 3], 1], 'O').shape).toEqual([2]);
    expect(
      NDArray.fromList(
        [
          [1, 2],
          [3, 4],
        ],
        'O',
      ).shape,
    ).toEqual([2, 2]);
    expect(NDArray.fromList([[], []], 'O').shape).toEqual([2, 0]);
    expect(NDArray.fromList(5, 'O').shape).toEqual([]);
  });
});

describe('arrays of a subarray dtype', () => {
  it("take its base as their dtype and its dimensions after their own, as numpy's ndarray does", () => {
    const pairs = NumpyDtype.subarray('<i4', [2]);
    const built = new NDArray({ dtype: pairs, shape: [3] });
    expect([built.dtype.str, built.shape]).toEqual(['<i4', [3, 2]]);
    const fromBytes = new NDArray({ dtype: pairs, bytes: new Uint8Array(16) });
    expect(fromBytes.shape).toEqual([2, 2]);
    const listed = NDArray.fromList(
      [
        [1, 2],
        [3, 4],
      ],
      pairs,
    );
    expect([listed.dtype.str, listed.shape, listed.toList()]).toEqual([
      '<i4',
      [2, 2],
      [
        [1, 2],
        [3, 4],
      ],
    ]);
    expect(new NDArray({ dtype: NumpyDtype.subarray(pairs, [3]), shape: [] }).shape).toEqual([3, 2]);
    expect(() => new NDArray({ dtype: pairs, shape: [3], order: 'F' })).toThrow(RangeError);
    // numpy: np.dtype(('i4', ())) is int32 itself.
    expect(NumpyDtype.subarray('<i4', []).str).toBe('<i4');
    expect(() => new NDArray({ dtype: pairs, bytes: new Uint8Array(12) })).toThrow(/whole number/);
  });
});

describe('element values', () => {
  it('refuses to read a subarray of zero-size items too large to build, instead of building it', () => {
    const scalar = new NumpyScalar(NumpyDtype.subarray('V0', [2 ** 25, 2 ** 25]), new Uint8Array(0));
    expect(() => scalar.value).toThrow(/values of zero-size items, too many to read: at most 1048576/);
    // Counted over the whole element: nested subarrays and many fields of them.
    const nested = NumpyDtype.subarray(
      NumpyDtype.subarray(NumpyDtype.subarray('V0', [1000]), [1000]),
      [1000],
    );
    expect(() => new NumpyScalar(nested, new Uint8Array(0)).value).toThrow(/too many to read/);
    const fields = NumpyDtype.structured(
      Array.from({ length: 16 }, (_, i) => ({ name: `f${i}`, dtype: NumpyDtype.subarray('V0', [1 << 20]) })),
    );
    expect(() => new NumpyScalar(fields, new Uint8Array(0)).value).toThrow(/too many to read/);
    // Items of a byte or more are bounded by the element's bytes, however many.
    expect(
      (new NumpyScalar(NumpyDtype.subarray('u1', [3_000_000]), new Uint8Array(3_000_000)).value as unknown[])
        .length,
    ).toBe(3_000_000);
    const small = new NumpyScalar(NumpyDtype.subarray('V0', [2, 3]), new Uint8Array(0));
    expect(small.value).toEqual([
      [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)],
      [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)],
    ]);
  });

  it.each([
    ['?', hex('0001'), [false, true]],
    ['i1', hex('ff7f'), [-1, 127]],
    ['u2', hex('ffff0100'), [65535, 1]],
    ['<i8', hex('ffffffffffffffff 0000000000000080'), [-1n, -(2n ** 63n)]],
    ['<u8', hex('ffffffffffffffff'), [2n ** 64n - 1n]],
    ['<f2', hex('003c 00c0 007c 0100'), [1, -2, Number.POSITIVE_INFINITY, 2 ** -24]],
    ['<f4', hex('0000c03f'), [1.5]],
    ['>f8', hex('3ff8000000000000'), [1.5]],
    ['<c8', hex('0000803f 000000c0'), [new PyComplex(1, -2)]],
    ['<M8[ns]', hex('0000000000000080'), [-(2n ** 63n)]],
    ['S3', hex('610000 616263'), [hex('61'), hex('616263')]],
    ['<U2', hex('e9000000 00000000 3df60100 41000000'), ['é', '\u{1f63d}A']],
    ['>U1', hex('00000041'), ['A']],
  ])('%s', (spec, bytes, values) => {
    const array = new NDArray({ dtype: spec, bytes });
    expect(array.toList()).toEqual(values);
  });

  it('reads structured elements as objects keyed by field, with subarray fields as nested arrays', () => {
    const dtype = NumpyDtype.structured([
      { name: 'id', dtype: '<i2' },
      { name: 'xy', dtype: NumpyDtype.subarray('<f4', [2]) },
    ]);
    const array = new NDArray({ dtype, bytes: hex('0700 0000803f 00000040') });
    expect(array.get(0)).toEqual({ id: 7, xy: [1, 2] });
    expect(array.data).toBeInstanceOf(Uint8Array);
  });

  it('maps every float16 bit pattern to a number and back', () => {
    const mismatches: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = halfToNumber(bits);
      const expected = Number.isNaN(value) ? 0x7e00 : bits;
      if (numberToHalf(value) !== expected) mismatches.push(bits);
    }
    expect(mismatches).toEqual([]);
    expect(halfToNumber(0x7bff)).toBe(65504);
    // Halfway cases round to even: 1 + 2^-11 lies between 1 and the next half 1 + 2^-10.
    expect(numberToHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(numberToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToHalf(65520)).toBe(0x7c00);
  });
});

describe('building arrays', () => {
  it('fromTypedArray shares host-order memory and swaps for the other byte order', () => {
    const values = new Float64Array([1.5, -2]);
    const native = NDArray.fromTypedArray(values, { shape: [2, 1] });
    expect(native.dtype.str).toBe('<f8');
    expect(native.bytes.buffer).toBe(values.buffer);
    const big = NDArray.fromTypedArray(new Int16Array([1, -2]), { dtype: '>i2' });
    expect(toHex(big.bytes)).toBe('0001fffe');
    expect(big.toList()).toEqual([1, -2]);
    expect(() => NDArray.fromTypedArray(new Float32Array(2), { dtype: 'f8' })).toThrow(/Float64Array/);
  });

  it('fromList writes elements in the dtype byte order, inferring the shape', () => {
    expect(
      toHex(
        NDArray.fromList(
          [
            [1, 2],
            [3, 4],
          ],
          '>i2',
        ).bytes,
      ),
    ).toBe('0001000200030004');
    expect(
      NDArray.fromList(
        [
          [1, 2],
          [3, 4],
        ],
        '>i2',
      ).shape,
    ).toEqual([2, 2]);
    expect(toHex(NDArray.fromList(['ab', 'c'], 'S2').bytes)).toBe('61626300');
    expect(toHex(NDArray.fromList(['é'], '<U1').bytes)).toBe('e9000000');
    expect(toHex(NDArray.fromList([10n ** 18n], '<i8').bytes)).toBe('000064a7b3b6e00d');
    expect(NDArray.fromList(3.5, 'f8').shape).toEqual([]);
    expect(() => NDArray.fromList(['abc'], 'S2')).toThrow(/do not fit/);
    expect(() => NDArray.fromList([[1], [2, 3]], 'i4')).toThrow(/rectangular/);
  });

  it('refuses bytes that do not match the shape', () => {
    expect(() => new NDArray({ dtype: 'i4', shape: [2], bytes: new Uint8Array(4) })).toThrow(/needs 8 bytes/);
    expect(() => new NDArray({ dtype: 'i4', bytes: new Uint8Array(5) })).toThrow(/whole number/);
  });
});

describe('ndarray reduction (encoding)', () => {
  it('writes numpy’s protocol 0–4 reduction: _reconstruct(ndarray, (0,), b"b") + BUILD state', () => {
    const registry = numpyRegistry();
    const array = NDArray.fromList(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      '<i4',
    );
    const r = reduce(registry, array);
    expect([r.kind, r.module, r.name]).toEqual(['reduce', 'numpy._core.multiarray', '_reconstruct']);
    expect(r.args).toEqual([new PyGlobal('numpy', 'ndarray'), tuple(0), hex('62')]);
    expect(r.state).toEqual(tuple(1, tuple(2, 3), array.dtype, false, array.bytes));
    expect((r.state as unknown[])[4]).toBe(array.bytes);
  });

  it('writes numpy.core names for numpy 1.x peers', () => {
    const registry = registerNumpy(new Registry(), { coreModule: 'numpy.core' });
    expect(reduce(registry, NDArray.fromList([1], 'i4')).module).toBe('numpy.core.multiarray');
    expect(reduce(registry, NumpyScalar.of('f8', 1)).module).toBe('numpy.core.multiarray');
    const buffers = registerNumpy(new Registry(), { coreModule: 'numpy.core', pickleBuffers: true });
    expect(reduce(buffers, NDArray.fromList([1], 'i4')).module).toBe('numpy.core.numeric');
  });

  it('writes a decoded value back in the spelling it was read with, unless coreModule is given', () => {
    const registry = numpyRegistry();
    const i4 = NumpyDtype.from('<i4');
    const fromNumpy1 = decoder(registry, 'numpy.core.numeric', '_frombuffer').construct(
      [hex('01000000'), i4, tuple(1), 'C'],
      undefined,
    ) as NDArray;
    const rebuilt = decoder(registry, 'numpy.core.multiarray', '_reconstruct').construct(
      [new PyGlobal('numpy', 'ndarray'), tuple(0), hex('62')],
      undefined,
    ) as NDArray;
    const scalar = decoder(registry, 'numpy.core.multiarray', 'scalar').construct(
      [i4, hex('02000000')],
      undefined,
    ) as NumpyScalar;
    const fromNumpy2 = decoder(registry, 'numpy._core.numeric', '_frombuffer').construct(
      [hex('01000000'), i4, tuple(1), 'C'],
      undefined,
    ) as NDArray;
    expect(reduce(registry, fromNumpy1).module).toBe('numpy.core.multiarray');
    expect(reduce(registry, rebuilt).module).toBe('numpy.core.multiarray');
    expect(reduce(registry, scalar).module).toBe('numpy.core.multiarray');
    expect(reduce(registry, fromNumpy2).module).toBe('numpy._core.multiarray');
    expect(reduce(registry, NDArray.fromList([1], 'i4')).module).toBe('numpy._core.multiarray');
    const numpy2 = numpyRegistry({ coreModule: 'numpy._core' });
    expect(reduce(numpy2, fromNumpy1).module).toBe('numpy._core.multiarray');
    expect(reduce(numpy2, scalar).module).toBe('numpy._core.multiarray');
  });

  it('refuses misspelt and mistyped options instead of ignoring them', () => {
    expect(() => numpyRegistry({ pickelBuffers: true } as unknown as NumpyCodecOptions)).toThrow(
      'unknown numpy option "pickelBuffers"; the options are coreModule, pickleBuffers and scalars',
    );
    expect(() => numpyRegistry({ scalars: 'plane' } as unknown as NumpyCodecOptions)).toThrow(
      "numpy option scalars must be 'wrapped' or 'plain', not \"plane\"",
    );
    expect(() => numpyRegistry({ coreModule: 'numpy' } as unknown as NumpyCodecOptions)).toThrow(RangeError);
    expect(() => numpyRegistry({ pickleBuffers: 1 } as unknown as NumpyCodecOptions)).toThrow(TypeError);
    expect(() => numpyRegistry(null as unknown as NumpyCodecOptions)).toThrow(TypeError);
  });

  it('writes _frombuffer(PickleBuffer, dtype, shape, order) with pickleBuffers, read-only when the array is', () => {
    const registry = numpyRegistry({ pickleBuffers: true });
    const data = hex('000000000300000001000000040000000200000005000000');
    const array = new NDArray({ dtype: 'i4', shape: [2, 3], order: 'F', bytes: data, writeable: false });
    const r = reduce(registry, array);
    expect([r.module, r.name]).toEqual(['numpy._core.numeric', '_frombuffer']);
    const [buffer, dtype, shape, order] = r.args;
    expect(buffer).toEqual(new PyPickleBuffer(data, true));
    expect([dtype, shape, order]).toEqual([array.dtype, tuple(2, 3), 'F']);
  });

  it('falls back to _reconstruct where numpy does: datetime dtypes, subclasses, zero-size items', () => {
    const registry = numpyRegistry({ pickleBuffers: true });
    const datetimes = NDArray.fromList([1n], 'M8[ns]');
    const inStruct = NDArray.fromList(
      [{ when: 1n }],
      NumpyDtype.structured([{ name: 'when', dtype: 'm8[s]' }]),
    );
    const subclass = new NDArray({
      dtype: 'i1',
      bytes: hex('01'),
      pythonClass: new PyGlobal('numpy', 'matrix'),
    });
    const zeroSize = new NDArray({ dtype: 'S0', shape: [2], bytes: new Uint8Array(0) });
    expect([datetimes, inStruct, subclass, zeroSize].map((a) => reduce(registry, a).name)).toEqual([
      '_reconstruct',
      '_reconstruct',
      '_reconstruct',
      '_reconstruct',
    ]);
    expect(reduce(registry, NDArray.fromList([1], 'i1')).name).toBe('_frombuffer');
  });

  it('chooses _frombuffer at protocol 5 and _reconstruct below unless pickleBuffers says otherwise', () => {
    const array = NDArray.fromList([1], 'i4');
    expect(reduce(numpyRegistry(), array, 5).name).toBe('_frombuffer');
    expect(reduce(numpyRegistry(), array, 4).name).toBe('_reconstruct');
    expect(reduce(numpyRegistry({ pickleBuffers: false }), array, 5).name).toBe('_reconstruct');
    expect(reduce(numpyRegistry({ pickleBuffers: true }), array, 4).name).toBe('_frombuffer');
  });

  it('calls an order-F array with one long axis C-ordered, as numpy does', () => {
    const registry = numpyRegistry();
    const column = new NDArray({ dtype: 'u1', shape: [3, 1], order: 'F', bytes: hex('010203') });
    expect((reduce(registry, column).state as unknown[])[3]).toBe(false);
  });

  it('writes object arrays through _reconstruct with the items as a C-order list, even with pickleBuffers', () => {
    const registry = numpyRegistry({ pickleBuffers: true });
    const array = new NDArray({ dtype: 'O', shape: [2, 2], order: 'F', objects: ['a', 'c', 'b', 'd'] });
    const r = reduce(registry, array);
    expect(r.name).toBe('_reconstruct');
    expect((r.state as unknown[])[3]).toBe(true);
    expect((r.state as unknown[])[4]).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps the subclass of a decoded ndarray subclass', () => {
    const registry = numpyRegistry();
    const array = new NDArray({
      dtype: 'i4',
      shape: [1],
      bytes: hex('01000000'),
      pythonClass: new PyGlobal('numpy', 'matrix'),
    });
    expect(reduce(registry, array).args[0]).toEqual(new PyGlobal('numpy', 'matrix'));
  });
});

describe('numpy scalars', () => {
  it('decode scalar(dtype, bytes) to a NumpyScalar that re-reduces to the same call', () => {
    const registry = numpyRegistry();
    const f8 = decodeDtype(registry, ['f8', false, true], f8State);
    const scalar = decoder(registry, 'numpy._core.multiarray', 'scalar').construct(
      [f8, hex('000000000000f83f')],
      undefined,
    );
    expect(scalar).toBeInstanceOf(NumpyScalar);
    expect((scalar as NumpyScalar).value).toBe(1.5);
    const r = reduce(registry, scalar as NumpyScalar);
    expect([r.module, r.name, r.args]).toEqual([
      'numpy._core.multiarray',
      'scalar',
      [f8, hex('000000000000f83f')],
    ]);
  });

  it('decode to plain JavaScript values with scalars: "plain"', () => {
    const registry = numpyRegistry({ scalars: 'plain' });
    const construct = (spec: string, bytes: Uint8Array) =>
      decoder(registry, 'numpy.core.multiarray', 'scalar').construct(
        [NumpyDtype.from(spec), bytes],
        undefined,
      );
    expect(construct('?', hex('01'))).toBe(true);
    expect(construct('<i8', hex('0500000000000000'))).toBe(5n);
    expect(construct('<U2', hex('6800000069000000'))).toBe('hi');
    expect(construct('<c16', hex('000000000000f03f 0000000000000000'))).toEqual(new PyComplex(1, 0));
  });

  it('of() writes the bytes numpy holds', () => {
    expect(toHex(NumpyScalar.of('f4', 1.5).bytes)).toBe('0000c03f');
    expect(toHex(NumpyScalar.of('<i8', -1).bytes)).toBe('ffffffffffffffff');
    expect(toHex(NumpyScalar.of('<M8[ns]', 1n).bytes)).toBe('0100000000000000');
    expect(() => new NumpyScalar(NumpyDtype.from('f8'), new Uint8Array(4))).toThrow(/needs 8 bytes/);
  });
});

describe('dumps without a registry', () => {
  const values = (): unknown[] => [
    NDArray.fromList([1, 2], 'i4'),
    NumpyScalar.of('f8', 0.5),
    NumpyDtype.from('<u2'),
  ];

  it.each([0, 1, 2, 3, 4, 5])('writes numpy values as the numpy registry does at protocol %i', (protocol) => {
    expect(toHex(dumps(values(), { protocol }))).toBe(
      toHex(dumps(values(), { protocol, registry: numpyRegistry() })),
    );
  });

  it('lets the caller’s registry reducers win, and refuses numpy values with numpy: false', () => {
    const numpy1 = registerNumpy(new Registry(), { coreModule: 'numpy.core' });
    const written = toHex(dumps(NumpyScalar.of('f8', 0.5), { registry: numpy1 }));
    expect(written).toContain(toHex(new TextEncoder().encode('numpy.core.multiarray')));
    expect(() => dumps(NDArray.fromList([1], 'i1'), { numpy: false })).toThrow(PicklingError);
  });
});
