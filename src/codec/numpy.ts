/**
 * numpy support without numpy: `ndarray`, `dtype` and numpy scalars as CPython pickles them, in both
 * directions, for numpy 1.x (`numpy.core.*`) and numpy 2.x (`numpy._core.*`) pickles.
 *
 * - Decoding: `registerNumpy(registry)` adds decoders for `numpy.dtype`, `_reconstruct` (+ BUILD),
 *   `_frombuffer` (protocol 5, in-band or out-of-band buffers) and `scalar`. Arrays become {@link NDArray},
 *   dtypes {@link NumpyDtype}, scalars {@link NumpyScalar} (or plain JS values with `scalars: 'plain'`).
 * - Encoding: the same registry reduces NDArray, NumpyDtype and NumpyScalar to exactly the reductions numpy
 *   itself writes, so CPython with numpy loads them as equal objects.
 *
 * Pure: no `node:` imports, no I/O; runs in a browser. Nothing Python is ever executed.
 */
import { byteViewOf } from './bytes-like.js';
import { Registry } from './registry.js';
import { bufferBytes, FreshString } from './stdlib-encode.js';
import {
  PyByteArray,
  PyComplex,
  PyFloat,
  PyGlobal,
  PyObject,
  PyPickleBuffer,
  PyTuple,
  tuple,
} from './values.js';

/** Byte order of a dtype: little, big, or not applicable (`'|'`, one-byte and byte-string types). */
export type NumpyByteOrder = '<' | '>' | '|';

/**
 * numpy's `dtype.kind`: bool, signed int, unsigned int, float, complex, datetime64, timedelta64, bytes,
 * str (UCS-4), void (raw, structured or subarray), object.
 */
export type NumpyKind = 'b' | 'i' | 'u' | 'f' | 'c' | 'M' | 'm' | 'S' | 'U' | 'V' | 'O';

/** One field of a structured dtype. */
export interface NumpyField {
  readonly name: string;
  readonly dtype: NumpyDtype;
  /** Byte offset of the field inside one element. */
  readonly offset: number;
  /** The field's title (numpy allows any object; usually a string), or null. */
  readonly title: unknown;
}

/** The `(base, shape)` of a subarray dtype such as `np.dtype(('i4', (2, 3)))`. */
export interface NumpySubarray {
  readonly base: NumpyDtype;
  readonly shape: readonly number[];
}

/** How a structured dtype's field is described to {@link NumpyDtype.structured}. */
export interface NumpyFieldSpec {
  readonly name: string;
  readonly dtype: NumpyDtype | string;
  /** Byte offset; defaults to packed (or aligned, with `align`) placement after the previous field. */
  readonly offset?: number;
  readonly title?: unknown;
}

/** `flags` bits numpy keeps on a dtype (`NPY_ITEM_REFCOUNT | NPY_LIST_PICKLE | ...`). */
const FLAGS_OBJECT = 0x3f;
const FLAG_NEEDS_INIT = 0x08;
const FLAG_NEEDS_PYAPI = 0x10;
const FLAG_ALIGNED_STRUCT = 0x80;
/** The flags a structured dtype inherits from its fields (`NPY_FROM_FIELDS`). */
const FLAGS_FROM_FIELDS = 0x1b;

/** Datetime units numpy accepts in `datetime64[unit]` / `timedelta64[unit]`. */
const DATETIME_UNITS = new Set([
  'Y',
  'M',
  'W',
  'D',
  'h',
  'm',
  's',
  'ms',
  'us',
  'ns',
  'ps',
  'fs',
  'as',
  'generic',
]);

const HOST_BYTE_ORDER: '<' | '>' = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? '<' : '>';
const SWAPPED_BYTE_ORDER: '<' | '>' = HOST_BYTE_ORDER === '<' ? '>' : '<';

interface DtypeFields {
  kind: NumpyKind;
  itemsize: number;
  byteOrder: NumpyByteOrder;
  alignment: number;
  flags: number;
  fields: readonly NumpyField[] | null;
  subarray: NumpySubarray | null;
  datetimeUnit: string | null;
  datetimeCount: number;
  metadata: unknown;
  isRecord: boolean;
}

/** Applies a pickled `dtype.__setstate__` tuple in place; set by NumpyDtype's static block. */
let applyDtypeState: (dtype: NumpyDtype, state: unknown) => void;
/** Fields the next `new NumpyDtype` takes instead of parsing its spec; see {@link createDtype}. */
let pendingDtypeFields: DtypeFields | undefined;

/** Makes a dtype from already-checked fields (structured, subarray, and blank dtypes being decoded). */
function createDtype(fields: DtypeFields): NumpyDtype {
  pendingDtypeFields = fields;
  return new NumpyDtype('');
}

/**
 * A numpy `dtype`: kind, item size, byte order, and for compound types the fields or subarray. Built with
 * {@link NumpyDtype.from}, {@link NumpyDtype.structured} or {@link NumpyDtype.subarray}, or decoded from a
 * pickle. `byteOrder` is always resolved: never `'='`.
 */
export class NumpyDtype {
  #f: DtypeFields;

  /**
   * A new dtype from one of numpy's string spellings (see {@link NumpyDtype.from}, which returns shared
   * instances for simple native types and is usually what you want).
   */
  constructor(spec: string) {
    const internal = pendingDtypeFields;
    pendingDtypeFields = undefined;
    this.#f = internal ?? parseDtypeSpec(spec);
  }

  static {
    applyDtypeState = (dtype, state) => {
      dtype.#f = { ...dtype.#f, ...parseDtypeState(dtype.#f, state) };
    };
  }

  /** numpy's one-letter kind. */
  get kind(): NumpyKind {
    return this.#f.kind;
  }
  /** Bytes per element (for `'U'`, four per character). */
  get itemsize(): number {
    return this.#f.itemsize;
  }
  get byteOrder(): NumpyByteOrder {
    return this.#f.byteOrder;
  }
  /** Required alignment in bytes (what numpy pickles for flexible types; derived for the others). */
  get alignment(): number {
    return this.#f.alignment;
  }
  /** numpy's dtype flags byte (object-holding, needs-init, aligned-struct, ...), as pickled. */
  get flags(): number {
    return this.#f.flags;
  }
  /** Fields in `names` order for a structured dtype, else null. */
  get fields(): readonly NumpyField[] | null {
    return this.#f.fields;
  }
  /** Field names in order, or null. */
  get names(): readonly string[] | null {
    return this.#f.fields ? this.#f.fields.map((f) => f.name) : null;
  }
  /** Base dtype and shape of a subarray dtype, else null. */
  get subarray(): NumpySubarray | null {
    return this.#f.subarray;
  }
  /** For datetime64/timedelta64: the unit (`'ns'`, `'D'`, ..., or `'generic'`), else null. */
  get datetimeUnit(): string | null {
    return this.#f.datetimeUnit;
  }
  /** For datetime64/timedelta64: how many units one tick is (the 3 of `m8[3us]`), else 1. */
  get datetimeCount(): number {
    return this.#f.datetimeCount;
  }
  /** numpy's `dtype.metadata` (a dict placeholder as decoded), or null. */
  get metadata(): unknown {
    return this.#f.metadata;
  }
  /** True for `numpy.record` dtypes (from `np.recarray`), which pickle the class instead of a type string. */
  get isRecord(): boolean {
    return this.#f.isRecord;
  }
  /** True when the dtype holds Python objects (object dtype, or a field/subarray of one). */
  get hasObject(): boolean {
    return (this.#f.flags & 0x01) !== 0;
  }
  /** True for a structured dtype built with `align=True`. */
  get isAlignedStruct(): boolean {
    return (this.#f.flags & FLAG_ALIGNED_STRUCT) !== 0;
  }

  /** numpy's `dtype.char`: `'d'` for float64, `'?'` for bool, `'U'` for str, ... */
  get char(): string {
    const { kind, itemsize } = this.#f;
    switch (kind) {
      case 'b':
        return '?';
      case 'i':
        return { 1: 'b', 2: 'h', 4: 'i', 8: 'l' }[itemsize] ?? 'i';
      case 'u':
        return { 1: 'B', 2: 'H', 4: 'I', 8: 'L' }[itemsize] ?? 'I';
      case 'f':
        return { 2: 'e', 4: 'f', 8: 'd' }[itemsize] ?? 'g';
      case 'c':
        return { 8: 'F', 16: 'D' }[itemsize] ?? 'G';
      default:
        return kind;
    }
  }

  /** numpy's `dtype.str`: `'<f8'`, `'|b1'`, `'<U3'`, `'<M8[ns]'`, `'|V12'`, `'|O'`. */
  get str(): string {
    const { kind, itemsize, byteOrder, datetimeUnit, datetimeCount } = this.#f;
    if (kind === 'O') return '|O';
    if (kind === 'U') return `${byteOrder}U${itemsize / 4}`;
    if (kind === 'M' || kind === 'm') {
      const unit =
        datetimeUnit === 'generic' ? '' : `[${datetimeCount === 1 ? '' : datetimeCount}${datetimeUnit}]`;
      return `${byteOrder}${kind}8${unit}`;
    }
    return `${byteOrder}${kind}${itemsize}`;
  }

  toString(): string {
    if (this.#f.fields) {
      return `[${this.#f.fields.map((f) => `('${f.name}', ${f.dtype.toString()})`).join(', ')}]`;
    }
    if (this.#f.subarray) {
      return `(${this.#f.subarray.base.toString()}, (${this.#f.subarray.shape.join(', ')}))`;
    }
    return `'${this.str}'`;
  }

  /**
   * Whether two dtypes describe the same data as numpy's `==` does: kind, size, byte order (where it
   * matters), datetime unit, and recursively fields and subarrays. Metadata and the record flag are ignored.
   */
  equals(other: NumpyDtype): boolean {
    if (this === other) return true;
    const a = this.#f;
    const b = other.#f;
    if (a.kind !== b.kind || a.itemsize !== b.itemsize) return false;
    if (a.byteOrder !== b.byteOrder && a.byteOrder !== '|' && b.byteOrder !== '|') return false;
    if (a.datetimeUnit !== b.datetimeUnit || a.datetimeCount !== b.datetimeCount) return false;
    if ((a.fields === null) !== (b.fields === null) || (a.subarray === null) !== (b.subarray === null)) {
      return false;
    }
    if (a.fields && b.fields) {
      if (a.fields.length !== b.fields.length) return false;
      for (let i = 0; i < a.fields.length; i++) {
        const fa = a.fields[i]!;
        const fb = b.fields[i]!;
        if (fa.name !== fb.name || fa.offset !== fb.offset || !fa.dtype.equals(fb.dtype)) return false;
        if (fa.title !== fb.title) return false;
      }
    }
    if (a.subarray && b.subarray) {
      if (!a.subarray.base.equals(b.subarray.base)) return false;
      if (a.subarray.shape.join() !== b.subarray.shape.join()) return false;
    }
    return true;
  }

  /**
   * A dtype from numpy's string spellings: `'<f8'`, `'>i4'`, `'f8'`, `'float64'`, `'bool'`, `'?'`, `'S5'`,
   * `'<U3'`, `'V8'`, `'O'`, `'M8[ns]'`, `'datetime64[ns]'`, `'m8[3us]'`. Without a byte order, multi-byte
   * types use the host's (little-endian on every platform Node runs on). Simple native types are shared
   * instances, as in numpy, so repeated dtypes pickle as one memoized object.
   */
  static from(spec: string): NumpyDtype {
    const cached = SHARED_DTYPES.get(spec);
    if (cached) return cached;
    const fields = parseDtypeSpec(spec);
    const shareable = 'biufcO'.includes(fields.kind) && fields.byteOrder !== SWAPPED_BYTE_ORDER;
    if (!shareable) return createDtype(fields);
    const key = `${fields.kind}${fields.itemsize}`;
    const dtype = SHARED_DTYPES.get(key) ?? createDtype(fields);
    SHARED_DTYPES.set(key, dtype);
    SHARED_DTYPES.set(spec, dtype);
    return dtype;
  }

  /**
   * A structured dtype, like `np.dtype([('a', '<i4'), ('b', '<f8')], align=align)`. Offsets default to
   * packed placement (or C-struct alignment with `align: true`); `itemsize` can add trailing padding.
   */
  static structured(
    fields: readonly NumpyFieldSpec[],
    options: { readonly align?: boolean; readonly itemsize?: number } = {},
  ): NumpyDtype {
    const align = options.align ?? false;
    const built: NumpyField[] = [];
    let end = 0;
    let maxAlignment = 1;
    let flags = FLAG_NEEDS_PYAPI | (align ? FLAG_ALIGNED_STRUCT : 0);
    const seen = new Set<string>();
    for (const spec of fields) {
      if (seen.has(spec.name)) throw new RangeError(`duplicate field name ${JSON.stringify(spec.name)}`);
      seen.add(spec.name);
      const dtype = typeof spec.dtype === 'string' ? NumpyDtype.from(spec.dtype) : spec.dtype;
      let offset = spec.offset;
      if (offset === undefined) offset = align ? roundUp(end, dtype.alignment) : end;
      if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad offset for ${spec.name}`);
      end = Math.max(end, offset + dtype.itemsize);
      maxAlignment = Math.max(maxAlignment, dtype.alignment);
      flags |= dtype.flags & FLAGS_FROM_FIELDS;
      built.push({ name: spec.name, dtype, offset, title: spec.title ?? null });
    }
    const natural = align ? roundUp(end, maxAlignment) : end;
    const itemsize = options.itemsize ?? natural;
    if (itemsize < end)
      throw new RangeError(`itemsize ${itemsize} is smaller than the fields (${end} bytes)`);
    return createDtype({
      ...VOID_DEFAULTS,
      itemsize,
      alignment: align ? maxAlignment : 1,
      flags,
      fields: built,
    });
  }

  /** A subarray dtype, like `np.dtype(('<i4', (2, 3)))` (usable as a field of a structured dtype). */
  static subarray(base: NumpyDtype | string, shape: readonly number[]): NumpyDtype {
    const baseDtype = typeof base === 'string' ? NumpyDtype.from(base) : base;
    // numpy: np.dtype(('i4', ())) is int32 itself.
    if (shape.length === 0) return baseDtype;
    const count = checkedShapeSize(shape);
    return createDtype({
      ...VOID_DEFAULTS,
      itemsize: baseDtype.itemsize * count,
      alignment: baseDtype.alignment,
      flags: baseDtype.flags,
      subarray: { base: baseDtype, shape: [...shape] },
    });
  }
}

const VOID_DEFAULTS: DtypeFields = {
  kind: 'V',
  itemsize: 0,
  byteOrder: '|',
  alignment: 1,
  flags: 0,
  fields: null,
  subarray: null,
  datetimeUnit: null,
  datetimeCount: 1,
  metadata: null,
  isRecord: false,
};

/** Native-order simple dtypes are singletons, as numpy's builtin descriptors are; keyed by spec and by kind+size. */
const SHARED_DTYPES = new Map<string, NumpyDtype>();

/** The blank dtype `numpy.dtype(obj, align, copy)` creates before its BUILD state arrives. */
function dtypeFromReduceArgument(obj: unknown): NumpyDtype {
  if (isGlobalNamed(obj, 'numpy', 'record')) {
    return createDtype({ ...VOID_DEFAULTS, itemsize: 0, isRecord: true });
  }
  const spec = typeof obj === 'string' ? obj : obj instanceof Uint8Array ? latin1Decode(obj) : undefined;
  if (spec === undefined) throw new TypeError(`numpy.dtype: cannot make a dtype from ${describe(obj)}`);
  return createDtype(parseDtypeSpec(spec));
}

const TYPE_NAMES: Record<string, string> = {
  bool: 'b1',
  bool_: 'b1',
  int8: 'i1',
  int16: 'i2',
  int32: 'i4',
  int64: 'i8',
  uint8: 'u1',
  uint16: 'u2',
  uint32: 'u4',
  uint64: 'u8',
  float16: 'f2',
  float32: 'f4',
  float64: 'f8',
  complex64: 'c8',
  complex128: 'c16',
  object: 'O8',
  '?': 'b1',
  b: 'i1',
  B: 'u1',
  h: 'i2',
  H: 'u2',
  i: 'i4',
  I: 'u4',
  l: 'i8',
  L: 'u8',
  q: 'i8',
  Q: 'u8',
  e: 'f2',
  f: 'f4',
  d: 'f8',
  g: 'f16',
  F: 'c8',
  D: 'c16',
  G: 'c32',
  O: 'O8',
  M: 'M8',
  m: 'm8',
  S: 'S0',
  U: 'U0',
  V: 'V0',
  // numpy 2's other names, as on 64-bit Linux (long and intp are 8 bytes there).
  int: 'i8',
  uint: 'u8',
  float: 'f8',
  complex: 'c16',
  str: 'U0',
  bytes: 'S0',
  longdouble: 'f16',
  float128: 'f16',
  clongdouble: 'c32',
  complex256: 'c32',
  intp: 'i8',
  uintp: 'u8',
  p: 'i8',
  P: 'u8',
  n: 'i8',
  N: 'u8',
  half: 'f2',
  single: 'f4',
  double: 'f8',
  csingle: 'c8',
  cdouble: 'c16',
  byte: 'i1',
  ubyte: 'u1',
  short: 'i2',
  ushort: 'u2',
  intc: 'i4',
  uintc: 'u4',
  long: 'i8',
  ulong: 'u8',
  longlong: 'i8',
  ulonglong: 'u8',
  object_: 'O8',
  str_: 'U0',
  bytes_: 'S0',
  void: 'V0',
  c: 'S1',
};

const VALID_SIZES: Partial<Record<NumpyKind, readonly number[]>> = {
  b: [1],
  i: [1, 2, 4, 8],
  u: [1, 2, 4, 8],
  f: [2, 4, 8, 12, 16],
  c: [8, 16, 24, 32],
  M: [8],
  m: [8],
  O: [4, 8],
};

/** Parses numpy's type strings into dtype fields (no structured syntax: use `NumpyDtype.structured`). */
function parseDtypeSpec(spec: string): DtypeFields {
  let rest = spec;
  let order: string | undefined;
  if (/^[<>|=]/.test(rest)) {
    order = rest[0];
    rest = rest.slice(1);
  }
  const named = /^(datetime64|timedelta64)(\[.*\])?$/.exec(rest);
  if (named) rest = `${named[1] === 'datetime64' ? 'M' : 'm'}8${named[2] ?? ''}`;
  rest = TYPE_NAMES[rest] ?? rest;
  const match = /^([biufcMmSUVO])(\d+)(?:\[(\d*)([A-Za-z]+)\])?$/.exec(rest);
  if (!match) throw new RangeError(`not a numpy dtype: ${JSON.stringify(spec)}`);
  const kind = match[1] as NumpyKind;
  const size = Number(match[2]);
  const itemsize = kind === 'U' ? size * 4 : size;
  const allowed = VALID_SIZES[kind];
  if (!Number.isSafeInteger(itemsize) || (allowed && !allowed.includes(itemsize))) {
    throw new RangeError(`not a numpy dtype: ${JSON.stringify(spec)} (no ${kind} type of ${size} bytes)`);
  }
  let datetimeUnit: string | null = null;
  let datetimeCount = 1;
  if (kind === 'M' || kind === 'm') {
    datetimeUnit = match[4] ?? 'generic';
    datetimeCount = match[3] ? Number(match[3]) : 1;
    if (!DATETIME_UNITS.has(datetimeUnit) || !(datetimeCount >= 1)) {
      throw new RangeError(`not a datetime unit: ${JSON.stringify(spec)}`);
    }
  } else if (match[4] !== undefined) {
    throw new RangeError(`only datetime64/timedelta64 take a [unit]: ${JSON.stringify(spec)}`);
  }
  return {
    ...VOID_DEFAULTS,
    kind,
    itemsize,
    byteOrder: resolveByteOrder(order, kind, itemsize),
    alignment: naturalAlignment(kind, itemsize),
    flags: kind === 'O' ? FLAGS_OBJECT : kind === 'U' ? FLAG_NEEDS_INIT : 0,
    datetimeUnit,
    datetimeCount,
  };
}

/** numpy ignores byte order for one-byte, bytes, void and object types, and writes `'|'` for them. */
function resolveByteOrder(order: string | undefined, kind: NumpyKind, itemsize: number): NumpyByteOrder {
  const orderless = kind === 'S' || kind === 'V' || kind === 'O' || kind === 'b' || itemsize === 1;
  if (orderless) return '|';
  if (order === '<' || order === '>') return order;
  return HOST_BYTE_ORDER;
}

function naturalAlignment(kind: NumpyKind, itemsize: number): number {
  switch (kind) {
    case 'S':
    case 'V':
      return 1;
    case 'U':
      return 4;
    case 'c':
      return itemsize === 32 || itemsize === 24 ? 16 : itemsize / 2;
    case 'f':
      return itemsize === 12 ? 4 : itemsize;
    default:
      return itemsize;
  }
}

/** Reads numpy's `dtype.__setstate__` tuple, every version numpy ever wrote (0 through 4). */
function parseDtypeState(current: DtypeFields, rawState: unknown): Partial<DtypeFields> {
  if (!Array.isArray(rawState))
    throw new TypeError(`numpy.dtype state must be a tuple, got ${describe(rawState)}`);
  // Its ints (version, itemsize, alignment, flags) as numbers, whichever form `bigints` chose.
  const state = rawState.map(plainInt);
  let version: unknown;
  let endian: unknown;
  let subarray: unknown;
  let names: unknown = null;
  let fields: unknown;
  let elsize: unknown;
  let alignment: unknown;
  let flags: unknown = 0;
  let metadata: unknown = null;
  switch (state.length) {
    case 9:
      [version, endian, subarray, names, fields, elsize, alignment, flags, metadata] = state;
      break;
    case 8:
      [version, endian, subarray, names, fields, elsize, alignment, flags] = state;
      break;
    case 7:
      [version, endian, subarray, names, fields, elsize, alignment] = state;
      break;
    case 6:
      [version, endian, subarray, fields, elsize, alignment] = state;
      break;
    case 5:
      version = 0;
      [endian, subarray, fields, elsize, alignment] = state;
      break;
    default:
      throw new TypeError(`numpy.dtype state has ${state.length} items; expected 5 to 9`);
  }
  if (typeof version !== 'number' || version < 0 || version > 4) {
    throw new RangeError(`can't handle version ${String(version)} of numpy.dtype pickle`);
  }
  if (version <= 1 && fields !== null) {
    // Versions 0 and 1 kept the names tuple under the key -1 of the fields dict.
    names = dictGet(fields, -1);
  }
  const endianText =
    typeof endian === 'string' ? endian : endian instanceof Uint8Array ? latin1Decode(endian) : '';
  if (!/^[<>|=]$/.test(endianText)) throw new TypeError(`numpy.dtype: bad endian ${describe(endian)}`);
  const result: Partial<DtypeFields> = {
    byteOrder: endianText === '=' ? HOST_BYTE_ORDER : (endianText as NumpyByteOrder),
    subarray: parseSubarray(subarray),
    fields: parseFields(names, fields),
  };
  const flexible = current.kind === 'S' || current.kind === 'U' || current.kind === 'V';
  if (flexible) {
    if (!isNonNegativeInt(elsize) || !isNonNegativeInt(alignment)) {
      throw new TypeError(
        `numpy.dtype: bad itemsize ${describe(elsize)} or alignment ${describe(alignment)}`,
      );
    }
    if (current.kind === 'U' && elsize % 4 !== 0) throw new RangeError(`numpy.dtype: U itemsize ${elsize}`);
    result.itemsize = elsize;
    result.alignment = alignment;
  }
  const itemsize = result.itemsize ?? current.itemsize;
  for (const field of result.fields ?? []) {
    if (field.offset + field.dtype.itemsize > itemsize) {
      throw new RangeError(`numpy.dtype: field ${JSON.stringify(field.name)} runs past itemsize ${itemsize}`);
    }
  }
  if (result.subarray) {
    if (result.subarray.base.itemsize * checkedShapeSize(result.subarray.shape) > itemsize) {
      throw new RangeError(`numpy.dtype: subarray is larger than itemsize ${itemsize}`);
    }
  }
  if (version >= 3) {
    if (typeof flags !== 'number' || !Number.isInteger(flags)) {
      throw new TypeError(`numpy.dtype: bad flags ${describe(flags)}`);
    }
    result.flags = flags & 0xff;
  } else {
    result.flags = inferObjectFlags(current.kind, result.fields ?? null, result.subarray ?? null);
  }
  if (current.kind === 'M' || current.kind === 'm') {
    if (metadata !== null) {
      if (!Array.isArray(metadata) || metadata.length !== 2) {
        throw new TypeError(`numpy.dtype: bad datetime metadata ${describe(metadata)}`);
      }
      const [userMetadata, unitInfo] = metadata as unknown[];
      const [unit, count] = parseDatetimeUnit(unitInfo);
      result.metadata = userMetadata;
      result.datetimeUnit = unit;
      result.datetimeCount = count;
    }
  } else {
    result.metadata = metadata;
  }
  return result;
}

/** Old pickles (versions 0–2) carry no flags: numpy recomputes whether the dtype holds objects. */
function inferObjectFlags(
  kind: NumpyKind,
  fields: readonly NumpyField[] | null,
  subarray: NumpySubarray | null,
): number {
  if (kind === 'O') return FLAGS_OBJECT;
  if (fields?.some((f) => f.dtype.hasObject) || subarray?.base.hasObject) return FLAGS_OBJECT;
  return 0;
}

function parseDatetimeUnit(info: unknown): [string, number] {
  if (!Array.isArray(info) || info.length < 2) {
    throw new TypeError(`numpy.dtype: bad datetime unit ${describe(info)}`);
  }
  const [rawUnit, rawCount] = info as unknown[];
  const count = plainInt(rawCount);
  const unit =
    typeof rawUnit === 'string' ? rawUnit : rawUnit instanceof Uint8Array ? latin1Decode(rawUnit) : undefined;
  // numpy keeps the count in a C int, and refuses a fraction or one that does not fit.
  if (
    unit === undefined ||
    !DATETIME_UNITS.has(unit) ||
    typeof count !== 'number' ||
    !Number.isInteger(count) ||
    !(count >= 1 && count <= 0x7fff_ffff)
  ) {
    throw new TypeError(`numpy.dtype: bad datetime unit ${describe(info)}`);
  }
  return [unit, count];
}

function parseSubarray(subarray: unknown): NumpySubarray | null {
  if (subarray === null) return null;
  if (!Array.isArray(subarray) || subarray.length !== 2 || !(subarray[0] instanceof NumpyDtype)) {
    throw new TypeError(`numpy.dtype: incorrect subarray ${describe(subarray)}`);
  }
  const rawShape: unknown = subarray[1];
  const dims = plainInt(rawShape);
  const shape = typeof dims === 'number' ? [dims] : toShape(dims, 'subarray shape');
  return { base: subarray[0], shape };
}

function parseFields(names: unknown, fields: unknown): NumpyField[] | null {
  if (names === null && fields === null) return null;
  if (!Array.isArray(names) || fields === null || typeof fields !== 'object') {
    throw new TypeError(`numpy.dtype: inconsistent names ${describe(names)} and fields ${describe(fields)}`);
  }
  return names.map((rawName: unknown) => {
    const entry = dictGet(fields, rawName);
    // Python 2 pickles loaded with encoding='bytes' have byte-string names; numpy decodes them as ASCII.
    let name: string;
    if (typeof rawName === 'string') name = rawName;
    else if (rawName instanceof Uint8Array) name = latin1Decode(rawName);
    else throw new TypeError(`numpy.dtype: bad field name ${describe(rawName)}`);
    if (!Array.isArray(entry) || entry.length < 2 || !(entry[0] instanceof NumpyDtype)) {
      throw new TypeError(`numpy.dtype: bad entry for field ${JSON.stringify(name)}: ${describe(entry)}`);
    }
    const offset: unknown = plainInt(entry[1]);
    if (!isNonNegativeInt(offset)) throw new TypeError(`numpy.dtype: bad offset for field ${name}`);
    return { name, dtype: entry[0], offset, title: entry.length > 2 ? entry[2] : null };
  });
}

/** Looks a key up in a decoded Python dict, whichever JavaScript form the decoder chose for it. */
function dictGet(dict: unknown, key: unknown): unknown {
  if (dict instanceof Map) {
    if (dict.has(key)) return dict.get(key);
    for (const [k, v] of dict) if (pyKeyEquals(k, key)) return v;
    return undefined;
  }
  if (dict !== null && typeof dict === 'object' && (typeof key === 'string' || typeof key === 'number')) {
    return Object.hasOwn(dict, String(key)) ? (dict as Record<string, unknown>)[String(key)] : undefined;
  }
  return undefined;
}

function pyKeyEquals(a: unknown, b: unknown): boolean {
  if (typeof a === 'bigint' || typeof b === 'bigint') {
    return (typeof a === 'number' || typeof a === 'bigint') &&
      (typeof b === 'number' || typeof b === 'bigint')
      ? BigInt(a) === BigInt(b)
      : false;
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesEqual(a, b);
  return false;
}

/** numpy's dtype reduction: `numpy.dtype(obj, False, True)` plus the `__setstate__` tuple. */
function reduceDtype(dtype: NumpyDtype): PyObject {
  const kind = dtype.kind;
  // numpy formats the type string anew for every reduction (never one of CPython's shared strs).
  const typeArgument = dtype.isRecord
    ? new PyGlobal('numpy', 'record')
    : new FreshString(`${kind}${kind === 'U' ? dtype.itemsize / 4 : dtype.itemsize}`);
  const reduction = new PyObject('reduce', new PyGlobal('numpy', 'dtype'), [typeArgument, false, true]);
  const flexible = kind === 'S' || kind === 'U' || kind === 'V';
  const isDatetime = kind === 'M' || kind === 'm';
  const subarray = dtype.subarray
    ? tuple(dtype.subarray.base, PyTuple.fromItems(dtype.subarray.shape))
    : null;
  let names: PyTuple<string> | null = null;
  let fields: Map<unknown, unknown> | null = null;
  if (dtype.fields) {
    names = PyTuple.fromItems(dtype.fields.map((f) => f.name));
    fields = new Map();
    for (const field of dtype.fields) {
      const entry =
        field.title === null
          ? tuple(field.dtype, field.offset)
          : tuple(field.dtype, field.offset, field.title);
      fields.set(field.name, entry);
      // numpy keys a field by its title too only when the title is a str (`(1, 'a')` titles nothing).
      if (typeof field.title === 'string') fields.set(field.title, entry);
    }
  }
  const common = [
    dtype.byteOrder,
    subarray,
    names,
    fields,
    flexible ? dtype.itemsize : -1,
    flexible ? dtype.alignment : -1,
    dtype.flags,
  ];
  if (isDatetime) {
    const unit = bufferBytes(latin1Encode(dtype.datetimeUnit ?? 'generic'));
    const unitInfo = tuple(unit, dtype.datetimeCount, 1, 1);
    reduction.state = tuple(4, ...common, tuple(dtype.metadata ?? null, unitInfo));
  } else if (dtype.metadata !== null && dtype.metadata !== undefined) {
    reduction.state = tuple(4, ...common, dtype.metadata);
  } else {
    reduction.state = tuple(3, ...common);
  }
  return reduction;
}

// ---------------------------------------------------------------------------------------------------------
// Element values

/** A JavaScript value for one element; see {@link NDArray.get} for the mapping. */
export type NumpyElement = unknown;

/** The typed view of an array's elements; see {@link NDArray.data}. */
export type NDArrayData =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array
  | unknown[];

type TypedArrayConstructor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** Which TypedArray holds a dtype's elements, and the byte unit that byte order applies to. */
function typedLayout(dtype: NumpyDtype): { ctor: TypedArrayConstructor; unit: number } {
  const { kind, itemsize } = dtype;
  if (dtype.fields || dtype.subarray) return { ctor: Uint8Array, unit: 1 };
  switch (kind) {
    case 'i':
      if (itemsize === 1) return { ctor: Int8Array, unit: 1 };
      if (itemsize === 2) return { ctor: Int16Array, unit: 2 };
      if (itemsize === 4) return { ctor: Int32Array, unit: 4 };
      return { ctor: BigInt64Array, unit: 8 };
    case 'u':
      if (itemsize === 1) return { ctor: Uint8Array, unit: 1 };
      if (itemsize === 2) return { ctor: Uint16Array, unit: 2 };
      if (itemsize === 4) return { ctor: Uint32Array, unit: 4 };
      return { ctor: BigUint64Array, unit: 8 };
    case 'f':
      if (itemsize === 2) return { ctor: Uint16Array, unit: 2 };
      if (itemsize === 4) return { ctor: Float32Array, unit: 4 };
      if (itemsize === 8) return { ctor: Float64Array, unit: 8 };
      return { ctor: Uint8Array, unit: 1 };
    case 'c':
      if (itemsize === 8) return { ctor: Float32Array, unit: 4 };
      if (itemsize === 16) return { ctor: Float64Array, unit: 8 };
      return { ctor: Uint8Array, unit: 1 };
    case 'M':
    case 'm':
      return { ctor: BigInt64Array, unit: 8 };
    case 'U':
      return { ctor: Uint32Array, unit: 4 };
    default:
      return { ctor: Uint8Array, unit: 1 };
  }
}

function needsSwap(dtype: NumpyDtype): boolean {
  return dtype.byteOrder !== '|' && dtype.byteOrder !== HOST_BYTE_ORDER;
}

/** IEEE 754 binary16 bits to a number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** A number to IEEE 754 binary16 bits, rounding to nearest even as numpy does. */
export function numberToHalf(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude >= 65520) return sign | 0x7c00;
  if (magnitude < 2 ** -14) return sign | roundHalfEven(magnitude / 2 ** -24);
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent--;
  if (2 ** (exponent + 1) <= magnitude) exponent++;
  let fraction = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  if (fraction === 1024) {
    exponent++;
    fraction = 0;
  }
  return sign | ((exponent + 15) << 10) | fraction;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Reads one element at `offset` of `view`. Mapping: bool → boolean; int8..int32, uint8..uint32 → number;
 * int64/uint64 → bigint; float16/32/64 → number; complex64/128 → PyComplex; datetime64/timedelta64 →
 * bigint tick count (NaT is -2^63); 'S' → Uint8Array (trailing NULs dropped, as numpy does); 'U' → string
 * (trailing NULs dropped); structured → a plain object keyed by field name; subarray → nested arrays;
 * raw void, longdouble and clongdouble → Uint8Array of the element's bytes.
 */
/**
 * The most values {@link readElement} makes for one element beyond one per byte of it: only zero-size items
 * (`V0` in a subarray or field) can cost more, and a few bytes of dtype could otherwise ask for 2^50.
 */
const MAX_EMPTY_SUBARRAY_ITEMS = 1 << 20;

const valueCounts = new WeakMap<NumpyDtype, number>();

/** How many values {@link readElement} makes for one element of `dtype` (records and nested arrays count too). */
function valuesPerElement(dtype: NumpyDtype): number {
  let count = valueCounts.get(dtype);
  if (count === undefined) {
    if (dtype.subarray)
      count = (checkedShapeSize(dtype.subarray.shape) || 1) * (valuesPerElement(dtype.subarray.base) + 1);
    else if (dtype.fields)
      count = 1 + dtype.fields.reduce((sum, field) => sum + valuesPerElement(field.dtype), 0);
    else count = 1;
    count = Math.min(count, Number.MAX_SAFE_INTEGER);
    valueCounts.set(dtype, count);
  }
  return count;
}

/**
 * Refuses to read elements of a dtype whose values are too many for their bytes. Checked once per read (a
 * scalar's value, `get`, `toList`), not per element or field. @throws RangeError.
 */
function checkReadableElements(dtype: NumpyDtype): void {
  if (!dtype.fields && !dtype.subarray) return;
  // A value per byte, and the arrays and records holding them, come to under four per byte; values of
  // zero-size items are not bounded by the bytes, and numpy's own `.item()` of such a dtype cannot finish.
  const values = valuesPerElement(dtype);
  if (values > Math.max(MAX_EMPTY_SUBARRAY_ITEMS, 4 * dtype.itemsize + 4)) {
    throw new RangeError(
      `numpy ${dtype.toString()} elements hold ${values} values of zero-size items, too many to ` +
        `read: at most ${MAX_EMPTY_SUBARRAY_ITEMS}`,
    );
  }
}

function readElement(dtype: NumpyDtype, view: DataView, offset: number): NumpyElement {
  if (dtype.fields) {
    const record: Record<string, unknown> = {};
    for (const field of dtype.fields) {
      Object.defineProperty(record, field.name, {
        value: readElement(field.dtype, view, offset + field.offset),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return record;
  }
  if (dtype.subarray) {
    const { base, shape } = dtype.subarray;
    let index = 0;
    const build = (dim: number): unknown =>
      dim === shape.length
        ? readElement(base, view, offset + base.itemsize * index++)
        : Array.from({ length: shape[dim]! }, () => build(dim + 1));
    return build(0);
  }
  const little = dtype.byteOrder !== '>';
  const size = dtype.itemsize;
  switch (dtype.kind) {
    case 'b':
      return view.getUint8(offset) !== 0;
    case 'i':
      if (size === 1) return view.getInt8(offset);
      if (size === 2) return view.getInt16(offset, little);
      if (size === 4) return view.getInt32(offset, little);
      return view.getBigInt64(offset, little);
    case 'u':
      if (size === 1) return view.getUint8(offset);
      if (size === 2) return view.getUint16(offset, little);
      if (size === 4) return view.getUint32(offset, little);
      return view.getBigUint64(offset, little);
    case 'f':
      if (size === 2) return halfToNumber(view.getUint16(offset, little));
      if (size === 4) return view.getFloat32(offset, little);
      if (size === 8) return view.getFloat64(offset, little);
      return copyBytes(view, offset, size);
    case 'c':
      if (size === 8)
        return new PyComplex(view.getFloat32(offset, little), view.getFloat32(offset + 4, little));
      if (size === 16)
        return new PyComplex(view.getFloat64(offset, little), view.getFloat64(offset + 8, little));
      return copyBytes(view, offset, size);
    case 'M':
    case 'm':
      return view.getBigInt64(offset, little);
    case 'S': {
      let end = size;
      while (end > 0 && view.getUint8(offset + end - 1) === 0) end--;
      return copyBytes(view, offset, end);
    }
    case 'U': {
      let end = size / 4;
      while (end > 0 && view.getUint32(offset + (end - 1) * 4, little) === 0) end--;
      const codePoints: number[] = [];
      for (let i = 0; i < end; i++) {
        const cp = view.getUint32(offset + i * 4, little);
        if (cp > 0x10ffff) throw new RangeError(`numpy str element holds code point ${cp}, above U+10FFFF`);
        codePoints.push(cp);
      }
      return String.fromCodePoint(...codePoints);
    }
    default:
      return copyBytes(view, offset, size);
  }
}

function copyBytes(view: DataView, offset: number, length: number): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset + offset, length).slice();
}

/** Writes one element; the inverse of {@link readElement} (numbers accepted where bigints are read). */
function writeElement(dtype: NumpyDtype, view: DataView, offset: number, value: unknown): void {
  if (dtype.fields) {
    if (value === null || typeof value !== 'object') {
      throw new TypeError(`a structured element needs an object with fields, got ${describe(value)}`);
    }
    for (const field of dtype.fields) {
      if (!Object.hasOwn(value, field.name))
        throw new TypeError(`missing field ${JSON.stringify(field.name)}`);
      writeElement(field.dtype, view, offset + field.offset, (value as Record<string, unknown>)[field.name]);
    }
    return;
  }
  if (dtype.subarray) {
    const { base, shape } = dtype.subarray;
    const items = flattenNested(value, shape.length);
    if (items.length !== checkedShapeSize(shape)) {
      throw new RangeError(`a subarray element needs ${checkedShapeSize(shape)} items, got ${items.length}`);
    }
    items.forEach((item, i) => {
      writeElement(base, view, offset + i * base.itemsize, item);
    });
    return;
  }
  if (Array.isArray(value)) {
    // numpy: "setting an array element with a sequence" (a ragged list, or one level too deep).
    throw new RangeError(
      `an element of a ${dtype.str} array is itself an array: the nested arrays are not rectangular`,
    );
  }
  const little = dtype.byteOrder !== '>';
  const size = dtype.itemsize;
  switch (dtype.kind) {
    case 'b':
      view.setUint8(offset, value ? 1 : 0);
      return;
    case 'i':
    case 'u':
    case 'M':
    case 'm': {
      const integer = expectInteger(value);
      const unsigned = dtype.kind === 'u';
      if (size === 8) {
        const big = BigInt(integer);
        if ((unsigned ? BigInt.asUintN(64, big) : BigInt.asIntN(64, big)) !== big)
          outOfBounds(integer, dtype);
        if (unsigned) view.setBigUint64(offset, big, little);
        else view.setBigInt64(offset, big, little);
        return;
      }
      const n = Number(integer);
      const min = unsigned ? 0 : -(2 ** (8 * size - 1));
      if (n < min || n >= min + 2 ** (8 * size)) outOfBounds(integer, dtype);
      if (size === 1) view.setUint8(offset, n & 0xff);
      else if (size === 2) view.setUint16(offset, n & 0xffff, little);
      else view.setUint32(offset, n >>> 0, little);
      return;
    }
    case 'f': {
      const x = expectNumber(value);
      if (size === 2) view.setUint16(offset, numberToHalf(x), little);
      else if (size === 4) view.setFloat32(offset, x, little);
      else if (size === 8) view.setFloat64(offset, x, little);
      else writeRawBytes(view, offset, size, value);
      return;
    }
    case 'c': {
      const c = value instanceof PyComplex ? value : new PyComplex(expectNumber(value), 0);
      if (size === 8) {
        view.setFloat32(offset, c.real, little);
        view.setFloat32(offset + 4, c.imag, little);
      } else if (size === 16) {
        view.setFloat64(offset, c.real, little);
        view.setFloat64(offset + 8, c.imag, little);
      } else {
        writeRawBytes(view, offset, size, value);
      }
      return;
    }
    case 'S':
      writeRawBytes(view, offset, size, typeof value === 'string' ? latin1Encode(value) : value);
      return;
    case 'U': {
      if (typeof value !== 'string')
        throw new TypeError(`a str element needs a string, got ${describe(value)}`);
      const codePoints = Array.from(value, (ch) => ch.codePointAt(0)!);
      if (codePoints.length > size / 4) {
        throw new RangeError(`${JSON.stringify(value)} is longer than ${size / 4} characters`);
      }
      codePoints.forEach((cp, i) => {
        view.setUint32(offset + i * 4, cp, little);
      });
      return;
    }
    case 'O':
      throw new TypeError('object elements have no bytes; use NDArray.fromList with dtype O');
    default:
      writeRawBytes(view, offset, size, value);
  }
}

function writeRawBytes(view: DataView, offset: number, size: number, value: unknown): void {
  if (!(value instanceof Uint8Array))
    throw new TypeError(`expected bytes (Uint8Array), got ${describe(value)}`);
  if (value.length > size) throw new RangeError(`${value.length} bytes do not fit a ${size}-byte element`);
  new Uint8Array(view.buffer, view.byteOffset + offset, size).set(value);
}

/** numpy's OverflowError: an integer the element type cannot hold is refused, not wrapped. */
function outOfBounds(value: number | bigint, dtype: NumpyDtype): never {
  throw new RangeError(`integer ${value} is out of bounds for ${dtype.str}`);
}

/** A float element: a number, bigint or boolean, and null as NaN (numpy's None); nothing else. */
function expectNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === null) return Number.NaN;
  if (value instanceof PyFloat) return value.value;
  throw new TypeError(`expected a number, got ${describe(value)}`);
}

function expectInteger(value: unknown): number | bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new TypeError(`expected an integer, got ${describe(value)}`);
}

// ---------------------------------------------------------------------------------------------------------
// Arrays

/** How a new {@link NDArray} is described. */
export interface NDArrayInit {
  readonly dtype: NumpyDtype | string;
  /** Dimensions; defaults to one dimension holding every element. `[]` is a 0-d (scalar) array. */
  readonly shape?: readonly number[];
  /** Memory order of `bytes` / `objects`: C (row-major, default) or Fortran (column-major). */
  readonly order?: 'C' | 'F';
  /** Raw element bytes in the dtype's byte order, `size * itemsize` long (kept, not copied). */
  readonly bytes?: Uint8Array;
  /** For object arrays: the elements, in `order`. */
  readonly objects?: readonly unknown[];
  /** Whether numpy should see the array as writeable (decides BYTEARRAY8 vs bytes at protocol 5). */
  readonly writeable?: boolean;
  /** The Python class of an ndarray subclass pickled through `_reconstruct` (e.g. `numpy.matrix`). */
  readonly pythonClass?: PyGlobal;
}

interface ArrayFields {
  dtype: NumpyDtype;
  shape: readonly number[];
  order: 'C' | 'F';
  bytes: Uint8Array;
  objects: unknown[] | null;
  writeable: boolean;
  pythonClass: PyGlobal | null;
}

/** Applies a pickled `ndarray.__setstate__` tuple in place; set by NDArray's static block. */
let applyArrayState: (array: NDArray, state: unknown) => void;

/**
 * A numpy `ndarray`: dtype, shape, memory order and the raw element bytes (`bytes`, exactly numpy's
 * buffer), with a typed view of the elements (`data`). Decoding keeps the pickle's bytes without copying;
 * `data` is a zero-copy view onto them when the dtype is in host byte order and the bytes are aligned
 * (`dataIsView`), otherwise a converted copy that writes do not reach. Encoding always writes `bytes`.
 */
export class NDArray {
  #f: ArrayFields;
  #data: NDArrayData | undefined;
  #dataIsView = false;

  constructor(init: NDArrayInit) {
    const given = typeof init.dtype === 'string' ? NumpyDtype.from(init.dtype) : init.dtype;
    const order = init.order ?? 'C';
    if (order !== 'C' && order !== 'F')
      throw new RangeError(`order must be 'C' or 'F', got ${String(order)}`);
    // As numpy's ndarray: a subarray dtype gives its base as the dtype and its dimensions after the array's
    // own (np.zeros(3, ('i4', (2,))) is int32 of shape (3, 2)); the bytes are laid out the same.
    let dtype = given;
    const subarrayDims: number[] = [];
    while (dtype.subarray) {
      subarrayDims.push(...dtype.subarray.shape);
      dtype = dtype.subarray.base;
    }
    if (subarrayDims.length > 0 && order === 'F') {
      throw new RangeError(
        `a subarray dtype (${given.toString()}) with order 'F': give its base dtype and the whole shape instead`,
      );
    }
    if (subarrayDims.length > 0) {
      const count = checkedShapeSize(subarrayDims);
      const elements =
        init.shape !== undefined
          ? undefined
          : init.bytes !== undefined
            ? init.bytes.length / given.itemsize
            : init.objects !== undefined
              ? init.objects.length / count
              : 0;
      if (elements !== undefined && !Number.isSafeInteger(elements)) {
        throw new RangeError(`the data is not a whole number of ${given.toString()} elements`);
      }
      init = { ...init, dtype, shape: [...(init.shape ?? [elements!]), ...subarrayDims] };
    }
    if (dtype.hasObject && dtype.kind !== 'O') {
      throw new TypeError(`structured dtypes holding objects are not supported: ${dtype.toString()}`);
    }
    let shape: readonly number[];
    let bytes: Uint8Array = new Uint8Array(0);
    let objects: unknown[] | null = null;
    if (dtype.kind === 'O') {
      const items = init.objects ?? [];
      shape = init.shape ?? [items.length];
      if (checkedShapeSize(shape) !== items.length) {
        throw new RangeError(
          `shape (${shape.join(', ')}) needs ${checkedShapeSize(shape)} objects, got ${items.length}`,
        );
      }
      objects = [...items];
    } else {
      if (init.objects) throw new TypeError(`objects are only for dtype O, not ${dtype.str}`);
      bytes = init.bytes ?? new Uint8Array(checkedShapeSize(init.shape ?? [0]) * dtype.itemsize);
      if (init.shape) {
        shape = init.shape;
      } else {
        if (dtype.itemsize === 0 || bytes.length % dtype.itemsize !== 0) {
          throw new RangeError(`${bytes.length} bytes are not a whole number of ${dtype.str} elements`);
        }
        shape = [bytes.length / dtype.itemsize];
      }
      const expected = checkedShapeSize(shape) * dtype.itemsize;
      if (bytes.length !== expected) {
        throw new RangeError(
          `shape (${shape.join(', ')}) of ${dtype.str} needs ${expected} bytes, got ${bytes.length}`,
        );
      }
    }
    this.#f = {
      dtype,
      shape: Object.freeze([...shape]),
      order,
      bytes,
      objects,
      writeable: init.writeable ?? true,
      pythonClass: init.pythonClass ?? null,
    };
  }

  static {
    applyArrayState = (array, state) => {
      array.#f = { ...parseArrayState(state), writeable: true, pythonClass: array.#f.pythonClass };
      array.#data = undefined;
    };
  }

  /**
   * An array over a TypedArray's memory (no copy when the dtype is in host byte order). The dtype defaults
   * from the TypedArray (Float64Array → `<f8`, Int32Array → `<i4`, BigInt64Array → `<i8`, Uint8Array →
   * `|u1`, ...); pass `dtype` for bool (`'?'` over Uint8Array), float16 (`'<f2'` over Uint16Array bits),
   * complex (`'<c16'` over interleaved Float64Array), datetime64 (`'<M8[ns]'` over BigInt64Array), str
   * (`'<U3'` over Uint32Array code points) or another byte order (the values are then converted).
   */
  static fromTypedArray(
    data: Exclude<NDArrayData, unknown[]>,
    options: {
      readonly dtype?: NumpyDtype | string;
      readonly shape?: readonly number[];
      readonly order?: 'C' | 'F';
    } = {},
  ): NDArray {
    const dtype =
      options.dtype === undefined
        ? defaultDtypeFor(data)
        : typeof options.dtype === 'string'
          ? NumpyDtype.from(options.dtype)
          : options.dtype;
    const layout = typedLayout(dtype);
    if (data.BYTES_PER_ELEMENT !== layout.ctor.BYTES_PER_ELEMENT) {
      throw new TypeError(
        `a ${data.constructor.name} cannot hold ${dtype.str} elements; use a ${layout.ctor.name}`,
      );
    }
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (needsSwap(dtype)) bytes = swapBytes(bytes, layout.unit);
    return new NDArray({ dtype, bytes, ...pickDefined(options, 'shape', 'order') });
  }

  /**
   * An array from JavaScript values, like `np.array(list, dtype)`: nested arrays give the shape (a
   * non-array is a 0-d array); elements follow {@link NDArray.get}'s mapping (numbers accepted for 64-bit
   * integers, strings for `'S'` as latin-1, objects keyed by field name for structured dtypes).
   */
  static fromList(list: unknown, dtype: NumpyDtype | string): NDArray {
    const resolved = typeof dtype === 'string' ? NumpyDtype.from(dtype) : dtype;
    const shape = nestedShape(list, resolved);
    const items = flattenNested(list, shape.length);
    if (resolved.kind === 'O') return new NDArray({ dtype: resolved, shape, objects: items });
    const bytes = new Uint8Array(items.length * resolved.itemsize);
    const view = new DataView(bytes.buffer);
    items.forEach((item, i) => {
      writeElement(resolved, view, i * resolved.itemsize, item);
    });
    return new NDArray({ dtype: resolved, shape, bytes });
  }

  get dtype(): NumpyDtype {
    return this.#f.dtype;
  }
  get shape(): readonly number[] {
    return this.#f.shape;
  }
  /** Memory order of `bytes`, `data` and `objects`. */
  get order(): 'C' | 'F' {
    return this.#f.order;
  }
  get ndim(): number {
    return this.#f.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return checkedShapeSize(this.#f.shape);
  }
  /** Whether numpy sees the array as writeable (false for arrays over read-only pickle buffers). */
  get writeable(): boolean {
    return this.#f.writeable;
  }
  /** The ndarray subclass this came from (`numpy.matrix`, `numpy.rec.recarray`, ...), or null for ndarray. */
  get pythonClass(): PyGlobal | null {
    return this.#f.pythonClass;
  }

  /** The raw element bytes in the dtype's byte order and the array's memory order (empty for object arrays). */
  get bytes(): Uint8Array {
    if (this.#f.objects) throw new TypeError('an object array (dtype O) has no raw bytes; read `objects`');
    return this.#f.bytes;
  }

  /** The elements of an object array (dtype O) in memory order, else null. */
  get objects(): readonly unknown[] | null {
    return this.#f.objects;
  }

  /**
   * The elements as a TypedArray in host byte order: Int8..BigInt64/BigUint64, Float32/Float64 for their
   * types; Uint8Array (0/1) for bool; Uint16Array of binary16 bits for float16; interleaved real/imaginary
   * Float32Array/Float64Array for complex64/128; BigInt64Array for datetime64/timedelta64; Uint32Array of
   * code points for `'U'`; Uint8Array of raw bytes for `'S'`, void, structured and longdouble; the objects
   * (an array) for dtype O.
   */
  get data(): NDArrayData {
    if (this.#data) return this.#data;
    if (this.#f.objects) {
      this.#data = this.#f.objects;
      return this.#data;
    }
    const { ctor, unit } = typedLayout(this.#f.dtype);
    const bytes = this.#f.bytes;
    const length = bytes.length / ctor.BYTES_PER_ELEMENT;
    if (!needsSwap(this.#f.dtype) && bytes.byteOffset % ctor.BYTES_PER_ELEMENT === 0) {
      // A SharedArrayBuffer-backed input works the same; the cast only picks a constructor overload.
      this.#data = new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, length);
      this.#dataIsView = true;
    } else {
      const copy = needsSwap(this.#f.dtype) ? swapBytes(bytes, unit) : bytes.slice();
      this.#data = new ctor(copy.buffer as ArrayBuffer, 0, length);
      this.#dataIsView = false;
    }
    return this.#data;
  }

  /** True when `data` shares memory with `bytes` (writes to one show in the other). */
  get dataIsView(): boolean {
    void this.data;
    return this.#dataIsView;
  }

  /** The element at a multi-index (negative indices count from the end), as a JavaScript value. */
  get(...index: number[]): NumpyElement {
    const shape = this.#f.shape;
    if (index.length !== shape.length) {
      throw new RangeError(`${shape.length}-d array needs ${shape.length} indices, got ${index.length}`);
    }
    const normalised = index.map((i, d) => {
      const n = i < 0 ? i + shape[d]! : i;
      if (!Number.isInteger(n) || n < 0 || n >= shape[d]!) {
        throw new RangeError(`index ${i} is out of bounds for axis ${d} with size ${shape[d]}`);
      }
      return n;
    });
    checkReadableElements(this.#f.dtype);
    return this.#elementAt(flatIndex(normalised, shape, this.#f.order));
  }

  /** The whole array as nested JavaScript arrays in logical (C) order, like numpy's `tolist()`. */
  toList(): unknown {
    checkReadableElements(this.#f.dtype);
    const shape = this.#f.shape;
    const index: number[] = [];
    const build = (dim: number): unknown => {
      if (dim === shape.length) return this.#elementAt(flatIndex(index, shape, this.#f.order));
      const out: unknown[] = [];
      for (let i = 0; i < shape[dim]!; i++) {
        index[dim] = i;
        out.push(build(dim + 1));
      }
      return out;
    };
    return build(0);
  }

  #elementAt(flat: number): NumpyElement {
    if (this.#f.objects) return this.#f.objects[flat];
    const bytes = this.#f.bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return readElement(this.#f.dtype, view, flat * this.#f.dtype.itemsize);
  }
}

function defaultDtypeFor(data: Exclude<NDArrayData, unknown[]>): NumpyDtype {
  const spec =
    data instanceof Int8Array
      ? 'i1'
      : data instanceof Uint8Array
        ? 'u1'
        : data instanceof Int16Array
          ? 'i2'
          : data instanceof Uint16Array
            ? 'u2'
            : data instanceof Int32Array
              ? 'i4'
              : data instanceof Uint32Array
                ? 'u4'
                : data instanceof BigInt64Array
                  ? 'i8'
                  : data instanceof BigUint64Array
                    ? 'u8'
                    : data instanceof Float32Array
                      ? 'f4'
                      : 'f8';
  return NumpyDtype.from(spec);
}

function pickDefined<T extends object, K extends keyof T>(source: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

function flatIndex(index: readonly number[], shape: readonly number[], order: 'C' | 'F'): number {
  let flat = 0;
  if (order === 'C') {
    for (let d = 0; d < shape.length; d++) flat = flat * shape[d]! + index[d]!;
  } else {
    for (let d = shape.length - 1; d >= 0; d--) flat = flat * shape[d]! + index[d]!;
  }
  return flat;
}

/** Reorders a flat list of elements between C and Fortran memory order. */
function reorder<T>(items: readonly T[], shape: readonly number[], from: 'C' | 'F', to: 'C' | 'F'): T[] {
  if (from === to || shape.length < 2) return [...items];
  const out = new Array<T>(items.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < items.length; i++) {
    out[flatIndex(index, shape, to)] = items[flatIndex(index, shape, from)]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

function swapBytes(bytes: Uint8Array, unit: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += unit) {
    for (let j = 0; j < unit; j++) out[i + j] = bytes[i + unit - 1 - j]!;
  }
  return out;
}

function nestedShape(list: unknown, dtype: NumpyDtype): number[] {
  if (dtype.kind === 'O') return objectShape(list);
  const shape: number[] = [];
  let level: unknown = list;
  // A structured element is an object, a subarray element a nested array: stop descending where they start.
  const elementDepth = dtype.subarray ? dtype.subarray.shape.length : 0;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape.slice(0, Math.max(0, shape.length - elementDepth));
}

/**
 * The dimensions numpy gives an object array of nested lists: as deep as every list at a level has one length
 * (`[[1, 2], [3]]` is 2 objects, `[[1, 2], [3, 4]]` 2 × 2); the items below are the objects.
 */
function objectShape(list: unknown): number[] {
  const shape: number[] = [];
  let level: unknown[] = [list];
  while (level.length > 0 && level.every((item) => Array.isArray(item))) {
    const lists = level as unknown[][];
    const length = lists[0]!.length;
    if (!lists.every((item) => item.length === length)) break;
    shape.push(length);
    level = lists.flat(1);
  }
  return shape;
}

function flattenNested(list: unknown, depth: number): unknown[] {
  if (depth === 0) return [list];
  if (!Array.isArray(list)) throw new TypeError(`expected a nested array, got ${describe(list)}`);
  const out: unknown[] = [];
  let width: number | undefined;
  for (const item of list) {
    const flat = flattenNested(item, depth - 1);
    if (width !== undefined && flat.length !== width)
      throw new RangeError('nested arrays are not rectangular');
    width = flat.length;
    out.push(...flat);
  }
  return out;
}

/**
 * Whether an NDArray can hold the state numpy's `__setstate__` is given. It cannot hold a dtype it does not
 * know (numpy 2's StringDType arrives as a placeholder), records holding objects, or the state of a subclass
 * whose `__reduce__` extends ndarray's (numpy's own recipe appends attributes to the tuple); numpy loads them,
 * so they are left placeholders. Anything else is parsed, and refused when numpy would refuse it too.
 */
function isArrayStateHeld(array: NDArray, state: unknown): boolean {
  if (!Array.isArray(state)) return array.pythonClass === null;
  if (state.length !== 4 && state.length !== 5) return array.pythonClass === null;
  const dtype: unknown = state[state.length === 5 ? 2 : 1];
  if (dtype instanceof PyObject) return false;
  return !(dtype instanceof NumpyDtype && dtype.hasObject && dtype.kind !== 'O');
}

/** Reads numpy's `ndarray.__setstate__` tuple: `(version, shape, dtype, is_fortran, rawdata)`. */
function parseArrayState(state: unknown): Omit<ArrayFields, 'writeable' | 'pythonClass'> {
  if (!Array.isArray(state) || (state.length !== 4 && state.length !== 5)) {
    throw new TypeError(`ndarray state must be a 4- or 5-tuple, got ${describe(state)}`);
  }
  if (state.length === 5) {
    // numpy reads versions 0 and 1 (a 4-tuple is version 0 without its number).
    const version = plainInt(state[0]);
    if (version !== 0 && version !== 1) {
      throw new RangeError(`can't handle version ${String(state[0])} of numpy.ndarray pickle`);
    }
  }
  const [rawShape, dtype, isFortran, raw] = state.length === 5 ? state.slice(1) : state;
  if (!(dtype instanceof NumpyDtype)) throw new TypeError(`ndarray state: dtype is ${describe(dtype)}`);
  const shape = toShape(rawShape, 'ndarray shape');
  const order: 'C' | 'F' = isFortran ? 'F' : 'C';
  const size = checkedShapeSize(shape);
  if (dtype.kind === 'O') {
    if (!Array.isArray(raw) || raw.length !== size) {
      throw new TypeError(`object array state needs a list of ${size} items, got ${describe(raw)}`);
    }
    // numpy pickles object arrays as a list in C order whatever the memory order.
    return { dtype, shape, order, bytes: new Uint8Array(0), objects: reorder(raw, shape, 'C', order) };
  }
  if (dtype.hasObject)
    throw new TypeError(`structured dtypes holding objects are not supported: ${dtype.toString()}`);
  const bytes = toBytes(raw, 'ndarray data');
  if (bytes.length !== size * dtype.itemsize) {
    throw new RangeError(
      `ndarray state: ${bytes.length} bytes do not match shape (${shape.join(', ')}) of ${dtype.str}`,
    );
  }
  return { dtype, shape, order, bytes, objects: null };
}

// ---------------------------------------------------------------------------------------------------------
// Scalars

/**
 * A numpy scalar (`np.float32(1.5)`, `np.int64(7)`, `np.str_('a')`, `np.datetime64(...)`, `np.void`): its
 * dtype and the element's bytes, so it re-encodes to the same pickle. `value` is the JavaScript value.
 */
export class NumpyScalar {
  constructor(
    readonly dtype: NumpyDtype,
    /** The element's bytes, `dtype.itemsize` long, in the dtype's byte order. */
    readonly bytes: Uint8Array,
  ) {
    if (dtype.kind === 'O') throw new TypeError('numpy has no object scalars');
    if (bytes.length !== dtype.itemsize) {
      throw new RangeError(`a ${dtype.str} scalar needs ${dtype.itemsize} bytes, got ${bytes.length}`);
    }
  }

  /** A scalar from a JavaScript value: `NumpyScalar.of('f4', 1.5)`, `NumpyScalar.of('i8', 7n)`. */
  static of(dtype: NumpyDtype | string, value: unknown): NumpyScalar {
    const resolved = typeof dtype === 'string' ? NumpyDtype.from(dtype) : dtype;
    const bytes = new Uint8Array(resolved.itemsize);
    writeElement(resolved, new DataView(bytes.buffer), 0, value);
    return new NumpyScalar(resolved, bytes);
  }

  /** The value, mapped as {@link NDArray.get} maps elements. */
  get value(): NumpyElement {
    checkReadableElements(this.dtype);
    return readElement(
      this.dtype,
      new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length),
      0,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Registry entries

/** Options for {@link registerNumpy}. */
export interface NumpyCodecOptions {
  /**
   * The package path written for numpy's reconstructors: `'numpy._core'` (numpy 2) or `'numpy.core'` for
   * peers still on numpy 1.x, which cannot import `numpy._core` (numpy 2 loads both). Default: the path an
   * array or scalar was decoded with, so a value read from a numpy 1.x pickle goes back in its spelling, and
   * `'numpy._core'` for values made here. Decoding accepts both always.
   */
  readonly coreModule?: 'numpy._core' | 'numpy.core';
  /**
   * Whether arrays are written as `_frombuffer(PickleBuffer, dtype, shape, order)`, which allows out-of-band
   * buffers (`bufferCallback`) and needs protocol 5, or as `_reconstruct` + BUILD, which every protocol can
   * carry. Default: as numpy chooses, `_frombuffer` at protocol 5 and `_reconstruct` below.
   */
  readonly pickleBuffers?: boolean;
  /**
   * What decoded numpy scalars become: `'wrapped'` (default) keeps a {@link NumpyScalar}, which re-encodes
   * to the same numpy scalar; `'plain'` gives the JavaScript value (as {@link NumpyScalar.value}).
   */
  readonly scalars?: 'wrapped' | 'plain';
}

/** Module spellings numpy 1.x and 2.x use for the same reconstructors. */
const CORE_MODULES = ['numpy.core', 'numpy._core'] as const;

/** The spelling each decoded array and scalar was read with: the default spelling it is written with. */
const decodedCore = new WeakMap<object, (typeof CORE_MODULES)[number]>();

const NUMPY_OPTION_NAMES = new Set(
  Object.keys({ coreModule: true, pickleBuffers: true, scalars: true } satisfies Record<
    keyof NumpyCodecOptions,
    true
  >),
);

/** Refuses misspelt or mistyped numpy options, which would otherwise be silently ignored. */
function checkNumpyOptions(options: NumpyCodecOptions): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`numpy options must be an object, not ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!NUMPY_OPTION_NAMES.has(name)) {
      throw new TypeError(
        `unknown numpy option ${JSON.stringify(name)}; the options are coreModule, pickleBuffers and scalars`,
      );
    }
  }
  const { coreModule, pickleBuffers, scalars } = options;
  if (coreModule !== undefined && !(CORE_MODULES as readonly unknown[]).includes(coreModule)) {
    throw new RangeError(
      `numpy option coreModule must be 'numpy._core' or 'numpy.core', not ${describe(coreModule)}`,
    );
  }
  if (pickleBuffers !== undefined && typeof pickleBuffers !== 'boolean') {
    throw new TypeError(`numpy option pickleBuffers must be a boolean, not ${describe(pickleBuffers)}`);
  }
  if (scalars !== undefined && scalars !== 'wrapped' && scalars !== 'plain') {
    throw new RangeError(`numpy option scalars must be 'wrapped' or 'plain', not ${describe(scalars)}`);
  }
}

/** The `b'b'` numpy passes to `_reconstruct`: CPython's one `b'b'` object, shared with any other. */
const RECONSTRUCT_TYPECODE = bufferBytes(Uint8Array.of(0x62));

/**
 * Adds numpy to a registry: decoders for `numpy.dtype`, `numpy.core.multiarray._reconstruct`,
 * `numpy.core.multiarray.scalar`, `numpy.core.numeric._frombuffer` and their `numpy._core` twins, and
 * reducers for {@link NDArray}, {@link NumpyDtype} and {@link NumpyScalar}. Returns the registry.
 */
export function registerNumpy(registry: Registry, options: NumpyCodecOptions = {}): Registry {
  checkNumpyOptions(options);
  const coreOf = (value: object): string => options.coreModule ?? decodedCore.get(value) ?? 'numpy._core';
  const plainScalars = options.scalars === 'plain';

  registry.register<NumpyDtype>({
    module: 'numpy',
    name: 'dtype',
    decoder: {
      construct: (args) => dtypeFromReduceArgument(args[0]),
      setState: (dtype, state) => {
        applyDtypeState(dtype, state);
        return undefined;
      },
    },
    type: NumpyDtype,
    reduce: reduceDtype,
  });

  for (const module of CORE_MODULES) {
    // The arguments of each `_reconstruct` call, for an array whose state then makes it a placeholder.
    const reconstructArgs = new WeakMap<NDArray, readonly unknown[]>();
    registry.register<NDArray | PyObject>({
      module: `${module}.multiarray`,
      name: '_reconstruct',
      decoder: {
        // numpy's own `_reconstruct(cls, (0,), b'b')` makes an empty int8 array that BUILD then fills in place.
        construct: (args) => {
          if (args.length !== 3)
            throw new TypeError(`_reconstruct() takes exactly 3 arguments (${args.length} given)`);
          const cls = args[0];
          if (!isGlobalLike(cls))
            throw new TypeError(`_reconstruct: expected an ndarray class, got ${describe(cls)}`);
          const isNdarray = cls.module === 'numpy' && cls.name === 'ndarray';
          const pythonClass = isNdarray ? undefined : new PyGlobal(cls.module, cls.name);
          const array = new NDArray({ dtype: 'i1', shape: [0], ...(pythonClass ? { pythonClass } : {}) });
          reconstructArgs.set(array, args);
          decodedCore.set(array, module);
          return array;
        },
        setState: (array, state) => {
          if (array instanceof PyObject) {
            // BUILD again on a placeholder: numpy's __setstate__ replaces the state.
            array.state = state;
            return undefined;
          }
          if (!isArrayStateHeld(array, state)) {
            // numpy loads it, an NDArray cannot hold it: the inert placeholder, which re-encodes to the same
            // bytes, instead of failing the whole load.
            const [cls, shape, typecode] = reconstructArgs.get(array) ?? [];
            // numpy's b'b' is CPython's one b'b', shared with the arrays encoded beside this placeholder.
            const sharedTypecode =
              typecode instanceof Uint8Array && bytesEqual(typecode, RECONSTRUCT_TYPECODE)
                ? RECONSTRUCT_TYPECODE
                : typecode;
            const placeholder = new PyObject(
              'reduce',
              new PyGlobal(`${module}.multiarray`, '_reconstruct'),
              tuple(cls, shape, sharedTypecode),
            );
            placeholder.state = state;
            return placeholder;
          }
          applyArrayState(array, state);
          return undefined;
        },
      },
    });
    registry.register<NDArray>({
      module: `${module}.numeric`,
      name: '_frombuffer',
      decoder: {
        construct: (args) => {
          const array = arrayFromBuffer(args);
          decodedCore.set(array, module);
          return array;
        },
      },
    });
    registry.register<unknown>({
      module: `${module}.multiarray`,
      name: 'scalar',
      decoder: {
        construct: (args) => {
          const [dtype] = args;
          if (dtype instanceof NumpyDtype && dtype.hasObject && dtype.kind !== 'O') {
            // A record holding objects, pickled with its objects: left a placeholder, as its array is.
            return new PyObject(
              'reduce',
              new PyGlobal(`${module}.multiarray`, 'scalar'),
              args instanceof PyTuple ? args : PyTuple.fromItems(args),
            );
          }
          const scalar = scalarFromArgs(args);
          if (scalar instanceof NumpyScalar) decodedCore.set(scalar, module);
          return plainScalars && scalar instanceof NumpyScalar ? scalar.value : scalar;
        },
      },
    });
  }

  registry.register<NDArray>({
    module: 'numpy',
    name: 'ndarray',
    type: NDArray,
    reduce: (array, context) =>
      reduceArray(array, coreOf(array), options.pickleBuffers ?? context.protocol >= 5),
  });
  registry.register<NumpyScalar>({
    module: `${options.coreModule ?? 'numpy._core'}.multiarray`,
    name: 'scalar',
    type: NumpyScalar,
    reduce: (scalar) =>
      new PyObject('reduce', new PyGlobal(`${coreOf(scalar)}.multiarray`, 'scalar'), [
        scalar.dtype,
        bufferBytes(scalar.bytes),
      ]),
  });
  return registry;
}

/** A new {@link Registry} holding only the numpy entries. */
export function numpyRegistry(options: NumpyCodecOptions = {}): Registry {
  return registerNumpy(new Registry(), options);
}

/**
 * `_frombuffer(buffer, dtype, shape, order[, axis_order])`: numpy's protocol-5 reconstructor. Order `'K'`
 * (numpy 2.x, for arrays whose axes are permuted) means: the buffer holds `shape` in C order, and the array
 * is its transpose by `axis_order`; that is copied here into a C-order array.
 */
function arrayFromBuffer(args: readonly unknown[]): NDArray {
  const [buffer, dtype, rawShape, order, axisOrder] = args;
  if (!(dtype instanceof NumpyDtype)) throw new TypeError(`_frombuffer: dtype is ${describe(dtype)}`);
  // numpy's frombuffer refuses these (ValueError): no element count can be read from the buffer's length.
  if (dtype.itemsize === 0) throw new RangeError('_frombuffer: itemsize cannot be zero in type');
  const bytes = toBytes(buffer, '_frombuffer buffer');
  const shape = toShape(rawShape, '_frombuffer shape');
  // numpy's frombuffer gives a writeable array only over a writable buffer (bytearray, writable PickleBuffer).
  const writeable = buffer instanceof PyByteArray || (buffer instanceof PyPickleBuffer && !buffer.readonly);
  if (order === 'K' && axisOrder !== undefined && axisOrder !== null) {
    const axes = toShape(axisOrder, '_frombuffer axis order');
    if (axes.length !== shape.length || [...axes].sort((a, b) => a - b).some((axis, i) => axis !== i)) {
      throw new TypeError(
        `_frombuffer: axis order (${axes.join(', ')}) is not a permutation of ${shape.length} axes`,
      );
    }
    const source = new NDArray({ dtype, shape, bytes });
    return new NDArray({
      dtype,
      shape: axes.map((axis) => shape[axis]!),
      bytes: transposeToC(source, axes),
      writeable,
    });
  }
  if (order !== 'C' && order !== 'F' && order !== 'K')
    throw new TypeError(`_frombuffer: order is ${describe(order)}`);
  return new NDArray({ dtype, shape, order: order === 'F' ? 'F' : 'C', bytes, writeable });
}

/**
 * The C-order bytes of `source.transpose(axes)` for a C-order source: the result is walked in C order, the
 * source offset stepped by each result axis's source stride, so each element costs a few additions (items of
 * 1, 2, 4 and 8 bytes are copied as whole words).
 */
function transposeToC(source: NDArray, axes: readonly number[]): Uint8Array {
  const itemsize = source.dtype.itemsize;
  const from = source.bytes;
  const out = new Uint8Array(from.length);
  const rank = axes.length;
  if (from.length === 0 || rank === 0) {
    out.set(from);
    return out;
  }
  // Source strides in items, of a C-order array.
  const sourceStrides = new Array<number>(rank);
  for (let d = rank - 1, stride = 1; d >= 0; d--) {
    sourceStrides[d] = stride;
    stride *= source.shape[d]!;
  }
  const shape = axes.map((axis) => source.shape[axis]!);
  const strides = axes.map((axis) => sourceStrides[axis]!);
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const rows = source.size / inner;
  const index = new Array<number>(rank).fill(0);
  // Items of 1, 2, 4 and 8 bytes move as whole words (an 8-byte item as two 4-byte words).
  const word = itemsize === 8 ? 4 : itemsize;
  const words = itemsize === 8 ? 2 : 1;
  const byWords = (word === 1 || word === 2 || word === 4) && from.byteOffset % word === 0;
  let base = 0;
  let at = 0;
  if (byWords) {
    const input = wordsOf(from, word);
    const output = wordsOf(out, word);
    const step = innerStride * words;
    for (let row = 0; row < rows; row++) {
      let s = base * words;
      if (words === 1) {
        for (let i = 0; i < inner; i++, s += step) output[at++] = input[s]!;
      } else {
        for (let i = 0; i < inner; i++, s += step) {
          output[at++] = input[s]!;
          output[at++] = input[s + 1]!;
        }
      }
      base = nextRowOffset(base, index, shape, strides);
    }
  } else {
    for (let row = 0; row < rows; row++) {
      let s = base * itemsize;
      for (let i = 0; i < inner; i++, s += innerStride * itemsize) {
        out.set(from.subarray(s, s + itemsize), at);
        at += itemsize;
      }
      base = nextRowOffset(base, index, shape, strides);
    }
  }
  return out;
}

/** `bytes` as an array of words of `word` bytes, over the same memory (its offset a multiple of `word`). */
function wordsOf(bytes: Uint8Array, word: number): Uint8Array | Uint16Array | Uint32Array {
  if (word === 1) return bytes;
  return word === 2
    ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
    : new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

/** Steps the odometer `index` over every axis but the last; returns the source offset (in items) of the next row. */
function nextRowOffset(
  base: number,
  index: number[],
  shape: readonly number[],
  strides: readonly number[],
): number {
  for (let d = shape.length - 2; d >= 0; d--) {
    base += strides[d]!;
    if (++index[d]! < shape[d]!) return base;
    base -= strides[d]! * shape[d]!;
    index[d] = 0;
  }
  return base;
}

/** `scalar(dtype, bytes)`; for object dtypes numpy pickles the object itself, which is returned as is. */
function scalarFromArgs(args: readonly unknown[]): NumpyScalar | unknown {
  const [dtype, payload] = args;
  if (!(dtype instanceof NumpyDtype)) throw new TypeError(`scalar: dtype is ${describe(dtype)}`);
  if (dtype.kind === 'O') return payload;
  const bytes = toBytes(payload, 'scalar data');
  if (bytes.length < dtype.itemsize) {
    throw new RangeError(`scalar: ${bytes.length} bytes are too few for ${dtype.str}`);
  }
  return new NumpyScalar(dtype, bytes.subarray(0, dtype.itemsize));
}

/** The bytes `tobytes()` gives for this data: a bytes object (a bytearray's memory viewed as bytes). */
function plainBytes(data: Uint8Array): Uint8Array {
  return bufferBytes(
    data instanceof PyByteArray ? new Uint8Array(data.buffer, data.byteOffset, data.length) : data,
  );
}

/** numpy's `ndarray.__reduce_ex__` for a contiguous array. */
function reduceArray(array: NDArray, core: string, pickleBuffers: boolean): PyObject {
  const dtype = array.dtype;
  const fortran = array.order === 'F' && !isAlsoCContiguous(array.shape);
  // numpy falls back to _reconstruct for object dtypes, subclasses, zero-size items and dtypes its buffer
  // export refuses.
  const bufferable =
    !dtype.hasObject && array.pythonClass === null && dtype.itemsize > 0 && hasBufferFormat(dtype);
  if (pickleBuffers && bufferable) {
    const buffer = new PyPickleBuffer(array.bytes, !array.writeable);
    return new PyObject('reduce', new PyGlobal(`${core}.numeric`, '_frombuffer'), [
      buffer,
      dtype,
      PyTuple.fromItems(array.shape),
      fortran ? 'F' : 'C',
    ]);
  }
  const cls = array.pythonClass ?? new PyGlobal('numpy', 'ndarray');
  const reduction = new PyObject('reduce', new PyGlobal(`${core}.multiarray`, '_reconstruct'), [
    cls,
    tuple(0),
    RECONSTRUCT_TYPECODE,
  ]);
  // numpy's `tobytes()` makes its bytes from the data: no bytes, or one byte, are CPython's shared objects.
  // Always bytes: the data of an array read from a writable protocol-5 buffer is a bytearray, which numpy's
  // __setstate__ refuses ("pickle not returning string").
  const raw = array.objects ? reorder(array.objects, array.shape, array.order, 'C') : plainBytes(array.bytes);
  reduction.state = tuple(1, PyTuple.fromItems(array.shape), dtype, fortran, raw);
  return reduction;
}

/**
 * Whether numpy's buffer export (`_buffer_format_string`) can describe the dtype: not with datetime64 or
 * timedelta64 anywhere in it, nor with fields out of order or overlapping (in the order of their names), nor
 * a `:` in a field name. `offset` is where the previous item ended, as numpy tracks it; returns the end of this
 * one, or -1 when numpy refuses it.
 */
function bufferFormatEnd(dtype: NumpyDtype, offset: number): number {
  if (dtype.kind === 'M' || dtype.kind === 'm') return -1;
  if (dtype.subarray) return bufferFormatEnd(dtype.subarray.base, offset) < 0 ? -1 : offset + dtype.itemsize;
  if (dtype.fields) {
    const start = offset;
    for (const field of dtype.fields) {
      const fieldOffset = start + field.offset;
      if (offset > fieldOffset || field.name.includes(':')) return -1;
      offset = bufferFormatEnd(field.dtype, fieldOffset);
      if (offset < 0) return -1;
    }
    return start + dtype.itemsize;
  }
  return offset + dtype.itemsize;
}

function hasBufferFormat(dtype: NumpyDtype): boolean {
  return bufferFormatEnd(dtype, 0) >= 0;
}

/** numpy calls an array Fortran-ordered only when it is not also C-contiguous (at most one axis longer than 1). */
function isAlsoCContiguous(shape: readonly number[]): boolean {
  return shape.includes(0) || shape.filter((n) => n > 1).length <= 1;
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers

function isGlobalLike(value: unknown): value is { readonly module: string; readonly name: string } {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { module?: unknown }).module === 'string' &&
    typeof (value as { name?: unknown }).name === 'string'
  );
}

function isGlobalNamed(value: unknown, module: string, name: string): boolean {
  return isGlobalLike(value) && value.module === module && value.name === name;
}

/**
 * The bytes inside a decoded buffer-like value: bytes, bytearray, PickleBuffer, any ArrayBuffer view, or a
 * Python 2 `str` (latin-1, as numpy reads it), or a `_codecs.encode(str, 'latin1')` / `bytes()` call left as a
 * placeholder.
 */
function toBytes(value: unknown, what: string): Uint8Array {
  if (value instanceof PyPickleBuffer) return value.data;
  const view = byteViewOf(value);
  if (view !== undefined) return view;
  if (typeof value === 'string') return latin1Encode(value);
  if (value instanceof PyObject && value.module === '_codecs' && value.name === 'encode') {
    const [text, encoding] = value.args;
    if (typeof text === 'string' && (encoding === 'latin1' || encoding === 'latin-1'))
      return latin1Encode(text);
  }
  // Below protocol 3 CPython writes b'' as `builtins.bytes()` (`__builtin__.bytes` in the stream).
  const isEmptyBytesCall =
    value instanceof PyObject &&
    value.args.length === 0 &&
    (value.module === 'builtins' || value.module === '__builtin__') &&
    value.name === 'bytes';
  if (isEmptyBytesCall) return new Uint8Array(0);
  throw new TypeError(`${what}: expected bytes, got ${describe(value)}`);
}

function toShape(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} must be a tuple, got ${describe(value)}`);
  return value.map((n: unknown) => {
    const dim = plainInt(n);
    if (!isNonNegativeInt(dim)) throw new TypeError(`${what} holds ${describe(n)}, not a dimension`);
    return dim;
  });
}

function checkedShapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) {
    if (!isNonNegativeInt(dim)) throw new RangeError(`bad dimension ${String(dim)}`);
    size *= dim;
    if (!Number.isSafeInteger(size)) throw new RangeError(`shape (${shape.join(', ')}) is too large`);
  }
  return size;
}

/**
 * An int of numpy's own bookkeeping (a dtype's version or itemsize, an offset, a dimension) as a number: the
 * decoder gives bigints for every int under `bigints: 'always'`. Other values, and ints past 2^53, stay.
 */
function plainInt(value: unknown): unknown {
  return typeof value === 'bigint' && value >= MIN_SAFE_BIGINT && value <= MAX_SAFE_BIGINT
    ? Number(value)
    : value;
}
const MIN_SAFE_BIGINT = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function latin1Decode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

function latin1Encode(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`${JSON.stringify(text)} is not latin-1`);
    out[i] = code;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'None';
  if (value === undefined) return 'nothing';
  if (value instanceof Uint8Array) return `bytes of length ${value.length}`;
  if (Array.isArray(value)) return `a ${value.length}-item sequence`;
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${typeof value} ${String(value)}`;
}
