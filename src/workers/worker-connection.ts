/**
 * The parent's end of a spawned worker's pipe: the transport `Connection`'s methods, with failures caused by
 * the child going away turned into {@link PythonExitError} (exit code or signal, plus the stderr tail).
 */
import {
  type CallOptions,
  type Connection,
  type ReadinessHook,
  readinessHook,
  receiveUntilEnd,
} from '../transport/connection.js';
import { ConnectionClosedError, EOFError, TransportError } from '../transport/errors.js';
import { type PythonExit, PythonExitError } from './errors.js';

/** What the connection needs to know about its child. */
interface WorkerProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<PythonExit>;
}

/** How long a call may still complete after the child exited: its last messages are already in our socket buffer. */
const AFTER_EXIT_GRACE_MS = 250;
/** How long a broken pipe waits for the exit that explains it, before the transport error is reported as is. */
const EXIT_AFTER_BREAK_MS = 1000;

/**
 * A connection to a spawned Python worker. Same methods as the transport `Connection` (which is available as
 * {@link connection} for `wait()` and friends); a call interrupted by the child's death rejects with
 * PythonExitError, whose `cause` is the transport error that revealed it.
 */
export class WorkerConnection {
  /** The underlying transport connection. Errors from calls made on it directly are not translated. */
  readonly connection: Connection;
  readonly #worker: WorkerProcess;
  #closedHere = false;
  /**
   * How the child exited, once it has; until then, the calls waiting to hear of it. One subscription to the
   * exit serves every call: a reaction per call on the pending exit promise would keep each call's result
   * reachable until the child exits.
   */
  #exit: PythonExit | undefined;
  readonly #exitWatchers = new Set<(exit: PythonExit) => void>();

  /** Made by `spawnPython`; not for user code. */
  constructor(connection: Connection, worker: WorkerProcess) {
    this.connection = connection;
    this.#worker = worker;
    worker.exited.then((exit) => {
      this.#exit = exit;
      for (const watcher of this.#exitWatchers) watcher(exit);
      this.#exitWatchers.clear();
    });
  }

  /** True once {@link close} has run. */
  get closed(): boolean {
    return this.connection.closed;
  }

  /** Whether this end receives (the transport's `readable`). */
  get readable(): boolean {
    return this.connection.readable;
  }

  /** Whether this end sends (the transport's `writable`). */
  get writable(): boolean {
    return this.connection.writable;
  }

  /** Pickles `value` (at the `protocol` given to `spawnPython`) and sends it as one message. */
  send(value: unknown, options?: CallOptions): Promise<void> {
    return this.#guard('send', () => this.connection.send(value, options));
  }

  /** Receives one message and unpickles it. */
  recv(options?: CallOptions): Promise<unknown> {
    return this.#guard('recv', () => this.connection.recv(options));
  }

  /** Sends raw bytes as one message (the transport's `sendBytes`). */
  sendBytes(...args: Parameters<Connection['sendBytes']>): ReturnType<Connection['sendBytes']> {
    return this.#guard('sendBytes', () => this.connection.sendBytes(...args));
  }

  /** Receives one message as bytes (the transport's `recvBytes`). */
  recvBytes(...args: Parameters<Connection['recvBytes']>): ReturnType<Connection['recvBytes']> {
    return this.#guard('recvBytes', () => this.connection.recvBytes(...args));
  }

  /** Receives one message into a buffer (the transport's `recvBytesInto`). */
  recvBytesInto(...args: Parameters<Connection['recvBytesInto']>): ReturnType<Connection['recvBytesInto']> {
    return this.#guard('recvBytesInto', () => this.connection.recvBytesInto(...args));
  }

  /** Whether a message (or the end of the stream) is waiting (the transport's `poll`). */
  poll(...args: Parameters<Connection['poll']>): ReturnType<Connection['poll']> {
    return this.#guard('poll', () => this.connection.poll(...args));
  }

  /** The file descriptor of the parent's end (the transport's `fileno`). */
  fileno(): number {
    return this.connection.fileno();
  }

  /**
   * Unpickled messages (`recv()`) until the child closes its end at a message boundary, or exits with code 0,
   * or this side calls `close()`; a child that dies otherwise is a {@link PythonExitError}.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return receiveUntilEnd(
      () => this.recv(),
      (error) => this.#endsIteration(error),
    );
  }

  /** Messages as bytes (`recvBytes()`), ending as the iteration of messages does. */
  iterBytes(options: CallOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    return receiveUntilEnd(
      () => this.recvBytes(undefined, options),
      (error) => this.#endsIteration(error),
    );
  }

  /** EOF at a message boundary, from a child that is still running or exited with code 0, or our own close. */
  #endsIteration(error: unknown): boolean {
    if (error instanceof EOFError) return true;
    if (error instanceof ConnectionClosedError) return this.#closedHere;
    return error instanceof PythonExitError && error.exitCode === 0 && error.cause instanceof EOFError;
  }

  /** Observed by `wait()` (not for user code), which watches this as it watches {@link connection}. */
  get [readinessHook](): ReadinessHook {
    if (this.connection.closed) throw new ConnectionClosedError();
    return this.connection[readinessHook];
  }

  /** Closes the parent's end; a worker looping on `conn.recv()` then gets EOFError. Idempotent. */
  close(): void {
    this.#closedHere = true;
    this.connection.close();
  }

  async #guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const pending = run();
    let exitTimer: NodeJS.Timeout | undefined;
    let watcher: ((exit: PythonExit) => void) | undefined;
    const exitedMeanwhile = new Promise<PythonExit>((resolve) => {
      watcher = (exit) => {
        exitTimer = setTimeout(() => resolve(exit), AFTER_EXIT_GRACE_MS).unref();
      };
      if (this.#exit !== undefined) watcher(this.#exit);
      else this.#exitWatchers.add(watcher);
    });
    try {
      const outcome = await Promise.race([
        pending.then((value) => ({ value })),
        exitedMeanwhile.then((exit) => ({ exit })),
      ]);
      if ('value' in outcome) return outcome.value;
      // The child is gone and nothing will complete this call (a grandchild may hold the pipe open): end it.
      pending.catch(() => undefined);
      this.connection.close();
      throw new PythonExitError(this.#worker.pid, outcome.exit, operation);
    } catch (error) {
      if (error instanceof PythonExitError || !isBrokenPipe(error)) throw error;
      // A send still going out when this side closed breaks with the pipe: the close is what ended it.
      if (this.#closedHere) {
        if (error instanceof ConnectionClosedError) throw error;
        throw new ConnectionClosedError(`the connection was closed during ${operation}`, { cause: error });
      }
      const exit = await exitWithin(this.#worker.exited, EXIT_AFTER_BREAK_MS);
      if (exit) throw new PythonExitError(this.#worker.pid, exit, operation, { cause: error });
      throw error;
    } finally {
      clearTimeout(exitTimer);
      this.#exitWatchers.delete(watcher!);
    }
  }
}

/** Errors that mean the other end of the pipe went away. */
function isBrokenPipe(error: unknown): boolean {
  if (error instanceof EOFError || error instanceof ConnectionClosedError) return true;
  if (error instanceof TransportError && error.code === 'TRUNCATED_MESSAGE') return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET';
}

async function exitWithin(exited: Promise<PythonExit>, ms: number): Promise<PythonExit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
