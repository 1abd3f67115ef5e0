/** Faults and load: dying peers, garbage, oversized claims, stalls, and many concurrent Python clients. */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  ConnectionClosedError,
  EOFError,
  Listener,
  ProtocolError,
  spawnWithPipe,
  type TransportError,
} from '../src/transport/index.js';
import { hex, PEER_SCRIPT, PythonPeer, pattern } from './support/mp-peer.js';
import { connectPair, freshAddress } from './support/pairs.js';
import { describePythons, findPythons } from './support/pythons.js';

const pythons = findPythons();
const newest = pythons.at(-1)!;
let peer: PythonPeer;

beforeAll(async () => {
  console.log(`transport faults and load against: ${describePythons(pythons)}`);
  peer = await PythonPeer.start(newest);
}, 60_000);

afterAll(async () => {
  await peer.stop();
});

/** A raw socket to a listener, collecting everything it receives until it is closed. */
function rawConnect(address: readonly [string, number] | string): {
  socket: Socket;
  closed: Promise<Buffer>;
} {
  const socket =
    typeof address === 'string'
      ? connect({ path: address })
      : connect({ host: address[0], port: address[1] });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<Buffer>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
  return { socket, closed };
}

async function servingListener(handshakeTimeout = 5) {
  const failures: unknown[] = [];
  const listener = await Listener.listen(['127.0.0.1', 0], {
    authkey: 'secret',
    handshakeTimeout,
    onHandshakeError: (error) => failures.push(error),
  });
  /** A real Python client still gets through afterwards. */
  const stillServes = async (): Promise<void> => {
    const [client, accepted] = await Promise.all([
      peer.call<{ conn: string }>('client', {
        address: listener.address,
        authkey: Buffer.from('secret').toString('hex'),
      }),
      listener.accept(),
    ]);
    await peer.call('send_bytes', { conn: client.conn, data: { hex: '6f6b' } });
    expect(Buffer.from(await accepted.recvBytes()).toString()).toBe('ok');
    accepted.close();
    await peer.call('close', { handle: client.conn });
  };
  return { listener, failures, stillServes };
}

describe('before and during the handshake', () => {
  it('garbage instead of a response is refused: #FAILURE#, closed, listener keeps serving', async () => {
    const { listener, failures, stillServes } = await servingListener();
    try {
      const raw = rawConnect(listener.address as [string, number]);
      raw.socket.write(Buffer.from('00000005', 'hex'));
      raw.socket.write('hello');
      const received = await raw.closed;
      // The 59-byte modern challenge, then #FAILURE#.
      expect(received.subarray(0, 4).toString('hex')).toBe('0000003b');
      expect(received.subarray(4, 19).toString()).toBe('#CHALLENGE#{sha');
      expect(received.subarray(63).toString('latin1')).toBe('\x00\x00\x00\x09#FAILURE#');
      await expect.poll(() => failures.length).toBe(1);
      expect((failures[0] as Error).name).toBe('AuthenticationError');
      await stillServes();
    } finally {
      listener.close();
    }
  });

  it('an HTTP request (a 1.2 GB length) and a 2 GiB claim are refused at once, without allocating', async () => {
    const { listener, failures, stillServes } = await servingListener(30);
    try {
      const before = process.memoryUsage().arrayBuffers;
      const started = performance.now();
      const claims = [
        Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
        Buffer.from('7fffffff0102', 'hex'),
        Buffer.from('ffffffff0000000080000000', 'hex'),
      ];
      const closings = claims.map((claim) => {
        const raw = rawConnect(listener.address as [string, number]);
        raw.socket.write(claim);
        return raw.closed;
      });
      await Promise.all(closings);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
      await expect.poll(() => failures.length).toBe(3);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(ProtocolError);
        expect((failure as ProtocolError).code).toBe('BAD_MESSAGE_LENGTH');
      }
      await stillServes();
    } finally {
      listener.close();
    }
  });

  it('a peer that stalls mid-handshake is released by the handshake timeout', async () => {
    const { listener, failures, stillServes } = await servingListener(0.5);
    try {
      const started = performance.now();
      const silent = rawConnect(listener.address as [string, number]);
      const halfway = rawConnect(listener.address as [string, number]);
      halfway.socket.write(Buffer.from('00000028', 'hex')); // announces a response, never sends it
      await Promise.all([silent.closed, halfway.closed]);
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(5000);
      expect(failures.map((f) => (f as TransportError).code)).toEqual(['TIMEOUT', 'TIMEOUT']);
      await stillServes();
    } finally {
      listener.close();
    }
  });

  it('a Client with a key against a Python Listener without one times out instead of deadlocking', async () => {
    const listening = await peer.call<{ handle: string; address: [string, number] }>('listen', {
      address: ['127.0.0.1', 0],
    });
    const accepted = peer.call<{ conn: string }>('accept', { handle: listening.handle });
    await expect(Client(listening.address, { authkey: 'k', timeout: 0.3 })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    await peer.call('close', { handle: (await accepted).conn });
    await peer.call('close', { handle: listening.handle });
  });

  it('an AbortSignal cancels a connect-and-handshake', async () => {
    const listening = await peer.call<{ handle: string; address: [string, number] }>('listen', {
      address: ['127.0.0.1', 0],
    });
    const accepted = peer.call<{ conn: string }>('accept', { handle: listening.handle });
    const controller = new AbortController();
    const connecting = Client(listening.address, { authkey: 'k', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('gave up')), 100);
    await expect(connecting).rejects.toThrow('gave up');
    await peer.call('close', { handle: (await accepted).conn });
    await peer.call('close', { handle: listening.handle });
  });
});

describe('after the handshake', () => {
  it('a negative header is a protocol error, reported to every later receive', async () => {
    const pair = await connectPair(peer, { family: 'AF_INET', pythonListens: false, authkey: 'k' });
    try {
      await peer.call('send_bytes', { conn: pair.py, data: { hex: '01' } });
      await peer.call('send_raw', { conn: pair.py, hex: '80000000deadbeef' });
      expect(hex(await pair.ts.recvBytes())).toBe('01');
      await expect(pair.ts.recvBytes()).rejects.toMatchObject({ name: 'ProtocolError', code: 'BAD_HEADER' });
      await expect(pair.ts.recvBytes()).rejects.toMatchObject({ code: 'BAD_HEADER' });
    } finally {
      await pair.close();
    }
  });

  it('an oversized claim after the handshake is refused under maxMessageLength without allocating', async () => {
    const listener = await Listener.listen(freshAddress('AF_UNIX'), { maxMessageLength: 1 << 20 });
    try {
      const [client, accepted] = await Promise.all([
        peer.call<{ conn: string }>('client', { address: listener.address }),
        listener.accept(),
      ]);
      await peer.call('send_raw', { conn: client.conn, hex: '7ffffff0' });
      await expect(accepted.recvBytes()).rejects.toMatchObject({ code: 'BAD_MESSAGE_LENGTH' });
      expect(accepted.readable).toBe(false);
      accepted.close();
      await peer.call('close', { handle: client.conn });
    } finally {
      listener.close();
    }
  });

  it('a length header no buffer can hold fails the receive, and the Listener and the connection live on', async () => {
    // The fixture takes keys in hex: '6b' is 'k'.
    const listener = await Listener.listen(freshAddress('AF_INET'), { authkey: 'k' });
    try {
      const [client, accepted] = await Promise.all([
        peer.call<{ conn: string }>('client', { address: listener.address, authkey: '6b' }),
        listener.accept(),
      ]);
      // A 2^40-byte message, announced with CPython's own 64-bit escape.
      await peer.call('send_raw', { conn: client.conn, hex: 'ffffffff0000010000000000' });
      await expect(accepted.recvBytes()).rejects.toMatchObject({
        name: 'ProtocolError',
        code: 'MESSAGE_TOO_LARGE',
      });
      await accepted.sendBytes(Uint8Array.of(1, 2, 3));
      expect(await peer.call('recv_bytes', { conn: client.conn })).toMatchObject({ hex: '010203' });
      // The Listener still serves other clients.
      const [other, next] = await Promise.all([
        peer.call<{ conn: string }>('client', { address: listener.address, authkey: '6b' }),
        listener.accept(),
      ]);
      await peer.call('send_bytes', { conn: other.conn, data: { hex: '0a0b' } });
      expect(hex(await next.recvBytes())).toBe('0a0b');
      for (const conn of [accepted, next]) conn.close();
      for (const conn of [client, other]) await peer.call('close', { handle: conn.conn });
    } finally {
      listener.close();
    }
  });

  it('a peer killed mid-message gives "got end of file during message", not EOF', async () => {
    const victim = await PythonPeer.start(newest);
    const pair = await connectPair(victim, { family: 'AF_UNIX', pythonListens: false });
    try {
      void victim.attempt('send_partial_then_die', { conn: pair.py, header_size: 1000, sent: 10 });
      const error = await pair.ts.recvBytes().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error).toMatchObject({ code: 'TRUNCATED_MESSAGE', message: 'got end of file during message' });
      expect(error).not.toBeInstanceOf(EOFError);
    } finally {
      pair.ts.close();
      victim.kill();
    }
  });

  it('a peer that stops reading holds our send, and killing it fails the send instead of hanging', async () => {
    const victim = await PythonPeer.start(newest);
    const pair = await connectPair(victim, { family: 'AF_UNIX', pythonListens: false });
    try {
      const big = pattern(64 << 20);
      const first = pair.ts.sendBytes(big);
      let secondDone = false;
      const second = pair.ts.sendBytes(big).finally(() => {
        secondDone = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const socket = (pair.ts as unknown as { socket: Socket }).socket;
      // Only the first frame is in the socket's buffer; the second waits for a drain.
      expect(socket.writableLength).toBeLessThanOrEqual((64 << 20) + 16);
      expect(secondDone).toBe(false);
      victim.kill();
      await expect(first).rejects.toMatchObject({ code: expect.stringMatching(/EPIPE|ECONNRESET/) });
      await expect(second).rejects.toBeDefined();
    } finally {
      pair.ts.close();
    }
  });

  it('close() during a pending recv rejects it with ConnectionClosedError', async () => {
    const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: true });
    try {
      const pending = pair.ts.recvBytes();
      const polling = pair.ts.poll(null);
      pair.ts.close();
      await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
      await expect(polling).rejects.toThrow('handle is closed');
      await expect(pair.ts.recvBytes()).rejects.toThrow(new ConnectionClosedError('handle is closed'));
    } finally {
      await pair.close();
    }
  });
});

describe('load', () => {
  it('200 concurrent Python clients send 1000 messages each to one TS Listener: nothing lost or duplicated', async () => {
    const CLIENTS_PER_PROCESS = 50;
    const MESSAGES = 1000;
    const processes = Array.from({ length: 4 }, (_, i) => pythons[Math.max(0, pythons.length - 1 - i * 2)]!);
    const listener = await Listener.listen(['127.0.0.1', 0], { authkey: 'load', backlog: 256 });
    const counts = new Map<number, number>();
    let total = 0;
    const errors: string[] = [];
    const serving = (async () => {
      const handlers: Promise<void>[] = [];
      for await (const conn of listener) {
        handlers.push(
          (async () => {
            let clientId = -1;
            let expected = 0;
            for (;;) {
              const text = Buffer.from(await conn.recvBytes()).toString();
              if (text === 'done') break;
              const [id, index] = text.split(':').map(Number) as [number, number];
              if (clientId === -1) clientId = id;
              if (id !== clientId || index !== expected) errors.push(`client ${clientId}: got ${text}`);
              expected++;
              total++;
            }
            counts.set(clientId, (counts.get(clientId) ?? 0) + expected);
            await conn.sendBytes(Buffer.from(`${clientId}:${expected}`));
            await conn.recvBytes().catch(() => undefined); // wait for the client to close
            conn.close();
          })(),
        );
        if (handlers.length === processes.length * CLIENTS_PER_PROCESS) break;
      }
      await Promise.all(handlers);
    })();
    const started = performance.now();
    const [host, port] = listener.address as [string, number];
    const runs = processes.map((python, i) => {
      const child = spawn(
        python.executable,
        [
          PEER_SCRIPT,
          'load-client',
          host,
          String(port),
          Buffer.from('load').toString('hex'),
          String(CLIENTS_PER_PROCESS),
          String(MESSAGES),
          String(i * CLIENTS_PER_PROCESS),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        out += text;
      });
      return new Promise<{ code: number | null; out: string }>((resolve) =>
        child.once('close', (code) => resolve({ code, out })),
      );
    });
    const results = await Promise.all(runs);
    await serving;
    const seconds = (performance.now() - started) / 1000;
    listener.close();
    console.log(
      `load: ${total} messages from ${counts.size} clients (${processes.map((p) => p.label).join(', ')}) in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} msg/s`,
    );
    for (const result of results) expect(result).toEqual({ code: 0, out: 'failures 0\n' });
    expect(errors).toEqual([]);
    expect(counts.size).toBe(200);
    for (const [id, count] of counts) expect([id, count]).toEqual([id, MESSAGES]);
    expect(total).toBe(200 * MESSAGES);
  }, 180_000);

  it('round trips per second against a CPython echo child (measured, not asserted)', async () => {
    const { child, connection } = spawnWithPipe(newest.executable, [PEER_SCRIPT, 'pipe-child', '3', 'echo'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const message = pattern(64);
    const count = 3000;
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      await connection.sendBytes(message);
      await connection.recvBytes();
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `round trips (socket pair, 64 B, CPython ${newest.label} child): ${Math.round(count / seconds)}/s`,
    );
    connection.close();
    expect(await exited).toBe(0);
  });
});

describe('closing while the peer is itself sending', () => {
  it('flushes the last frame to a CPython peer that reads only after its own large send', async () => {
    const address = freshAddress('AF_UNIX') as string;
    const script = [
      'import sys',
      'from multiprocessing.connection import Listener',
      "with Listener(sys.argv[1], 'AF_UNIX') as l:",
      "    print('ready', flush=True)",
      '    c = l.accept()',
      "    c.send_bytes(b'x' * (20 << 20))",
      '    print(len(c.recv_bytes()), flush=True)',
    ].join('\n');
    const child = spawn(newest.executable, ['-c', script, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    await expect.poll(() => out, { timeout: 20_000 }).toContain('ready');
    const conn = await Client(address);
    // Not awaited: close() must flush it, reading (and dropping) the peer's 20 MiB meanwhile.
    const sending = conn.sendBytes(new Uint8Array(1 << 20));
    conn.close();
    await sending;
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(out).toContain(String(1 << 20));
  });
});
