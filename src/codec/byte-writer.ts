/**
 * The pickler's output: one growable byte array written by hand, plus protocol 4's framing exactly as
 * CPython's C pickler does it (`_Pickler_Write`, `_Pickler_CommitFrame`, `_Pickler_OpcodeBoundary`).
 * Pure: no I/O, no `node:` imports.
 */
import { isPickledAsFloat } from './number-kind.js';
import { Op } from './opcodes.js';

/** `String.prototype.charCodeAt` for `writeLatin1` (see text-encode.ts's copy for why). */
const charCodeAt = String.prototype.charCodeAt;

/** FRAME opcode plus its 8-byte length. */
const FRAME_HEADER_SIZE = 9;
/** CPython closes a frame at the first opcode boundary once it holds this many bytes. */
export const FRAME_SIZE_TARGET = 64 * 1024;
/** `_Pickler_OpcodeBoundary`'s test: an open frame (header included) that has reached 64 KiB is committed. */
export const FRAME_FULL = FRAME_SIZE_TARGET + FRAME_HEADER_SIZE;
/** Floats `writeFloatRun` makes room for at once. */
const FLOAT_BATCH = 4096;
/** Frames shorter than this are written without a FRAME header. */
const FRAME_SIZE_MIN = 4;
const INITIAL_CAPACITY = 256;
/** A buffer grown past this is dropped after `reset` so one huge pickle does not pin memory. */
const RETAINED_CAPACITY = 1024 * 1024;
/**
 * A full buffer of at least this size stops doubling: its finished bytes move to the chunk list and writing
 * goes on in a fresh buffer, so large pickles are copied once (into the result) instead of at every doubling.
 */
const CHUNK_CAPACITY = 1024 * 1024;

/**
 * Node's `Buffer.allocUnsafe`; undefined in browsers. Below 4 KiB it hands out a slice of a shared 8 KiB pool
 * (which Node marks untransferable) in tens of nanoseconds, where V8 makes a fresh ArrayBuffer of more than
 * 64 bytes outside its heap at about 0.9 µs: more than pickling a small dict takes.
 */
const nodeBuffer = (
  globalThis as {
    Buffer?: { allocUnsafe(size: number): Uint8Array; allocUnsafeSlow(size: number): Uint8Array };
  }
).Buffer;
const nodeAllocUnsafe = nodeBuffer && ((size: number): Uint8Array => nodeBuffer.allocUnsafe(size));
/**
 * A buffer whose bytes are all written before any is read: the result of a chunked pickle, and each grown
 * buffer (read only below `pos`). Under Node it is not zero-filled first: V8's `new Uint8Array(n)` asks for
 * zeroed memory, which for memory the allocator reuses is a pass over every byte before the copy or writes
 * that fill it (1e6 floats pickle in 8.0 ms instead of 9.0 when no page faults intervene).
 */
const uninitialised = nodeBuffer
  ? (size: number): Uint8Array => {
      const b = nodeBuffer.allocUnsafeSlow(size);
      return new Uint8Array(b.buffer, 0, size);
    }
  : (size: number): Uint8Array => new Uint8Array(size);
/** Results of this many bytes come from Node's pool when it exists: over V8's on-heap size, under Node's. */
const POOLED_RESULT_MIN = 65;
const POOLED_RESULT_MAX = 4095;

/** The pickler's output buffer with C-pickler framing; positions are byte offsets into `bytes`. */
export class PickleOutput {
  /** The bytes written so far are `bytes[0, pos)`. */
  bytes: Uint8Array = new Uint8Array(INITIAL_CAPACITY);
  pos = 0;
  /** True at protocol 4+ once PROTO has been written. */
  framing = false;
  /** Where the open frame's reserved header starts, or -1 when no frame is open. */
  frameStart = -1;
  #view: DataView = new DataView(this.bytes.buffer);
  /**
   * Payloads of 64 KiB or more are kept by reference until `toBytes` instead of being copied into the
   * buffer. Only safe when nothing can change them before `toBytes`: the pickler turns it off when user code
   * (hooks, reducers) runs during a dump, since CPython copies the data of a bytearray at once.
   */
  deferLargePayloads = true;
  /** Finished bytes written before `bytes[0]`, in order; final (no frame header left to fill in). */
  #chunks: Uint8Array[] = [];
  #chunkedLength = 0;

  /** Empties the output for a new pickle. */
  reset(): void {
    const whole = this.bytes.buffer;
    if (whole.byteLength > RETAINED_CAPACITY) this.#replace(new Uint8Array(INITIAL_CAPACITY));
    // After `#appendChunk` the buffer is a tail of its allocation; the chunks before it are done with.
    else if (this.bytes.byteOffset !== 0) this.#replace(new Uint8Array(whole));
    this.pos = 0;
    this.framing = false;
    this.frameStart = -1;
    if (this.#chunks.length > 0) this.#chunks = [];
    this.#chunkedLength = 0;
  }

  /**
   * Makes room for `count` more bytes and, when framing, opens a frame if none is open (reserving its header
   * as `_Pickler_Write` does). Returns the position to write at; the caller advances `pos`.
   */
  reserve(count: number): number {
    if (this.frameStart < 0 && this.framing) {
      if (this.pos + count + FRAME_HEADER_SIZE > this.bytes.length) this.#grow(count + FRAME_HEADER_SIZE);
      this.frameStart = this.pos;
      this.pos += FRAME_HEADER_SIZE;
    } else if (this.pos + count > this.bytes.length) {
      this.#grow(count);
    }
    return this.pos;
  }

  /** Writes one opcode byte. */
  writeByte(byte: number): void {
    const at = this.reserve(1);
    this.bytes[at] = byte;
    this.pos = at + 1;
  }

  /** Writes an opcode followed by a 1-byte argument. */
  writeOpUint8(op: number, value: number): void {
    const at = this.reserve(2);
    this.bytes[at] = op;
    this.bytes[at + 1] = value;
    this.pos = at + 2;
  }

  /** Writes an opcode followed by a 4-byte little-endian argument. */
  writeOpUint32(op: number, value: number): void {
    const at = this.reserve(5);
    const bytes = this.bytes;
    bytes[at] = op;
    bytes[at + 1] = value;
    bytes[at + 2] = value >>> 8;
    bytes[at + 3] = value >>> 16;
    bytes[at + 4] = value >>> 24;
    this.pos = at + 5;
  }

  /** Writes an opcode followed by an 8-byte big-endian IEEE double (BINFLOAT). */
  writeOpFloat64(op: number, value: number): void {
    const at = this.reserve(9);
    this.bytes[at] = op;
    this.#view.setFloat64(at + 1, value, false);
    this.pos = at + 9;
  }

  /**
   * Writes BINFLOAT for `items[from]` and each next item the pickler writes as a float (a number that is not
   * a safe integer, or -0), up to `to`; returns the index of the first item not written. Frames are
   * committed at the same opcode boundaries as one write at a time would (`FRAME_FULL`), checked once per
   * batch: 1e6 floats in 10 ms instead of 16.
   */
  writeFloatRun(items: ArrayLike<unknown>, from: number, to: number): number {
    let i = from;
    for (;;) {
      if (this.frameStart >= 0 && this.pos - this.frameStart >= FRAME_FULL) this.commitFrame();
      let batch = Math.min(to - i, FLOAT_BATCH);
      this.reserve(9 * batch);
      if (this.frameStart >= 0)
        batch = Math.min(batch, Math.ceil((FRAME_FULL - (this.pos - this.frameStart)) / 9));
      const bytes = this.bytes;
      const view = this.#view;
      let at = this.pos;
      const stop = i + batch;
      for (; i < stop; i++) {
        const value = items[i];
        if (typeof value !== 'number' || !isPickledAsFloat(value)) break;
        bytes[at] = Op.BINFLOAT;
        view.setFloat64(at + 1, value, false);
        at += 9;
      }
      this.pos = at;
      if (i < stop || i >= to) return i;
    }
  }

  /** Writes a string whose characters are all below 0x100, one byte each (ASCII opcode arguments). */
  writeLatin1(text: string): void {
    const length = text.length;
    let at = this.reserve(length);
    const bytes = this.bytes;
    for (let i = 0; i < length; i++) bytes[at++] = charCodeAt.call(text, i);
    this.pos = at;
  }

  /** Writes raw bytes. */
  writeBytes(data: Uint8Array): void {
    const at = this.reserve(data.length);
    this.bytes.set(data, at);
    this.pos = at + data.length;
  }

  /** Writes `value` as 8 little-endian bytes at `at` (no bounds handling; `value` < 2^53). */
  /** Writes the low 64 bits of `value` (two's complement) little-endian at `at`, which must be reserved. */
  setBigUint64(at: number, value: bigint): void {
    this.#view.setBigUint64(at, value, true);
  }

  setUint64(at: number, value: number): void {
    this.#view.setUint32(at, value >>> 0, true);
    this.#view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000), true);
  }

  /**
   * Writes an opcode, its length argument of `lengthSize` bytes (1, 4 or 8) and `data`. Payloads of 64 KiB
   * or more go outside any frame after the open frame is committed, as `_Pickler_write_bytes` does.
   */
  writeSizedPayload(op: number, lengthSize: number, data: Uint8Array): void {
    const outsideFrame = data.length >= FRAME_SIZE_TARGET && this.framing;
    if (outsideFrame) {
      this.commitFrame();
      this.framing = false;
    }
    const byReference = data.length >= FRAME_SIZE_TARGET && this.deferLargePayloads;
    const at = this.reserve(1 + lengthSize + (byReference ? 0 : data.length));
    const bytes = this.bytes;
    bytes[at] = op;
    if (lengthSize === 1) bytes[at + 1] = data.length;
    else if (lengthSize === 4) this.#view.setUint32(at + 1, data.length, true);
    else this.setUint64(at + 1, data.length);
    if (byReference) {
      this.pos = at + 1 + lengthSize;
      this.#appendChunk(data);
    } else {
      bytes.set(data, at + 1 + lengthSize);
      this.pos = at + 1 + lengthSize + data.length;
    }
    if (outsideFrame) this.framing = true;
  }

  /**
   * Puts `data` after the bytes written so far without copying it into the buffer: they and it join the
   * chunk list (no frame is open, see `writeSizedPayload`) and writing goes on in the buffer's unused rest.
   * `toBytes` then copies the payload once, straight into the result; copying it into the buffer first
   * (growing it to fit) made a 10 MiB bytes object take 5.5 ms instead of 1.2 ms.
   */
  #appendChunk(data: Uint8Array): void {
    this.#chunks.push(this.bytes.subarray(0, this.pos), data);
    this.#chunkedLength += this.pos + data.length;
    this.#replace(this.bytes.subarray(this.pos));
    this.pos = 0;
  }

  /** `_Pickler_OpcodeBoundary`: closes the open frame once it has reached the target size. */
  opcodeBoundary(): void {
    if (this.frameStart >= 0 && this.pos - this.frameStart - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET) {
      this.commitFrame();
    }
  }

  /** `_Pickler_CommitFrame`: fills in the open frame's header, or drops the header if the frame is tiny. */
  commitFrame(): void {
    const start = this.frameStart;
    if (start < 0) return;
    const length = this.pos - start - FRAME_HEADER_SIZE;
    if (length >= FRAME_SIZE_MIN) {
      this.bytes[start] = Op.FRAME;
      this.setUint64(start + 1, length);
    } else {
      this.bytes.copyWithin(start, start + FRAME_HEADER_SIZE, this.pos);
      this.pos -= FRAME_HEADER_SIZE;
    }
    this.frameStart = -1;
  }

  /** The bytes written as a view of the buffer, valid until the next `reset`; a copy once chunks exist. */
  view(): Uint8Array {
    return this.#chunks.length === 0 ? this.bytes.subarray(0, this.pos) : this.toBytes();
  }

  /**
   * A copy of the bytes written. Under Node, one of 65 bytes to 4 KiB is a view into Node's shared Buffer
   * pool, as `Buffer.allocUnsafe` gives: its `byteOffset` may not be 0 and its `.buffer` holds other data.
   */
  toBytes(): Uint8Array {
    if (this.#chunks.length === 0) {
      const n = this.pos;
      if (nodeAllocUnsafe !== undefined && n >= POOLED_RESULT_MIN && n <= POOLED_RESULT_MAX) {
        // A plain Uint8Array over the pooled bytes, as from slice(): not a Buffer.
        const pooled = nodeAllocUnsafe(n);
        const result = new Uint8Array(pooled.buffer, pooled.byteOffset, n);
        result.set(this.bytes.subarray(0, n));
        return result;
      }
      return this.bytes.slice(0, n);
    }
    const result = uninitialised(this.#chunkedLength + this.pos);
    let at = 0;
    for (const chunk of this.#chunks) {
      result.set(chunk, at);
      at += chunk.length;
    }
    result.set(this.bytes.subarray(0, this.pos), at);
    return result;
  }

  #grow(extra: number): void {
    // Bytes before the open frame (all of them when none is open) will not change again.
    const finished = this.frameStart >= 0 ? this.frameStart : this.pos;
    const chunking = this.bytes.length >= CHUNK_CAPACITY && finished > 0;
    const kept = chunking ? this.pos - finished : this.pos;
    let capacity = chunking ? CHUNK_CAPACITY : Math.max(this.bytes.length * 2, INITIAL_CAPACITY);
    while (capacity < kept + extra) capacity *= 2;
    const grown = uninitialised(capacity);
    if (chunking) {
      this.#chunks.push(this.bytes.subarray(0, finished));
      this.#chunkedLength += finished;
      grown.set(this.bytes.subarray(finished, this.pos));
      if (this.frameStart >= 0) this.frameStart = 0;
      this.pos = kept;
    } else {
      grown.set(this.bytes.subarray(0, this.pos));
    }
    this.#replace(grown);
  }

  #replace(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
