import { type ChildProcess, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  Client,
  type Connection,
  ConnectionClosedError,
  Listener,
  Pipe,
  spawnWithPipe,
  TransportError,
  wait,
} from '../src/transport/index.js';
import { PEER_SCRIPT, pattern, sha256 } from './support/mp-peer.js';
import { describePythons, findPythons } from './support/pythons.js';

const pythons = findPythons();
console.log(`transport Pipe/wait interop against: ${describePythons(pythons)}`);

function collectOutput(child: ChildProcess): Promise<{ code: number | null; stdout: string }> {
  let stdout = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout })));
}

function pipeChild(
  executable: string,
  role: string,
  count = 0,
  duplex = true,
  childEnd?: 'reader' | 'writer',
) {
  return spawnWithPipe(executable, [PEER_SCRIPT, 'pipe-child', '3', role, String(count)], {
    duplex,
    childEnd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

describe.each(pythons.map((python) => ({ label: python.label, executable: python.executable })))(
  'CPython $label child with an inherited fd',
  ({ executable }) => {
    it('duplex: Connection(3) echoes messages of 0, 1, 16385 and 1 MiB bytes', async () => {
      const { child, connection } = pipeChild(executable, 'echo');
      const output = collectOutput(child);
      for (const [seed, size] of [0, 1, 16385, 1 << 20].entries()) {
        const sent = pattern(size, seed);
        await connection.sendBytes(sent);
        expect(sha256(await connection.recvBytes())).toBe(sha256(sent));
      }
      connection.close();
      expect(await output).toEqual({ code: 0, stdout: 'echoed 4\n' });
    });

    it('one-way, child writes: every message arrives in order, then EOF ends the iteration', async () => {
      const { child, connection } = pipeChild(executable, 'writer', 100, false, 'writer');
      const output = collectOutput(child);
      expect({ readable: connection.readable, writable: connection.writable }).toEqual({
        readable: true,
        writable: false,
      });
      await expect(connection.sendBytes(new Uint8Array(1))).rejects.toThrow(
        new TransportError('READ_ONLY', 'connection is read-only'),
      );
      const received: string[] = [];
      for await (const message of connection.iterBytes()) received.push(Buffer.from(message).toString());
      expect(received).toEqual(Array.from({ length: 100 }, (_, i) => `3:${i}`));
      expect((await output).code).toBe(0);
      connection.close();
    });

    it('one-way, child reads: it gets every message and the same bytes', async () => {
      const { child, connection } = pipeChild(executable, 'reader', 0, false, 'reader');
      const output = collectOutput(child);
      await expect(connection.recvBytes()).rejects.toThrow('connection is write-only');
      const messages = Array.from({ length: 50 }, (_, i) => pattern(i * 997, i));
      for (const message of messages) await connection.sendBytes(message);
      connection.close();
      expect((await output).stdout).toBe(`50 ${sha256(Buffer.concat(messages))}\n`);
    });
  },
);

describe('spawnWithPipe', () => {
  it('tells the child its descriptor in MPWIRE_FD, at the fd asked for', async () => {
    const script =
      'import os, sys\n' +
      'from multiprocessing import connection as mpc\n' +
      "Fd = getattr(mpc, 'Connection', None) or __import__('_multiprocessing').Connection\n" +
      "c = Fd(int(os.environ['MPWIRE_FD']))\n" +
      "c.send_bytes(os.environ['MPWIRE_FD'].encode('ascii'))\n";
    const { child, connection, fd } = spawnWithPipe(pythons.at(-1)!.executable, ['-c', script], {
      fd: 5,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    expect(fd).toBe(5);
    expect(Buffer.from(await connection.recvBytes()).toString()).toBe('5');
    await new Promise((resolve) => child.once('exit', resolve));
    connection.close();
  });
});

describe('wait()', () => {
  it('test_wait: four one-way pipes from children of different interpreters, until all reach EOF', async () => {
    const chosen = Array.from({ length: 4 }, (_, i) => pythons[(i * 3) % pythons.length]!);
    const children = chosen.map((python) => pipeChild(python.executable, 'writer', 25, false, 'writer'));
    const outputs = children.map(({ child }) => collectOutput(child));
    const open = new Set<Connection>(children.map(({ connection }) => connection));
    const received = new Map<Connection, string[]>(children.map(({ connection }) => [connection, []]));
    while (open.size > 0) {
      const ready = await wait([...open], 30);
      expect(ready.length).toBeGreaterThan(0);
      for (const connection of ready) {
        try {
          received.get(connection)!.push(Buffer.from(await connection.recvBytes()).toString());
        } catch (error) {
          expect((error as Error).name).toBe('EOFError');
          open.delete(connection);
          connection.close();
        }
      }
    }
    for (const list of received.values())
      expect(list).toEqual(Array.from({ length: 25 }, (_, i) => `3:${i}`));
    for (const output of outputs) expect((await output).code).toBe(0);
  });

  it('test_wait_integer: child processes become ready when they exit, mixed with connections', async () => {
    const python = pythons.at(-1)!;
    const slow = spawn(python.executable, ['-c', 'import time; time.sleep(0.6)']);
    const fast = spawn(python.executable, ['-c', 'import time; time.sleep(0.1)']);
    const { child, connection } = pipeChild(python.executable, 'echo');
    const output = collectOutput(child);
    const started = performance.now();
    expect(await wait([slow, fast, connection], 10)).toEqual([fast]);
    expect(performance.now() - started).toBeLessThan(550);
    await connection.sendBytes(Buffer.from('ping'));
    const ready = await wait([slow, connection], 10);
    expect(ready).toContain(connection);
    expect(Buffer.from(await connection.recvBytes()).toString()).toBe('ping');
    expect(await wait([slow], 10)).toEqual([slow]);
    connection.close();
    await output;
  });

  it('a child that fails to start is ready too: it never emits exit, only error', async () => {
    const missing = spawn('/no/such/interpreter-mpwire');
    const failure = new Promise((resolve) => missing.once('error', resolve));
    // It used to wait for ever.
    expect(await wait([missing], 5)).toEqual([missing]);
    expect(missing.exitCode).toBeLessThan(0);
    expect(await failure).toMatchObject({ code: 'ENOENT' });
  });

  it('test_wait_timeout and test_neg_timeout: [] after the timeout, [] at once for a negative one', async () => {
    const python = pythons.at(-1)!;
    const { child, connection } = pipeChild(python.executable, 'echo');
    const output = collectOutput(child);
    let started = performance.now();
    expect(await wait([connection], 0.3)).toEqual([]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    started = performance.now();
    expect(await wait([connection], -1)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(50);
    await connection.sendBytes(Buffer.from('x'));
    expect(await wait([connection], 10)).toEqual([connection]);
    connection.close();
    await output;
  });

  it('a Listener is ready when a client is waiting to be accepted', async () => {
    const listener = await Listener.listen(['127.0.0.1', 0], { authkey: 'k' });
    try {
      expect(await wait([listener], 0)).toEqual([]);
      const client = await Client(listener.address, { authkey: 'k' });
      expect(await wait([listener], 10)).toEqual([listener]);
      const accepted = await listener.accept();
      expect(await wait([listener], 0)).toEqual([]);
      client.close();
      accepted.close();
    } finally {
      listener.close();
    }
  });

  it('takes any iterable, and refuses what it cannot watch instead of calling it ready', async () => {
    const [a, b] = await Pipe();
    try {
      await b.sendBytes(Uint8Array.of(1));
      expect(await wait(new Set([a, b]), 10)).toEqual([a]);
      // CPython also waits on file descriptors and objects with fileno(); a number used to come back ready.
      for (const bad of [1, {}, null, 'conn']) {
        await expect(wait([a, bad as unknown as Connection], 0)).rejects.toThrow(
          /wait\(\) watches Connection, Listener, ChildProcess and WorkerConnection objects/,
        );
      }
      await expect(wait(a as unknown as Connection[], 0)).rejects.toThrow(/iterable/);
      // The timeout is checked even when something is ready at once.
      await expect(wait([a], Number.NaN)).rejects.toThrow(RangeError);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a connection closed during a wait fails it, as a closed one given to it does; a listener turns ready', async () => {
    const [a, b] = await Pipe();
    const [c, d] = await Pipe();
    try {
      // It used to wait for ever: a closed connection never became ready.
      const waiting = wait([b, d], null);
      setTimeout(() => d.close(), 20);
      await expect(waiting).rejects.toBeInstanceOf(ConnectionClosedError);
      await expect(wait([b, d], 1)).rejects.toBeInstanceOf(ConnectionClosedError);
      const listener = await Listener.listen(['127.0.0.1', 0]);
      const onListener = wait([listener], null);
      listener.close();
      // accept() then reports the closed listener.
      expect(await onListener).toEqual([listener]);
    } finally {
      for (const end of [a, b, c, d]) end.close();
    }
  });

  it('an AbortSignal ends a wait with its reason', async () => {
    const listener = await Listener.listen(['127.0.0.1', 0]);
    try {
      const controller = new AbortController();
      const waiting = wait([listener], null, { signal: controller.signal });
      controller.abort(new Error('stop waiting'));
      await expect(waiting).rejects.toThrow('stop waiting');
    } finally {
      listener.close();
    }
  });
});
