/** Connection behaviour that needs no Python: crafted frames over a Node socket pair, argument checks, cancellation. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dumps, PyPickleBuffer } from '../src/codec/index.js';
import { adoptAcceptedSocket } from '../src/transport/direct-read.js';
import { encodeJoinedFrame, type FrameReader } from '../src/transport/framing.js';
import {
  AuthenticationError,
  type BufferTooShort,
  Client,
  type Connection,
  ConnectionClosedError,
  type ConnectionOptions,
  EOFError,
  Listener,
  Pipe,
  ProtocolError,
  type SpawnWithPipeOptions,
  spawnWithPipe,
  TransportError,
  wait,
} from '../src/transport/index.js';

const open: Connection[] = [];
afterEach(() => {
  for (const conn of open.splice(0)) conn.close();
});

async function pair(): Promise<[Connection, Connection]> {
  const ends = await Pipe();
  open.push(...ends);
  return ends;
}

/** The raw socket under a connection, to write bytes that bypass the framing. */
const rawSocket = (conn: Connection): Socket => (conn as unknown as { socket: Socket }).socket;
const fromHex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('crafted frames', () => {
  it('the -1 escape with an 8-byte length is read, even for small payloads', async () => {
    const [a, b] = await pair();
    rawSocket(a).write(fromHex('ffffffff 0000000000000003 626967 00000002 6869'));
    expect(Buffer.from(await b.recvBytes()).toString()).toBe('big');
    expect(Buffer.from(await b.recvBytes()).toString()).toBe('hi');
  });

  it('an escaped length over maxlength is refused before allocation, leaving the end write-only', async () => {
    const [a, b] = await pair();
    rawSocket(a).write(fromHex('ffffffff 0000000100000000'));
    await expect(b.recvBytes(1 << 20)).rejects.toMatchObject({ code: 'BAD_MESSAGE_LENGTH' });
    expect([b.readable, b.writable]).toEqual([false, true]);
  });

  it('a length no buffer can hold is MESSAGE_TOO_LARGE for every later receive, at both ends of a pipe', async () => {
    // 2^40 and 2^63 bytes: Node's Buffer refuses the first, no JavaScript buffer can be the second. A peer
    // sending either used to make the socket's read callback throw, which ended the whole process.
    for (const header of ['ffffffff 0000010000000000', 'ffffffff 8000000000000000']) {
      for (const receiverIndex of [0, 1]) {
        const ends = await pair();
        const receiver = ends[receiverIndex]!;
        const sender = ends[1 - receiverIndex]!;
        rawSocket(sender).write(fromHex(`00000002 6869 ${header} 00`));
        expect(Buffer.from(await receiver.recvBytes()).toString()).toBe('hi');
        const error = await receiver.recvBytes().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ProtocolError);
        expect(error).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
        const announced = BigInt(`0x${header.slice(9)}`);
        expect((error as Error).message).toContain(`a message of ${announced} bytes`);
        expect((error as Error).cause).toBeInstanceOf(RangeError);
        await expect(receiver.recv()).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
        expect(await receiver.poll()).toBe(true);
        // The other direction still works.
        await receiver.sendBytes(Buffer.from('still here'));
        expect(Buffer.from(await sender.recvBytes()).toString()).toBe('still here');
      }
    }
  });

  it('a payload the allocator cannot provide is MESSAGE_TOO_LARGE with its error as the cause', async () => {
    const [a, b] = await pair();
    const outOfMemory = new RangeError('Array buffer allocation failed');
    const allocate = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((size) => {
      if (size >= 1 << 20) throw outOfMemory;
      return Buffer.alloc(size);
    });
    try {
      const sending = a.sendBytes(patterned(1 << 20, 1));
      const error = await b.recvBytes().catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ProtocolError', code: 'MESSAGE_TOO_LARGE', cause: outOfMemory });
      // The unreadable rest of the stream is read and dropped, so the sender is not left blocked.
      await sending;
    } finally {
      allocate.mockRestore();
    }
  });

  it('other negative headers are a protocol error instead of CPython silent desynchronisation', async () => {
    const [a, b] = await pair();
    rawSocket(a).write(fromHex('fffffffe 00000001 21'));
    const error = await b.recvBytes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({
      code: 'BAD_HEADER',
      message: 'negative message length -2 in frame header',
    });
  });

  it('a frame over a limit names the limit, whether the receive waited first or the frame came first', async () => {
    const [a, b] = await pair();
    const waiting = b.recvBytes(4);
    await a.sendBytes(new Uint8Array(10));
    await expect(waiting).rejects.toThrow("bad message length: 10 bytes, over the receive's maxlength of 4;");
    const [c, d] = await Pipe(true, { maxMessageLength: 5 });
    open.push(c, d);
    await c.sendBytes(new Uint8Array(6));
    await expect(d.recvBytes()).rejects.toThrow('bad message length: 6 bytes, over maxMessageLength 5;');
  });

  it('a frame split into single bytes is delivered once, whole', async () => {
    const [a, b] = await pair();
    const frame = fromHex('0000000a 00010203040506070809');
    const receiving = b.recvBytes();
    for (const byte of frame) {
      rawSocket(a).write(Uint8Array.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
      if (byte !== frame.at(-1)) expect(await b.poll()).toBe(false);
    }
    expect(Buffer.from(await receiving).toString('hex')).toBe('00010203040506070809');
  });

  it('EOF inside a header and inside a payload is TRUNCATED_MESSAGE; at a boundary it is EOFError', async () => {
    for (const cut of ['00', '00000004 0102']) {
      const [a, b] = await pair();
      rawSocket(a).end(fromHex(cut));
      await expect(b.recvBytes()).rejects.toMatchObject({
        code: 'TRUNCATED_MESSAGE',
        message: 'got end of file during message',
      });
    }
    const [a, b] = await pair();
    rawSocket(a).end(fromHex('00000001 41'));
    expect(Buffer.from(await b.recvBytes()).toString()).toBe('A');
    await expect(b.recvBytes()).rejects.toBeInstanceOf(EOFError);
  });

  it('a small message goes out as one write with its header', async () => {
    const [a, b] = await pair();
    const socket = rawSocket(a);
    const writes: Uint8Array[] = [];
    const original = socket.write.bind(socket);
    socket.write = ((chunk: Uint8Array, ...rest: never[]) => {
      writes.push(chunk);
      return original(chunk, ...rest);
    }) as typeof socket.write;
    await a.sendBytes(Buffer.from('hello'));
    await a.sendBytes(new Uint8Array(16385));
    expect(Buffer.from(writes[0]!).toString('hex')).toBe('0000000568656c6c6f');
    expect(writes.slice(1).map((w) => w.byteLength)).toEqual([4, 16385]);
    await b.recvBytes();
    expect((await b.recvBytes()).byteLength).toBe(16385);
  });
});

describe('argument checks in CPython order, with its texts', () => {
  it('sendBytes', async () => {
    const [a] = await pair();
    const msg = new Uint8Array(16);
    await expect(a.sendBytes(msg, -1)).rejects.toThrow(new RangeError('offset is negative'));
    await expect(a.sendBytes(msg, 17)).rejects.toThrow(new RangeError('buffer length < offset'));
    await expect(a.sendBytes(msg, 4, -1)).rejects.toThrow(new RangeError('size is negative'));
    await expect(a.sendBytes(msg, 14, 4)).rejects.toThrow(new RangeError('buffer length < offset + size'));
    await expect(a.sendBytes('text' as unknown as Uint8Array)).rejects.toThrow(
      new TypeError("memoryview: a bytes-like object is required, not 'string'"),
    );
  });

  it('closed beats every other check; read-only and write-only are reported before arguments', async () => {
    const [reader, writer] = await Pipe(false);
    open.push(reader, writer);
    await expect(reader.sendBytes(new Uint8Array(1), -1)).rejects.toThrow(
      new TransportError('READ_ONLY', 'connection is read-only'),
    );
    await expect(writer.recvBytes(-1)).rejects.toThrow('connection is write-only');
    await expect(writer.recvBytesInto(new Uint8Array(1), -1)).rejects.toThrow('connection is write-only');
    reader.close();
    reader.close();
    await expect(reader.sendBytes(new Uint8Array(1), -1)).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(reader.recvBytes(-1)).rejects.toThrow(new ConnectionClosedError('handle is closed'));
    await expect(reader.poll()).rejects.toThrow('handle is closed');
    expect(() => reader.fileno()).toThrow('handle is closed');
    expect(writer.fileno()).toBeGreaterThan(2);
  });

  it('a connection must be readable or writable', async () => {
    const [a] = await pair();
    const { Connection } = await import('../src/transport/index.js');
    expect(() => new Connection(rawSocket(a), { readable: false, writable: false })).toThrow(
      new RangeError('at least one of `readable` and `writable` must be True'),
    );
  });
});

describe('Pipe', () => {
  it('pairs only with its own connecting end, whatever connects to its listener first', async () => {
    // Any local process may connect to the abstract name it reads from /proc/net/unix: two strangers get in
    // first here, one sending 16 wrong bytes and one sending nothing.
    const strangers: Socket[] = [];
    const listen = Server.prototype.listen;
    const spy = vi.spyOn(Server.prototype, 'listen').mockImplementation(function (
      this: Server,
      ...args: unknown[]
    ) {
      const [options, ready] = args as [{ path: string }, () => void];
      return listen.call(this, options, () => {
        const wrong = createConnection({ path: options.path });
        wrong.on('error', () => undefined);
        wrong.write(Buffer.alloc(16, 7));
        const silent = createConnection({ path: options.path });
        silent.on('error', () => undefined);
        strangers.push(wrong, silent);
        setTimeout(ready, 50);
      });
    });
    let ends: [Connection, Connection];
    try {
      ends = await Pipe();
    } finally {
      spy.mockRestore();
    }
    open.push(...ends);
    const [a, b] = ends;
    await a.sendBytes(Buffer.from('for b'));
    expect(Buffer.from(await b.recvBytes()).toString()).toBe('for b');
    await b.send({ to: 'a' });
    expect(await a.recv()).toEqual({ to: 'a' });
    for (const stranger of strangers) {
      await vi.waitFor(() => expect(stranger.readableEnded || stranger.destroyed).toBe(true));
    }
  });
});

describe('Pipe when its own connecting end fails', () => {
  it('rejects instead of waiting for ever for the token that will not come', async () => {
    const write = vi.spyOn(Socket.prototype, 'write').mockImplementationOnce(function (this: Socket) {
      this.destroy();
      return false;
    });
    try {
      await expect(Pipe()).rejects.toThrow('the pipe closed before its ends were paired');
    } finally {
      write.mockRestore();
    }
  });
});

describe('sending to a peer that has gone', () => {
  it('a small send fails as soon as the kernel refuses it, as CPython raises BrokenPipeError', async () => {
    const [a, b] = await pair();
    a.close();
    await expect(b.recvBytes()).rejects.toBeInstanceOf(EOFError);
    // A Unix socket refuses the first write after its peer closed.
    await expect(b.send('lost')).rejects.toMatchObject({ code: 'EPIPE' });
    await expect(b.sendBytes(Buffer.from('x'))).rejects.toMatchObject({ code: 'EPIPE' });
  });

  it('over TCP only the send that draws the reset succeeds, as with CPython', async () => {
    await using listener = await Listener.listen(['127.0.0.1', 0]);
    const connecting = Client(listener.address);
    const server = await listener.accept();
    const client = await connecting;
    open.push(client);
    server.close();
    await expect(client.recvBytes()).rejects.toBeInstanceOf(EOFError);
    await client.send('taken by the kernel');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(client.send('refused')).rejects.toMatchObject({
      code: expect.stringMatching(/EPIPE|ECONNRESET/),
    });
  });

  it('after a send fails with EPIPE, receiving finds the end of the stream, as in CPython', async () => {
    const [a, b] = await pair();
    b.close();
    // Right after the close, before a's socket has seen the end: the write is what fails.
    await expect(a.send('lost')).rejects.toMatchObject({ code: 'EPIPE' });
    await expect(a.recv()).rejects.toBeInstanceOf(EOFError);
    await expect(a.recv()).rejects.toBeInstanceOf(EOFError);
    const messages: unknown[] = [];
    for await (const message of a) messages.push(message);
    expect(messages).toEqual([]);
  });

  it('a reset is reported to one receive, and the next ones find EOF, as in CPython', async () => {
    await using listener = await Listener.listen(['127.0.0.1', 0]);
    const connecting = Client(listener.address);
    const server = await listener.accept();
    const client = await connecting;
    open.push(client);
    rawSocket(server).resetAndDestroy();
    await expect(client.recv()).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(client.recv()).rejects.toBeInstanceOf(EOFError);
    expect(await client.poll()).toBe(true);
  });
});

describe('listener and client edges', () => {
  it('tells a client without a key that the Listener asked for one, where CPython says invalid load key', async () => {
    const listener = await Listener.listen(['127.0.0.1', 0], {
      authkey: 'secret',
      onHandshakeError: () => {},
    });
    try {
      const keyless = await Client(listener.address);
      open.push(keyless);
      const error = await keyless.recv().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as Error).message).toMatch(/sent an authentication challenge.*connect with its authkey/);
      expect((error as Error).cause).toMatchObject({ code: 'UNKNOWN_OPCODE' });
    } finally {
      listener.close();
    }
  });

  it('refuses a Client timeout of 0 or less, which would only race the connect', async () => {
    await using listener = await Listener.listen(['127.0.0.1', 0]);
    for (const timeout of [0, -1]) {
      await expect(Client(listener.address, { timeout })).rejects.toThrow(
        /Client timeout must be more than 0 seconds, not -?\d/,
      );
    }
  });

  it('sends from and receives into a SharedArrayBuffer, as any other bytes-like memory', async () => {
    const [a, b] = await pair();
    const shared = new SharedArrayBuffer(4);
    new Uint8Array(shared).set([9, 8, 7, 6]);
    await a.sendBytes(shared, 1, 2);
    expect([...(await b.recvBytes())]).toEqual([8, 7]);
    const target = new SharedArrayBuffer(4);
    await b.sendBytes(Uint8Array.of(1, 2));
    expect(await a.recvBytesInto(target, 2)).toBe(2);
    expect([...new Uint8Array(target)]).toEqual([0, 0, 1, 2]);
  });

  it('refuses a handshakeTimeout of 0 or less, which would drop every client', async () => {
    for (const handshakeTimeout of [0, -1]) {
      await expect(Listener.listen(['127.0.0.1', 0], { authkey: 'k', handshakeTimeout })).rejects.toThrow(
        /handshakeTimeout must be more than 0 seconds, not -?\d/,
      );
    }
  });

  it("takes an empty address as CPython's Listener does (an arbitrary one), and refuses it for a Client", async () => {
    await using listener = await Listener.listen('');
    expect(listener.address).toMatch(/pymp-/);
    await expect(Client('')).rejects.toThrow(/AF_UNIX address must not be empty/);
  });

  it('authenticates with a maxMessageLength below the size of the handshake messages', async () => {
    await using listener = await Listener.listen(['127.0.0.1', 0], { authkey: 'k', maxMessageLength: 8 });
    const connecting = Client(listener.address, { authkey: 'k', maxMessageLength: 8 });
    const [accepted, client] = [await listener.accept(), await connecting];
    open.push(accepted, client);
    await client.sendBytes(Uint8Array.of(1, 2, 3));
    expect([...(await accepted.recvBytes())]).toEqual([1, 2, 3]);
    await client.sendBytes(new Uint8Array(9));
    await expect(accepted.recvBytes()).rejects.toMatchObject({ code: 'BAD_MESSAGE_LENGTH' });
  });

  it('waits for room in a full Unix-socket backlog (EAGAIN) as a blocking connect does, within its timeout', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mpwire-backlog-'));
    try {
      await using listener = await Listener.listen(join(directory, 'sock'), { backlog: 1 });
      // All connect in one turn of the event loop, before the Listener's socket can accept any.
      const clients = Array.from({ length: 6 }, () => Client(listener.address, { timeout: 10 }));
      for (let i = 0; i < 6; i++) open.push(await listener.accept());
      for (const client of clients) open.push(await client);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('takes backlog 0 as the smallest queue instead of Node reading it as its default', async () => {
    await using listener = await Listener.listen(['127.0.0.1', 0], { backlog: 0 });
    const connecting = Client(listener.address);
    const accepted = await listener.accept();
    open.push(accepted, await connecting);
  });

  it('reports an onHandshakeError hook that throws as a warning, and goes on serving', async () => {
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      await using listener = await Listener.listen(['127.0.0.1', 0], {
        authkey: 'key',
        handshakeTimeout: 0.1,
        onHandshakeError: () => {
          throw new Error('hook broke');
        },
      });
      const silent = createConnection(listener.address[1] as number, '127.0.0.1');
      await vi.waitFor(() => expect(warning).toHaveBeenCalled(), { timeout: 3000 });
      silent.destroy();
      expect(String(warning.mock.calls[0]![0])).toBe('onHandshakeError threw: hook broke');
      const connecting = Client(listener.address, { authkey: 'key' });
      open.push(await listener.accept(), await connecting);
    } finally {
      warning.mockRestore();
    }
  });
});

describe('wait', () => {
  it('reports an object given twice once', async () => {
    const [a, b] = await pair();
    await a.sendBytes(Buffer.from('ready'));
    expect(await wait([b, a, b], 5)).toEqual([b]);
    expect(await wait(new Set([a, b]), 0)).toEqual([b]);
  });
});

describe('checking once (a timeout of 0) sees what the kernel holds, as CPython asks the kernel', () => {
  it('poll(0) and wait(0) right after the peer sent', async () => {
    const [a, b] = await pair();
    await a.sendBytes(Buffer.from('sent'));
    expect(await wait([b], 0)).toEqual([b]);
    expect(await b.poll(0)).toBe(true);
    expect(Buffer.from(await b.recvBytes()).toString()).toBe('sent');
  });

  it('poll() in the tick of the peer closing its end finds the end of the stream', async () => {
    const [a, b] = await pair();
    a.close();
    expect(await b.poll()).toBe(true);
    await expect(b.recvBytes()).rejects.toThrow(EOFError);
  });

  it('a loop of poll() calls lets I/O in instead of spinning on resolved promises', async () => {
    const [a, b] = await pair();
    setTimeout(() => void a.send('late'), 20);
    let checks = 0;
    while (!(await b.poll())) {
      // Without a turn of the event loop per check, the message could never be read: the loop would spin.
      if (++checks > 1_000_000) throw new Error('poll() never saw the message');
    }
    expect(await b.recv()).toBe('late');
  });

  it('poll(0) with an aborted signal rejects, as a waiting poll does', async () => {
    const [, b] = await pair();
    await expect(b.poll(0, { signal: AbortSignal.abort() })).rejects.toThrow();
    const controller = new AbortController();
    const polling = b.poll(0, { signal: controller.signal });
    controller.abort();
    await expect(polling).rejects.toThrow();
  });

  it('wait(0) with an aborted signal rejects, as poll(0) does', async () => {
    const [, b] = await pair();
    await expect(wait([b], 0, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const controller = new AbortController();
    const waiting = wait([b], 0, { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('Pipe() with no file descriptors left rejects, and the process lives on', () => {
    // The pairing's own promise used to reject as well, with nobody to catch it, and Node ended the process.
    const script = [
      "import { openSync, closeSync } from 'node:fs';",
      "import { Pipe } from 'mpwire';",
      'const held = [];',
      "try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}",
      'let code;',
      'try { await Pipe(); } catch (error) { code = error.code; }',
      'for (const fd of held) closeSync(fd);',
      'await new Promise((resolve) => setTimeout(resolve, 100));',
      'const [a, b] = await Pipe();',
      "await a.send('after');",
      'process.stdout.write(JSON.stringify({ code, after: await b.recv() }));',
      'a.close(); b.close();',
    ].join('\n');
    const output = execFileSync(
      'bash',
      ['-c', 'ulimit -n 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script],
      { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' },
    );
    expect(JSON.parse(output)).toEqual({ code: 'EMFILE', after: 'after' });
  });

  it('wait(0) on a connection closed during its turn of the event loop fails as poll() does', async () => {
    const [, b] = await pair();
    const checking = wait([b], 0);
    b.close();
    await expect(checking).rejects.toThrow(ConnectionClosedError);
    const [, d] = await pair();
    const polling = d.poll(0);
    d.close();
    await expect(polling).rejects.toThrow(ConnectionClosedError);
  });
});

describe('cancellation and ordering', () => {
  it('an aborted recv leaves the next message for the next receiver', async () => {
    const [a, b] = await pair();
    const controller = new AbortController();
    const aborted = b.recvBytes(undefined, { signal: controller.signal });
    controller.abort(new Error('no longer needed'));
    await expect(aborted).rejects.toThrow('no longer needed');
    await a.sendBytes(Buffer.from('kept'));
    expect(Buffer.from(await b.recvBytes()).toString()).toBe('kept');
  });

  it("iteration ends quietly when this side closes the connection, as a Listener's does", async () => {
    const [a, b] = await pair();
    await a.send('first');
    await a.sendBytes(dumps('second'));
    const received: unknown[] = [];
    const reading = (async () => {
      for await (const message of b) {
        received.push(message);
        if (received.length === 2) setTimeout(() => b.close(), 10);
      }
    })();
    await reading;
    expect(received).toEqual(['first', 'second']);
    const [c, d] = await pair();
    const bytes = (async () => {
      const got: string[] = [];
      for await (const message of d.iterBytes()) got.push(Buffer.from(message).toString());
      return got;
    })();
    await c.sendBytes(Buffer.from('x'));
    setTimeout(() => d.close(), 20);
    expect(await bytes).toEqual(['x']);
    // Other failures still end it with their error.
    const [e, f] = await pair();
    rawSocket(e).write(fromHex('fffffffe'));
    await expect(
      (async () => {
        for await (const _ of f) void _;
      })(),
    ).rejects.toMatchObject({ code: 'BAD_HEADER' });
  });

  it('concurrent receivers are served in call order', async () => {
    const [a, b] = await pair();
    const receivers = [b.recvBytes(), b.recvBytes(), b.recvBytes()];
    for (const text of ['1', '2', '3']) void a.sendBytes(Buffer.from(text));
    expect((await Promise.all(receivers)).map((m) => Buffer.from(m).toString())).toEqual(['1', '2', '3']);
  });

  it('thousands of unawaited sends arrive complete and in order', async () => {
    const [a, b] = await pair();
    const count = 5000;
    const sends = Array.from({ length: count }, (_, i) => a.sendBytes(Buffer.from(String(i))));
    for (let i = 0; i < count; i++) expect(Buffer.from(await b.recvBytes()).toString()).toBe(String(i));
    await Promise.all(sends);
  });

  it('small and large sends mixed while the socket is busy settle in order and arrive intact', async () => {
    const [a, b] = await pair();
    const sizes = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 300_000 + i : i));
    const settled: number[] = [];
    const sends = sizes.map((n, i) => a.sendBytes(new Uint8Array(n).fill(i)).then(() => settled.push(i)));
    for (const [i, n] of sizes.entries()) {
      const message = await b.recvBytes();
      expect([message.byteLength, message[0] ?? i, message[n - 1] ?? i]).toEqual([n, i, i]);
    }
    await Promise.all(sends);
    expect(settled).toEqual(sizes.map((_, i) => i));
  });

  it('a message taken from the queue leaves it to later receivers in order, and after EOF recv fails', async () => {
    const [a, b] = await pair();
    for (const text of ['1', '2', '3']) await a.sendBytes(Buffer.from(text));
    await b.poll(null);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const got = await Promise.all([b.recvBytes(), b.recvBytes(), b.recvBytes()]);
    expect(got.map((m) => Buffer.from(m).toString())).toEqual(['1', '2', '3']);
    a.close();
    await expect(b.recvBytes()).rejects.toBeInstanceOf(EOFError);
  });

  it('a send() that cannot pickle writes nothing', async () => {
    const [a, b] = await pair();
    await expect(a.send(Symbol('x'))).rejects.toMatchObject({ name: 'PicklingError' });
    await a.send('after');
    expect(await b.recv()).toBe('after');
  });

  it('a reader that stops reading pauses the socket once its queue passes the high-water mark', async () => {
    const ends = await Pipe(true, { readHighWaterMark: 1 << 20 });
    open.push(...ends);
    const [a, b] = ends;
    for (let i = 0; i < 64; i++) void a.sendBytes(new Uint8Array(64 << 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rawSocket(b).isPaused()).toBe(true);
    for (let i = 0; i < 64; i++) expect((await b.recvBytes()).byteLength).toBe(64 << 10);
  });
});

/** The frame reader under a connection, to see which read path filled a payload. */
const frameReader = (conn: Connection): FrameReader => (conn as unknown as { reader: FrameReader }).reader;

const patterned = (n: number, seed: number): Uint8Array =>
  new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

describe('direct reads on the connecting end (Node onread)', () => {
  // Pipe's first end is connected by mpwire, so it reads through direct-read.ts; the second is accepted.
  it('reads the rest of a large payload straight into its buffer while small frames follow in one write', async () => {
    const [a, b] = await pair();
    const direct = vi.spyOn(frameReader(a), 'commitDirectRead');
    const large = patterned(3 << 20, 1);
    const smalls = [patterned(5, 2), patterned(0, 3), patterned(40_000, 4)];
    rawSocket(b).write(Buffer.concat([encodeJoinedFrame(large), ...smalls.map((m) => encodeJoinedFrame(m))]));
    expect(Buffer.compare(await a.recvBytes(), large)).toBe(0);
    for (const small of smalls) expect(Buffer.compare(await a.recvBytes(), small)).toBe(0);
    const directBytes = direct.mock.calls.reduce((sum, [count]) => sum + count, 0);
    expect(directBytes).toBeGreaterThan(large.byteLength / 2);
    expect(directBytes).toBeLessThanOrEqual(large.byteLength);
  });

  it('an aborted recvBytesInto leaves its buffer alone after the abort, and the message whole', async () => {
    const [a, b] = await pair();
    const message = patterned(1 << 20, 6);
    const frame = encodeJoinedFrame(message);
    const target = new Uint8Array(message.byteLength + 10).fill(0xee);
    const controller = new AbortController();
    const aborted = a.recvBytesInto(target, 10, { signal: controller.signal });
    rawSocket(b).write(frame.subarray(0, 1004));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    const afterAbort = target.slice();
    const next = a.recvBytes();
    rawSocket(b).write(frame.subarray(1004));
    expect(Buffer.compare(await next, message)).toBe(0);
    expect(Buffer.compare(target, afterAbort)).toBe(0);
  });

  it('close() with a send still going out leaves the memory of a failed recvBytesInto alone', async () => {
    const [a, b] = await pair();
    // b stops reading once its queue holds 8 MiB, so the 64 MiB frame stays in a's socket buffer.
    const sending = a.sendBytes(new Uint8Array(64 << 20)).catch((error: unknown) => error);
    const target = new Uint8Array(4 << 20);
    const receiving = a.recvBytesInto(target);
    rawSocket(b).write(encodeJoinedFrame(new Uint8Array(3 << 20).fill(0xab)).subarray(0, 200_000));
    await new Promise((resolve) => setTimeout(resolve, 50));
    a.close();
    await expect(receiving).rejects.toBeInstanceOf(ConnectionClosedError);
    const afterClose = target.slice();
    rawSocket(b).write(new Uint8Array(1 << 20).fill(0xab));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(Buffer.compare(target, afterClose)).toBe(0);
    rawSocket(b).destroy();
    await sending;
  });

  it('a frame close() cannot flush within 10 s is cut off, and its send fails', async () => {
    const [a] = await pair();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const sending = a.sendBytes(new Uint8Array(64 << 20)).catch((error: unknown) => error);
      a.close();
      vi.advanceTimersByTime(10_000);
      const error = await sending;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect((error as Error).message).toMatch(/closed before the frame was sent whole/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a frame split at every byte boundary is delivered whole', async () => {
    const [a, b] = await pair();
    const frame = fromHex('00000006 0a0b0c0d0e0f 00000001 ff');
    const receiving = Promise.all([a.recvBytes(), a.recvBytes()]);
    for (const byte of frame) {
      rawSocket(b).write(Uint8Array.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await receiving).map((m) => Buffer.from(m).toString('hex'))).toEqual(['0a0b0c0d0e0f', 'ff']);
  });

  it('frames held back by a full queue survive the reads that reuse the scratch buffer', async () => {
    const ends = await Pipe(true, { readHighWaterMark: 64 << 10 });
    open.push(...ends);
    const [a, b] = ends;
    const messages = Array.from({ length: 400 }, (_, i) => patterned(1000 + i, i));
    for (const message of messages) void b.sendBytes(message);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Another connection's reads go through the same scratch buffer while `a` is paused.
    const [c, d] = await pair();
    await d.sendBytes(new Uint8Array(50_000).fill(0xee));
    expect((await c.recvBytes()).every((byte) => byte === 0xee)).toBe(true);
    for (const message of messages) expect(Buffer.compare(await a.recvBytes(), message)).toBe(0);
  });

  it('EOF inside a directly read payload is TRUNCATED_MESSAGE; at a boundary it is EOFError', async () => {
    const [a, b] = await pair();
    const large = encodeJoinedFrame(patterned(1 << 20, 5));
    rawSocket(b).end(large.subarray(0, large.byteLength - 10));
    await expect(a.recvBytes()).rejects.toMatchObject({ code: 'TRUNCATED_MESSAGE' });
    const [c, d] = await pair();
    rawSocket(d).end(encodeJoinedFrame(patterned(200_000, 6)));
    expect((await c.recvBytes()).byteLength).toBe(200_000);
    await expect(c.recvBytes()).rejects.toBeInstanceOf(EOFError);
  });
});

describe("a Listener's accepted connections read in place too", () => {
  for (const family of ['AF_INET', 'AF_UNIX'] as const) {
    it(`${family}: large payloads go straight into their buffer, with small frames around them`, async () => {
      await using listener = await Listener.listen(undefined, { family, authkey: 'key' });
      const client = await Client(listener.address, { authkey: 'key' });
      const server = await listener.accept();
      open.push(client, server);
      const direct = vi.spyOn(frameReader(server), 'commitDirectRead');
      const messages = [patterned(7, 1), patterned(3 << 20, 2), patterned(0, 3), patterned(2 << 20, 4)];
      for (const message of messages) void client.sendBytes(message);
      for (const message of messages) expect(Buffer.compare(await server.recvBytes(), message)).toBe(0);
      const buffer = new Uint8Array(3 << 20);
      void client.sendBytes(messages[1]!);
      expect(await server.recvBytesInto(buffer)).toBe(3 << 20);
      expect(Buffer.compare(buffer, messages[1]!)).toBe(0);
      const directBytes = direct.mock.calls.reduce((sum, [count]) => sum + count, 0);
      expect(directBytes).toBeGreaterThan(4 << 20);
      // Both directions and half-close still work on the adopted socket.
      await server.send({ reply: [1, 2, 3] });
      expect(await client.recv()).toEqual({ reply: [1, 2, 3] });
      client.close();
      await expect(server.recvBytes()).rejects.toBeInstanceOf(EOFError);
    });
  }

  for (const authkey of [undefined, 'key']) {
    it(`a connection nobody has accepted yet leaves its peer's bytes in the kernel (authkey: ${authkey})`, async () => {
      // CPython accepts only when asked, so a peer's bytes wait in the kernel's buffers; reading them into
      // memory here would let clients that are never accepted take readHighWaterMark (8 MiB) each.
      await using listener = await Listener.listen(undefined, { family: 'AF_INET', authkey });
      const client = await Client(listener.address, { authkey });
      open.push(client);
      const messages = Array.from({ length: 24 }, (_, i) => patterned(1 << 20, i));
      const sent = Promise.all(messages.map((message) => client.sendBytes(message)));
      const waiting = (listener as unknown as { ready: { connection: Connection }[] }).ready;
      await vi.waitFor(() => expect(waiting).toHaveLength(1));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const held = waiting[0]!.connection as unknown as { queuedBytes: number };
      const inMemory = held.queuedBytes + frameReader(waiting[0]!.connection).buffered;
      expect(inMemory).toBeLessThan(1 << 20);
      const server = await listener.accept();
      open.push(server);
      for (const message of messages) expect(Buffer.compare(await server.recvBytes(), message)).toBe(0);
      await sent;
    });
  }

  for (const family of ['AF_INET', 'AF_UNIX'] as const) {
    it(`${family}: a message sent before accept() is ready at once after it, as CPython's poll() sees it`, async () => {
      await using listener = await Listener.listen(undefined, { family });
      for (let round = 0; round < 10; round++) {
        const client = await Client(listener.address);
        open.push(client);
        await client.send({ round });
        await new Promise((resolve) => setTimeout(resolve, 20));
        const server = await listener.accept();
        open.push(server);
        expect(await server.poll(0)).toBe(true);
        expect(await server.recv()).toEqual({ round });
      }
    });
  }

  it('bytes sent before accept() are kept, and close() stops the server with connections open', async () => {
    const listener = await Listener.listen(undefined, { family: 'AF_UNIX' });
    const client = await Client(listener.address);
    open.push(client);
    await client.sendBytes(patterned(1000, 8));
    // More than the kernel buffers hold: as with CPython, this send finishes once the connection is accepted.
    const sending = client.sendBytes(patterned(1 << 20, 9));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const server = await listener.accept();
    open.push(server);
    expect(Buffer.compare(await server.recvBytes(), patterned(1000, 8))).toBe(0);
    expect(Buffer.compare(await server.recvBytes(), patterned(1 << 20, 9))).toBe(0);
    await sending;
    listener.close();
    await server.sendBytes(Uint8Array.of(1));
    expect(Array.from(await client.recvBytes())).toEqual([1]);
  });

  it('a socket whose handle cannot read into a given buffer is kept as it is, resumed', () => {
    const resume = vi.fn();
    const socket = { _handle: { readStart: () => 0 }, readableFlowing: false, resume } as unknown as Socket;
    expect(adoptAcceptedSocket(socket, true)).toBe(socket);
    expect(resume).toHaveBeenCalledOnce();
  });
});

describe('recv() with zeroCopyBytes', () => {
  it('gives views into each message of its own, which later messages never overwrite', async () => {
    const ends = await Pipe(true, { unpicklerOptions: { zeroCopyBytes: true } });
    open.push(...ends);
    const [a, b] = ends;
    const first = patterned(1 << 20, 1);
    const second = patterned(1 << 20, 2);
    void b.send([first, 'x']);
    void b.send([second, 'y']);
    const [got] = (await a.recv()) as [Uint8Array, string];
    expect(got.byteLength).toBe(1 << 20);
    expect(got.byteOffset).toBeGreaterThan(0); // a view, past the pickle's opcodes
    expect(((await a.recv()) as unknown[])[1]).toBe('y');
    for (let i = 0; i < 64; i++) void b.sendBytes(patterned(70_000, i));
    for (let i = 0; i < 64; i++) await a.recvBytes();
    expect(Buffer.compare(got, first)).toBe(0);
  });
});

describe('recv() with unpicklerOptions', () => {
  it('decodes every message on its own: limits per message, and a refused one spoils none after it', async () => {
    const ends = await Pipe(true, { unpicklerOptions: { dicts: 'map', limits: { maxContainerItems: 3 } } });
    open.push(...ends);
    const [a, b] = ends;
    for (const value of [[1, 2, 3], [1, 2, 3, 4], { k: 'v' }, [4, 5, 6]]) void b.send(value);
    expect(await a.recv()).toEqual([1, 2, 3]);
    await expect(a.recv()).rejects.toThrow(/maxContainerItems/);
    expect(await a.recv()).toEqual(new Map([['k', 'v']]));
    expect(await a.recv()).toEqual([4, 5, 6]);
  });

  it('refuses offsets, sizes and lengths that are not whole numbers, and timeouts that are not numbers', async () => {
    const ends = await Pipe(true);
    open.push(...ends);
    const [a, b] = ends;
    const data = new Uint8Array(10);
    for (const bad of [Number.NaN, 2.5, '1' as unknown as number]) {
      await expect(b.sendBytes(data, bad)).rejects.toThrow(TypeError);
      await expect(b.sendBytes(data, 0, bad)).rejects.toThrow(TypeError);
      await expect(a.recvBytes(bad)).rejects.toThrow(TypeError);
      await expect(a.recvBytesInto(new Uint8Array(20), bad)).rejects.toThrow(TypeError);
    }
    await expect(a.poll('1' as unknown as number)).rejects.toThrow(TypeError);
    // A timer cannot wait past 2^31 - 1 ms: Node fired such a poll at once, returning false with a warning.
    // CPython refuses these too (OverflowError: timeout is too large); null waits without a limit.
    for (const tooLong of [2_147_484, 1e7, Number.POSITIVE_INFINITY]) {
      await expect(a.poll(tooLong)).rejects.toThrow(
        /timeout is too large.*pass null to wait without a limit/,
      );
      await expect(wait([a], tooLong)).rejects.toThrow(RangeError);
      await expect(Client(['127.0.0.1', 1], { timeout: tooLong })).rejects.toThrow(/timeout is too large/);
      await expect(Listener.listen(['127.0.0.1', 0], { handshakeTimeout: tooLong })).rejects.toThrow(
        RangeError,
      );
    }
    const waiting = a.poll(2_147_483);
    // Nothing was sent or taken: one message goes through whole, and Infinity means no limit.
    await b.sendBytes(data, 2, 5);
    expect(await a.poll(5)).toBe(true);
    expect(await waiting).toBe(true);
    expect(Array.from(await a.recvBytes(Number.POSITIVE_INFINITY))).toEqual([0, 0, 0, 0, 0]);
    expect(await a.poll(0)).toBe(false);
    // null is Python's None, the default of send_bytes' size and recv_bytes' maxlength.
    await b.sendBytes(Uint8Array.of(1, 2, 3), 1, null);
    expect(Array.from(await a.recvBytes(null))).toEqual([2, 3]);
  });

  it('refuses bad options before any socket is made', async () => {
    await expect(Pipe(true, { unpicklerOptions: { dicts: 'maps' as 'map' } })).rejects.toMatchObject({
      code: 'BAD_OPTION',
    });
    await expect(
      Pipe(true, { picklerOptions: { fixImports: 'no' as unknown as boolean } }),
    ).rejects.toMatchObject({
      code: 'BAD_OPTION',
    });
    await expect(Pipe(true, { protocol: 9 })).rejects.toMatchObject({ code: 'BAD_OPTION' });
    // Buffers kept out of band would never reach the peer, which could not load the message.
    const bufferCallback = (): boolean => false;
    await expect(Pipe(true, { protocol: 5, picklerOptions: { bufferCallback } })).rejects.toMatchObject({
      code: 'BAD_OPTION',
      message: expect.stringContaining('a connection cannot carry out-of-band buffers'),
    });
    await expect(
      Client(['127.0.0.1', 1], { picklerOptions: { protocol: 5, bufferCallback } }),
    ).rejects.toMatchObject({ code: 'BAD_OPTION' });
    // At the default protocol too: the reason is the connection, not the protocol.
    await expect(Pipe(true, { picklerOptions: { bufferCallback } })).rejects.toThrow(
      'a connection cannot carry out-of-band buffers',
    );
    // A string where a number belongs is shown as a string.
    await expect(Pipe(true, { maxMessageLength: '10' as unknown as number })).rejects.toThrow(/not "10"$/);
    expect(() => spawnWithPipe('true', [], null as unknown as SpawnWithPipeOptions)).toThrow(
      'options must be an object, not null',
    );
    expect(() =>
      spawnWithPipe('true', [], { maxMesageLength: 10 } as unknown as SpawnWithPipeOptions),
    ).toThrow(/unknown option "maxMesageLength"/);
    for (const maxMessageLength of [Number.NaN, -1, 1.5]) {
      await expect(Pipe(true, { maxMessageLength })).rejects.toThrow(RangeError);
    }
    await expect(Pipe(true, { readHighWaterMark: 0 })).rejects.toThrow(/readHighWaterMark/);
    // Before connecting: nothing listens on port 1, yet the error is about the option.
    await expect(Client(['127.0.0.1', 1], { maxMessageLength: Number.NaN })).rejects.toThrow(
      /maxMessageLength/,
    );
    await expect(Listener.listen(['127.0.0.1', 0], { readHighWaterMark: -5 })).rejects.toThrow(RangeError);
    for (const backlog of [Number.NaN, -3, 2.5]) {
      await expect(Listener.listen(['127.0.0.1', 0], { backlog })).rejects.toThrow(/backlog/);
    }
    await expect(Listener.listen(['127.0.0.1', 0], { handshakeTimeout: Number.NaN })).rejects.toThrow(
      RangeError,
    );
    // A bad timeout is refused before the socket exists (its refused connection would be an unhandled error).
    await expect(Client(['127.0.0.1', 1], { timeout: '1' as unknown as number })).rejects.toThrow(TypeError);
    // Options that are not an object were ignored (and null failed on a property read).
    for (const bad of ['x', 5, null] as unknown as object[]) {
      await expect(Pipe(true, bad)).rejects.toThrow(/options must be an object/);
      await expect(Client(['127.0.0.1', 1], bad)).rejects.toThrow(/options must be an object/);
      await expect(Listener.listen(['127.0.0.1', 0], bad)).rejects.toThrow(/options must be an object/);
    }
    const ends = await Pipe(true, { maxMessageLength: Number.POSITIVE_INFINITY, readHighWaterMark: 1 });
    open.push(...ends);
  });

  it('refuses a misspelt option, whose limit would otherwise never apply', async () => {
    const misspelt = { maxMesageLength: 10 } as unknown as ConnectionOptions;
    const named =
      /unknown option "maxMesageLength": the options are protocol, picklerOptions, .*maxMessageLength/;
    await expect(Pipe(true, misspelt)).rejects.toThrow(named);
    await expect(Client(['127.0.0.1', 1], misspelt)).rejects.toThrow(named);
    await expect(Listener.listen(['127.0.0.1', 0], misspelt)).rejects.toThrow(named);
    await expect(
      Listener.listen(['127.0.0.1', 0], { handshakeTimout: 5 } as unknown as ConnectionOptions),
    ).rejects.toThrow(/unknown option "handshakeTimout": .*handshakeTimeout/);
    // Each call's own options, and options left undefined, are taken.
    const listener = await Listener.listen(['127.0.0.1', 0], {
      authkey: 'k',
      backlog: 4,
      family: 'AF_INET',
      handshakeTimeout: 5,
      onHandshakeError: () => {},
      maxMessageLength: undefined,
    });
    const accepting = listener.accept();
    const client = await Client(listener.address, { authkey: 'k', family: 'AF_INET', timeout: 5 });
    open.push(client, await accepting);
    listener.close();
  });

  it('reads out-of-band buffers from the start of `buffers` for each message, as loads() does', async () => {
    const buffers = [Uint8Array.of(1, 2), Uint8Array.of(3)];
    const ends = await Pipe(true, { unpicklerOptions: { buffers } });
    open.push(...ends);
    const [a, b] = ends;
    const pickle = dumps([new PyPickleBuffer(Uint8Array.of(9, 9), true)], {
      protocol: 5,
      bufferCallback: () => false,
    });
    for (let i = 0; i < 3; i++) void b.sendBytes(pickle);
    for (let i = 0; i < 3; i++) {
      const [got] = (await a.recv()) as [PyPickleBuffer];
      expect(Array.from(got.data)).toEqual([1, 2]);
    }
  });
});

describe('recvBytesInto reads in place', () => {
  /** Payload allocations of at least `minimum` bytes made by `conn`'s frame reader from now on. */
  const watchAllocations = (conn: Connection, minimum: number): number[] => {
    const reader = frameReader(conn) as unknown as { allocate: (n: number) => Uint8Array };
    const sizes: number[] = [];
    const allocate = reader.allocate;
    reader.allocate = (n) => {
      if (n >= minimum) sizes.push(n);
      return allocate(n);
    };
    return sizes;
  };

  // Both ends of a Pipe: the first reads through direct-read.ts, the second through 'data' events.
  for (const [name, receiverIndex] of [
    ['the accepted end', 1],
    ['the connecting end', 0],
  ] as const) {
    it(`${name}: back-to-back large messages land in the caller's buffer with no buffer of their own`, async () => {
      const ends = await pair();
      const receiver = ends[receiverIndex];
      const sender = ends[1 - receiverIndex]!;
      const allocations = watchAllocations(receiver, 1 << 20);
      const messages = [patterned(3 << 20, 1), patterned(2 << 20, 2), patterned(3 << 20, 3)];
      const buffer = new Uint8Array((3 << 20) + 7);
      // Written in one go, so the next header arrives in the chunk that ends the previous message.
      rawSocket(sender).write(Buffer.concat(messages.map((m) => encodeJoinedFrame(m))));
      for (const message of messages) {
        expect(await receiver.recvBytesInto(buffer, 7)).toBe(message.byteLength);
        expect(Buffer.compare(buffer.subarray(7, 7 + message.byteLength), message)).toBe(0);
      }
      // The connecting end keeps no chunks (they are in scratch memory), so a frame that starts before the
      // next call gets a buffer of its own there; the accepted end waits for the call.
      if (receiverIndex === 1) expect(allocations).toEqual([]);
    });
  }

  it('a message longer than the buffer still raises BufferTooShort carrying it, and the next one reads', async () => {
    const [a, b] = await pair();
    const long = patterned(1 << 20, 4);
    const next = patterned(300_000, 5);
    rawSocket(a).write(Buffer.concat([encodeJoinedFrame(long), encodeJoinedFrame(next)]));
    const buffer = new Uint8Array(1 << 19);
    const error = await b.recvBytesInto(buffer).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'BufferTooShort' });
    expect(Buffer.compare((error as BufferTooShort).payload, long)).toBe(0);
    expect(await b.recvBytesInto(buffer)).toBe(next.byteLength);
    expect(Buffer.compare(buffer.subarray(0, next.byteLength), next)).toBe(0);
  });

  it('an aborted receive mid-message hands the whole message to the next receiver in a buffer of its own', async () => {
    const [a, b] = await pair();
    const message = patterned(2 << 20, 6);
    const frame = encodeJoinedFrame(message);
    const buffer = new Uint8Array(message.byteLength);
    const controller = new AbortController();
    const aborted = b.recvBytesInto(buffer, 0, { signal: controller.signal });
    const half = frame.byteLength >> 1;
    rawSocket(a).write(frame.subarray(0, half));
    await vi.waitFor(() => expect(frameReader(b).pendingFrameLength).toBe(message.byteLength));
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new Error('no longer needed'));
    await expect(aborted).rejects.toThrow('no longer needed');
    const untouched = Buffer.from(buffer);
    rawSocket(a).write(frame.subarray(half));
    const received = await b.recvBytes();
    expect(Buffer.compare(received, message)).toBe(0);
    expect(received.buffer).not.toBe(buffer.buffer);
    expect(Buffer.compare(buffer, untouched)).toBe(0);
  });

  it('an aborted receive whose message cannot be copied out ends reading with MESSAGE_TOO_LARGE', async () => {
    const [a, b] = await pair();
    const message = patterned(2 << 20, 6);
    const frame = encodeJoinedFrame(message);
    const controller = new AbortController();
    const aborted = b.recvBytesInto(new Uint8Array(message.byteLength), 0, { signal: controller.signal });
    rawSocket(a).write(frame.subarray(0, frame.byteLength >> 1));
    await vi.waitFor(() => expect(frameReader(b).pendingFrameLength).toBe(message.byteLength));
    const watcher = b.poll(null);
    const outOfMemory = new RangeError('Array buffer allocation failed');
    const allocate = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation(() => {
      throw outOfMemory;
    });
    try {
      controller.abort(new Error('no longer needed'));
    } finally {
      allocate.mockRestore();
    }
    await expect(aborted).rejects.toThrow('no longer needed');
    expect(await watcher).toBe(true);
    await expect(b.recvBytes()).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', cause: outOfMemory });
  });

  it('a large frame nobody waits for yet is not ready until whole, and a later recvBytes gets it', async () => {
    const [a, b] = await pair();
    const message = patterned(1 << 20, 7);
    const frame = encodeJoinedFrame(message);
    rawSocket(a).write(frame.subarray(0, 500_000));
    await vi.waitFor(() => expect(frameReader(b).buffered).toBe(500_000));
    expect(await b.poll()).toBe(false);
    rawSocket(a).write(frame.subarray(500_000));
    expect(await b.poll(null)).toBe(true);
    expect(Buffer.compare(await b.recvBytes(), message)).toBe(0);
  });

  it('a frame longer than the high-water mark is still received whole with nobody waiting', async () => {
    const ends = await Pipe(true, { readHighWaterMark: 256 << 10 });
    open.push(...ends);
    const [a, b] = ends;
    const message = patterned(4 << 20, 8);
    void a.sendBytes(message);
    expect(await b.poll(null)).toBe(true);
    expect(Buffer.compare(await b.recvBytes(), message)).toBe(0);
  });

  it('EOF inside a frame nobody waits for is TRUNCATED_MESSAGE', async () => {
    const [a, b] = await pair();
    const frame = encodeJoinedFrame(patterned(1 << 20, 9));
    rawSocket(a).end(frame.subarray(0, 300_000));
    expect(await b.poll(null)).toBe(true);
    await expect(b.recvBytesInto(new Uint8Array(1 << 20))).rejects.toMatchObject({
      code: 'TRUNCATED_MESSAGE',
    });
  });
});
