/**
 * `Connection`: one framed, message-oriented stream to a Python peer (CPython's
 * `multiprocessing.connection.Connection`), over a TCP socket, a Unix socket or a socket pair.
 *
 * Data flows one way: socket chunks → {@link FrameReader} → queue of whole messages → receivers; and back:
 * payload → header (joined with the payload when small) → socket. Timeouts are in **seconds**, as in Python.
 */
import type { Socket } from 'node:net';
import { byteViewOf } from '../codec/bytes-like.js';
import { loadAlone, Unpickler, type UnpicklerOptions } from '../codec/decoder.js';
import { checkPicklerOptions, dumpsTransient, type PicklerOptions } from '../codec/encoder.js';
import { PicklingError } from '../codec/errors.js';
import { loads } from '../codec/loads.js';
import { checkUnpicklerOptions } from '../codec/unpickler-options.js';
import { isChallengeMessage } from './auth.js';
import { DIRECT_READ_MINIMUM, type DirectReadChannel, directReadChannelOf } from './direct-read.js';
import {
  AuthenticationError,
  BufferTooShort,
  ConnectionClosedError,
  EOFError,
  ProtocolError,
  TransportError,
} from './errors.js';
import {
  encodeFrameHeader,
  encodeJoinedFrame,
  FrameReader,
  type FrameReadResult,
  JOINED_WRITE_LIMIT,
  SHORT_HEADER_SIZE,
} from './framing.js';

/** Options of a connection's byte stream and pickling; accepted by `Client`, `Listener.listen` and `Pipe`. */
export interface ConnectionOptions {
  /**
   * Pickle protocol `send()` writes. Default 4 (CPython 3.8–3.13's default; readable by 3.4+). Use 2 for a
   * Python 2.7 peer and 3 for 3.0–3.3.
   */
  readonly protocol?: number;
  /** Further options for the encoder behind `send()` (`registry`, `persistentId`, ...); `protocol` above wins. */
  readonly picklerOptions?: PicklerOptions;
  /**
   * Options for the decoder behind `recv()` (`allowGlobals`, `registry`, `encoding`, limits, ...). Every
   * message `recv()` decodes sits in a buffer of its own that nothing reuses, so `zeroCopyBytes: true` is
   * safe here: bytes (and numpy data) come back as views into it instead of copies, which saves a copy of
   * large payloads and half the peak memory. A view keeps its whole message alive.
   */
  readonly unpicklerOptions?: UnpicklerOptions;
  /**
   * Largest message this side accepts from the peer, in bytes; a longer frame makes the next receive fail with
   * `BAD_MESSAGE_LENGTH` before any payload memory is allocated. Default: no limit, as CPython's `recv()`.
   */
  readonly maxMessageLength?: number;
  /**
   * Bytes of received but unread messages after which the socket is paused, so a fast peer cannot make this
   * side buffer without bound. Default 8 MiB. A single message larger than this is still received whole.
   */
  readonly readHighWaterMark?: number;
}

/** A value in an error message: a string quoted, so that `'1'` does not read as the number 1. */
function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** An offset, size or length argument must be a whole number, as Python's are ints (a float is a TypeError). */
function checkInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer, not ${shown(value)}`);
}

/**
 * A count or size option, when given, must be a whole number from `least` up (or Infinity, when `unbounded`
 * allows it): a NaN or a fraction would compare false everywhere and lift a limit without a word.
 * @throws RangeError.
 */
export function checkWholeNumber(name: string, value: unknown, least: number, unbounded = false): void {
  if (value === undefined) return;
  if (
    typeof value !== 'number' ||
    !(value >= least) ||
    !(Number.isSafeInteger(value) || (unbounded && value === Number.POSITIVE_INFINITY))
  ) {
    const range = `${unbounded ? 'a whole number or Infinity' : 'a whole number'} from ${least} up`;
    throw new RangeError(`${name} must be ${range}, not ${shown(value)}`);
  }
}

/** The options of {@link ConnectionOptions}, which every call that makes a connection takes. */
export const CONNECTION_OPTION_NAMES: readonly string[] = Object.keys({
  protocol: true,
  picklerOptions: true,
  unpicklerOptions: true,
  maxMessageLength: true,
  readHighWaterMark: true,
} satisfies Record<keyof ConnectionOptions, true>);

/**
 * Refuses an option name not in `names`: a misspelt limit (`maxMesageLength`) would otherwise be ignored
 * without a word, and the limit meant never apply. Options whose value is `undefined` count as not given.
 * @throws TypeError naming the options there are.
 */
export function checkOptionNames(options: object, names: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (!names.includes(name) && (options as Record<string, unknown>)[name] !== undefined) {
      throw new TypeError(`unknown option ${JSON.stringify(name)}: the options are ${names.join(', ')}`);
    }
  }
}

/**
 * Refuses connection options that would silently lift a limit or fail later: option names not in
 * {@link CONNECTION_OPTION_NAMES} or `otherNames`; `maxMessageLength` and
 * `readHighWaterMark` must be whole numbers (or Infinity) from 0 and 1 up, and the pickler and unpickler
 * options must be ones a Pickler and an Unpickler accept. Called before any socket is made.
 * @throws RangeError for a bad number; PicklingError or UnpicklingError BAD_OPTION for a bad codec option.
 */
export function checkConnectionOptions(options: ConnectionOptions, otherNames: readonly string[] = []): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, not ${options === null ? 'null' : typeof options}`);
  }
  checkOptionNames(options, [...CONNECTION_OPTION_NAMES, ...otherNames]);
  checkWholeNumber('maxMessageLength', options.maxMessageLength, 0, true);
  checkWholeNumber('readHighWaterMark', options.readHighWaterMark, 1, true);
  if (options.picklerOptions !== undefined || options.protocol !== undefined) {
    // Before the pickler's own checks, which would first ask for protocol 5 for it.
    if (
      options.picklerOptions?.bufferCallback !== undefined &&
      options.picklerOptions.bufferCallback !== null
    ) {
      // send() writes one pickle per message: buffers kept out of band would never reach the peer, which
      // would then fail to load the message (CPython's Connection.send has no buffer_callback either).
      throw new PicklingError(
        'BAD_OPTION',
        'a connection cannot carry out-of-band buffers: leave bufferCallback out of its picklerOptions, and ' +
          'send large buffers in band or with sendBytes',
        '',
      );
    }
    checkPicklerOptions({
      ...options.picklerOptions,
      protocol: options.protocol ?? options.picklerOptions?.protocol,
    });
  }
  if (options.unpicklerOptions !== undefined) checkUnpicklerOptions(options.unpicklerOptions);
}

/** Per-call options: an `AbortSignal` that gives up waiting (nothing is lost; an unread message stays queued). */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

/** Read/write permission of an end, as CPython's `readable`/`writable` constructor flags. */
export interface ConnectionModes {
  readonly readable?: boolean;
  readonly writable?: boolean;
}

/** Anything `sendBytes` and `recvBytesInto` accept as bytes (Python's buffer protocol). */
export type BytesLike = ArrayBufferView | ArrayBuffer | SharedArrayBuffer;

/** The pickle protocol of CPython 3.8–3.13's `Connection.send`. */
export const DEFAULT_PICKLE_PROTOCOL = 4;
const DEFAULT_READ_HIGH_WATER_MARK = 8 * 1024 * 1024;
/**
 * A frame at least this long that starts while nobody waits is left in the socket chunks until a receiver
 * comes or the frame is complete, so that a `recvBytesInto` called next still gets it read in place.
 */
const DEFERRED_FRAME_MINIMUM = 64 * 1024;
/** How long `close()` lets a frame already being written reach the peer before cutting it off. */
const CLOSE_FLUSH_SECONDS = 10;
/** Payload writes are split into slices this large; one libuv write of more than 2 GiB is not portable. */
const MAX_WRITE_SLICE = 1 << 30;

/** FIFO with O(1) shift: thousands of pipelined sends or queued messages must not cost O(n) each. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes one item (an aborted waiter); returns whether it was there. */
  remove(item: T): boolean {
    const index = this.items.indexOf(item, this.head);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  /** Empties the queue and returns what it held. */
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

/**
 * A receive waiting for a message; the abort listener is only there when the caller passed a signal. `into` is
 * the memory of a `recvBytesInto` caller, where its message is read straight from the socket chunks.
 */
class PendingReceive {
  constructor(
    readonly maxlength: number | undefined,
    readonly into: Uint8Array | undefined,
    private readonly settleResolve: (payload: Uint8Array) => void,
    private readonly settleReject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly onAbort: (() => void) | undefined,
  ) {}

  /** Reading into the caller's memory that an abort can take back from us at any time. */
  get abortableInto(): boolean {
    return this.into !== undefined && this.signal !== undefined;
  }

  resolve(payload: Uint8Array): void {
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.settleResolve(payload);
  }

  reject(error: unknown): void {
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.settleReject(error);
  }
}

/** A frame waiting for the socket to drain, or handed to it and waiting for its write callback. */
interface PendingSend {
  readonly parts: readonly Uint8Array[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly detachAbort: () => void;
  /** Number of the socket write that carries the frame's last part, once written. */
  lastWrite: number;
}

function noAbortListener(): void {}

/** How the frame reader's refusal of a frame ends reading. */
/**
 * A socket error from writing to a peer that has gone (EPIPE): the read side is simply at its end, as a
 * CPython recv() after BrokenPipeError finds EOF.
 */
function isWriteSideError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'EPIPE';
}

function readEndOf(result: Exclude<FrameReadResult, { kind: 'message' }>, limit: string): ReadEnd {
  switch (result.kind) {
    case 'too-long':
      return { kind: 'too-long', length: result.length, limit };
    case 'unallocatable': {
      const message =
        `the peer announced a message of ${result.length} bytes, more than can be allocated here; ` +
        'nothing after it can be read (set maxMessageLength to refuse long messages from untrusted peers)';
      return {
        kind: 'error',
        error: new ProtocolError('MESSAGE_TOO_LARGE', message, { cause: result.cause }),
      };
    }
    case 'bad-header':
      return {
        kind: 'error',
        error: new ProtocolError('BAD_HEADER', `negative message length ${result.header} in frame header`),
      };
  }
}

/** What ends the stream for readers once the queued messages are consumed. */
type ReadEnd =
  | { readonly kind: 'eof' }
  | { readonly kind: 'too-long'; readonly length: number; readonly limit: string }
  /** `thenEof`: the stream is over, so after this error is reported once, receives get EOFError, as in CPython. */
  | { readonly kind: 'error'; readonly error: unknown; readonly thenEof?: boolean };

interface SocketHandle {
  readonly _handle?: { readonly fd?: number } | null;
}

/** Lets `wait()` observe an object without reading from it; implemented by Connection and Listener. */
export const readinessHook = Symbol('mpwire.readiness');

/** The surface behind {@link readinessHook}. */
export interface ReadinessHook {
  /** Whether the object is ready now (a message, EOF or an error for a connection; a peer for a listener). */
  ready(): boolean;
  /** Calls `listener` whenever readiness may have changed; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** Lets the handshake cap frame lengths at 256 bytes; not part of the public API. */
export const handshakeLimitHook = Symbol('mpwire.handshakeLimit');

/**
 * Lets a Listener stop a connection nobody has accepted yet from reading, so its peer's bytes wait in the
 * kernel's socket buffer (as they do for CPython, which accepts only when asked) instead of in this process;
 * not part of the public API.
 */
export const holdReadingHook = Symbol('mpwire.holdReading');

/**
 * What `for await` over a connection yields: `receive()` in turn until it fails with an error that
 * `endsIteration` calls the end (EOF, this side's close), which ends the iteration quietly; any other error
 * is thrown. Not part of the public API.
 */
export async function* receiveUntilEnd<T>(
  receive: () => Promise<T>,
  endsIteration: (error: unknown) => boolean,
): AsyncGenerator<T, void, undefined> {
  for (;;) {
    try {
      yield await receive();
    } catch (error) {
      if (endsIteration(error)) return;
      throw error;
    }
  }
}

function bytesView(buffer: BytesLike): Uint8Array {
  // A plain Uint8Array view, also of a Buffer (whose slice() would not copy) or of another realm's memory.
  const view = byteViewOf(buffer);
  if (view !== undefined) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const typeName = buffer === null ? 'NoneType' : typeof buffer;
  throw new TypeError(`memoryview: a bytes-like object is required, not '${typeName}'`);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Seconds to milliseconds for `setTimeout`; `null`/`undefined` mean no timeout. */
export function secondsToMilliseconds(seconds: number | null | undefined): number | undefined {
  if (seconds === null || seconds === undefined) return undefined;
  if (typeof seconds !== 'number')
    throw new TypeError(`timeout must be a number of seconds, not ${shown(seconds)}`);
  if (Number.isNaN(seconds)) throw new RangeError('timeout must be a number of seconds, got NaN');
  return Math.max(0, seconds * 1000);
}

/**
 * Resolves once an I/O phase of Node's event loop that began after the call has run, reading what the kernel
 * held at the call. A check that must see the sockets' present state (CPython's `poll(0)` asks the kernel)
 * awaits it first; it also lets a loop of such checks give way to I/O instead of spinning on resolved
 * promises. Two `setImmediate` hops: called during an I/O phase, the first runs before the next one.
 */
export function eventLoopTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** The longest wait a timer can hold: 2^31 − 1 ms, about 24.8 days (CPython's `poll()` has the same bound). */
const MAX_TIMEOUT_MILLISECONDS = 0x7fff_ffff;

/**
 * {@link secondsToMilliseconds} for a timeout this process waits out itself. Node fires a longer timer at once
 * (with a warning), so a longer timeout is refused, as CPython refuses it (`OverflowError`).
 * @throws RangeError for a timeout over 2^31 − 1 ms, Infinity included.
 */
export function timeoutMilliseconds(seconds: number | null | undefined): number | undefined {
  const milliseconds = secondsToMilliseconds(seconds);
  if (milliseconds !== undefined && milliseconds > MAX_TIMEOUT_MILLISECONDS) {
    throw new RangeError(
      `timeout is too large: ${seconds} s, where at most ${MAX_TIMEOUT_MILLISECONDS / 1000} s (about 24.8 days) ` +
        'can be waited; pass null to wait without a limit',
    );
  }
  return milliseconds;
}

/**
 * A message-oriented connection to a `multiprocessing.connection` peer. Obtained from `Client`,
 * `Listener.accept`, `Pipe` or `spawnWithPipe`; wrap an already connected socket with
 * {@link Connection.fromSocket}.
 *
 * Differences from CPython, on purpose:
 * - `poll()` and `wait()` report a whole message (or EOF, or an error) ready, not mere fd readability, so a
 *   `recv` after a true `poll` never blocks.
 * - `recvBytesInto` copies the whole message at a byte offset into any `ArrayBufferView`; it does not mimic
 *   CPython's silent truncation for item sizes above 1.
 * - Messages of 2^31 bytes or more are sent with the −1 + 8-byte escape header, which CPython ≤ 3.7 and 2.7
 *   cannot read.
 */
export class Connection implements AsyncIterable<unknown> {
  private readonly socket: Socket;
  private readonly reader: FrameReader;
  /** Whether the reader holds socket chunks of its own ('data' events), so it may keep them buffered. */
  private readonly ownsChunks: boolean;
  private readonly queue = new Fifo<Uint8Array>();
  private queuedBytes = 0;
  private readonly receivers = new Fifo<PendingReceive>();
  private readonly sends = new Fifo<PendingSend>();
  /** Frames handed to the socket whose write callback has not run yet, in write order. */
  private readonly inFlight = new Fifo<PendingSend>();
  /** Socket writes issued and write callbacks seen: Node runs write callbacks in write order. */
  private writesIssued = 0;
  private writesCompleted = 0;
  /** One callback for every write, so a write needs no closure and Node batches the synchronous ones. */
  private readonly onWriteDone = (error?: Error | null): void => this.completeWrite(error);
  private readonly readinessListeners = new Set<() => void>();
  private readonly maxMessageLength: number;
  private readonly picklerOptions: PicklerOptions;
  private readonly unpicklerOptions: UnpicklerOptions | undefined;
  /**
   * recv()'s decoder for `unpicklerOptions`, made at the first message and then kept: making one costs more
   * than decoding a small message.
   */
  private unpickler: Unpickler | undefined;
  private readonly readHighWaterMark: number;
  private handshakeLimit: number | undefined;
  private streamEnded = false;
  private streamError: unknown;
  private readEnd: ReadEnd | undefined;
  /** The socket's onread plumbing, for a socket mpwire connected itself (see direct-read.ts). */
  private readonly directChannel: DirectReadChannel | undefined;
  private paused = false;
  /** Set by a Listener until the connection is accepted: see {@link holdReadingHook}. */
  private readingHeld = false;
  private isClosed = false;
  private isReadable: boolean;
  private readonly isWritable: boolean;

  /**
   * Wraps a connected socket. Most code gets connections from `Client`, `Listener` or `Pipe` instead.
   * @throws RangeError when both modes are false (CPython's text).
   */
  constructor(socket: Socket, modes: ConnectionModes = {}, options: ConnectionOptions = {}) {
    const readable = modes.readable ?? true;
    const writable = modes.writable ?? true;
    if (!readable && !writable) {
      throw new RangeError('at least one of `readable` and `writable` must be True');
    }
    this.socket = socket;
    this.isReadable = readable;
    this.isWritable = writable;
    this.maxMessageLength = options.maxMessageLength ?? Number.POSITIVE_INFINITY;
    this.picklerOptions = {
      ...options.picklerOptions,
      protocol: options.protocol ?? options.picklerOptions?.protocol ?? DEFAULT_PICKLE_PROTOCOL,
    };
    this.unpicklerOptions = options.unpicklerOptions;
    this.readHighWaterMark = options.readHighWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK;
    this.reader = new FrameReader({ allocate: (n) => Buffer.allocUnsafeSlow(n) });
    const channel = directReadChannelOf(socket);
    this.directChannel = channel;
    // Bytes of a direct-read socket are in scratch memory: keeping them would mean copying them.
    this.ownsChunks = channel === undefined;
    if (channel) {
      channel.attach({
        readTarget: () => this.directReadTarget(),
        bytesRead: (buffer, count, direct) => this.onDirectRead(buffer, count, direct),
      });
    } else {
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
    }
    socket.on('end', () => this.onStreamEnd(undefined));
    socket.on('error', (error) => this.onStreamEnd(error));
    socket.on('close', () => this.onStreamEnd(undefined));
    socket.on('drain', () => this.flushSends());
  }

  /** Same as the constructor; reads better at call sites that adopt a socket. */
  static fromSocket(socket: Socket, modes?: ConnectionModes, options?: ConnectionOptions): Connection {
    if (options !== undefined) checkConnectionOptions(options);
    return new Connection(socket, modes, options);
  }

  /** True once {@link close} has run. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Whether this end may receive. Drops to false after a `BAD_MESSAGE_LENGTH` on a duplex connection. */
  get readable(): boolean {
    return this.isReadable;
  }

  /** Whether this end may send. */
  get writable(): boolean {
    return this.isWritable;
  }

  /**
   * Lets the process exit while this connection is open and idle, as Node's `socket.unref()` (a Python
   * process exits with its connections open). A receive or send still waiting then does not keep it alive
   * either. {@link ref} undoes it.
   */
  unref(): this {
    this.socket.unref();
    return this;
  }

  /** Keeps the process alive while this connection is open again (the default), after {@link unref}. */
  ref(): this {
    this.socket.ref();
    return this;
  }

  /**
   * The socket's file descriptor.
   * @throws ConnectionClosedError after `close()`; TransportError when the platform exposes no descriptor.
   */
  fileno(): number {
    this.checkClosed();
    const fd = (this.socket as unknown as SocketHandle)._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new ConnectionClosedError('handle has no file descriptor');
    return fd;
  }

  /**
   * Pickles `value` (protocol 4 unless the connection's `protocol` says otherwise) and sends it as one message,
   * as CPython's `send`. When pickling fails nothing is written.
   * @throws ConnectionClosedError, TransportError `READ_ONLY`, PicklingError.
   */
  async send(value: unknown, options: CallOptions = {}): Promise<void> {
    this.checkClosed();
    this.checkWritable();
    // A pickle up to JOINED_WRITE_LIMIT is copied into its frame before writeFrame returns, so it can be a
    // view of the pickler's buffer; larger ones are written from the array itself, later, so they get their own.
    const pickle = dumpsTransient(value, this.picklerOptions, JOINED_WRITE_LIMIT);
    const pending = this.writeFrame(pickle, options.signal);
    if (pending !== undefined) await pending;
  }

  /**
   * Receives one message and unpickles it, as CPython's `recv` (no length limit other than `maxMessageLength`).
   * A message that fails to unpickle is consumed, and the error is thrown (the options themselves were
   * checked when the connection was made).
   * @throws EOFError, ProtocolError, UnpicklingError.
   */
  async recv(options: CallOptions = {}): Promise<unknown> {
    this.checkClosed();
    this.checkReadable();
    const payload =
      this.takeQueuedMessage(undefined, options.signal) ?? (await this.receive(undefined, options.signal));
    try {
      const decodeOptions = this.unpicklerOptions;
      // `buffers` is an iterator that each decode starts afresh, as loads() does.
      if (decodeOptions === undefined || decodeOptions.buffers !== undefined)
        return loads(payload, decodeOptions);
      this.unpickler ??= new Unpickler(decodeOptions);
      return loadAlone(this.unpickler, payload);
    } catch (error) {
      // CPython's keyless client fails here with "invalid load key, '#'"; the cause is worth naming.
      if (isChallengeMessage(payload)) {
        throw new AuthenticationError(
          'the peer sent an authentication challenge: it is a Listener with an authkey, and this connection ' +
            'was made without one; connect with its authkey',
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Sends `buffer[offset : offset + size]` as one message (byte offsets, any `ArrayBufferView`). Resolves once
   * the frame is handed to the operating system; while the peer does not read, later sends wait here instead
   * of piling up in memory. Do not modify the buffer until the promise settles.
   * @throws ConnectionClosedError, TransportError `READ_ONLY`, TypeError, RangeError (CPython's order and texts).
   */
  async sendBytes(
    buffer: BytesLike,
    offset = 0,
    size?: number | null,
    options: CallOptions = {},
  ): Promise<void> {
    this.checkClosed();
    this.checkWritable();
    // The usual argument needs no new view.
    const view = buffer instanceof Uint8Array ? buffer : bytesView(buffer);
    const n = view.byteLength;
    checkInteger('offset', offset);
    // null is Python's None, the default: the rest of the buffer.
    if (size !== undefined && size !== null) checkInteger('size', size);
    if (offset < 0) throw new RangeError('offset is negative');
    if (n < offset) throw new RangeError('buffer length < offset');
    let length: number;
    if (size === undefined || size === null) length = n - offset;
    else if (size < 0) throw new RangeError('size is negative');
    else if (offset + size > n) throw new RangeError('buffer length < offset + size');
    else length = size;
    const payload = offset === 0 && length === n ? view : view.subarray(offset, offset + length);
    const pending = this.writeFrame(payload, options.signal);
    if (pending !== undefined) await pending;
  }

  /**
   * Receives one message as bytes.
   * @param maxlength when the next message is longer, fails with `BAD_MESSAGE_LENGTH` and, as in CPython,
   *   the connection stops being readable (a read-only end is closed). The payload is never allocated.
   * @throws EOFError at a clean end of stream; ProtocolError `TRUNCATED_MESSAGE` when it ends mid-message.
   */
  async recvBytes(maxlength?: number | null, options: CallOptions = {}): Promise<Uint8Array> {
    this.checkClosed();
    this.checkReadable();
    if (maxlength === null) maxlength = undefined; // Python's None: no limit
    if (maxlength !== undefined && maxlength !== Number.POSITIVE_INFINITY)
      checkInteger('maxlength', maxlength);
    if (maxlength !== undefined && maxlength < 0) throw new RangeError('negative maxlength');
    return (
      this.takeQueuedMessage(maxlength, options.signal) ?? (await this.receive(maxlength, options.signal))
    );
  }

  /**
   * Receives one message into `buffer` at byte `offset` and returns its length.
   * A message that fits is read from the socket straight into `buffer`, so when the receive fails (end of
   * stream inside the message) or is aborted, bytes from `offset` on may already have been overwritten; an
   * aborted message is kept whole for the next receiver.
   * @throws RangeError before reading for a bad offset (the message stays queued); BufferTooShort, carrying
   *   the whole message, after reading one that does not fit (it is consumed; the connection stays usable).
   */
  async recvBytesInto(buffer: BytesLike, offset = 0, options: CallOptions = {}): Promise<number> {
    this.checkClosed();
    this.checkReadable();
    const target = bytesView(buffer);
    checkInteger('offset', offset);
    if (offset < 0) throw new RangeError('negative offset');
    if (offset > target.byteLength) throw new RangeError('offset too large');
    const into = target.subarray(offset);
    const payload =
      this.takeQueuedMessage(undefined, options.signal) ??
      (await this.receive(undefined, options.signal, into));
    // Read in place: the message is a view of `into` (only messages that fit are read there).
    if (payload.buffer === into.buffer && payload.byteOffset === into.byteOffset) return payload.byteLength;
    if (target.byteLength < offset + payload.byteLength) throw new BufferTooShort(payload);
    target.set(payload, offset);
    return payload.byteLength;
  }

  /**
   * Whether a message (or EOF, or an error) can be received without waiting.
   * @param timeout seconds to wait: `0` or negative checks once (the default, as Python), after one turn of the
   *   event loop reads what the kernel holds, so a `while (!(await conn.poll()))` loop lets I/O in; `null`
   *   waits forever.
   */
  async poll(timeout: number | null = 0, options: CallOptions = {}): Promise<boolean> {
    this.checkClosed();
    this.checkReadable();
    if (this.readyToRead()) return true;
    const milliseconds = timeoutMilliseconds(timeout);
    if (milliseconds === 0) {
      options.signal?.throwIfAborted();
      // What the peer has sent, or its close, may be in the kernel and not yet read.
      await eventLoopTurn();
      this.checkClosed();
      options.signal?.throwIfAborted();
      return this.readyToRead();
    }
    options.signal?.throwIfAborted();
    return new Promise<boolean>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: boolean | { error: unknown }): void => {
        unsubscribe();
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (typeof result === 'boolean') resolve(result);
        else reject(result.error);
      };
      const unsubscribe = this.onReadiness(() => {
        if (this.isClosed) finish({ error: new ConnectionClosedError() });
        else if (this.readyToRead()) finish(true);
      });
      const onAbort = (): void => finish({ error: abortReason(options.signal!) });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (milliseconds !== undefined) timer = setTimeout(() => finish(false), milliseconds);
    });
  }

  /**
   * Closes this end at once. Pending receives, and sends still queued, fail with `ConnectionClosedError`; a
   * frame already being written is still flushed before the socket is shut, for up to 10 seconds
   * ({@link CLOSE_FLUSH_SECONDS}; a peer that stops reading would hold the socket for ever), after which
   * it is cut off and its send fails with `ConnectionClosedError` too. Nothing more is read, and no memory of a
   * receive is written to, once `close()` returns. Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    // Whether Node's next read may be aimed at a waiting recvBytesInto's memory (see below).
    const callerMemoryTargeted =
      this.receivers.peek()?.into !== undefined && this.directChannel?.readsIntoSinkMemory === true;
    // Built only when someone is waiting: capturing a stack trace costs more than the rest of close().
    if (this.receivers.length > 0 || this.sends.length > 0) {
      const closedError = new ConnectionClosedError();
      for (const receiver of this.receivers.drain()) receiver.reject(closedError);
      for (const send of this.sends.drain()) {
        send.detachAbort();
        send.reject(closedError);
      }
    }
    this.queue.drain();
    this.queuedBytes = 0;
    this.notifyReadiness();
    const socket = this.socket;
    socket.removeAllListeners('data');
    if (socket.destroyed) return;
    if (socket.writableLength === 0) {
      // A frame the kernel already took still has its write callback queued for the next tick; destroying
      // first makes Node build an ERR_STREAM_DESTROYED (stack trace included) for it, the costliest part of
      // closing right after a send (3.5 % of a connect + authenticate + close in a CPU profile).
      if (this.writesCompleted < this.writesIssued) process.nextTick(() => socket.destroy());
      else socket.destroy();
      return;
    }
    // While the frame is flushed, what the peer sends is read and dropped: a peer that reads only after its
    // own send finishes needs that. Unless Node has already aimed the next read at a receive's memory (it
    // picks each read's memory as soon as the previous read is handled): then nothing more is read, as that
    // read would land in memory its caller has been given back.
    if (callerMemoryTargeted) socket.pause();
    else socket.resume();
    // Flush what was already sent, like CPython's blocking writes that completed before close().
    const safety = setTimeout(() => {
      // Node reports a write cut off by destroy() as done: the frame did not reach the peer whole.
      const cut = new ConnectionClosedError(
        `the connection was closed before the frame was sent whole: the peer had not read it ${CLOSE_FLUSH_SECONDS} s after close()`,
      );
      for (const send of this.inFlight.drain()) send.reject(cut);
      socket.destroy();
    }, CLOSE_FLUSH_SECONDS * 1000).unref();
    socket.end(() => {
      clearTimeout(safety);
      socket.destroy();
    });
  }

  /** Closes the connection and waits until the socket is released. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    if (this.socket.closed) return;
    await new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
  }

  /**
   * Unpickled messages (`recv()`) until the peer closes at a message boundary or this side calls `close()`
   * (as a Listener's iteration ends when it is closed); other errors are thrown.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return receiveUntilEnd(
      () => this.recv(),
      (error) => this.endsIteration(error),
    );
  }

  /**
   * Messages as bytes (`recvBytes()`) until the peer closes at a message boundary or this side calls
   * `close()`; other errors are thrown.
   */
  iterBytes(options: CallOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    return receiveUntilEnd(
      () => this.recvBytes(undefined, options),
      (error) => this.endsIteration(error),
    );
  }

  /** Whether a receive error ends an iteration quietly: EOF at a boundary, or this side's own close(). */
  private endsIteration(error: unknown): boolean {
    return error instanceof EOFError || (error instanceof ConnectionClosedError && this.isClosed);
  }

  /** Observed by `wait()`; not for user code. */
  get [readinessHook](): ReadinessHook {
    return { ready: () => this.readyToRead(), subscribe: (listener) => this.onReadiness(listener) };
  }

  /** @internal Caps every frame at `limit` bytes while authenticating; `undefined` lifts the cap. */
  [handshakeLimitHook](limit: number | undefined): void {
    this.handshakeLimit = limit;
    this.pump();
  }

  /** @internal While held, `pump` keeps the socket paused whatever the queue holds. */
  [holdReadingHook](held: boolean): void {
    this.readingHeld = held;
    this.pump();
  }

  // ---- receive side ----

  private checkClosed(): void {
    if (this.isClosed) throw new ConnectionClosedError();
  }

  private checkReadable(): void {
    if (!this.isReadable) throw new TransportError('WRITE_ONLY', 'connection is write-only');
  }

  private checkWritable(): void {
    if (!this.isWritable) throw new TransportError('READ_ONLY', 'connection is read-only');
  }

  private readyToRead(): boolean {
    return this.queue.length > 0 || this.readEnd !== undefined;
  }

  private onReadiness(listener: () => void): () => void {
    this.readinessListeners.add(listener);
    return () => this.readinessListeners.delete(listener);
  }

  private notifyReadiness(): void {
    if (this.readinessListeners.size === 0) return;
    for (const listener of [...this.readinessListeners]) listener();
  }

  /**
   * The next queued message when nobody else is waiting and it fits `maxlength`: what {@link deliver} would
   * hand over at once, without a promise and a pending receiver. Undefined sends the caller the long way.
   */
  private takeQueuedMessage(
    maxlength: number | undefined,
    signal: AbortSignal | undefined,
  ): Uint8Array | undefined {
    if (this.receivers.length > 0 || signal?.aborted) return undefined;
    const payload = this.queue.peek();
    if (payload === undefined || (maxlength !== undefined && payload.byteLength > maxlength))
      return undefined;
    const wasFull = this.queuedBytes >= this.readHighWaterMark;
    this.queue.shift();
    this.queuedBytes -= payload.byteLength;
    // Only a full queue can have held frames back in the reader or paused the socket.
    if (wasFull || this.paused) this.pump();
    return payload;
  }

  private receive(
    maxlength: number | undefined,
    signal: AbortSignal | undefined,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    signal?.throwIfAborted();
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort =
        signal === undefined
          ? undefined
          : (): void => {
              this.receivers.remove(receiver);
              // The message being read into the caller's memory is kept for the next receiver.
              const failed = into === undefined ? undefined : this.reader.detachPayloadFrom(into);
              reject(abortReason(signal));
              if (failed !== undefined) {
                // An end already found (the stream ended inside this message) stays the one reported.
                this.readEnd ??= readEndOf(failed, this.describeFrameLimit());
                this.deliver();
                this.notifyReadiness();
              }
            };
      const receiver = new PendingReceive(maxlength, into, resolve, reject, signal, onAbort);
      if (onAbort) signal?.addEventListener('abort', onAbort, { once: true });
      this.receivers.push(receiver);
      this.pump();
    });
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    this.pump();
  }

  /**
   * Where the socket's next read may go: straight into the pending payload, unless that is the memory of a
   * receiver with an abort signal. Node takes the next read's memory as soon as a read is handled, so a read
   * chosen before an abort would still land in memory its caller has been given back.
   */
  private directReadTarget(): Uint8Array | undefined {
    if (this.isClosed || this.receivers.peek()?.abortableInto) return undefined;
    return this.reader.directReadTarget(DIRECT_READ_MINIMUM);
  }

  /** A read of a direct-read socket: into the pending payload itself, or into scratch memory reused next. */
  private onDirectRead(buffer: Uint8Array, count: number, direct: boolean): void {
    if (this.isClosed) return;
    // A read into memory the payload has since left (it moved to a buffer of its own) is taken as a chunk.
    if (direct && this.reader.isDirectReadTarget(buffer)) {
      this.reader.commitDirectRead(count);
      this.pump();
      return;
    }
    this.reader.push(buffer.subarray(0, count));
    this.pump();
    // Frames held back (full queue, handshake) must not point into memory the next read overwrites.
    this.reader.copyBufferedChunks();
  }

  private onStreamEnd(error: unknown): void {
    if (this.streamEnded) {
      if (error !== undefined && this.streamError === undefined) this.streamError = error;
      return;
    }
    this.streamEnded = true;
    this.streamError = error;
    // Node may still report success for a frame the dead peer never got; a blocking write would have failed.
    if (error !== undefined) {
      for (const send of this.inFlight.drain()) send.reject(error);
    }
    this.pump();
    // Sends still waiting for a drain that will never come fail now.
    if (this.sends.length > 0 && (this.socket.destroyed || !this.socket.writable)) {
      const failure = error ?? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      for (const send of this.sends.drain()) {
        send.detachAbort();
        send.reject(failure);
      }
    }
  }

  /**
   * The limit for the frame about to be read: while authenticating the handshake's own cap (the messages
   * `maxMessageLength` limits come after it), else our cap; and a waiting receiver's.
   */
  private currentFrameLimit(): number {
    let limit = this.handshakeLimit ?? this.maxMessageLength;
    const first = this.receivers.peek();
    if (this.queue.length === 0 && first?.maxlength !== undefined) limit = Math.min(limit, first.maxlength);
    return limit;
  }

  /** Which limit {@link currentFrameLimit} is, for the error of a frame over it. */
  private describeFrameLimit(): string {
    const first = this.receivers.peek();
    const maxlength = this.queue.length === 0 ? first?.maxlength : undefined;
    const base = this.handshakeLimit ?? this.maxMessageLength;
    if (maxlength !== undefined && maxlength < base) return `the receive's maxlength of ${maxlength}`;
    return this.handshakeLimit !== undefined
      ? `the handshake's limit of ${this.handshakeLimit}`
      : `maxMessageLength ${this.maxMessageLength}`;
  }

  /** Moves whole frames from the reader to the queue and the queue to receivers; pauses on a full queue. */
  private pump(): void {
    if (this.isClosed) return;
    let changed = false;
    while (this.readEnd === undefined) {
      if (this.queuedBytes >= this.readHighWaterMark && this.receivers.length === 0) break;
      // While authenticating, read only what a receiver asked for: a cap must not apply to later frames.
      if (this.handshakeLimit !== undefined && this.receivers.length <= this.queue.length) break;
      // A frame that starts while a recvBytesInto caller waits first is read into its buffer: one copy from
      // each socket chunk instead of two, and no fresh buffer to page-fault (with deferFrameStart, 64 MiB
      // messages into one reused buffer over TCP: 830 → 1775 MB/s).
      const into = this.queue.length === 0 ? this.receivers.peek()?.into : undefined;
      if (this.receivers.length === 0 && this.deferFrameStart()) break;
      const result = this.reader.readFrame(this.currentFrameLimit(), into);
      if (result === undefined) {
        if (this.streamEnded) {
          this.readEnd = this.reader.insideFrame
            ? {
                kind: 'error',
                error: new ProtocolError('TRUNCATED_MESSAGE', 'got end of file during message', {
                  cause: this.streamError,
                }),
                thenEof: true,
              }
            : this.streamError === undefined || isWriteSideError(this.streamError)
              ? { kind: 'eof' }
              : { kind: 'error', error: this.streamError, thenEof: true };
          changed = true;
        }
        break;
      }
      changed = true;
      if (result.kind === 'message') {
        this.queue.push(result.payload);
        this.queuedBytes += result.payload.byteLength;
      } else {
        this.readEnd = readEndOf(result, this.describeFrameLimit());
      }
      this.deliver();
    }
    this.deliver();
    const shouldPause =
      this.readingHeld ||
      (this.receivers.length === 0 &&
        (this.queuedBytes >= this.readHighWaterMark || this.reader.buffered >= this.readHighWaterMark));
    if (shouldPause !== this.paused && !this.socket.destroyed) {
      this.paused = shouldPause;
      if (shouldPause) this.socket.pause();
      else this.socket.resume();
    }
    if (changed) this.notifyReadiness();
  }

  /**
   * Whether to leave the next frame in the buffered chunks for now: nobody waits (the next receiver may bring
   * its own buffer), the frame is long and not wholly buffered yet (so no message readiness is delayed), and
   * the buffered bytes stay under the high-water mark (above it the frame starts and the socket keeps flowing).
   * Without this, the frame that follows a message in the same chunk started before the caller's next
   * `recvBytesInto` and got a buffer of its own: reading in place alone took 64 MiB messages over TCP from
   * 846 to only 922 MB/s, with this to 1775 MB/s.
   */
  private deferFrameStart(): boolean {
    if (!this.ownsChunks || this.streamEnded) return false;
    const buffered = this.reader.buffered;
    const length = this.reader.nextFrameLength;
    return (
      length !== undefined &&
      length >= DEFERRED_FRAME_MINIMUM &&
      buffered < SHORT_HEADER_SIZE + length &&
      buffered < this.readHighWaterMark
    );
  }

  private deliver(): void {
    while (this.receivers.length > 0) {
      const payload = this.queue.peek();
      if (payload !== undefined) {
        const receiver = this.receivers.shift()!;
        if (receiver.maxlength !== undefined && payload.byteLength > receiver.maxlength) {
          this.failBadLength(
            receiver,
            payload.byteLength,
            `the receive's maxlength of ${receiver.maxlength}`,
          );
          return;
        }
        this.queue.shift();
        this.queuedBytes -= payload.byteLength;
        receiver.resolve(payload);
        continue;
      }
      const end = this.readEnd;
      if (end === undefined) return;
      const receiver = this.receivers.shift()!;
      if (end.kind === 'too-long') {
        this.failBadLength(receiver, end.length, end.limit);
        return;
      }
      receiver.reject(end.kind === 'eof' ? new EOFError() : end.error);
      if (end.kind === 'error' && end.thenEof) this.readEnd = { kind: 'eof' };
    }
  }

  /**
   * CPython's `_bad_message_length`: the payload stays unread, so a duplex end becomes write-only and a
   * read-only end is closed.
   */
  private failBadLength(receiver: PendingReceive, length: number, limit: string): void {
    receiver.reject(
      new ProtocolError(
        'BAD_MESSAGE_LENGTH',
        `bad message length: ${length} bytes, over ${limit}; the message stays unread, and ` +
          'this end receives nothing more',
      ),
    );
    this.isReadable = false;
    this.queue.drain();
    this.queuedBytes = 0;
    this.readEnd = { kind: 'eof' };
    if (!this.isWritable) {
      this.close();
      return;
    }
    const writeOnly = new TransportError('WRITE_ONLY', 'connection is write-only');
    for (const other of this.receivers.drain()) other.reject(writeOnly);
    this.socket.pause();
    this.paused = true;
  }

  // ---- send side ----

  /**
   * Queues or writes one frame. Undefined means it is already with the operating system (the common case: an
   * idle socket took a small frame in one synchronous write), else the promise settles when it is.
   */
  private writeFrame(payload: Uint8Array, signal: AbortSignal | undefined): Promise<void> | undefined {
    signal?.throwIfAborted();
    const socket = this.socket;
    if (
      payload.byteLength <= JOINED_WRITE_LIMIT &&
      this.sends.length === 0 &&
      !socket.writableNeedDrain &&
      socket.writable &&
      !socket.destroyed
    ) {
      // Header and payload in one write: one syscall and, with Nagle off, one segment.
      const frame = Buffer.allocUnsafe(SHORT_HEADER_SIZE + payload.byteLength);
      frame.writeInt32BE(payload.byteLength, 0);
      frame.set(payload, SHORT_HEADER_SIZE);
      const writeNumber = this.writeToSocket(frame);
      // A write the kernel refused (EPIPE: the peer is gone) empties Node's buffer too, and reports the error
      // to the write's callback only a tick later: it must fail this send, as CPython's send raises.
      const refused = socket.errored;
      if (refused) return Promise.reject(refused);
      // Nothing left in Node's buffer: the kernel has the whole frame, as after a blocking write.
      if (socket.writableLength === 0) return undefined;
      return new Promise<void>((resolve, reject) => {
        this.inFlight.push({
          parts: [],
          resolve,
          reject,
          detachAbort: noAbortListener,
          lastWrite: writeNumber,
        });
      });
    }
    const parts: Uint8Array[] =
      payload.byteLength <= JOINED_WRITE_LIMIT
        ? [encodeJoinedFrame(payload)]
        : [encodeFrameHeader(payload.byteLength)];
    if (payload.byteLength > JOINED_WRITE_LIMIT) {
      for (let at = 0; at < payload.byteLength; at += MAX_WRITE_SLICE) {
        parts.push(payload.subarray(at, Math.min(payload.byteLength, at + MAX_WRITE_SLICE)));
      }
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.sends.remove(send)) reject(abortReason(signal!));
      };
      const send: PendingSend = {
        parts,
        resolve,
        reject,
        detachAbort: () => signal?.removeEventListener('abort', onAbort),
        lastWrite: 0,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sends.push(send);
      this.flushSends();
    });
  }

  /** Writes one buffer with the shared callback and returns its write number. */
  private writeToSocket(part: Uint8Array): number {
    this.socket.write(part, this.onWriteDone);
    return ++this.writesIssued;
  }

  /** Settles the frames whose last write has now completed; a failed write fails every frame in flight. */
  private completeWrite(error: Error | null | undefined): void {
    const completed = ++this.writesCompleted;
    if (error) {
      // Node may report buffered writes as destroyed before the one in progress, so do not match by number.
      for (const send of this.inFlight.drain()) send.reject(error);
      return;
    }
    for (;;) {
      const send = this.inFlight.peek();
      if (send === undefined || send.lastWrite > completed) return;
      this.inFlight.shift();
      send.resolve();
    }
  }

  /** Writes queued frames while the socket accepts more; the rest wait for `drain`. */
  private flushSends(): void {
    // A frame goes to the socket only when its buffer has drained, so a peer that stops reading holds back
    // our senders instead of growing the buffer.
    while (this.sends.length > 0 && !this.socket.writableNeedDrain) {
      const send = this.sends.shift()!;
      send.detachAbort();
      if (this.socket.destroyed || !this.socket.writable) {
        send.reject(this.streamError ?? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        continue;
      }
      const corked = send.parts.length > 1;
      if (corked) this.socket.cork();
      for (const part of send.parts) send.lastWrite = this.writeToSocket(part);
      this.inFlight.push(send);
      if (corked) this.socket.uncork();
    }
  }
}
