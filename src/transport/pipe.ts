/**
 * `Pipe`: two connected ends, and {@link spawnWithPipe} to hand one end to a child process as an inherited
 * file descriptor that Python opens with `multiprocessing.connection.Connection(fd)`.
 */
import { type ChildProcess, type SpawnOptions, type StdioOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { arbitraryAddress } from './address.js';
import { connectSocket } from './client.js';
import { Connection, type ConnectionOptions, checkConnectionOptions } from './connection.js';

/**
 * Two connected ends, as CPython's `Pipe(duplex)`: with `duplex` both ends read and write; otherwise the
 * result is `[reader, writer]`. Both ends are Unix stream sockets (CPython uses `socketpair()` for duplex and
 * `os.pipe()` otherwise; the framing is the same). Node has no `socketpair()`, so the pair is made by a
 * one-shot listener on a Linux abstract name (a private temporary path elsewhere).
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
  const server = createServer({ allowHalfOpen: true });
  try {
    const accepted = new Promise<Socket>((resolve, reject) => {
      server.once('connection', resolve);
      server.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path, backlog: 1, exclusive: true }, () => resolve());
    });
    const { socket: first, connected } = connectSocket(path, 'AF_UNIX');
    const [second] = await Promise.all([accepted, connected]);
    return duplex
      ? [new Connection(first, {}, options), new Connection(second, {}, options)]
      : [
          new Connection(first, { writable: false }, options),
          new Connection(second, { readable: false }, options),
        ];
  } finally {
    server.close();
    if (place?.directory) rmSync(place.directory, { recursive: true, force: true });
  }
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
  const socket = child.stdio[fd] as Socket | null;
  if (!socket) throw new Error(`spawn did not create a socket at stdio slot ${fd}`);
  const modes = duplex ? {} : childEnd === 'writer' ? { writable: false } : { readable: false };
  return { child, connection: new Connection(socket, modes, connectionOptions), fd };
}
