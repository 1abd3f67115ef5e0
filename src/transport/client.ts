/** `Client`: connect to a `multiprocessing.connection.Listener` (or an mpwire one) and authenticate. */
import { connect, type Socket } from 'node:net';
import {
  type Address,
  addressType,
  checkAddressShape,
  type Family,
  isAbstractAddress,
  SUN_PATH_LENGTH,
  validateFamily,
} from './address.js';
import { type Authkey, authkeyBytes } from './auth.js';
import {
  type CallOptions,
  Connection,
  type ConnectionOptions,
  checkConnectionOptions,
  timeoutMilliseconds,
} from './connection.js';
import { DirectReadChannel, registerDirectRead } from './direct-read.js';
import { authenticate, withDeadline } from './handshake.js';

/** Options of {@link Client}. */
export interface ClientOptions extends ConnectionOptions, CallOptions {
  /** Defaults to the family the address implies. */
  readonly family?: Family;
  /**
   * Key for the handshake; a string is taken as UTF-8. `undefined`/`null` skip authentication (Python's
   * default). It must match the Listener's: a key on one side only deadlocks in CPython, so use `timeout`.
   */
  readonly authkey?: Authkey | null;
  /** Seconds allowed for connecting and authenticating together. Default (and `null`): none, as Python. */
  readonly timeout?: number | null;
}

/** ClientOptions beyond a connection's; a record of every key, so that one added there and not here fails to compile. */
const CLIENT_OPTION_NAMES: readonly string[] = Object.keys({
  family: true,
  authkey: true,
  timeout: true,
  signal: true,
} satisfies Record<Exclude<keyof ClientOptions, keyof ConnectionOptions>, true>);

/** Adds the Node 20 abstract-name padding to a refused connection, since the bare errno hides it. */
function explainAbstractRefusal(error: Error, address: Address): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (
    code !== 'ECONNREFUSED' ||
    !isAbstractAddress(address) ||
    (address as string).length >= SUN_PATH_LENGTH
  ) {
    return error;
  }
  error.message +=
    ' (Node pads abstract names to 108 bytes; a Python Listener must bind paddedAbstractAddress(name) for a' +
    ' Node client to reach it)';
  return error;
}

/** Opens the socket for an address; resolves once connected. */
export function connectSocket(
  address: Address,
  family: Family,
): { socket: Socket; connected: Promise<void> } {
  // Reads go where the connection says (see direct-read.ts): large payloads land in their own buffer.
  const channel = new DirectReadChannel();
  const socket =
    family === 'AF_INET'
      ? connect({
          host: address[0] as string,
          port: address[1] as number,
          family: 4,
          allowHalfOpen: true,
          onread: channel.onread,
        })
      : connect({ path: address as string, allowHalfOpen: true, onread: channel.onread });
  registerDirectRead(socket, channel);
  if (family === 'AF_INET') socket.setNoDelay(true);
  const connected = new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(explainAbstractRefusal(error, address));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve();
    });
  });
  return { socket, connected };
}

/**
 * Connects to `address` and, when an `authkey` is given, runs the handshake (answer first, then challenge,
 * as CPython's `Client`). Addresses: `[host, port]` (IPv4), a Unix socket path, or `"\0name"` (Linux abstract).
 * @throws RangeError for `AF_PIPE` or a bad address; TypeError for a bad key (checked before connecting);
 *   the socket's error (e.g. `ECONNREFUSED`, no retry, as CPython 3; a Unix socket whose backlog is full is
 *   waited for, as CPython's blocking connect waits); AuthenticationError; TransportError `TIMEOUT`.
 */
export async function Client(address: Address, options: ClientOptions = {}): Promise<Connection> {
  checkConnectionOptions(options, CLIENT_OPTION_NAMES);
  const family = options.family ?? addressType(address);
  validateFamily(family);
  checkAddressShape(address, family);
  const authkey =
    options.authkey === null || options.authkey === undefined ? undefined : authkeyBytes(options.authkey);
  // Every argument is checked before the socket exists: a throw after it would leave its error unhandled.
  const milliseconds = timeoutMilliseconds(options.timeout);
  // A deadline of nothing would only race the connect: fail or not by chance.
  if (milliseconds !== undefined && !(options.timeout! > 0)) {
    throw new RangeError(
      `Client timeout must be more than 0 seconds, not ${options.timeout}; leave it out to wait without a limit`,
    );
  }
  options.signal?.throwIfAborted();
  let socket: Socket | undefined;
  let connection: Connection | undefined;
  let givenUp = false;
  const work = (async () => {
    // A Unix socket whose listener's backlog is full refuses a non-blocking connect with EAGAIN, where
    // CPython's blocking connect waits for room (its Listener's default backlog is 1): retried until there is
    // room, the deadline passes or the signal aborts.
    for (let delay = 1; ; delay = Math.min(delay * 2, MAX_EAGAIN_DELAY_MS)) {
      const attempt = connectSocket(address, family);
      socket = attempt.socket;
      try {
        await attempt.connected;
        break;
      } catch (error) {
        if (family === 'AF_INET' || (error as NodeJS.ErrnoException).code !== 'EAGAIN' || givenUp)
          throw error;
        socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, delay));
        if (givenUp) throw error;
      }
    }
    connection = new Connection(socket, {}, options);
    if (authkey !== undefined) await authenticate(connection, authkey, 'client');
    return connection;
  })();
  const giveUp = (): void => {
    givenUp = true;
    if (connection) connection.close();
    else socket?.destroy();
  };
  return withDeadline(work, milliseconds, options.signal, 'connecting and authenticating', () => {
    work.catch(() => undefined);
    giveUp();
  }).catch((error: unknown) => {
    giveUp();
    throw error;
  });
}

/** The longest pause between connects to a Unix socket whose backlog is full. */
const MAX_EAGAIN_DELAY_MS = 100;
