/**
 * The length-prefix framing of `multiprocessing.connection` sockets and pipes, as pure functions of bytes.
 *
 * Wire form (protocol.md §1.1): a 4-byte signed big-endian length, then the payload. Payloads of 2^31 bytes or
 * more use the escape header `FF FF FF FF` followed by an 8-byte unsigned big-endian length (CPython 3.8+).
 * CPython 2.7 and 3.0–3.7 cannot read the escape form: they misparse it and lose frame synchronisation.
 */

/** Largest payload that still uses the 4-byte header (2^31 − 1). */
export const MAX_SHORT_FRAME_LENGTH = 0x7fff_ffff;

/** CPython joins header and payload into one write up to this size (issue #20540, Nagle). */
export const JOINED_WRITE_LIMIT = 16384;

/** Size of the ordinary header. */
export const SHORT_HEADER_SIZE = 4;

/** Size of the escape header: `FF FF FF FF` plus the 8-byte length. */
export const LONG_HEADER_SIZE = 12;

/**
 * The header for a payload of `length` bytes: 4 bytes below 2^31, otherwise the 12-byte escape form.
 * @throws RangeError when `length` is negative, not an integer, or above `Number.MAX_SAFE_INTEGER`.
 */
export function encodeFrameHeader(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`frame length must be a non-negative safe integer, got ${length}`);
  }
  if (length <= MAX_SHORT_FRAME_LENGTH) {
    const header = new Uint8Array(SHORT_HEADER_SIZE);
    new DataView(header.buffer).setInt32(0, length, false);
    return header;
  }
  const header = new Uint8Array(LONG_HEADER_SIZE);
  const view = new DataView(header.buffer);
  view.setInt32(0, -1, false);
  view.setBigUint64(4, BigInt(length), false);
  return header;
}

/**
 * Header and payload in one buffer, for payloads small enough that copying is cheaper than a second write.
 * @throws RangeError when the payload is 2^31 bytes or longer (join only small frames).
 */
export function encodeJoinedFrame(payload: Uint8Array): Uint8Array {
  if (payload.byteLength > MAX_SHORT_FRAME_LENGTH) {
    throw new RangeError('encodeJoinedFrame is for payloads below 2^31 bytes; write the header separately');
  }
  const frame = new Uint8Array(SHORT_HEADER_SIZE + payload.byteLength);
  new DataView(frame.buffer).setInt32(0, payload.byteLength, false);
  frame.set(payload, SHORT_HEADER_SIZE);
  return frame;
}

/** What {@link FrameReader.readFrame} found. */
export type FrameReadResult =
  /** A whole message. */
  | { readonly kind: 'message'; readonly payload: Uint8Array }
  /**
   * The header announced more than the limit allowed. Nothing was allocated and the reader is now stopped:
   * like CPython, the payload is left unread, so the stream can never be read again.
   */
  | { readonly kind: 'too-long'; readonly length: number }
  /** A negative header other than the −1 escape. The reader is stopped; the stream is desynchronised. */
  | { readonly kind: 'bad-header'; readonly header: number }
  /**
   * The header announced a payload that could not be allocated: longer than one buffer can be in this
   * runtime, or more memory than there is. The reader is stopped, as for `too-long`: the payload is left
   * unread. `length` is exact (a bigint beyond 2^53 − 1); `cause` is the allocator's error.
   */
  | { readonly kind: 'unallocatable'; readonly length: number | bigint; readonly cause: unknown };

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Allocates the buffer of one payload; lets Node callers skip zero-filling. Default `new Uint8Array(n)`. */
  readonly allocate?: (length: number) => Uint8Array;
}

enum ReaderState {
  Header,
  LongHeader,
  Payload,
  Stopped,
}

const EMPTY = new Uint8Array(0);
/** Payload pieces up to this size are copied byte by byte rather than through a subarray and `set`. */
const SMALL_COPY_LIMIT = 32;

/**
 * Incremental frame reader: bytes in through {@link push}, whole messages out through {@link readFrame}.
 *
 * Pulling one frame at a time lets the caller choose the length limit for each frame (for example 256 bytes
 * while authenticating, the caller's `maxlength` for a pending receive). The limit is checked as soon as the
 * header is complete, before the payload buffer is allocated. A payload is allocated once, from its header,
 * and every chunk is copied into it exactly once; a partial message is never returned.
 */
export class FrameReader {
  private readonly allocate: (length: number) => Uint8Array;
  private readonly chunks: Uint8Array[] = [];
  /** Read position inside `chunks[0]`. */
  private chunkOffset = 0;
  private bufferedLength = 0;
  private state = ReaderState.Header;
  private readonly headerBytes = new Uint8Array(8);
  /** One view for every header, instead of a DataView per frame. */
  private readonly headerView = new DataView(this.headerBytes.buffer);
  private headerFilled = 0;
  private payload: Uint8Array = EMPTY;
  private payloadFilled = 0;

  constructor(options: FrameReaderOptions = {}) {
    this.allocate = options.allocate ?? ((length) => new Uint8Array(length));
  }

  /** Bytes pushed but not yet consumed by a frame (payload bytes already copied out do not count). */
  get buffered(): number {
    return this.bufferedLength;
  }

  /** True when some bytes of an unfinished frame were consumed, so an end of stream now truncates a message. */
  get insideFrame(): boolean {
    return (
      this.state === ReaderState.LongHeader ||
      this.state === ReaderState.Payload ||
      (this.state === ReaderState.Header && this.headerFilled > 0) ||
      (this.state === ReaderState.Header && this.bufferedLength > 0)
    );
  }

  /** True once a too-long or bad header stopped the reader. */
  get stopped(): boolean {
    return this.state === ReaderState.Stopped;
  }

  /**
   * Length announced by the next frame's ordinary header when it is not started yet and its 4 header bytes
   * are all in the first buffered chunk; undefined otherwise. Reading it consumes nothing.
   */
  get nextFrameLength(): number | undefined {
    const chunk = this.chunks[0];
    const at = this.chunkOffset;
    if (this.state !== ReaderState.Header || this.headerFilled !== 0 || chunk === undefined) return undefined;
    if (chunk.byteLength - at < SHORT_HEADER_SIZE) return undefined;
    const header = (chunk[at]! << 24) | (chunk[at + 1]! << 16) | (chunk[at + 2]! << 8) | chunk[at + 3]!;
    return header < 0 ? undefined : header;
  }

  /** Length announced by the header of the frame being read, or undefined between frames. */
  get pendingFrameLength(): number | undefined {
    return this.state === ReaderState.Payload ? this.payload.byteLength : undefined;
  }

  /** Hands received bytes to the reader. The chunk is kept by reference until it is consumed; do not reuse it. */
  push(chunk: Uint8Array): void {
    if (this.state === ReaderState.Stopped || chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.bufferedLength += chunk.byteLength;
  }

  /**
   * The next whole frame, or `undefined` when more bytes are needed.
   * @param maxLength largest payload accepted for this frame (inclusive); longer ones give `too-long`.
   * @param into memory for the payload of a frame that starts now, when it fits (a receiver's own buffer); the
   *   message returned is then a view of it. Frames already started, and longer ones, get their own buffer.
   */
  readFrame(maxLength: number = Number.POSITIVE_INFINITY, into?: Uint8Array): FrameReadResult | undefined {
    for (;;) {
      switch (this.state) {
        case ReaderState.Stopped:
          return undefined;
        case ReaderState.Header: {
          const header =
            this.readWholeShortHeader() ??
            (this.fillHeader(4) ? this.headerView.getInt32(0, false) : undefined);
          if (header === undefined) return undefined;
          if (header === -1) {
            this.state = ReaderState.LongHeader;
            continue;
          }
          if (header < 0) {
            this.stop();
            return { kind: 'bad-header', header };
          }
          const early = this.beginPayload(header, maxLength, into);
          if (early) return early;
          continue;
        }
        case ReaderState.LongHeader: {
          if (!this.fillHeader(12)) return undefined;
          const length = this.headerView.getBigUint64(0, false);
          const exact = length > BigInt(Number.MAX_SAFE_INTEGER) ? length : Number(length);
          const early = this.beginPayload(exact, maxLength, into);
          if (early) return early;
          continue;
        }
        case ReaderState.Payload: {
          this.fillPayload();
          if (this.payloadFilled < this.payload.byteLength) return undefined;
          const payload = this.payload;
          this.payload = EMPTY;
          this.payloadFilled = 0;
          this.headerFilled = 0;
          this.state = ReaderState.Header;
          return { kind: 'message', payload };
        }
      }
    }
  }

  /**
   * Where the rest of the current payload can be read straight from the socket, skipping the copy from a
   * socket chunk: the unfilled tail of the payload buffer, when nothing else is buffered and at least
   * `minimum` bytes are missing. Report what was read into it with {@link commitDirectRead}.
   */
  directReadTarget(minimum: number): Uint8Array | undefined {
    if (this.state !== ReaderState.Payload || this.bufferedLength !== 0) return undefined;
    const missing = this.payload.byteLength - this.payloadFilled;
    return missing >= minimum ? this.payload.subarray(this.payloadFilled) : undefined;
  }

  /** Whether `view` is where the pending payload's next bytes go, as {@link directReadTarget} gives it. */
  isDirectReadTarget(view: Uint8Array): boolean {
    const payload = this.payload;
    return (
      this.state === ReaderState.Payload &&
      view.buffer === payload.buffer &&
      view.byteOffset === payload.byteOffset + this.payloadFilled
    );
  }

  /** Counts `count` bytes written into the view {@link directReadTarget} returned. */
  commitDirectRead(count: number): void {
    if (this.state !== ReaderState.Payload || count > this.payload.byteLength - this.payloadFilled) {
      throw new RangeError(`direct read of ${count} bytes does not fit the pending payload`);
    }
    this.payloadFilled += count;
  }

  /**
   * Moves the payload being read out of `memory` (a receiver's buffer given to {@link readFrame} that the
   * receiver no longer wants filled) into a buffer of its own, keeping the bytes read so far. Returns
   * `unallocatable`, and stops the reader, when that buffer cannot be allocated.
   */
  detachPayloadFrom(memory: Uint8Array): Extract<FrameReadResult, { kind: 'unallocatable' }> | undefined {
    const payload = this.payload;
    if (this.state !== ReaderState.Payload || payload.buffer !== memory.buffer) return undefined;
    const own = this.allocateOrStop(payload.byteLength);
    if (!(own instanceof Uint8Array)) return own;
    own.set(payload.subarray(0, this.payloadFilled));
    this.payload = own;
    return undefined;
  }

  /**
   * Replaces the buffered chunks by copies, so the caller may reuse the memory it pushed (a read buffer
   * that the next socket read overwrites). Only bytes not yet consumed are copied.
   */
  copyBufferedChunks(): void {
    if (this.bufferedLength === 0) return;
    const rest = new Uint8Array(this.bufferedLength);
    let at = 0;
    for (const [index, chunk] of this.chunks.entries()) {
      const from = index === 0 ? this.chunkOffset : 0;
      rest.set(chunk.subarray(from), at);
      at += chunk.byteLength - from;
    }
    this.chunks.length = 0;
    this.chunks.push(rest);
    this.chunkOffset = 0;
  }

  /** The common case without copying: a 4-byte header wholly inside the first chunk, at a frame boundary. */
  private readWholeShortHeader(): number | undefined {
    const chunk = this.chunks[0];
    const at = this.chunkOffset;
    if (this.headerFilled !== 0 || chunk === undefined || chunk.byteLength - at < SHORT_HEADER_SIZE) {
      return undefined;
    }
    const header = (chunk[at]! << 24) | (chunk[at + 1]! << 16) | (chunk[at + 2]! << 8) | chunk[at + 3]!;
    this.headerView.setInt32(0, header, false);
    this.headerFilled = SHORT_HEADER_SIZE;
    this.consume(SHORT_HEADER_SIZE);
    return header;
  }

  private stop(): void {
    this.state = ReaderState.Stopped;
    this.chunks.length = 0;
    this.chunkOffset = 0;
    this.bufferedLength = 0;
    this.payload = EMPTY;
  }

  /**
   * Starts a payload of `length` bytes (a bigint only beyond 2^53 − 1), or stops the reader and reports a
   * frame over the limit or one whose buffer cannot be allocated.
   */
  private beginPayload(
    length: number | bigint,
    maxLength: number,
    into: Uint8Array | undefined,
  ): FrameReadResult | undefined {
    if (length > maxLength) {
      this.stop();
      return { kind: 'too-long', length: Number(length) };
    }
    if (typeof length === 'bigint') {
      this.stop();
      const cause = new RangeError(`no buffer can hold ${length} bytes (more than 2^53 - 1)`);
      return { kind: 'unallocatable', length, cause };
    }
    if (length === 0) this.payload = new Uint8Array(0);
    else if (into !== undefined && length <= into.byteLength) this.payload = into.subarray(0, length);
    else {
      const payload = this.allocateOrStop(length);
      if (!(payload instanceof Uint8Array)) return payload;
      this.payload = payload;
    }
    this.payloadFilled = 0;
    this.state = ReaderState.Payload;
    return undefined;
  }

  /**
   * A payload buffer from the allocator or, when it cannot give one (out of memory, or its own limit), the
   * reader stopped and the `unallocatable` result: the peer's message can never be read.
   */
  private allocateOrStop(length: number): Uint8Array | Extract<FrameReadResult, { kind: 'unallocatable' }> {
    try {
      return this.allocate(length);
    } catch (cause) {
      this.stop();
      return { kind: 'unallocatable', length, cause };
    }
  }

  /**
   * Moves header bytes from the chunks into `headerBytes` until `target` bytes are there (4 or 12).
   * The escape's 8-byte length overwrites the start, since the −1 is no longer needed.
   */
  private fillHeader(target: 4 | 12): boolean {
    const base = target === 12 ? 4 : 0;
    while (this.headerFilled < target) {
      const chunk = this.chunks[0];
      if (chunk === undefined) return false;
      const take = Math.min(target - this.headerFilled, chunk.byteLength - this.chunkOffset);
      const into = this.headerFilled - base;
      this.headerBytes.set(chunk.subarray(this.chunkOffset, this.chunkOffset + take), into);
      this.headerFilled += take;
      this.consume(take);
    }
    return true;
  }

  private fillPayload(): void {
    while (this.payloadFilled < this.payload.byteLength) {
      const chunk = this.chunks[0];
      if (chunk === undefined) return;
      const take = Math.min(
        this.payload.byteLength - this.payloadFilled,
        chunk.byteLength - this.chunkOffset,
      );
      if (take <= SMALL_COPY_LIMIT) {
        // A loop beats creating a subarray view for a few bytes.
        for (let i = 0; i < take; i++) this.payload[this.payloadFilled + i] = chunk[this.chunkOffset + i]!;
      } else {
        this.payload.set(chunk.subarray(this.chunkOffset, this.chunkOffset + take), this.payloadFilled);
      }
      this.payloadFilled += take;
      this.consume(take);
    }
  }

  private consume(count: number): void {
    this.chunkOffset += count;
    this.bufferedLength -= count;
    const first = this.chunks[0];
    if (first !== undefined && this.chunkOffset === first.byteLength) {
      this.chunks.shift();
      this.chunkOffset = 0;
    }
  }
}
