/**
 * A pickle disassembler: `genops` walks the opcodes of a pickle, `dis` prints the listing CPython 3.13's
 * `pickletools.dis` prints, character for character, including its stack and memo checks and its error
 * messages. It parses opcode arguments itself, so it lists pickles a decoder would refuse, up to the failure.
 * Pure: no I/O.
 */

import { pickleBytes } from './bytes-like.js';
import { UnpicklingError, type UnpicklingErrorCode } from './errors.js';
import { kindOf } from './kind-of.js';
import { OPCODE_BY_CODE, type OpcodeInfo, type OpcodeName } from './opcodes.js';
import { PyByteArray, type PyInt } from './values.js';

/**
 * An opcode's decoded inline argument, as pickletools decodes it:
 * - `null`: the opcode has no argument;
 * - `boolean`: `INT` spelled `00` / `01`, and `PUT` / `GET` with those spellings;
 * - `number | bigint` (a Python int, bigint when not a safe integer): integer arguments, `LONG*`, memo keys;
 *   a Python float for `FLOAT` and `BINFLOAT` (tell them apart by `info.arg`: `floatnl`, `float8`);
 * - `string`: `STRING`, `UNICODE`, the `*BINUNICODE*` and `*BINSTRING` families, `PERSID`, and `GLOBAL` /
 *   `INST` as `'module name'`;
 * - `Uint8Array`: the `*BINBYTES*` family; a `PyByteArray` for `BYTEARRAY8`.
 */
export type OpcodeArgument = null | boolean | PyInt | string | Uint8Array;

/** One opcode of a pickle, as `genops` yields it (pickletools' `(opcode, arg, pos)` triple plus the end). */
export interface PickleOp {
  /** The opcode's table entry. */
  readonly info: OpcodeInfo;
  /** The decoded inline argument; `null` when the opcode takes none. */
  readonly arg: OpcodeArgument;
  /** Byte offset of the opcode. */
  readonly pos: number;
  /** Byte offset just past the opcode's argument. */
  readonly end: number;
}

/**
 * The memo `dis` emulates: memo key to the pickletools name of what was stored (`'any'`, `'list'`, `'mark'`,
 * ...). Pass the same map to several `dis` calls to list pickles written by one pickler with one memo.
 */
export type DisassemblyMemo = Map<number | bigint, string>;

/** Options for {@link dis}, named after `pickletools.dis`'s parameters. */
export interface DisassembleOptions {
  /** Blanks by which each open MARK indents the opcode names (pickletools' `indentlevel`). Default 4. */
  readonly indentLevel?: number;
  /**
   * Append each opcode's one-line summary. A number is pickletools' column hint (`annotate`); `true` is the
   * hint `python -m pickletools -a` uses, 30. Default: no annotations.
   */
  readonly annotate?: boolean | number;
  /** The memo to emulate; mutated by PUT-style opcodes. Default: a fresh one. */
  readonly memo?: DisassemblyMemo;
  /**
   * Receives the listing in pieces as it is made (pickletools' `out`), instead of `dis` returning it: for
   * listings too long for one string (a string holds at most about 2^29 characters, which a pickle of a few
   * million opcodes, or deep nesting, outgrows). What was made before a failure has reached it too, so the
   * error's `listing` is then empty. Default: `dis` returns the listing.
   */
  readonly out?: (text: string) => void;
  /**
   * Where the pickle starts in the data; the listing's offsets still count from the data's start, as
   * pickletools counts a file's position when the file is already part read. Default 0.
   */
  readonly start?: number;
}

/**
 * Thrown by `genops` and `dis` for a pickle pickletools rejects. It is an `UnpicklingError` whose `offset` is
 * the failing opcode's (or the end of the data when it ran out) and which also carries pickletools' own
 * message and the listing printed before the failure.
 */
export class DisassemblyError extends UnpicklingError {
  /** The message pickletools raises, e.g. `'tries to pop 2 items from stack with only 1 items'`. */
  readonly reason: string;
  /** The listing produced before the failure, exactly as pickletools prints it before raising. */
  readonly listing: string;

  constructor(code: UnpicklingErrorCode, reason: string, offset: number, listing = '') {
    super(code, reason, offset);
    this.reason = reason;
    this.listing = listing;
  }
}

/** A failure inside an argument reader; `scanOps` turns it into a `DisassemblyError` at the opcode. */
class ArgumentError extends Error {
  constructor(
    readonly code: UnpicklingErrorCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** The annotation pickletools prints for each opcode: the first line of its documentation (CPython 3.13). */
const OPCODE_SUMMARY: Readonly<Record<OpcodeName, string>> = {
  INT: 'Push an integer or bool.',
  BININT: 'Push a four-byte signed integer.',
  BININT1: 'Push a one-byte unsigned integer.',
  BININT2: 'Push a two-byte unsigned integer.',
  LONG: 'Push a long integer.',
  LONG1: 'Long integer using one-byte length.',
  LONG4: 'Long integer using four-byte length.',
  STRING: 'Push a Python string object.',
  BINSTRING: 'Push a Python string object.',
  SHORT_BINSTRING: 'Push a Python string object.',
  BINBYTES: 'Push a Python bytes object.',
  SHORT_BINBYTES: 'Push a Python bytes object.',
  BINBYTES8: 'Push a Python bytes object.',
  BYTEARRAY8: 'Push a Python bytearray object.',
  NEXT_BUFFER: 'Push an out-of-band buffer object.',
  READONLY_BUFFER: 'Make an out-of-band buffer object read-only.',
  NONE: 'Push None on the stack.',
  NEWTRUE: 'Push True onto the stack.',
  NEWFALSE: 'Push False onto the stack.',
  UNICODE: 'Push a Python Unicode string object.',
  SHORT_BINUNICODE: 'Push a Python Unicode string object.',
  BINUNICODE: 'Push a Python Unicode string object.',
  BINUNICODE8: 'Push a Python Unicode string object.',
  FLOAT: 'Newline-terminated decimal float literal.',
  BINFLOAT: 'Float stored in binary form, with 8 bytes of data.',
  EMPTY_LIST: 'Push an empty list.',
  APPEND: 'Append an object to a list.',
  APPENDS: 'Extend a list by a slice of stack objects.',
  LIST: 'Build a list out of the topmost stack slice, after markobject.',
  EMPTY_TUPLE: 'Push an empty tuple.',
  TUPLE: 'Build a tuple out of the topmost stack slice, after markobject.',
  TUPLE1: 'Build a one-tuple out of the topmost item on the stack.',
  TUPLE2: 'Build a two-tuple out of the top two items on the stack.',
  TUPLE3: 'Build a three-tuple out of the top three items on the stack.',
  EMPTY_DICT: 'Push an empty dict.',
  DICT: 'Build a dict out of the topmost stack slice, after markobject.',
  SETITEM: 'Add a key+value pair to an existing dict.',
  SETITEMS: 'Add an arbitrary number of key+value pairs to an existing dict.',
  EMPTY_SET: 'Push an empty set.',
  ADDITEMS: 'Add an arbitrary number of items to an existing set.',
  FROZENSET: 'Build a frozenset out of the topmost slice, after markobject.',
  POP: 'Discard the top stack item, shrinking the stack by one item.',
  DUP: 'Push the top stack item onto the stack again, duplicating it.',
  MARK: 'Push markobject onto the stack.',
  POP_MARK: 'Pop all the stack objects at and above the topmost markobject.',
  GET: 'Read an object from the memo and push it on the stack.',
  BINGET: 'Read an object from the memo and push it on the stack.',
  LONG_BINGET: 'Read an object from the memo and push it on the stack.',
  PUT: 'Store the stack top into the memo.  The stack is not popped.',
  BINPUT: 'Store the stack top into the memo.  The stack is not popped.',
  LONG_BINPUT: 'Store the stack top into the memo.  The stack is not popped.',
  MEMOIZE: 'Store the stack top into the memo.  The stack is not popped.',
  EXT1: 'Extension code.',
  EXT2: 'Extension code.',
  EXT4: 'Extension code.',
  GLOBAL: 'Push a global object (module.attr) on the stack.',
  STACK_GLOBAL: 'Push a global object (module.attr) on the stack.',
  REDUCE: 'Push an object built from a callable and an argument tuple.',
  BUILD: 'Finish building an object, via __setstate__ or dict update.',
  INST: 'Build a class instance.',
  OBJ: 'Build a class instance.',
  NEWOBJ: 'Build an object instance.',
  NEWOBJ_EX: 'Build an object instance.',
  PROTO: 'Protocol version indicator.',
  STOP: 'Stop the unpickling machine.',
  FRAME: 'Indicate the beginning of a new frame.',
  PERSID: 'Push an object identified by a persistent ID.',
  BINPERSID: 'Push an object identified by a persistent ID.',
};

// ---------------------------------------------------------------------------------------------------------
// Python's repr() of the argument types.

/** CPython's default `sys.get_int_max_str_digits()`: int <-> decimal string conversions refuse longer values. */
const INT_MAX_STR_DIGITS = 4300;

/** Python `repr(int)`, including CPython's refusal to print more than 4300 digits. */
function reprInt(value: PyInt): string {
  const text = String(value);
  const digits = text.startsWith('-') ? text.length - 1 : text.length;
  if (digits > INT_MAX_STR_DIGITS) {
    throw new ArgumentError(
      'LIMIT_EXCEEDED',
      `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit`,
    );
  }
  return text;
}

/** Python `repr(float)`: the shortest digits that round-trip, laid out as CPython lays them out. */
export function reprFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  // toExponential() without a fraction count gives the shortest round-trip digits, like Python's repr.
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const pointPosition = exponent + 1;
  if (pointPosition > -4 && pointPosition <= 16) {
    if (pointPosition <= 0) return `${sign}0.${'0'.repeat(-pointPosition)}${digits}`;
    if (pointPosition >= digits.length)
      return `${sign}${digits}${'0'.repeat(pointPosition - digits.length)}.0`;
    return `${sign}${digits.slice(0, pointPosition)}.${digits.slice(pointPosition)}`;
  }
  const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
  const exponentSign = exponent < 0 ? '-' : '+';
  return `${sign}${digits[0]}${fraction}e${exponentSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, '0');
}

/**
 * Builds a long text from UTF-16 code units, a block of them at a time: a string grown one character at a time
 * is a chain of small pieces that takes tens of bytes per character (a 20 MB bytes argument took 1.2 GB).
 */
class TextBuilder {
  readonly #parts: string[] = [];
  readonly #block = new Uint16Array(8192);
  #length = 0;

  unit(code: number): void {
    if (this.#length === this.#block.length) this.#flush();
    this.#block[this.#length++] = code;
  }

  /** A code point, as a surrogate pair past U+FFFF. */
  codePoint(cp: number): void {
    if (cp <= 0xffff) {
      this.unit(cp);
    } else {
      this.unit(0xd800 + ((cp - 0x10000) >> 10));
      this.unit(0xdc00 + ((cp - 0x10000) & 0x3ff));
    }
  }

  /** ASCII text such as an escape. */
  ascii(text: string): void {
    for (let i = 0; i < text.length; i++) this.unit(text.charCodeAt(i));
  }

  #flush(): void {
    if (this.#length === 0) return;
    this.#parts.push(
      String.fromCharCode.apply(null, this.#block.subarray(0, this.#length) as unknown as number[]),
    );
    this.#length = 0;
  }

  toString(): string {
    this.#flush();
    return this.#parts.join('');
  }
}

/** `\xNN` for a byte or a code point below 0x100. */
function hexEscape(out: TextBuilder, value: number): void {
  out.ascii(`\\x${hex2(value)}`);
}

/**
 * Python `repr(bytes)`: `b'...'`, with Python's choice of quote. `bytearray`'s repr differs in one detail:
 * it escapes a single quote even inside double quotes.
 */
export function reprBytes(bytes: Uint8Array): string {
  const isByteArray = bytes instanceof PyByteArray;
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? 0x22 : 0x27;
  const out = new TextBuilder();
  out.unit(0x62); // b
  out.unit(quote);
  for (const byte of bytes) {
    if (byte === quote || byte === 0x5c || (isByteArray && byte === 0x27)) {
      out.unit(0x5c);
      out.unit(byte);
    } else if (byte === 0x09) out.ascii('\\t');
    else if (byte === 0x0a) out.ascii('\\n');
    else if (byte === 0x0d) out.ascii('\\r');
    else if (byte < 0x20 || byte >= 0x7f) hexEscape(out, byte);
    else out.unit(byte);
  }
  out.unit(quote);
  return out.toString();
}

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Characters assigned after Unicode 15.1 (CPython 3.13's database): unassigned, so not printable, there. */
const ASSIGNED_AFTER_UNICODE_15_1: readonly number[] = [
  0x88f, 0x88f, 0x897, 0x897, 0xc5c, 0xc5c, 0xcdc, 0xcdc, 0x1acf, 0x1add, 0x1ae0, 0x1aeb, 0x1b4e, 0x1b4f,
  0x1b7f, 0x1b7f, 0x1c89, 0x1c8a, 0x20c1, 0x20c1, 0x2427, 0x2429, 0x2b96, 0x2b96, 0x31e4, 0x31e5, 0xa7cb,
  0xa7cf, 0xa7d2, 0xa7d2, 0xa7d4, 0xa7d4, 0xa7da, 0xa7dc, 0xa7f1, 0xa7f1, 0xfbc3, 0xfbd2, 0xfd90, 0xfd91,
  0xfdc8, 0xfdce, 0x105c0, 0x105f3, 0x10940, 0x10959, 0x10d40, 0x10d65, 0x10d69, 0x10d85, 0x10d8e, 0x10d8f,
  0x10ec2, 0x10ec7, 0x10ed0, 0x10ed8, 0x10efa, 0x10efc, 0x11380, 0x11389, 0x1138b, 0x1138b, 0x1138e, 0x1138e,
  0x11390, 0x113b5, 0x113b7, 0x113c0, 0x113c2, 0x113c2, 0x113c5, 0x113c5, 0x113c7, 0x113ca, 0x113cc, 0x113d5,
  0x113d7, 0x113d8, 0x113e1, 0x113e2, 0x116d0, 0x116e3, 0x11b60, 0x11b67, 0x11bc0, 0x11be1, 0x11bf0, 0x11bf9,
  0x11db0, 0x11ddb, 0x11de0, 0x11de9, 0x11f5a, 0x11f5a, 0x13460, 0x143fa, 0x16100, 0x16139, 0x16d40, 0x16d79,
  0x16ea0, 0x16eb8, 0x16ebb, 0x16ed3, 0x16ff2, 0x16ff6, 0x187f8, 0x187ff, 0x18cff, 0x18cff, 0x18d09, 0x18d1e,
  0x18d80, 0x18df2, 0x1cc00, 0x1ccfc, 0x1cd00, 0x1ceb3, 0x1ceba, 0x1ced0, 0x1cee0, 0x1cef0, 0x1e5d0, 0x1e5fa,
  0x1e5ff, 0x1e5ff, 0x1e6c0, 0x1e6de, 0x1e6e0, 0x1e6f5, 0x1e6fe, 0x1e6ff, 0x1f6d8, 0x1f6d8, 0x1f777, 0x1f77a,
  0x1f8b2, 0x1f8bb, 0x1f8c0, 0x1f8c1, 0x1f8d0, 0x1f8d8, 0x1fa54, 0x1fa57, 0x1fa89, 0x1fa8a, 0x1fa8e, 0x1fa8f,
  0x1fabe, 0x1fabe, 0x1fac6, 0x1fac6, 0x1fac8, 0x1fac8, 0x1facd, 0x1facd, 0x1fadc, 0x1fadc, 0x1fadf, 0x1fadf,
  0x1fae9, 0x1faea, 0x1faef, 0x1faef, 0x1fbcb, 0x1fbef, 0x1fbfa, 0x1fbfa, 0x2b73a, 0x2b73f, 0x2cea2, 0x2cead,
  0x323b0, 0x33479,
];

/** Unicode 15.1 additions that a JavaScript engine with older Unicode data would call unassigned. */
const ASSIGNED_IN_UNICODE_15_1: readonly number[] = [0x2ffc, 0x2fff, 0x31ef, 0x31ef, 0x2ebf0, 0x2ee5d];

function inRanges(ranges: readonly number[], codePoint: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (codePoint >= ranges[i]! && codePoint <= ranges[i + 1]!) return true;
  }
  return false;
}

/** Python 3.13's `str.isprintable()` for one non-ASCII code point. */
function isPrintable(codePoint: number): boolean {
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return false;
  if (inRanges(ASSIGNED_IN_UNICODE_15_1, codePoint)) return true;
  if (NOT_PRINTABLE.test(String.fromCodePoint(codePoint))) return false;
  return !inRanges(ASSIGNED_AFTER_UNICODE_15_1, codePoint);
}

/** Python `repr(str)` of a string given as code points (which may include lone surrogates). */
function reprCodePoints(codePoints: readonly number[]): string {
  const quote = codePoints.includes(0x27) && !codePoints.includes(0x22) ? 0x22 : 0x27;
  const out = new TextBuilder();
  out.unit(quote);
  for (const cp of codePoints) reprCodePoint(out, cp, quote);
  out.unit(quote);
  return out.toString();
}

/** One code point of a str's repr inside `quote`. */
function reprCodePoint(out: TextBuilder, cp: number, quote: number): void {
  if (cp === quote || cp === 0x5c) {
    out.unit(0x5c);
    out.unit(cp);
  } else if (cp === 0x09) out.ascii('\\t');
  else if (cp === 0x0a) out.ascii('\\n');
  else if (cp === 0x0d) out.ascii('\\r');
  else if (cp < 0x20 || cp === 0x7f) hexEscape(out, cp);
  else if (cp < 0x7f || isPrintable(cp)) out.codePoint(cp);
  else if (cp <= 0xff) hexEscape(out, cp);
  else if (cp <= 0xffff) out.ascii(`\\u${cp.toString(16).padStart(4, '0')}`);
  else out.ascii(`\\U${cp.toString(16).padStart(8, '0')}`);
}

/** Python `repr(str)` of a JavaScript string (a lone surrogate is one code point, as Python's are). */
export function reprStr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? 0x22 : 0x27;
  const out = new TextBuilder();
  out.unit(quote);
  for (const char of text) reprCodePoint(out, char.codePointAt(0)!, quote);
  out.unit(quote);
  return out.toString();
}

function codePointsToString(codePoints: readonly number[]): string {
  let text = '';
  for (const cp of codePoints) text += String.fromCodePoint(cp);
  return text;
}

// ---------------------------------------------------------------------------------------------------------
// Python's text decoders and number parsers, with CPython's error messages.

function toPyInt(value: bigint): PyInt {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

const PY_INT_LITERAL = /^[ \t\n\v\f\r]*([+-]?)([0-9](?:_?[0-9])*)[ \t\n\v\f\r]*$/;

/** Python `int(bytes)` in base 10. */
function parsePythonInt(bytes: Uint8Array): PyInt {
  const match = PY_INT_LITERAL.exec(latin1(bytes));
  if (!match) {
    throw new ArgumentError(
      'BAD_ARGUMENT',
      `invalid literal for int() with base 10: ${reprBytes(bytes).slice(0, 200)}`,
    );
  }
  const digits = match[2]!.replaceAll('_', '');
  if (digits.length > INT_MAX_STR_DIGITS) {
    throw new ArgumentError(
      'LIMIT_EXCEEDED',
      `Exceeds the limit (${INT_MAX_STR_DIGITS} digits) for integer string conversion: value has ${digits.length} digits; use sys.set_int_max_str_digits() to increase the limit`,
    );
  }
  return toPyInt(BigInt(`${match[1]}${digits}`));
}

const PY_DIGITS = '[0-9](?:_?[0-9])*';
const PY_FLOAT_LITERAL = new RegExp(
  `^[ \\t\\n\\v\\f\\r]*([+-]?)(?:(${PY_DIGITS}(?:\\.(?:${PY_DIGITS})?)?(?:[eE][+-]?${PY_DIGITS})?|\\.${PY_DIGITS}(?:[eE][+-]?${PY_DIGITS})?)|(inf|infinity)|(nan))[ \\t\\n\\v\\f\\r]*$`,
  'i',
);

/** Python `float(bytes)`. */
function parsePythonFloat(bytes: Uint8Array): number {
  const match = PY_FLOAT_LITERAL.exec(latin1(bytes));
  if (!match)
    throw new ArgumentError('BAD_ARGUMENT', `could not convert string to float: ${reprBytes(bytes)}`);
  const negative = match[1] === '-';
  if (match[3] !== undefined) return negative ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (match[4] !== undefined) return Number.NaN;
  const magnitude = Number(match[2]!.replaceAll('_', ''));
  return negative ? -magnitude : magnitude;
}

const isOctalDigit = (byte: number | undefined): boolean =>
  byte !== undefined && byte >= 0x30 && byte <= 0x37;
const hexValue = (byte: number | undefined): number => {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
};

const SIMPLE_ESCAPES: Readonly<Record<number, number>> = {
  92: 0x5c, // \\
  39: 0x27, // \'
  34: 0x22, // \"
  98: 0x08, // \b
  102: 0x0c, // \f
  116: 0x09, // \t
  110: 0x0a, // \n
  114: 0x0d, // \r
  118: 0x0b, // \v
  97: 0x07, // \a
};

/** CPython's `codecs.escape_decode`: undo the escapes of a bytes literal. */
function escapeDecode(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    if (byte !== 0x5c) {
      out.push(byte);
      i++;
      continue;
    }
    const backslashAt = i;
    i++;
    if (i >= bytes.length) throw new ArgumentError('BAD_ARGUMENT', 'Trailing \\ in string');
    const escapedByte = bytes[i++]!;
    const simple = SIMPLE_ESCAPES[escapedByte];
    if (escapedByte === 0x0a) continue;
    if (simple !== undefined) {
      out.push(simple);
    } else if (isOctalDigit(escapedByte)) {
      let value = escapedByte - 0x30;
      for (let more = 0; more < 2 && isOctalDigit(bytes[i]); more++) value = value * 8 + (bytes[i++]! - 0x30);
      out.push(value & 0xff);
    } else if (escapedByte === 0x78 && hexValue(bytes[i]) >= 0 && hexValue(bytes[i + 1]) >= 0) {
      out.push(hexValue(bytes[i]) * 16 + hexValue(bytes[i + 1]));
      i += 2;
    } else if (escapedByte === 0x78) {
      throw new ArgumentError('BAD_ARGUMENT', `invalid \\x escape at position ${backslashAt}`);
    } else {
      // An unknown escape keeps its backslash; the character after it is read again as an ordinary one.
      out.push(0x5c);
      i--;
    }
  }
  return Uint8Array.from(out);
}

/** `bytes.decode('ascii')`. */
function decodeAscii(bytes: Uint8Array): string {
  const bad = bytes.findIndex((byte) => byte >= 0x80);
  if (bad >= 0) {
    throw new ArgumentError(
      'BAD_ARGUMENT',
      `'ascii' codec can't decode byte 0x${hex2(bytes[bad]!)} in position ${bad}: ordinal not in range(128)`,
    );
  }
  return latin1(bytes);
}

function decodeErrorMessage(
  codec: string,
  start: number,
  end: number,
  reason: string,
  bytes: Uint8Array,
): string {
  return end - start === 1
    ? `'${codec}' codec can't decode byte 0x${hex2(bytes[start]!)} in position ${start}: ${reason}`
    : `'${codec}' codec can't decode bytes in position ${start}-${end - 1}: ${reason}`;
}

/** `bytes.decode('raw-unicode-escape')` as code points. */
function decodeRawUnicodeEscape(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i]!;
    const next = bytes[i + 1];
    if (byte !== 0x5c || (next !== 0x75 && next !== 0x55)) {
      out.push(byte);
      // A doubled backslash is literal text, so the second one never starts an escape.
      if (byte === 0x5c && next === 0x5c) {
        out.push(next);
        i++;
      }
      i++;
      continue;
    }
    const start = i;
    const width = next === 0x75 ? 4 : 8;
    i += 2;
    let value = 0;
    let read = 0;
    while (read < width && hexValue(bytes[i]) >= 0) {
      value = value * 16 + hexValue(bytes[i]);
      i++;
      read++;
    }
    if (read < width) {
      const reason = width === 4 ? 'truncated \\uXXXX escape' : 'truncated \\UXXXXXXXX escape';
      throw new ArgumentError(
        'BAD_ARGUMENT',
        decodeErrorMessage('rawunicodeescape', start, i, reason, bytes),
      );
    }
    if (value > 0x10ffff) {
      const reason = '\\Uxxxxxxxx out of range';
      throw new ArgumentError(
        'BAD_ARGUMENT',
        decodeErrorMessage('rawunicodeescape', start, i, reason, bytes),
      );
    }
    out.push(value);
  }
  return out;
}

const isContinuation = (byte: number | undefined): boolean => byte !== undefined && (byte & 0xc0) === 0x80;

/**
 * `bytes.decode('utf-8', 'surrogatepass')` as code points, failing where CPython fails with its message.
 * Returns code points rather than a string so that encoded surrogate halves stay separate code points.
 */
function decodeUtf8SurrogatePass(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const end = bytes.length;
  let i = 0;
  const fail = (length: number, reason: string): never => {
    throw new ArgumentError('BAD_ARGUMENT', decodeErrorMessage('utf-8', i, i + length, reason, bytes));
  };
  while (i < end) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      out.push(lead);
      i++;
      continue;
    }
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    const b3 = bytes[i + 3];
    const left = end - i;
    if (lead < 0xc2 || lead > 0xf4) fail(1, 'invalid start byte');
    if (lead < 0xe0) {
      if (left < 2) fail(left, 'unexpected end of data');
      if (!isContinuation(b1)) fail(1, 'invalid continuation byte');
      out.push(((lead & 0x1f) << 6) | (b1! & 0x3f));
      i += 2;
      continue;
    }
    if (lead < 0xf0) {
      const badSecond = !isContinuation(b1) || (b1! < 0xa0 ? lead === 0xe0 : lead === 0xed);
      if (badSecond) {
        // surrogatepass: a well-formed three-byte encoding of U+D800..U+DFFF is accepted as that code point.
        if (lead === 0xed && isContinuation(b1) && isContinuation(b2)) {
          out.push(((lead & 0x0f) << 12) | ((b1! & 0x3f) << 6) | (b2! & 0x3f));
          i += 3;
          continue;
        }
        if (left >= 2) fail(1, 'invalid continuation byte');
      }
      if (left < 3) fail(left, 'unexpected end of data');
      if (!isContinuation(b2)) fail(2, 'invalid continuation byte');
      out.push(((lead & 0x0f) << 12) | ((b1! & 0x3f) << 6) | (b2! & 0x3f));
      i += 3;
      continue;
    }
    if (left >= 2 && (!isContinuation(b1) || (b1! < 0x90 ? lead === 0xf0 : lead === 0xf4))) {
      fail(1, 'invalid continuation byte');
    }
    if (left >= 3 && !isContinuation(b2)) fail(2, 'invalid continuation byte');
    if (left < 4) fail(left, 'unexpected end of data');
    if (!isContinuation(b3)) fail(3, 'invalid continuation byte');
    out.push(((lead & 0x07) << 18) | ((b1! & 0x3f) << 12) | ((b2! & 0x3f) << 6) | (b3! & 0x3f));
    i += 4;
  }
  return out;
}

/** pickle's `decode_long`: little-endian two's complement of any length. */
function decodeLong(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let hex = '';
  for (let i = bytes.length - 1; i >= 0; i--) hex += hex2(bytes[i]!);
  const unsigned = BigInt(`0x${hex}`);
  return bytes[bytes.length - 1]! >= 0x80 ? unsigned - (1n << BigInt(bytes.length * 8)) : unsigned;
}

// ---------------------------------------------------------------------------------------------------------
// Argument readers: pickletools' read_* functions over a cursor.

const SYS_MAXSIZE = 2n ** 63n - 1n;

/** One opcode with what `dis` needs beyond `PickleOp`: the code points of a str argument. */
interface ScannedOp extends PickleOp {
  readonly argCodePoints: readonly number[] | undefined;
}

class ArgumentCursor {
  constructor(
    private readonly data: Uint8Array,
    public at: number,
  ) {}

  /** Like a file's `read(n)`: up to `n` bytes, fewer at the end of the data. */
  read(count: number | bigint): Uint8Array {
    const available = this.data.length - this.at;
    const taken = BigInt(count) > BigInt(available) ? available : Number(count);
    const bytes = this.data.subarray(this.at, this.at + taken);
    this.at += taken;
    return bytes;
  }

  /** Like a file's `readline()`: through the next newline, or to the end of the data. */
  readLine(): Uint8Array {
    const newline = this.data.indexOf(0x0a, this.at);
    return this.read(newline < 0 ? this.data.length - this.at : newline + 1 - this.at);
  }

  fixed(count: number, kind: string): DataView {
    const bytes = this.read(count);
    if (bytes.length !== count)
      throw new ArgumentError('TRUNCATED', `not enough data in stream to read ${kind}`);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  uint1(): number {
    return this.fixed(1, 'uint1').getUint8(0);
  }

  uint2(): number {
    return this.fixed(2, 'uint2').getUint16(0, true);
  }

  int4(): number {
    return this.fixed(4, 'int4').getInt32(0, true);
  }

  uint4(): number {
    return this.fixed(4, 'uint4').getUint32(0, true);
  }

  uint8(): bigint {
    return this.fixed(8, 'uint8').getBigUint64(0, true);
  }

  /** `read_stringnl` without decoding or quote stripping: the line minus its newline. */
  rawLine(kind = 'stringnl'): Uint8Array {
    const line = this.readLine();
    if (line[line.length - 1] !== 0x0a) {
      throw new ArgumentError('TRUNCATED', `no newline found when trying to read ${kind}`);
    }
    return line.subarray(0, line.length - 1);
  }

  /** `read_stringnl(f, decode=True, stripquotes)`. */
  stringnl(stripQuotes: boolean): string {
    let line = this.rawLine();
    if (stripQuotes) {
      const quote = [0x22, 0x27].find((q) => line[0] === q);
      if (quote === undefined) {
        throw new ArgumentError('BAD_ARGUMENT', `no string quotes around ${reprBytes(line)}`);
      }
      // pickletools tests startswith and endswith, so a lone quote is both and quotes an empty string.
      if (line[line.length - 1] !== quote) {
        const quoteRepr = reprBytes(Uint8Array.of(quote));
        throw new ArgumentError(
          'BAD_ARGUMENT',
          `strinq quote ${quoteRepr} not found at both ends of ${reprBytes(line)}`,
        );
      }
      line = line.subarray(1, line.length - 1);
    }
    return decodeAscii(escapeDecode(line));
  }

  /** A length-prefixed payload, failing with pickletools' message when the data is shorter. */
  counted(count: number | bigint, kind: string): Uint8Array {
    const bytes = this.read(count);
    if (BigInt(bytes.length) !== BigInt(count)) {
      throw new ArgumentError(
        'TRUNCATED',
        `expected ${count} bytes in a ${kind}, but only ${bytes.length} remain`,
      );
    }
    return bytes;
  }

  /** The 8-byte length of the `*8` opcodes, refused above `sys.maxsize` as pickletools does. */
  length8(kind: string): bigint {
    const count = this.uint8();
    if (count > SYS_MAXSIZE)
      throw new ArgumentError('LIMIT_EXCEEDED', `${kind} byte count > sys.maxsize: ${count}`);
    return count;
  }
}

/** Reads one opcode's argument; returns the value and, for str arguments, its code points. */
function readArgument(
  info: OpcodeInfo,
  cursor: ArgumentCursor,
): { arg: OpcodeArgument; codePoints?: readonly number[] } {
  const text = (codePoints: readonly number[]) => ({ arg: codePointsToString(codePoints), codePoints });
  const ascii = (value: string) => text(Array.from(value, (c) => c.charCodeAt(0)));
  switch (info.arg) {
    case 'none':
      return { arg: null };
    case 'uint1':
      return { arg: cursor.uint1() };
    case 'uint2':
      return { arg: cursor.uint2() };
    case 'int4':
      return { arg: cursor.int4() };
    case 'uint4':
      return { arg: cursor.uint4() };
    case 'uint8':
      return { arg: toPyInt(cursor.uint8()) };
    case 'stringnl':
      return ascii(cursor.stringnl(true));
    case 'stringnl_noescape':
      return ascii(cursor.stringnl(false));
    case 'stringnl_noescape_pair': {
      const module = cursor.stringnl(false);
      return ascii(`${module} ${cursor.stringnl(false)}`);
    }
    case 'string1':
      return text(Array.from(cursor.counted(cursor.uint1(), 'string1')));
    case 'string4': {
      const count = cursor.int4();
      if (count < 0) throw new ArgumentError('BAD_ARGUMENT', `string4 byte count < 0: ${count}`);
      return text(Array.from(cursor.counted(count, 'string4')));
    }
    case 'bytes1':
      return { arg: cursor.counted(cursor.uint1(), 'bytes1').slice() };
    case 'bytes4':
      return { arg: cursor.counted(cursor.uint4(), 'bytes4').slice() };
    case 'bytes8':
      return { arg: cursor.counted(cursor.length8('bytes8'), 'bytes8').slice() };
    case 'bytearray8':
      return { arg: PyByteArray.fromBytes(cursor.counted(cursor.length8('bytearray8'), 'bytearray8')) };
    case 'unicodestringnl':
      return text(decodeRawUnicodeEscape(cursor.rawLine('unicodestringnl')));
    case 'unicodestring1':
      return text(decodeUtf8SurrogatePass(cursor.counted(cursor.uint1(), 'unicodestring1')));
    case 'unicodestring4':
      return text(decodeUtf8SurrogatePass(cursor.counted(cursor.uint4(), 'unicodestring4')));
    case 'unicodestring8':
      return text(
        decodeUtf8SurrogatePass(cursor.counted(cursor.length8('unicodestring8'), 'unicodestring8')),
      );
    case 'decimalnl_short': {
      const line = cursor.rawLine();
      // pickletools' hack: protocol 0 spells True and False as INT 01 and INT 00.
      if (line.length === 2 && line[0] === 0x30 && (line[1] === 0x30 || line[1] === 0x31)) {
        return { arg: line[1] === 0x31 };
      }
      return { arg: parsePythonInt(line) };
    }
    case 'decimalnl_long': {
      const line = cursor.rawLine();
      return {
        arg: parsePythonInt(line[line.length - 1] === 0x4c ? line.subarray(0, line.length - 1) : line),
      };
    }
    case 'floatnl':
      return { arg: parsePythonFloat(cursor.rawLine()) };
    case 'float8':
      return { arg: cursor.fixed(8, 'float8').getFloat64(0, false) };
    case 'long1': {
      const count = cursor.uint1();
      const bytes = cursor.read(count);
      if (bytes.length !== count)
        throw new ArgumentError('TRUNCATED', 'not enough data in stream to read long1');
      return { arg: toPyInt(decodeLong(bytes)) };
    }
    case 'long4': {
      const count = cursor.int4();
      if (count < 0) throw new ArgumentError('BAD_ARGUMENT', `long4 byte count < 0: ${count}`);
      const bytes = cursor.read(count);
      if (bytes.length !== count)
        throw new ArgumentError('TRUNCATED', 'not enough data in stream to read long4');
      return { arg: toPyInt(decodeLong(bytes)) };
    }
  }
}

/** pickletools' `_genops` over bytes, keeping the code points of str arguments for exact reprs. */
function* scanOps(data: Uint8Array, start: number): Generator<ScannedOp, void, undefined> {
  let pos = start;
  for (;;) {
    if (pos >= data.length)
      throw new DisassemblyError('TRUNCATED', 'pickle exhausted before seeing STOP', pos);
    const code = data[pos]!;
    const info = OPCODE_BY_CODE[code];
    if (info === undefined) {
      const reason = `at position ${pos}, opcode ${reprBytes(Uint8Array.of(code))} unknown`;
      throw new DisassemblyError('UNKNOWN_OPCODE', reason, pos);
    }
    const cursor = new ArgumentCursor(data, pos + 1);
    let argument: { arg: OpcodeArgument; codePoints?: readonly number[] };
    try {
      argument = readArgument(info, cursor);
    } catch (error) {
      if (error instanceof ArgumentError) throw new DisassemblyError(error.code, error.reason, pos);
      throw error;
    }
    yield { info, arg: argument.arg, pos, end: cursor.at, argCodePoints: argument.codePoints };
    if (info.name === 'STOP') return;
    pos = cursor.at;
  }
}

/**
 * Where the opcode at `pos` and its argument end, or -1 for an unknown opcode or an argument that is
 * malformed or runs past the data.
 */
export function opcodeEnd(data: Uint8Array, pos: number): number {
  const info = OPCODE_BY_CODE[data[pos]!];
  if (info === undefined) return -1;
  const cursor = new ArgumentCursor(data, pos + 1);
  try {
    readArgument(info, cursor);
  } catch (error) {
    if (error instanceof ArgumentError) return -1;
    throw error;
  }
  return cursor.at;
}

/**
 * Walks the opcodes of the pickle at the start of `data` through its first STOP, like `pickletools.genops`.
 * Throws a {@link DisassemblyError} for an unknown opcode, an argument that runs past the data or is
 * malformed, or data that ends before STOP — after yielding every opcode before the failure.
 */
export function* genops(
  input: Uint8Array | ArrayBufferView | ArrayBuffer,
  start = 0,
): Generator<PickleOp, void, undefined> {
  const data = pickleBytes(input);
  checkStart(start, data, (message) => new UnpicklingError('BAD_OPTION', message, 0));
  for (const { info, arg, pos, end } of scanOps(data, start)) yield { info, arg, pos, end };
}

/** Refuses a `start` that is not a position in `data` (its length included: an empty rest is TRUNCATED). */
function checkStart(start: unknown, data: Uint8Array, error: (message: string) => Error): void {
  if (!(typeof start === 'number' && Number.isSafeInteger(start) && start >= 0 && start <= data.length)) {
    throw error(
      `start must be an integer from 0 to the data's length, ${data.length}, not ${typeof start === 'number' ? start : kindOf(start)}`,
    );
  }
}

const DISASSEMBLE_OPTION_NAMES: readonly string[] = Object.keys({
  indentLevel: true,
  annotate: true,
  memo: true,
  out: true,
  start: true,
} satisfies Record<keyof DisassembleOptions, true>);
/** Blanks per MARK level beyond which one line would outgrow what a string can hold. */
const MAX_INDENT_LEVEL = 10_000;

/** Refuses misspelt and mistyped options, which would otherwise be ignored. @throws UnpicklingError BAD_OPTION. */
function checkDisassembleOptions(options: DisassembleOptions | null): DisassembleOptions {
  const bad = (message: string): never => {
    throw new UnpicklingError('BAD_OPTION', message, 0);
  };
  if (options === null || options === undefined) return {};
  if (typeof options !== 'object' || Array.isArray(options))
    bad(`options must be an object, not ${kindOf(options)}`);
  for (const name of Object.keys(options)) {
    if (!DISASSEMBLE_OPTION_NAMES.includes(name)) {
      bad(`unknown option ${name}: the options are ${DISASSEMBLE_OPTION_NAMES.join(', ')}`);
    }
  }
  const { indentLevel, annotate, memo } = options;
  if (indentLevel !== undefined && !(Number.isSafeInteger(indentLevel) && indentLevel <= MAX_INDENT_LEVEL)) {
    bad(
      `indentLevel must be an integer up to ${MAX_INDENT_LEVEL}, not ${typeof indentLevel === 'number' ? indentLevel : kindOf(indentLevel)}`,
    );
  }
  if (
    annotate !== undefined &&
    typeof annotate !== 'boolean' &&
    !(typeof annotate === 'number' && Number.isSafeInteger(annotate))
  ) {
    bad(`annotate must be a boolean or an integer, not ${kindOf(annotate)}`);
  }
  if (memo !== undefined && !(memo instanceof Map)) bad(`memo must be a Map, not ${kindOf(memo)}`);
  if (options.out !== undefined && typeof options.out !== 'function')
    bad(`out must be a function, not ${kindOf(options.out)}`);
  return options;
}

// ---------------------------------------------------------------------------------------------------------
// The listing.

/** Python `repr()` of an opcode argument, as the listing prints it. */
function reprArgument(op: ScannedOp): string {
  const { arg, info } = op;
  if (op.argCodePoints !== undefined) return reprCodePoints(op.argCodePoints);
  if (arg === null) return 'None';
  if (typeof arg === 'boolean') return arg ? 'True' : 'False';
  if (typeof arg === 'string') return reprStr(arg);
  if (arg instanceof PyByteArray) return `bytearray(${reprBytes(arg)})`; // reprBytes applies bytearray's quoting
  if (arg instanceof Uint8Array) return reprBytes(arg);
  if (info.arg === 'floatnl' || info.arg === 'float8') return reprFloat(Number(arg));
  return reprInt(arg);
}

/** Python `repr()` of an opcode byte without its quotes, as pickletools' first column shows it. */
function reprOpcodeByte(code: number): string {
  if (code === 0x5c) return '\\\\';
  if (code === 0x09) return '\\t';
  if (code === 0x0a) return '\\n';
  if (code === 0x0d) return '\\r';
  if (code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xad) return `\\x${hex2(code)}`;
  return String.fromCharCode(code);
}

function memoKey(arg: OpcodeArgument): number | bigint {
  if (typeof arg === 'boolean') return arg ? 1 : 0;
  return arg as PyInt;
}

/** Length in code points, as Python's `len(str)` counts. */
function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

const MARK = 'mark';
const ANNOTATE_DEFAULT_COLUMN = 30;
/** With `out`, the listing is handed over whenever this many characters have gathered. */
const OUT_CHUNK = 1 << 16;

/** Whether `error` is V8's refusal to make a string longer than it can hold. */
function isStringTooLong(error: unknown): boolean {
  return error instanceof RangeError && error.message === 'Invalid string length';
}

/**
 * Disassembles the pickle at the start of `data` through its first STOP into the listing CPython 3.13's
 * `pickletools.dis(data, out, memo, indentlevel, annotate)` prints: one line per opcode with its offset, its
 * byte, its name indented by the open MARKs, its argument's repr and pickletools' notes (`(MARK at N)`,
 * `(as N)`), then `highest protocol among opcodes = N`.
 *
 * Like pickletools it checks the stack and memo as it goes. Where pickletools raises, this throws a
 * {@link DisassemblyError} carrying pickletools' message (`reason`), the offending opcode's offset, and the
 * listing printed so far (`listing`) — which, as in pickletools, includes the offending line for stack and
 * memo errors and stops before it for unreadable opcodes. A listing (or one line of it) longer than a string
 * can hold is a `LIMIT_EXCEEDED` DisassemblyError; the `out` option takes such listings in pieces.
 *
 * @example
 * dis(Uint8Array.of(0x80, 0x04, 0x4e, 0x2e));
 * // '    0: \x80 PROTO      4\n    2: N    NONE\n    3: .    STOP\nhighest protocol among opcodes = 2\n'
 * // (PROTO itself is a protocol 2 opcode, and pickletools counts opcodes, not the PROTO argument.)
 */
export function dis(
  input: Uint8Array | ArrayBufferView | ArrayBuffer,
  disOptions: DisassembleOptions | null = {},
): string {
  const data = pickleBytes(input);
  const options = checkDisassembleOptions(disOptions);
  // pickletools' ' ' * indentlevel: a negative level indents nothing.
  const indentChunk = ' '.repeat(Math.max(0, options.indentLevel ?? 4));
  const annotate =
    options.annotate === true
      ? ANNOTATE_DEFAULT_COLUMN
      : options.annotate === false
        ? 0
        : (options.annotate ?? 0);
  const memo: DisassemblyMemo = options.memo ?? new Map();
  const stack: string[] = [];
  const markStack: number[] = [];
  let maxProto = -1;
  let annotationColumn = annotate;
  const out = options.out;
  let listing = '';
  const fail = (code: UnpicklingErrorCode, reason: string, offset: number): never => {
    if (out !== undefined) {
      // As pickletools, whatever was made before the failure is printed first.
      const made = listing;
      listing = '';
      if (made !== '') out(made);
    }
    throw new DisassemblyError(code, reason, offset, listing);
  };

  const start = options.start ?? 0;
  checkStart(start, data, (message) => new UnpicklingError('BAD_OPTION', message, 0));
  const ops = scanOps(data, start);
  let pos = start;
  try {
    pos = disassembleInto();
  } catch (error) {
    if (!isStringTooLong(error)) throw error;
    // A string holds at most 2^29 - 24 characters: past half of that, the listing itself was what outgrew it.
    fail(
      'LIMIT_EXCEEDED',
      listing.length > 2 ** 28
        ? 'the listing is longer than a string can hold; pass the out option to take it in pieces'
        : `the line of the opcode at byte ${pos} is longer than a string can hold`,
      pos,
    );
  }
  if (out === undefined) return listing;
  if (listing !== '') out(listing);
  return '';

  // The loop, in a function of its own so that a string grown past what V8 allows becomes a DisassemblyError.
  function disassembleInto(): number {
    for (;;) {
      let next: IteratorResult<ScannedOp, void>;
      try {
        next = ops.next();
      } catch (error) {
        if (error instanceof DisassemblyError) fail(error.code, error.reason, error.offset);
        throw error;
      }
      if (next.done) break;
      const op = next.value;
      const { info } = op;
      pos = op.pos;
      // Like pickletools, the offset is out before the rest of the line is built, which can still fail.
      listing += `${String(pos).padStart(5)}: `;
      let line = `${reprOpcodeByte(info.code).padEnd(4)} ${indentChunk.repeat(markStack.length)}${info.name}`;
      maxProto = Math.max(maxProto, info.proto);
      const before = info.stackBefore;
      let after: readonly string[] = info.stackAfter;
      let popCount = before.length;
      let errorReason: string | undefined;
      let errorCode: UnpicklingErrorCode = 'BAD_STACK';

      // Whether a MARK is popped: by an opcode that takes a stack slice, or by a POP of the MARK itself.
      let markNote: string | undefined;
      const markIndex = before.indexOf(MARK);
      if (markIndex >= 0 || (info.name === 'POP' && stack.length > 0 && stack[stack.length - 1] === MARK)) {
        const markPos = markStack.pop();
        if (markPos !== undefined) {
          markNote = `(MARK at ${markPos})`;
          while (stack[stack.length - 1] !== MARK) {
            // pickletools' emulation fails this way when an earlier opcode popped the MARK as an ordinary item.
            if (stack.length === 0) fail('BAD_STACK', 'list index out of range', pos);
            stack.pop();
          }
          stack.pop();
          popCount = Math.max(markIndex, 0);
        } else {
          errorReason = markNote = 'no MARK exists on stack';
        }
      }

      let argRepr: string | undefined;
      const describeArgument = (): string => {
        argRepr ??= reprArgument(op);
        return argRepr;
      };
      try {
        if (
          info.name === 'PUT' ||
          info.name === 'BINPUT' ||
          info.name === 'LONG_BINPUT' ||
          info.name === 'MEMOIZE'
        ) {
          let index: number | bigint;
          if (info.name === 'MEMOIZE') {
            index = memo.size;
            markNote = `(as ${index})`;
          } else {
            index = memoKey(op.arg);
          }
          if (memo.has(index)) {
            errorReason = `memo key ${describeArgument()} already defined`;
            errorCode = 'BAD_ARGUMENT';
          } else if (stack.length === 0) {
            errorReason = "stack is empty -- can't store into memo";
          } else if (stack[stack.length - 1] === MARK) {
            errorReason = "can't store markobject in the memo";
          } else {
            memo.set(index, stack[stack.length - 1]!);
          }
        } else if (info.name === 'GET' || info.name === 'BINGET' || info.name === 'LONG_BINGET') {
          const stored = memo.get(memoKey(op.arg));
          if (stored !== undefined) {
            after = [stored];
          } else {
            errorReason = `memo key ${describeArgument()} has never been stored into`;
            errorCode = 'MEMO_MISSING';
          }
        }

        if (op.arg !== null || markNote !== undefined) {
          line += ' '.repeat(Math.max(0, 10 - info.name.length));
          if (op.arg !== null) line += ` ${describeArgument()}`;
          if (markNote !== undefined) line += ` ${markNote}`;
        }
      } catch (error) {
        if (error instanceof ArgumentError) fail(error.code, error.reason, pos);
        throw error;
      }
      if (annotate) {
        line += ' '.repeat(Math.max(0, annotationColumn - codePointLength(line)));
        annotationColumn = codePointLength(line);
        if (annotationColumn > 50) annotationColumn = annotate;
        line += ` ${OPCODE_SUMMARY[info.name as OpcodeName]}`;
      }
      listing += `${line}\n`;
      if (out !== undefined && listing.length >= OUT_CHUNK) {
        out(listing);
        listing = '';
      }

      // pickletools complains only once the offending opcode is printed.
      if (errorReason !== undefined) fail(errorCode, errorReason, pos);
      if (stack.length < popCount) {
        fail('BAD_STACK', `tries to pop ${popCount} items from stack with only ${stack.length} items`, pos);
      }
      stack.length -= popCount;
      if (after.includes(MARK)) markStack.push(pos);
      stack.push(...after);
      if (info.name === 'STOP') {
        listing += `highest protocol among opcodes = ${maxProto}\n`;
        if (stack.length > 0) fail('BAD_STACK', `stack not empty after STOP: [${stack.join(', ')}]`, pos);
      }
    }
    return pos;
  }
}
