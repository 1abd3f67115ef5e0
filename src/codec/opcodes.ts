/**
 * The pickle opcode table: every opcode of protocols 0–5, its argument kind, the protocol that introduced it,
 * and its stack effect. The decoder's checks, the encoder's opcode constants and the disassembler all read it.
 * Pure data: no I/O.
 */

/** How an opcode's inline argument is laid out in the byte stream (names as in CPython's pickletools). */
export type ArgumentKind =
  | 'none'
  | 'uint1'
  | 'uint2'
  | 'int4'
  | 'uint4'
  | 'uint8'
  | 'stringnl'
  | 'stringnl_noescape'
  | 'stringnl_noescape_pair'
  | 'string1'
  | 'string4'
  | 'bytes1'
  | 'bytes4'
  | 'bytes8'
  | 'bytearray8'
  | 'unicodestringnl'
  | 'unicodestring1'
  | 'unicodestring4'
  | 'unicodestring8'
  | 'decimalnl_short'
  | 'decimalnl_long'
  | 'floatnl'
  | 'float8'
  | 'long1'
  | 'long4';

export interface OpcodeInfo {
  /** The opcode byte. */
  readonly code: number;
  /** CPython's name, e.g. `'SHORT_BINUNICODE'`. */
  readonly name: string;
  readonly arg: ArgumentKind;
  /** The protocol that introduced the opcode. */
  readonly proto: number;
  /** pickletools' stack notation, e.g. `['mark', 'stackslice']`. */
  readonly stackBefore: readonly string[];
  readonly stackAfter: readonly string[];
}

/** Opcode bytes by name: `Op.STOP === 0x2e`. */
export const Op = {
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  LONG: 0x4c,
  LONG1: 0x8a,
  LONG4: 0x8b,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  BINBYTES8: 0x8e,
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
  NONE: 0x4e,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  UNICODE: 0x56,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE: 0x58,
  BINUNICODE8: 0x8d,
  FLOAT: 0x46,
  BINFLOAT: 0x47,
  EMPTY_LIST: 0x5d,
  APPEND: 0x61,
  APPENDS: 0x65,
  LIST: 0x6c,
  EMPTY_TUPLE: 0x29,
  TUPLE: 0x74,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  EMPTY_DICT: 0x7d,
  DICT: 0x64,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  POP: 0x30,
  DUP: 0x32,
  MARK: 0x28,
  POP_MARK: 0x31,
  GET: 0x67,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  MEMOIZE: 0x94,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  GLOBAL: 0x63,
  STACK_GLOBAL: 0x93,
  REDUCE: 0x52,
  BUILD: 0x62,
  INST: 0x69,
  OBJ: 0x6f,
  NEWOBJ: 0x81,
  NEWOBJ_EX: 0x92,
  PROTO: 0x80,
  STOP: 0x2e,
  FRAME: 0x95,
  PERSID: 0x50,
  BINPERSID: 0x51,
} as const;

export type OpcodeName = keyof typeof Op;

const OPCODE_LIST: readonly OpcodeInfo[] = [
  {
    code: Op.INT,
    name: 'INT',
    arg: 'decimalnl_short',
    proto: 0,
    stackBefore: [],
    stackAfter: ['int_or_bool'],
  },
  { code: Op.BININT, name: 'BININT', arg: 'int4', proto: 1, stackBefore: [], stackAfter: ['int'] },
  { code: Op.BININT1, name: 'BININT1', arg: 'uint1', proto: 1, stackBefore: [], stackAfter: ['int'] },
  { code: Op.BININT2, name: 'BININT2', arg: 'uint2', proto: 1, stackBefore: [], stackAfter: ['int'] },
  { code: Op.LONG, name: 'LONG', arg: 'decimalnl_long', proto: 0, stackBefore: [], stackAfter: ['int'] },
  { code: Op.LONG1, name: 'LONG1', arg: 'long1', proto: 2, stackBefore: [], stackAfter: ['int'] },
  { code: Op.LONG4, name: 'LONG4', arg: 'long4', proto: 2, stackBefore: [], stackAfter: ['int'] },
  {
    code: Op.STRING,
    name: 'STRING',
    arg: 'stringnl',
    proto: 0,
    stackBefore: [],
    stackAfter: ['bytes_or_str'],
  },
  {
    code: Op.BINSTRING,
    name: 'BINSTRING',
    arg: 'string4',
    proto: 1,
    stackBefore: [],
    stackAfter: ['bytes_or_str'],
  },
  {
    code: Op.SHORT_BINSTRING,
    name: 'SHORT_BINSTRING',
    arg: 'string1',
    proto: 1,
    stackBefore: [],
    stackAfter: ['bytes_or_str'],
  },
  { code: Op.BINBYTES, name: 'BINBYTES', arg: 'bytes4', proto: 3, stackBefore: [], stackAfter: ['bytes'] },
  {
    code: Op.SHORT_BINBYTES,
    name: 'SHORT_BINBYTES',
    arg: 'bytes1',
    proto: 3,
    stackBefore: [],
    stackAfter: ['bytes'],
  },
  { code: Op.BINBYTES8, name: 'BINBYTES8', arg: 'bytes8', proto: 4, stackBefore: [], stackAfter: ['bytes'] },
  {
    code: Op.BYTEARRAY8,
    name: 'BYTEARRAY8',
    arg: 'bytearray8',
    proto: 5,
    stackBefore: [],
    stackAfter: ['bytearray'],
  },
  {
    code: Op.NEXT_BUFFER,
    name: 'NEXT_BUFFER',
    arg: 'none',
    proto: 5,
    stackBefore: [],
    stackAfter: ['buffer'],
  },
  {
    code: Op.READONLY_BUFFER,
    name: 'READONLY_BUFFER',
    arg: 'none',
    proto: 5,
    stackBefore: ['buffer'],
    stackAfter: ['buffer'],
  },
  { code: Op.NONE, name: 'NONE', arg: 'none', proto: 0, stackBefore: [], stackAfter: ['None'] },
  { code: Op.NEWTRUE, name: 'NEWTRUE', arg: 'none', proto: 2, stackBefore: [], stackAfter: ['bool'] },
  { code: Op.NEWFALSE, name: 'NEWFALSE', arg: 'none', proto: 2, stackBefore: [], stackAfter: ['bool'] },
  {
    code: Op.UNICODE,
    name: 'UNICODE',
    arg: 'unicodestringnl',
    proto: 0,
    stackBefore: [],
    stackAfter: ['str'],
  },
  {
    code: Op.SHORT_BINUNICODE,
    name: 'SHORT_BINUNICODE',
    arg: 'unicodestring1',
    proto: 4,
    stackBefore: [],
    stackAfter: ['str'],
  },
  {
    code: Op.BINUNICODE,
    name: 'BINUNICODE',
    arg: 'unicodestring4',
    proto: 1,
    stackBefore: [],
    stackAfter: ['str'],
  },
  {
    code: Op.BINUNICODE8,
    name: 'BINUNICODE8',
    arg: 'unicodestring8',
    proto: 4,
    stackBefore: [],
    stackAfter: ['str'],
  },
  { code: Op.FLOAT, name: 'FLOAT', arg: 'floatnl', proto: 0, stackBefore: [], stackAfter: ['float'] },
  { code: Op.BINFLOAT, name: 'BINFLOAT', arg: 'float8', proto: 1, stackBefore: [], stackAfter: ['float'] },
  { code: Op.EMPTY_LIST, name: 'EMPTY_LIST', arg: 'none', proto: 1, stackBefore: [], stackAfter: ['list'] },
  {
    code: Op.APPEND,
    name: 'APPEND',
    arg: 'none',
    proto: 0,
    stackBefore: ['list', 'any'],
    stackAfter: ['list'],
  },
  {
    code: Op.APPENDS,
    name: 'APPENDS',
    arg: 'none',
    proto: 1,
    stackBefore: ['list', 'mark', 'stackslice'],
    stackAfter: ['list'],
  },
  {
    code: Op.LIST,
    name: 'LIST',
    arg: 'none',
    proto: 0,
    stackBefore: ['mark', 'stackslice'],
    stackAfter: ['list'],
  },
  {
    code: Op.EMPTY_TUPLE,
    name: 'EMPTY_TUPLE',
    arg: 'none',
    proto: 1,
    stackBefore: [],
    stackAfter: ['tuple'],
  },
  {
    code: Op.TUPLE,
    name: 'TUPLE',
    arg: 'none',
    proto: 0,
    stackBefore: ['mark', 'stackslice'],
    stackAfter: ['tuple'],
  },
  { code: Op.TUPLE1, name: 'TUPLE1', arg: 'none', proto: 2, stackBefore: ['any'], stackAfter: ['tuple'] },
  {
    code: Op.TUPLE2,
    name: 'TUPLE2',
    arg: 'none',
    proto: 2,
    stackBefore: ['any', 'any'],
    stackAfter: ['tuple'],
  },
  {
    code: Op.TUPLE3,
    name: 'TUPLE3',
    arg: 'none',
    proto: 2,
    stackBefore: ['any', 'any', 'any'],
    stackAfter: ['tuple'],
  },
  { code: Op.EMPTY_DICT, name: 'EMPTY_DICT', arg: 'none', proto: 1, stackBefore: [], stackAfter: ['dict'] },
  {
    code: Op.DICT,
    name: 'DICT',
    arg: 'none',
    proto: 0,
    stackBefore: ['mark', 'stackslice'],
    stackAfter: ['dict'],
  },
  {
    code: Op.SETITEM,
    name: 'SETITEM',
    arg: 'none',
    proto: 0,
    stackBefore: ['dict', 'any', 'any'],
    stackAfter: ['dict'],
  },
  {
    code: Op.SETITEMS,
    name: 'SETITEMS',
    arg: 'none',
    proto: 1,
    stackBefore: ['dict', 'mark', 'stackslice'],
    stackAfter: ['dict'],
  },
  { code: Op.EMPTY_SET, name: 'EMPTY_SET', arg: 'none', proto: 4, stackBefore: [], stackAfter: ['set'] },
  {
    code: Op.ADDITEMS,
    name: 'ADDITEMS',
    arg: 'none',
    proto: 4,
    stackBefore: ['set', 'mark', 'stackslice'],
    stackAfter: ['set'],
  },
  {
    code: Op.FROZENSET,
    name: 'FROZENSET',
    arg: 'none',
    proto: 4,
    stackBefore: ['mark', 'stackslice'],
    stackAfter: ['frozenset'],
  },
  { code: Op.POP, name: 'POP', arg: 'none', proto: 0, stackBefore: ['any'], stackAfter: [] },
  { code: Op.DUP, name: 'DUP', arg: 'none', proto: 0, stackBefore: ['any'], stackAfter: ['any', 'any'] },
  { code: Op.MARK, name: 'MARK', arg: 'none', proto: 0, stackBefore: [], stackAfter: ['mark'] },
  {
    code: Op.POP_MARK,
    name: 'POP_MARK',
    arg: 'none',
    proto: 1,
    stackBefore: ['mark', 'stackslice'],
    stackAfter: [],
  },
  { code: Op.GET, name: 'GET', arg: 'decimalnl_short', proto: 0, stackBefore: [], stackAfter: ['any'] },
  { code: Op.BINGET, name: 'BINGET', arg: 'uint1', proto: 1, stackBefore: [], stackAfter: ['any'] },
  { code: Op.LONG_BINGET, name: 'LONG_BINGET', arg: 'uint4', proto: 1, stackBefore: [], stackAfter: ['any'] },
  { code: Op.PUT, name: 'PUT', arg: 'decimalnl_short', proto: 0, stackBefore: [], stackAfter: [] },
  { code: Op.BINPUT, name: 'BINPUT', arg: 'uint1', proto: 1, stackBefore: [], stackAfter: [] },
  { code: Op.LONG_BINPUT, name: 'LONG_BINPUT', arg: 'uint4', proto: 1, stackBefore: [], stackAfter: [] },
  { code: Op.MEMOIZE, name: 'MEMOIZE', arg: 'none', proto: 4, stackBefore: ['any'], stackAfter: ['any'] },
  { code: Op.EXT1, name: 'EXT1', arg: 'uint1', proto: 2, stackBefore: [], stackAfter: ['any'] },
  { code: Op.EXT2, name: 'EXT2', arg: 'uint2', proto: 2, stackBefore: [], stackAfter: ['any'] },
  { code: Op.EXT4, name: 'EXT4', arg: 'int4', proto: 2, stackBefore: [], stackAfter: ['any'] },
  {
    code: Op.GLOBAL,
    name: 'GLOBAL',
    arg: 'stringnl_noescape_pair',
    proto: 0,
    stackBefore: [],
    stackAfter: ['any'],
  },
  {
    code: Op.STACK_GLOBAL,
    name: 'STACK_GLOBAL',
    arg: 'none',
    proto: 4,
    stackBefore: ['str', 'str'],
    stackAfter: ['any'],
  },
  {
    code: Op.REDUCE,
    name: 'REDUCE',
    arg: 'none',
    proto: 0,
    stackBefore: ['any', 'any'],
    stackAfter: ['any'],
  },
  { code: Op.BUILD, name: 'BUILD', arg: 'none', proto: 0, stackBefore: ['any', 'any'], stackAfter: ['any'] },
  {
    code: Op.INST,
    name: 'INST',
    arg: 'stringnl_noescape_pair',
    proto: 0,
    stackBefore: ['mark', 'stackslice'],
    stackAfter: ['any'],
  },
  {
    code: Op.OBJ,
    name: 'OBJ',
    arg: 'none',
    proto: 1,
    stackBefore: ['mark', 'any', 'stackslice'],
    stackAfter: ['any'],
  },
  {
    code: Op.NEWOBJ,
    name: 'NEWOBJ',
    arg: 'none',
    proto: 2,
    stackBefore: ['any', 'any'],
    stackAfter: ['any'],
  },
  {
    code: Op.NEWOBJ_EX,
    name: 'NEWOBJ_EX',
    arg: 'none',
    proto: 4,
    stackBefore: ['any', 'any', 'any'],
    stackAfter: ['any'],
  },
  { code: Op.PROTO, name: 'PROTO', arg: 'uint1', proto: 2, stackBefore: [], stackAfter: [] },
  { code: Op.STOP, name: 'STOP', arg: 'none', proto: 0, stackBefore: ['any'], stackAfter: [] },
  { code: Op.FRAME, name: 'FRAME', arg: 'uint8', proto: 4, stackBefore: [], stackAfter: [] },
  {
    code: Op.PERSID,
    name: 'PERSID',
    arg: 'stringnl_noescape',
    proto: 0,
    stackBefore: [],
    stackAfter: ['any'],
  },
  { code: Op.BINPERSID, name: 'BINPERSID', arg: 'none', proto: 1, stackBefore: ['any'], stackAfter: ['any'] },
];

/** All 68 opcodes, in pickletools' order. */
export const OPCODES: readonly OpcodeInfo[] = OPCODE_LIST;

/** Opcode information indexed by opcode byte; `undefined` for bytes that are not opcodes. */
export const OPCODE_BY_CODE: readonly (OpcodeInfo | undefined)[] = (() => {
  const table: (OpcodeInfo | undefined)[] = new Array(256).fill(undefined);
  for (const info of OPCODE_LIST) table[info.code] = info;
  return table;
})();

/** The highest pickle protocol mpwire reads and writes. */
export const HIGHEST_PROTOCOL = 5;

/** The protocol `dumps` writes when none is given (CPython 3.8–3.13's default). */
export const DEFAULT_PROTOCOL = 4;
