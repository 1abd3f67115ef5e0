/**
 * Socket reads into memory the connection chooses, through Node's `onread` option: the rest of a large
 * payload is read straight into the payload's own buffer (no copy from a socket chunk), and everything else
 * is read into one shared scratch buffer and parsed before the next read (no fresh chunk per read).
 *
 * Node offers `onread` only to the Socket constructor: the sockets mpwire connects itself (`Client`, one end
 * of `Pipe`) get it there, and a `Listener` moves each accepted socket's handle to a new Socket that has it
 * ({@link adoptAcceptedSocket}). The others (`Pipe`'s accepted end, `spawnWithPipe`'s) keep `'data'` events.
 */
import { Socket as NodeSocket, type OnReadOpts, type Socket, type SocketConstructorOpts } from 'node:net';

/** Size of the shared scratch buffer: Node's own read size. */
const SCRATCH_SIZE = 64 * 1024;

/** A payload with at least this many bytes still missing is read straight into its buffer. */
export const DIRECT_READ_MINIMUM = SCRATCH_SIZE;

/**
 * One scratch buffer for every socket of this thread: each read is parsed (and any leftover copied) inside
 * its callback, before any other read can reuse the memory.
 */
let sharedScratch: Uint8Array | undefined;

function scratchBuffer(): Uint8Array {
  sharedScratch ??= new Uint8Array(SCRATCH_SIZE);
  return sharedScratch;
}

/** What a connection does with the reads of a direct-read socket. */
export interface DirectReadSink {
  /** The memory the next read should fill, or undefined for the shared scratch buffer. */
  readTarget(): Uint8Array | undefined;
  /**
   * `count` bytes arrived at the start of `buffer`: the view {@link readTarget} returned when `direct`, else
   * memory that is overwritten after this call returns, so nothing may keep a reference to it.
   */
  bytesRead(buffer: Uint8Array, count: number, direct: boolean): void;
}

/** The `onread` plumbing of one socket; reads that come before a sink is attached are kept as copies. */
export class DirectReadChannel {
  readonly onread: OnReadOpts = {
    buffer: () => this.nextBuffer(),
    callback: (count, buffer) => this.onRead(count, buffer),
  };
  private sink: DirectReadSink | undefined;
  private early: Uint8Array[] = [];
  private target: Uint8Array | undefined;

  /** Whether the socket's next read goes into memory the sink chose (a receive's buffer), not scratch memory. */
  get readsIntoSinkMemory(): boolean {
    return this.target !== undefined;
  }

  /** Hands reads to `sink` from now on, the ones kept so far first. */
  attach(sink: DirectReadSink): void {
    this.sink = sink;
    for (const chunk of this.early.splice(0)) sink.bytesRead(chunk, chunk.byteLength, false);
  }

  private nextBuffer(): Uint8Array {
    this.target = this.sink?.readTarget();
    return this.target ?? scratchBuffer();
  }

  private onRead(count: number, buffer: Uint8Array): boolean {
    const direct = this.target !== undefined && buffer === this.target;
    if (this.sink) this.sink.bytesRead(buffer, count, direct);
    else this.early.push(buffer.slice(0, count));
    return true;
  }
}

const channels = new WeakMap<Socket, DirectReadChannel>();

/** Records that `socket` was created with `channel.onread`, so a Connection wrapping it attaches to it. */
export function registerDirectRead(socket: Socket, channel: DirectReadChannel): void {
  channels.set(socket, channel);
}

/** The direct-read channel of a socket mpwire connected, or undefined for a socket that emits `'data'`. */
export function directReadChannelOf(socket: Socket): DirectReadChannel | undefined {
  return channels.get(socket);
}

/** What {@link adoptAcceptedSocket} needs of a socket's native handle. */
interface StreamHandle {
  readStart(): number;
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * A server's accepted socket, still paused (`pauseOnConnect`), moved to a new Socket that reads through a
 * {@link DirectReadChannel}: Node gives `onread` only to the Socket constructor, never to accepted sockets.
 * The native handle changes owner; the old Socket is destroyed without it (it never read), which also keeps
 * the server's connection count right. Where the handle is not a native stream, returns the socket itself,
 * resumed.
 */
export function adoptAcceptedSocket(accepted: Socket, allowHalfOpen: boolean): Socket {
  const holder = accepted as unknown as { _handle?: Partial<StreamHandle> | null };
  const handle = holder._handle;
  if (
    handle === null ||
    handle === undefined ||
    typeof handle.readStart !== 'function' ||
    typeof handle.useUserBuffer !== 'function' ||
    accepted.readableFlowing === true
  ) {
    accepted.resume();
    return accepted;
  }
  const channel = new DirectReadChannel();
  holder._handle = null;
  const socket = new NodeSocket({
    handle,
    allowHalfOpen,
    readable: true,
    writable: true,
    onread: channel.onread,
  } as SocketConstructorOpts);
  accepted.destroy();
  registerDirectRead(socket, channel);
  return socket;
}
