/**
 * Addresses and families as `multiprocessing.connection` names them (protocol.md §3.1).
 *
 * - `[host, port]` is `AF_INET`: IPv4 only, as in CPython, whose tuples always make an `AF_INET` socket.
 * - a string is `AF_UNIX`: a filesystem path, or a Linux abstract-namespace name when it starts with `"\0"`.
 * - a string starting with two backslashes is `AF_PIPE` (Windows named pipes), which mpwire refuses.
 *
 * Abstract names and Node 20: its libuv binds and connects Unix sockets with the whole 108-byte `sun_path`,
 * so `"\0name"` becomes `"\0name"` plus NULs up to 108 bytes, a different abstract name from CPython's
 * exact-length `"\0name"`. A TypeScript Listener therefore reports the padded name as its `address` (hand that
 * to Python), and a TypeScript Client reaches a Python Listener only when Python bound the padded name
 * ({@link paddedAbstractAddress}).
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** An address family name, spelled as in Python. */
export type Family = 'AF_INET' | 'AF_UNIX' | 'AF_PIPE';

/** An `AF_INET` address: host name or IPv4 address, and port. */
export type InetAddress = readonly [host: string, port: number];

/** `[host, port]` for `AF_INET`; a path or `"\0name"` for `AF_UNIX`. */
export type Address = InetAddress | string;

/** Families this platform can use, as CPython's `families` on POSIX. */
export const families: readonly Family[] = ['AF_INET', 'AF_UNIX'];

/** CPython's POSIX default. */
export const defaultFamily: Family = 'AF_UNIX';

/**
 * The family an address implies (CPython's `address_type`).
 * @throws RangeError for anything that is neither a `[host, port]` pair nor a string.
 */
export function addressType(address: Address): Family {
  if (Array.isArray(address)) return 'AF_INET';
  if (typeof address === 'string') return address.startsWith('\\\\') ? 'AF_PIPE' : 'AF_UNIX';
  throw new RangeError(`address type of ${JSON.stringify(address) ?? String(address)} unrecognized`);
}

/**
 * Refuses families this platform cannot serve (CPython's `_validate_family`).
 * @throws RangeError for `AF_PIPE`, naming the limitation, and for unknown names.
 */
export function validateFamily(family: string): asserts family is Family {
  if (family === 'AF_PIPE') {
    throw new RangeError(
      'Family AF_PIPE is not recognized. Windows named pipes (\\\\.\\pipe\\...) keep message boundaries in the ' +
        'OS instead of length headers, and mpwire speaks only the socket framing: use AF_INET or AF_UNIX.',
    );
  }
  if (!families.includes(family as Family)) throw new RangeError(`Family ${family} is not recognized.`);
}

/** True for a Linux abstract-namespace name, which has no file to remove. */
export function isAbstractAddress(address: Address): boolean {
  return typeof address === 'string' && address.startsWith('\0');
}

/** A fresh address and, for `AF_UNIX`, the private directory that holds it (the caller removes it). */
export interface ArbitraryAddress {
  readonly address: Address;
  readonly directory?: string;
}

/**
 * A free address for a family (CPython's `arbitrary_address`): `['localhost', 0]` for `AF_INET`, and
 * `<tmpdir>/pymp-XXXXXXXX/listener-XXXXXXXX` for `AF_UNIX`, in a directory of its own.
 */
export function arbitraryAddress(family: Family): ArbitraryAddress {
  validateFamily(family);
  if (family === 'AF_INET') return { address: ['localhost', 0] };
  const directory = mkdtempSync(join(tmpdir(), 'pymp-'));
  return { address: join(directory, `listener-${randomBytes(4).toString('hex')}`), directory };
}

/**
 * Checks that an address has the shape its family needs, and that a Unix socket name fits `sun_path`.
 * @throws TypeError for a wrong shape; RangeError for an IPv6 host under AF_INET, and for a Unix socket
 *   name that does not fit (CPython's `OSError('AF_UNIX path too long')`), which Node 20 would otherwise cut
 *   short without a word and bind or connect to.
 */
export function checkAddressShape(address: Address, family: Family): void {
  if (family === 'AF_INET') {
    if (!Array.isArray(address) || typeof address[0] !== 'string' || !Number.isInteger(address[1])) {
      throw new TypeError('AF_INET address must be a [host, port] pair');
    }
    // Node would take an IPv6 literal whatever family it is asked for; CPython's AF_INET socket refuses it.
    if (isIPv6(address[0])) {
      throw new RangeError(
        `AF_INET address ${address[0]} is IPv6, and AF_INET is IPv4 only, as in CPython (Address family for ` +
          'hostname not supported); use an IPv4 address or a host name',
      );
    }
    return;
  }
  if (typeof address !== 'string') {
    throw new TypeError('AF_UNIX address must be a string path or a "\\0" abstract name');
  }
  // Node would take an empty path for a TCP connect to localhost; CPython's connect('') fails with EINVAL.
  if (address === '') throw new RangeError('AF_UNIX address must not be empty: give a socket path');
  // A path needs its terminating NUL inside sun_path; an abstract name may fill it.
  const room = isAbstractAddress(address) ? SUN_PATH_LENGTH : SUN_PATH_LENGTH - 1;
  const length = Buffer.byteLength(address, 'utf8');
  if (length > room) {
    throw new RangeError(
      `AF_UNIX path too long: ${length} bytes, where a socket ${isAbstractAddress(address) ? 'name' : 'path'} ` +
        `holds at most ${room}; use a shorter path (a directory nearer the root, or a relative path)`,
    );
  }
}

/**
 * Length of `sun_path`: 108 bytes on Linux, which Node 20 fills completely for abstract names; 104 on macOS
 * and the BSDs.
 */
export const SUN_PATH_LENGTH = process.platform === 'linux' ? 108 : 104;

/**
 * The abstract name padded with NULs to 108 bytes: the name Node 20 actually binds or connects to for
 * `name`. Give this to a Python Listener so that a TypeScript Client can reach it.
 */
export function paddedAbstractAddress(name: string): string {
  if (!name.startsWith('\0')) throw new RangeError('an abstract name starts with "\\0"');
  const length = Buffer.byteLength(name, 'utf8');
  if (length > SUN_PATH_LENGTH) throw new RangeError(`abstract name longer than ${SUN_PATH_LENGTH} bytes`);
  return name + '\0'.repeat(SUN_PATH_LENGTH - length);
}

/**
 * The abstract name a listening socket really holds, read from `/proc/net/unix` (where NULs show as `@`):
 * the padded form when Node padded it, otherwise `name` unchanged.
 */
export function boundAbstractAddress(name: string): string {
  const padded = paddedAbstractAddress(name);
  const shown = `@${padded.slice(1).replaceAll('\0', '@')}`;
  try {
    const table = readFileSync('/proc/net/unix', 'latin1');
    if (table.split('\n').some((line) => line.endsWith(` ${shown}`))) return padded;
  } catch {
    // No /proc: keep the name as given.
  }
  return name;
}
