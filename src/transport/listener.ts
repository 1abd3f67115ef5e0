/** `Listener`: accept authenticated connections from `multiprocessing.connection.Client` peers. */

import { lookup } from 'node:dns/promises';
import { rmSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type Address,
  addressType,
  arbitraryAddress,
  boundAbstractAddress,
  checkAddressShape,
  defaultFamily,
  type Family,
  isAbstractAddress,
  validateFamily,
} from './address.js';
import { type Authkey, authkeyBytes } from './auth.js';
import {
  type CallOptions,
  Connection,
  type ConnectionOptions,
  checkConnectionOptions,
  checkWholeNumber,
  eventLoopTurn,
  holdReadingHook,
  type ReadinessHook,
  readinessHook,
  timeoutMilliseconds,
} from './connection.js';
import { adoptAcceptedSocket } from './direct-read.js';
import { TransportError } from './errors.js';
import { authenticate, withDeadline } from './handshake.js';

/** Options of {@link Listener.listen}. */
export interface ListenerOptions extends ConnectionOptions {
  /** Defaults to the family the address implies, else `AF_UNIX` (CPython's POSIX default). */
  readonly family?: Family;
  /**
   * Kernel accept backlog. Default Node's (511); CPython's default of 1 suits only its one-at-a-time accept.
   * 0 is taken as 1, the smallest queue Linux keeps for `listen(0)` (Node would read 0 as its default).
   */
  readonly backlog?: number;
  /**
   * Key every client must prove; a string is taken as UTF-8. `undefined`/`null` accept without a handshake.
   * An empty key still authenticates, as CPython 3.13 (earlier versions skipped it on the Listener side only).
   */
  readonly authkey?: Authkey | null;
  /**
   * Seconds a client may take to finish the handshake before it is dropped. Default 20 (CPython's
   * CONNECTION_TIMEOUT); `null` waits without a limit, as CPython's Listener does.
   */
  readonly handshakeTimeout?: number | null;
  /**
   * Told about every connection dropped for a failed or stalled handshake; the listener keeps serving. What
   * it throws is reported as a process warning, so it cannot stop the listener or the process.
   */
  readonly onHandshakeError?: (error: unknown, peer: Address) => void;
}

interface Accepted {
  readonly connection: Connection;
  readonly peer: Address;
}

interface PendingAccept {
  readonly resolve: (accepted: Accepted) => void;
  readonly reject: (error: unknown) => void;
}

const DEFAULT_HANDSHAKE_TIMEOUT_SECONDS = 20;

/** ListenerOptions beyond a connection's; a record of every key, so that one added there and not here fails to compile. */
const LISTENER_OPTION_NAMES: readonly string[] = Object.keys({
  family: true,
  backlog: true,
  authkey: true,
  handshakeTimeout: true,
  onHandshakeError: true,
} satisfies Record<Exclude<keyof ListenerOptions, keyof ConnectionOptions>, true>);

function listenerClosed(): TransportError {
  return new TransportError('LISTENER_CLOSED', 'listener is closed');
}

/**
 * A bound, listening socket that hands out authenticated {@link Connection}s (CPython's `Listener`).
 *
 * Unlike CPython, connections are accepted and authenticated in the background as they arrive, each under
 * its own handshake timeout, so one stalled or hostile peer never holds up the others; `accept()` returns the
 * next connection that passed. A failed handshake closes only that connection.
 */
export class Listener implements AsyncIterable<Connection> {
  private readonly server: Server;
  private readonly family: Family;
  private readonly boundAddress: Address;
  private readonly ownedDirectory: string | undefined;
  private readonly options: ListenerOptions;
  private readonly authkey: Uint8Array | undefined;
  private readonly ready: Accepted[] = [];
  private readonly waiting: PendingAccept[] = [];
  private readonly handshaking = new Set<Connection>();
  private readonly readinessListeners = new Set<() => void>();
  private lastPeer: Address | null = null;
  private isClosed = false;

  private constructor(
    server: Server,
    family: Family,
    boundAddress: Address,
    ownedDirectory: string | undefined,
    options: ListenerOptions,
  ) {
    this.server = server;
    this.family = family;
    this.boundAddress = boundAddress;
    this.ownedDirectory = ownedDirectory;
    this.options = options;
    this.authkey =
      options.authkey === null || options.authkey === undefined ? undefined : authkeyBytes(options.authkey);
    server.on('connection', (socket) => this.onSocket(socket));
  }

  /**
   * Binds and listens. With no address, picks one as CPython's `arbitrary_address` (a fresh Unix socket
   * under a private `pymp-*` directory, or `['localhost', 0]` for `AF_INET`).
   * @throws RangeError for `AF_PIPE`, a bad address, backlog or timeout; TypeError for a bad key; BAD_OPTION for
   *   bad codec options; the socket's error (e.g. `EADDRINUSE`).
   */
  static async listen(address?: Address, options: ListenerOptions = {}): Promise<Listener> {
    checkConnectionOptions(options, LISTENER_OPTION_NAMES);
    // CPython's `address or arbitrary_address(family)`: an empty path asks for an arbitrary address too.
    if (address === '') address = undefined;
    const family = options.family ?? (address === undefined ? defaultFamily : addressType(address));
    validateFamily(family);
    if (options.authkey !== null && options.authkey !== undefined) authkeyBytes(options.authkey);
    const handshakeTimeout = timeoutMilliseconds(options.handshakeTimeout);
    // A deadline of nothing would drop every client before it could answer.
    if (handshakeTimeout !== undefined && !(options.handshakeTimeout! > 0)) {
      throw new RangeError(
        `handshakeTimeout must be more than 0 seconds, not ${options.handshakeTimeout}; pass null to wait without a limit`,
      );
    }
    checkWholeNumber('backlog', options.backlog, 0);
    let ownedDirectory: string | undefined;
    if (address === undefined) {
      const arbitrary = arbitraryAddress(family);
      address = arbitrary.address;
      ownedDirectory = arbitrary.directory;
    }
    checkAddressShape(address, family);
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    try {
      if (family === 'AF_INET') {
        const [host, port] = address as readonly [string, number];
        // AF_INET is IPv4 only, as CPython: resolve the name for IPv4 ('' means every interface).
        const ip = host === '' ? '0.0.0.0' : (await lookup(host, { family: 4 })).address;
        await listenOn(server, { host: ip, port, backlog: kernelBacklog(options.backlog) });
      } else {
        await listenOn(server, { path: address as string, backlog: kernelBacklog(options.backlog) });
      }
    } catch (error) {
      if (ownedDirectory) rmSync(ownedDirectory, { recursive: true, force: true });
      throw error;
    }
    const bound = server.address();
    const resolved: Address =
      family === 'AF_INET' && bound !== null && typeof bound === 'object'
        ? [bound.address, bound.port]
        : isAbstractAddress(address)
          ? boundAbstractAddress(address as string)
          : (address as string);
    return new Listener(server, family, resolved, ownedDirectory, options);
  }

  /**
   * The bound address, resolved: `['127.0.0.1', 45043]` for `['localhost', 0]`, the path for a Unix socket,
   * and for an abstract name the name as the kernel holds it (padded to 108 bytes under Node 20; see `address.ts`).
   */
  get address(): Address {
    if (this.isClosed) throw listenerClosed();
    return this.boundAddress;
  }

  /** The peer address of the last connection returned by `accept()` (`''` for Unix sockets), or null. */
  get lastAccepted(): Address | null {
    return this.lastPeer;
  }

  /** True once {@link close} has run. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * The next authenticated connection.
   * @throws TransportError `LISTENER_CLOSED` (CPython's `OSError('listener is closed')`), also when closed while waiting.
   */
  async accept(options: CallOptions = {}): Promise<Connection> {
    if (this.isClosed) throw listenerClosed();
    options.signal?.throwIfAborted();
    const next = this.ready.shift();
    if (next !== undefined) {
      next.connection[holdReadingHook](false);
      // What the peer sent while it waited is in the kernel: one turn of the event loop reads it, so that a
      // poll(0) right after accept() sees it, as CPython's would.
      await eventLoopTurn();
    }
    const accepted =
      next ??
      (await new Promise<Accepted>((resolve, reject) => {
        const signal = options.signal;
        const onAbort = (): void => {
          const index = this.waiting.indexOf(pending);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(signal?.reason);
        };
        const pending: PendingAccept = {
          resolve: (value) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(value);
          },
          reject: (error) => {
            signal?.removeEventListener('abort', onAbort);
            reject(error);
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(pending);
      }));
    this.lastPeer = accepted.peer;
    return accepted.connection;
  }

  /**
   * Stops listening, closes connections not yet accepted or still authenticating, fails waiting `accept()`
   * calls, and removes the Unix socket file (and the directory of an arbitrary address). Idempotent.
   */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.server.close();
    for (const pending of this.waiting.splice(0)) pending.reject(listenerClosed());
    for (const { connection } of this.ready.splice(0)) connection.close();
    for (const connection of this.handshaking) connection.close();
    this.handshaking.clear();
    if (this.family === 'AF_UNIX' && !isAbstractAddress(this.boundAddress)) {
      try {
        unlinkSync(this.boundAddress as string);
      } catch {
        // Already gone: libuv removes it too when the handle closes.
      }
    }
    if (this.ownedDirectory) rmSync(this.ownedDirectory, { recursive: true, force: true });
    this.notifyReadiness();
  }

  /** Closes the listener and waits until the server socket is released. */
  async [Symbol.asyncDispose](): Promise<void> {
    const released = this.server.listening
      ? new Promise<void>((resolve) => this.server.once('close', () => resolve()))
      : Promise.resolve();
    this.close();
    await released;
  }

  /** Accepted connections until the listener is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<Connection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof TransportError && error.code === 'LISTENER_CLOSED') return;
        throw error;
      }
    }
  }

  /** Observed by `wait()` (not for user code): ready when an authenticated connection is waiting to be accepted. */
  get [readinessHook](): ReadinessHook {
    return {
      ready: () => this.ready.length > 0 || this.isClosed,
      subscribe: (listener) => {
        this.readinessListeners.add(listener);
        return () => this.readinessListeners.delete(listener);
      },
    };
  }

  private notifyReadiness(): void {
    for (const listener of [...this.readinessListeners]) listener();
  }

  private onSocket(accepted: Socket): void {
    if (this.isClosed) {
      accepted.destroy();
      return;
    }
    const socket = adoptAcceptedSocket(accepted, true);
    if (this.family === 'AF_INET') socket.setNoDelay(true);
    const peer: Address =
      this.family === 'AF_INET'
        ? [socket.remoteAddress ?? '', socket.remotePort ?? 0]
        : (socket.remoteAddress ?? '');
    const connection = new Connection(socket, {}, this.options);
    if (this.authkey === undefined) {
      this.enqueue({ connection, peer });
      return;
    }
    this.handshaking.add(connection);
    const seconds = this.options.handshakeTimeout;
    const timeout = timeoutMilliseconds(seconds === undefined ? DEFAULT_HANDSHAKE_TIMEOUT_SECONDS : seconds);
    withDeadline(authenticate(connection, this.authkey, 'listener'), timeout, undefined, 'handshake', () =>
      connection.close(),
    ).then(
      () => {
        this.handshaking.delete(connection);
        this.enqueue({ connection, peer });
      },
      (error: unknown) => {
        this.handshaking.delete(connection);
        connection.close();
        if (!this.isClosed) this.reportHandshakeError(error, peer);
      },
    );
  }

  private reportHandshakeError(error: unknown, peer: Address): void {
    try {
      this.options.onHandshakeError?.(error, peer);
    } catch (thrown) {
      // Thrown here, it would be an unhandled rejection, which ends the process.
      process.emitWarning(
        `onHandshakeError threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`,
        {
          type: 'MpwireWarning',
          detail: thrown instanceof Error ? thrown.stack : undefined,
        },
      );
    }
  }

  private enqueue(accepted: Accepted): void {
    if (this.isClosed) {
      accepted.connection.close();
      return;
    }
    const pending = this.waiting.shift();
    if (pending) pending.resolve(accepted);
    else {
      // Until accept() takes it, its peer's bytes wait in the kernel, not in this process.
      accepted.connection[holdReadingHook](true);
      this.ready.push(accepted);
      this.notifyReadiness();
    }
  }
}

/** Node reads a backlog of 0 as "its default" (511); the kernel's smallest queue is what 0 asks for. */
function kernelBacklog(backlog: number | undefined): number | undefined {
  return backlog === 0 ? 1 : backlog;
}

function listenOn(
  server: Server,
  options: { host?: string; port?: number; path?: string; backlog: number | undefined },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen({ ...options, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
