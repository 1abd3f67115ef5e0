/**
 * The language-neutral connection, listener, auth and poll tests of CPython's `_test_multiprocessing.py`
 * (protocol.md §6), ported with a Python peer on the other end. Names follow the CPython tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  ConnectionClosedError,
  EOFError,
  Listener,
  Pipe,
  spawnWithPipe,
  TransportError,
} from '../src/transport/index.js';
import {
  atLeast,
  hex,
  PEER_SCRIPT,
  type PythonPeer,
  pattern,
  sha256,
  startPeers,
} from './support/mp-peer.js';
import { connectPair, FAMILIES, freshAddress } from './support/pairs.js';
import { describePythons, findPythons } from './support/pythons.js';

const pythons = findPythons();
const newest = pythons.at(-1)!;
let peers: PythonPeer[] = [];

beforeAll(async () => {
  console.log(`CPython connection tests ported, against: ${describePythons(pythons)}`);
  peers = await startPeers(pythons);
}, 60_000);

afterAll(async () => {
  await Promise.all(peers.map((peer) => peer.stop()));
});

const peerOf = (index: number): PythonPeer => peers[index]!;
const keyHex = (key: string): string => Buffer.from(key).toString('hex');

describe.each(pythons.map((python, index) => ({ label: python.label, index, python })))(
  'CPython $label',
  ({ index, python }) => {
    it('_TestConnection.test_connection: pickles, bytes, recv_bytes_into, BufferTooShort, poll, 16 MiB, EOF', async () => {
      const { child, connection: conn } = spawnWithPipe(
        python.executable,
        [PEER_SCRIPT, 'pipe-child', '3', 'echo'],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          protocol: python.version[0] === 2 ? 2 : 3,
        },
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const seq = [1, 2.25, null];
      await conn.send(seq);
      expect(await conn.recv()).toEqual(seq);

      const msg = Buffer.from('hello');
      await conn.sendBytes(msg);
      expect(Buffer.from(await conn.recvBytes()).toString()).toBe('hello');

      const buffer = new Int32Array([0, 1, 2, 3, 4]);
      const ints = new Uint8Array(new Int32Array([10, 20, 30]).buffer);
      await conn.sendBytes(ints);
      expect(await conn.recvBytesInto(buffer)).toBe(12);
      expect([...buffer]).toEqual([10, 20, 30, 3, 4]);
      await conn.sendBytes(ints);
      expect(await conn.recvBytesInto(buffer, 8)).toBe(12);
      expect([...buffer]).toEqual([10, 20, 10, 20, 30]);

      const long = pattern(40, 1);
      await conn.sendBytes(long);
      const error = await conn.recvBytesInto(new Uint8Array(10)).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'BufferTooShort' });
      expect(hex((error as { payload: Uint8Array }).payload)).toBe(hex(long));

      expect(await conn.poll()).toBe(false);
      expect(await conn.poll(-1)).toBe(false);
      const started = performance.now();
      expect(await conn.poll(0.1)).toBe(false);
      expect(performance.now() - started).toBeGreaterThanOrEqual(95);
      await conn.sendBytes(Buffer.from('x'));
      expect(await conn.poll(5)).toBe(true);
      expect(Buffer.from(await conn.recvBytes()).toString()).toBe('x');

      const really = pattern(16 << 20, 3);
      await conn.sendBytes(really);
      expect(sha256(await conn.recvBytes())).toBe(sha256(really));

      child.kill('SIGTERM');
      await exited;
      await expect(conn.recv()).rejects.toBeInstanceOf(EOFError);
      await expect(conn.recvBytes()).rejects.toBeInstanceOf(EOFError);
      expect([conn.readable, conn.writable]).toEqual([true, true]);
      conn.close();
    });

    it('_TestConnection.test_sendbytes: offset and size slicing, and the argument errors, as CPython', async () => {
      const peer = peerOf(index);
      const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: false });
      try {
        const msg = Uint8Array.from({ length: 16 }, (_, i) => i + 4);
        const cases: [number | undefined, number | undefined, Uint8Array][] = [
          [undefined, undefined, msg],
          [0, undefined, msg],
          [10, undefined, msg.subarray(10)],
          [7, 8, msg.subarray(7, 15)],
          [16, undefined, new Uint8Array(0)],
          [16, 0, new Uint8Array(0)],
        ];
        for (const [offset, size, expected] of cases) {
          const received = peer.call<{ hex: string }>('recv_bytes', { conn: pair.py });
          await pair.ts.sendBytes(msg, offset, size);
          expect((await received).hex).toBe(hex(expected));
        }
        for (const [offset, size] of [
          [17, undefined],
          [16, 1],
          [-1, undefined],
          [4, -1],
          [14, 4],
        ] as const) {
          const ours = await pair.ts.sendBytes(msg, offset, size).catch((e: unknown) => e as Error);
          const theirs = await peer.attempt('send_bytes', {
            conn: pair.py,
            data: { hex: hex(msg) },
            offset,
            size: size ?? null,
          });
          expect(ours).toBeInstanceOf(RangeError);
          expect(theirs.error?.type).toBe('ValueError');
          expect((ours as Error).message).toBe(theirs.error?.message);
        }
      } finally {
        await pair.close();
      }
    });

    it('_TestListenerClient.test_listener_client: a Python client sends a str over each family', async () => {
      const peer = peerOf(index);
      for (const family of FAMILIES) {
        const listener = await Listener.listen(freshAddress(family));
        const [client, conn] = await Promise.all([
          peer.call<{ conn: string }>('client', { address: listener.address }),
          listener.accept(),
        ]);
        await peer.call('send_pickle', { conn: client.conn, expr: "u'hello'" });
        expect(await conn.recv()).toBe('hello');
        conn.close();
        listener.close();
        await peer.call('close', { handle: client.conn });
      }
    });

    it('_TestListenerClient.test_issue14725: data sent and closed before accept() is still received', async () => {
      const peer = peerOf(index);
      const listener = await Listener.listen(freshAddress('AF_UNIX'), { authkey: 'k' });
      try {
        const client = await peer.call<{ conn: string }>('client', {
          address: listener.address,
          authkey: keyHex('k'),
        });
        // Right behind the handshake: a message longer than the 256-byte handshake cap must not be refused.
        await peer.call('send_many', {
          conn: client.conn,
          messages: [{ hex: keyHex('hello') }, { size: 100_000 }],
        });
        await peer.call('close', { handle: client.conn });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const conn = await listener.accept();
        expect(Buffer.from(await conn.recvBytes()).toString()).toBe('hello');
        expect(sha256(await conn.recvBytes())).toBe(sha256(pattern(100_000)));
        await expect(conn.recvBytes()).rejects.toBeInstanceOf(EOFError);
        conn.close();
      } finally {
        listener.close();
      }
    });

    it('_TestListenerClient.test_issue16955: poll(1) is true once the accepted side sends, for each family', async () => {
      const peer = peerOf(index);
      for (const family of FAMILIES) {
        const pair = await connectPair(peer, { family, pythonListens: true });
        await peer.call('send_bytes', { conn: pair.py, data: { hex: '6869' } });
        expect(await pair.ts.poll(1)).toBe(true);
        await pair.close();
      }
    });

    it('_TestPoll.test_empty_string / test_strings / test_dont_merge: poll stays true until read, order kept', async () => {
      const peer = peerOf(index);
      const pair = await connectPair(peer, { family: 'AF_INET', pythonListens: false });
      try {
        expect(await pair.ts.poll()).toBe(false);
        await peer.call('send_bytes', { conn: pair.py, data: { hex: '' } });
        expect(await pair.ts.poll(5)).toBe(true);
        expect(await pair.ts.poll()).toBe(true);
        expect((await pair.ts.recvBytes()).byteLength).toBe(0);
        expect(await pair.ts.poll()).toBe(false);

        const strings = ['hello', '', 'a', 'b', '', 'bye', '', 'lop'];
        await peer.call('send_many', { conn: pair.py, messages: strings.map((s) => ({ hex: keyHex(s) })) });
        for (const expected of strings) {
          expect(await pair.ts.poll(5)).toBe(true);
          expect(Buffer.from(await pair.ts.recvBytes()).toString()).toBe(expected);
        }
        await peer.call('send_many', {
          conn: pair.py,
          messages: ['a', 'b', 'cd'].map((s) => ({ hex: keyHex(s) })),
        });
        for (const expected of ['a', 'b', 'cd']) {
          expect(await pair.ts.poll(5)).toBe(true);
          expect(Buffer.from(await pair.ts.recvBytes()).toString()).toBe(expected);
        }
      } finally {
        await pair.close();
      }
    });

    it('_TestListener.test_empty_authkey: an empty key still authenticates (CPython 3.13 semantics)', async () => {
      const peer = peerOf(index);
      // Every Python Client authenticates with b''; our Listener does too, as 3.13's does.
      const listener = await Listener.listen(freshAddress('AF_UNIX'), { authkey: '' });
      const [client, conn] = await Promise.all([
        peer.call<{ conn: string }>('client', { address: listener.address, authkey: '' }),
        listener.accept(),
      ]);
      await conn.sendBytes(Buffer.from('ok'));
      expect((await peer.call<{ hex: string }>('recv_bytes', { conn: client.conn })).hex).toBe(keyHex('ok'));
      conn.close();
      listener.close();
      await peer.call('close', { handle: client.conn });
      if (!atLeast(python, 3, 13)) return; // ≤3.12 Listeners skip auth for b'' (bpo-43952): a deadlock by design
      const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: true, authkey: '' });
      await pair.ts.sendBytes(Buffer.from('ok'));
      expect((await peer.call<{ hex: string }>('recv_bytes', { conn: pair.py })).hex).toBe(keyHex('ok'));
      await pair.close();
    });
  },
);

describe(`CPython ${newest.label} only`, () => {
  it('_TestListener.test_multiple_bind: binding an address in use fails on either side, for each family', async () => {
    const peer = peers.at(-1)!;
    for (const family of ['AF_INET', 'AF_UNIX'] as const) {
      const ours = await Listener.listen(freshAddress(family));
      const theirs = await peer.attempt('listen', { address: ours.address });
      expect(theirs.error?.type).toMatch(/OSError|AddressInUse/);
      ours.close();
      const bound = await peer.call<{ handle: string; address: [string, number] | string }>('listen', {
        address: freshAddress(family),
      });
      await expect(Listener.listen(bound.address)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      await peer.call('close', { handle: bound.handle });
    }
  });

  it('_TestListener.test_abstract_socket: a "\\0" name round trip; the address is the padded name Node holds', async () => {
    const peer = peers.at(-1)!;
    const listener = await Listener.listen('\0mpwire-abstract-test');
    expect(
      typeof listener.address === 'string' && listener.address.startsWith('\0mpwire-abstract-test'),
    ).toBe(true);
    const [client, conn] = await Promise.all([
      peer.call<{ conn: string }>('client', { address: listener.address }),
      listener.accept(),
    ]);
    await conn.sendBytes(Buffer.from('abstract'));
    expect((await peer.call<{ hex: string }>('recv_bytes', { conn: client.conn })).hex).toBe(
      keyHex('abstract'),
    );
    expect(listener.lastAccepted).toBe('');
    conn.close();
    await listener[Symbol.asyncDispose]();
    expect(listener.closed).toBe(true);
    await peer.call('close', { handle: client.conn });
  });

  it('_TestListener.test_context: closing by asyncDispose; accept() afterwards fails; the socket file is removed', async () => {
    const listener = await Listener.listen(undefined, { family: 'AF_UNIX' });
    const path = listener.address as string;
    expect(path).toMatch(/pymp-[^/]+\/listener-[0-9a-f]{8}$/);
    const client = await Client(path);
    const accepted = await listener.accept();
    await client[Symbol.asyncDispose]();
    await accepted[Symbol.asyncDispose]();
    await listener[Symbol.asyncDispose]();
    await expect(listener.accept()).rejects.toThrow(
      new TransportError('LISTENER_CLOSED', 'listener is closed'),
    );
    await expect(accepted.recvBytes()).rejects.toBeInstanceOf(ConnectionClosedError);
    const { existsSync } = await import('node:fs');
    expect(existsSync(path)).toBe(false);
  });

  it('TestInvalidFamily.test_invalid_family: a \\\\.\\ pipe address is refused with a clear error', async () => {
    await expect(Listener.listen('\\\\.\\test')).rejects.toThrow(
      /Family AF_PIPE is not recognized.*named pipes/,
    );
    await expect(Client('\\\\.\\pipe\\x')).rejects.toThrow(RangeError);
  });

  it('a Unix socket path longer than sun_path is refused, as CPython refuses it, not cut short', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const directory = mkdtempSync(`${tmpdir()}/mpwire-`);
    const pathOf = (bytes: number): string => `${directory}/${'p'.repeat(bytes - directory.length - 1)}`;
    try {
      const peer = peerOf(pythons.length - 1);
      // CPython binds 107 bytes and refuses 108.
      const pyListening = await peer.call<{ handle: string }>('listen', { address: pathOf(107) });
      await peer.call('close', { handle: pyListening.handle });
      await expect(peer.call('listen', { address: pathOf(108) })).rejects.toThrow(/AF_UNIX path too long/);
      await expect(Listener.listen(pathOf(108))).rejects.toThrow(
        new RangeError(
          `AF_UNIX path too long: 108 bytes, where a socket path holds at most 107; use a shorter path (a directory nearer the root, or a relative path)`,
        ),
      );
      await expect(Client(pathOf(125))).rejects.toThrow(/AF_UNIX path too long: 125 bytes/);
      // 107 bytes is bound exactly: CPython reaches it by the same path.
      await using listener = await Listener.listen(pathOf(107));
      expect(listener.address).toBe(pathOf(107));
      const [client, accepted] = await Promise.all([
        peer.call<{ conn: string }>('client', { address: pathOf(107) }),
        listener.accept(),
      ]);
      await accepted.sendBytes(Buffer.from('fits'));
      expect((await peer.call<{ hex: string }>('recv_bytes', { conn: client.conn })).hex).toBe(
        Buffer.from('fits').toString('hex'),
      );
      accepted.close();
      await peer.call('close', { handle: client.conn });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('an IPv6 host is refused under AF_INET, as CPython refuses it, not bound or reached over IPv6', async () => {
    const peer = peerOf(pythons.length - 1);
    await expect(peer.call('listen', { address: ['::1', 0] })).rejects.toThrow(/Address family/);
    await expect(peer.call('client', { address: ['::1', 1] })).rejects.toThrow(/Address family/);
    await expect(Listener.listen(['::1', 0])).rejects.toThrow(/AF_INET address ::1 is IPv6/);
    await expect(Client(['::1', 1])).rejects.toThrow(/AF_INET address ::1 is IPv6/);
  });

  it('_TestConnection.test_duplex_false: flags and errors of a one-way Pipe', async () => {
    const [reader, writer] = await Pipe(false);
    expect([reader.readable, reader.writable, writer.readable, writer.writable]).toEqual([
      true,
      false,
      false,
      true,
    ]);
    await expect(reader.sendBytes(new Uint8Array(1))).rejects.toThrow('connection is read-only');
    await expect(writer.recvBytes()).rejects.toThrow('connection is write-only');
    await expect(writer.poll()).rejects.toThrow('connection is write-only');
    await writer.sendBytes(Buffer.from('one way'));
    expect(Buffer.from(await reader.recvBytes()).toString()).toBe('one way');
    reader.close();
    writer.close();
  });

  it('Listener default AF_INET address is localhost resolved to 127.0.0.1 with a real port', async () => {
    const listener = await Listener.listen(undefined, { family: 'AF_INET' });
    const [host, port] = listener.address as [string, number];
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const client = await Client(['localhost', port]);
    const conn = await listener.accept();
    expect(listener.lastAccepted).toEqual(['127.0.0.1', expect.any(Number)]);
    client.close();
    conn.close();
    listener.close();
  });
});
