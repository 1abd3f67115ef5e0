/**
 * `Pipe`: two connected ends, and {@link spawnWithPipe} to hand one end to a child process as an inherited
 * file descriptor that Python opens with `multiprocessing.connection.Connection(fd)`.
 */
import { type ChildProcess, type SpawnOptions, type StdioOptions, spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { arbitraryAddress } from './address.js';
import { connectSocket } from './client.js';
import {
  CONNECTION_OPTION_NAMES,
  Connection,
  type ConnectionOptions,
  checkConnectionOptions,
  checkOptionNames,
} from './connection.js';

/**
 * Two connected ends, as CPython's `Pipe(duplex)`: with `duplex` both ends read and write; otherwise the
 * result is `[reader, writer]`. Both ends are Unix stream sockets (CPython uses `socketpair()` for duplex and
 * `os.pipe()` otherwise; the framing is the same). Node has no `socketpair()`, so the pair is made by a
 * one-shot listener on a Linux abstract name (a private temporary path elsewhere). Any local process may
 * connect to an abstract name it reads from `/proc/net/unix`, so the connecting end first sends a random
 * token, and only the connection that brings it becomes the other end.
 */
export async function Pipe(
  duplex = true,
  options: ConnectionOptions = {},
): Promise<[Connection, Connection]> {
  checkConnectionOptions(options);
  const linux = process.platform === 'linux';
  const place = linux ? undefined : arbitraryAddress('AF_UNIX');
  const path = place
    ? (place.address as string)
    : `\0mpwire-pipe-${process.pid}-${randomBytes(8).toString('hex')}`;
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
  const token = randomBytes(PAIRING_TOKEN_LENGTH);
  const strangers = new Set<Socket>();
  try {
    const accepted = new Promise<Socket>((resolve, reject) => {
      server.on('connection', (socket: Socket) => {
        strangers.add(socket);
        void bringsToken(socket, token).then((genuine) => {
          if (!genuine) return socket.destroy();
          strangers.delete(socket);
          resolve(socket);
        });
      });
      server.once('error', reject);
    });
    // A server error rejects this and the listen below (or the pairing) alike; it is reported through them.
    accepted.catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, backlog: 8, exclusive: true }, () => resolve());
    });
    const { socket: first, connected } = connectSocket(path, 'AF_UNIX');
    await connected;
    first.write(token);
    const second = await pairedOrFailed(first, accepted);
    const ends: [Connection, Connection] = duplex
      ? [new Connection(first, {}, options), new Connection(second, {}, options)]
      : [
          new Connection(first, { writable: false }, options),
          new Connection(second, { readable: false }, options),
        ];
    // bringsToken left it paused, which the connection's 'data' listener alone does not undo.
    second.resume();
    return ends;
  } finally {
    for (const socket of strangers) socket.destroy();
    server.close();
    if (place?.directory) rmSync(place.directory, { recursive: true, force: true });
  }
}

/** The accepted end once it brought the token, or the connecting end's error if it fails or closes first. */
function pairedOrFailed(first: Socket, accepted: Promise<Socket>): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const onError = (error: Error): void => settle(() => reject(error));
    const onClose = (): void =>
      settle(() => reject(new Error('the pipe closed before its ends were paired')));
    const settle = (then: () => void): void => {
      first.off('error', onError);
      first.off('close', onClose);
      then();
    };
    first.once('error', onError);
    first.once('close', onClose);
    accepted.then(
      (second) => settle(() => resolve(second)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/** Bytes of the token that tells a Pipe's own connecting end from any other process's connection. */
const PAIRING_TOKEN_LENGTH = 16;

/**
 * Whether the first bytes from `socket` are `token`; leaves the socket paused, with any bytes after the
 * token put back. False when it ends or fails first.
 */
function bringsToken(socket: Socket, token: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (genuine: boolean): void => {
      socket.off('data', onData);
      socket.off('end', refuse);
      socket.off('close', refuse);
      socket.off('error', refuse);
      socket.pause();
      resolve(genuine);
    };
    const refuse = (): void => finish(false);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size < token.byteLength) return;
      const received = Buffer.concat(chunks, size);
      const genuine = timingSafeEqual(received.subarray(0, token.byteLength), token);
      finish(genuine);
      if (genuine && size > token.byteLength) socket.unshift(received.subarray(token.byteLength));
    };
    socket.on('data', onData);
    socket.once('end', refuse);
    socket.once('close', refuse);
    socket.once('error', refuse);
    // Accepted paused (pauseOnConnect), which a 'data' listener alone does not undo.
    socket.resume();
  });
}

/** The environment variable that tells a child which descriptor holds its end of the pipe. */
export const WORKER_FD_ENV = 'MPWIRE_FD';

/** Options of {@link spawnWithPipe}: Node's spawn options plus which end the child gets. */
export interface SpawnWithPipeOptions extends SpawnOptions, ConnectionOptions {
  /** Both directions (default), or one way as set by `childEnd`. */
  readonly duplex?: boolean;
  /** With `duplex: false`: `'writer'` (default) when the child sends and this process reads, `'reader'` otherwise. */
  readonly childEnd?: 'reader' | 'writer';
  /** Descriptor number the child sees. Default 3. */
  readonly fd?: number;
}

/** What spawnWithPipe takes: its own options, a connection's and Node's `spawn` options. */
const SPAWN_WITH_PIPE_OPTION_NAMES: readonly string[] = [
  ...Object.keys({
    duplex: true,
    childEnd: true,
    fd: true,
    cwd: true,
    env: true,
    argv0: true,
    stdio: true,
    detached: true,
    uid: true,
    gid: true,
    serialization: true,
    shell: true,
    windowsVerbatimArguments: true,
    windowsHide: true,
    signal: true,
    timeout: true,
    killSignal: true,
  } satisfies Record<Exclude<keyof SpawnWithPipeOptions, keyof ConnectionOptions>, true>),
  ...CONNECTION_OPTION_NAMES,
];

/** The spawned child, this process's end, and the child's descriptor number. */
export interface SpawnedWithPipe {
  readonly child: ChildProcess;
  readonly connection: Connection;
  readonly fd: number;
}

/**
 * Spawns `command` with one end of a Unix socket pair at descriptor `fd` (default 3); returns the other end.
 * In a Python child: `Connection(3)`, or `Connection(3, readable=False)` / `Connection(3, writable=False)`
 * for one-way use. The parent's copy of the child's end is closed right after spawning.
 * Unset `stdio` slots below `fd` inherit stdin/stdout/stderr and ignore the rest. The child's environment
 * also gets `MPWIRE_FD` (the descriptor number), so a script need not be told it on the command line.
 */
export function spawnWithPipe(
  command: string,
  args: readonly string[],
  options: SpawnWithPipeOptions = {},
): SpawnedWithPipe {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`options must be an object, not ${options === null ? 'null' : typeof options}`);
  }
  checkOptionNames(options, SPAWN_WITH_PIPE_OPTION_NAMES);
  const {
    duplex = true,
    childEnd = 'writer',
    fd = 3,
    protocol,
    picklerOptions,
    unpicklerOptions,
    maxMessageLength,
    readHighWaterMark,
    ...spawnOptions
  } = options;
  if (!Number.isInteger(fd) || fd < 3) throw new RangeError(`fd must be an integer of at least 3, got ${fd}`);
  const connectionOptions: ConnectionOptions = {
    protocol,
    picklerOptions,
    unpicklerOptions,
    maxMessageLength,
    readHighWaterMark,
  };
  checkConnectionOptions(connectionOptions);
  const given: StdioOptions = spawnOptions.stdio ?? 'inherit';
  const slots: (string | number | null | undefined | object)[] = Array.isArray(given)
    ? [...given]
    : [given, given, given];
  while (slots.length <= fd) slots.push(slots.length < 3 ? 'inherit' : 'ignore');
  if (slots[fd] !== 'ignore' && slots[fd] !== undefined && slots[fd] !== null) {
    throw new RangeError(`stdio slot ${fd} is already used`);
  }
  slots[fd] = 'pipe';
  const env = { ...(spawnOptions.env ?? process.env), [WORKER_FD_ENV]: String(fd) };
  const child = spawn(command, args, { ...spawnOptions, env, stdio: slots as StdioOptions });
  const socket = child.stdio?.[fd] as Socket | null | undefined;
  if (!socket) {
    // Node sets up no stdio when a spawn fails for want of file descriptors, and reports it in an 'error'
    // event on the next tick, which would find no listener and end this process: this throw reports it.
    child.once('error', () => undefined);
    throw new Error(
      `spawn ${command}: no file descriptors left for the child's stdio and pipe (EMFILE or ENFILE); close ` +
        'some connections or workers, or raise the limit (ulimit -n)',
    );
  }
  const modes = duplex ? {} : childEnd === 'writer' ? { writable: false } : { readable: false };
  return { child, connection: new Connection(socket, modes, connectionOptions), fd };
}
