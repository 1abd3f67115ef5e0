/**
 * The same input given to CPython's Connection and to ours: errors, texts and the state afterwards must agree
 * (protocol.md §1.3–1.6, §3.3–3.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferTooShort, EOFError, ProtocolError, type TransportError } from '../src/transport/index.js';
import { type PeerOutcome, type PythonPeer, startPeers } from './support/mp-peer.js';
import { connectPair, type Pair } from './support/pairs.js';
import { describePythons, findPythons } from './support/pythons.js';

const pythons = findPythons();
let peers: PythonPeer[] = [];

beforeAll(async () => {
  console.log(`transport semantics compared with: ${describePythons(pythons)}`);
  peers = await startPeers(pythons);
}, 60_000);

afterAll(async () => {
  await Promise.all(peers.map((peer) => peer.stop()));
});

interface State {
  closed: boolean;
  readable: boolean;
  writable: boolean;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const hexOf = (text: string): string => Buffer.from(text).toString('hex');

/** Python's OSError is IOError on 2.7; the texts are what must agree. */
function pythonMessage(outcome: PeerOutcome<unknown>): string | undefined {
  return outcome.error?.message;
}

async function tsError(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

async function withPair(peer: PythonPeer, body: (pair: Pair) => Promise<void>): Promise<void> {
  const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: false });
  try {
    await body(pair);
  } finally {
    await pair.close();
  }
}

describe.each(pythons.map((python, index) => ({ label: python.label, index })))(
  'CPython $label',
  ({ index }) => {
    it('maxlength: equal is fine; longer fails with "bad message length" and leaves a write-only end', async () => {
      const peer = peers[index]!;
      await withPair(peer, async ({ ts, py }) => {
        // Each side receives: a 10-byte message with maxlength 10, then one with maxlength 5.
        await ts.sendBytes(bytes('0123456789'));
        await ts.sendBytes(bytes('abcdefghij'));
        await peer.call('send_many', {
          conn: py,
          messages: [{ hex: hexOf('0123456789') }, { hex: hexOf('abcdefghij') }],
        });

        const pyEqual = await peer.call<{ hex: string }>('recv_bytes', { conn: py, maxlength: 10 });
        expect(Buffer.from(await ts.recvBytes(10)).toString('hex')).toBe(pyEqual.hex);

        const pyTooLong = await peer.attempt('recv_bytes', { conn: py, maxlength: 5 });
        const tsTooLong = await tsError(ts.recvBytes(5));
        expect(pythonMessage(pyTooLong)).toBe('bad message length');
        expect(tsTooLong).toBeInstanceOf(ProtocolError);
        expect((tsTooLong as ProtocolError).code).toBe('BAD_MESSAGE_LENGTH');
        // CPython's words, then the length and the limit.
        expect(tsTooLong.message).toMatch(
          new RegExp(`^${pythonMessage(pyTooLong)}: 10 bytes, over the receive's maxlength of 5;`),
        );

        const pyState = await peer.call<State>('state', { conn: py });
        expect({ closed: ts.closed, readable: ts.readable, writable: ts.writable }).toEqual(pyState);
        expect(pyState).toEqual({ closed: false, readable: false, writable: true });

        const pyAfter = await peer.attempt('recv_bytes', { conn: py });
        const tsAfter = await tsError(ts.recvBytes());
        expect(tsAfter.message).toBe(pythonMessage(pyAfter));
        expect((tsAfter as TransportError).code).toBe('WRITE_ONLY');
        const pyPoll = await peer.attempt('poll', { conn: py });
        expect((await tsError(ts.poll())).message).toBe(pythonMessage(pyPoll));
        // Still writable on both sides.
        await expect(ts.sendBytes(bytes('x'))).resolves.toBeUndefined();
        await expect(peer.attempt('send_bytes', { conn: py, data: { hex: '78' } })).resolves.toMatchObject({
          ok: {},
        });
      });
    });

    it('negative maxlength is refused before reading, and the message stays', async () => {
      const peer = peers[index]!;
      await withPair(peer, async ({ ts, py }) => {
        await peer.call('send_bytes', { conn: py, data: { hex: '01' } });
        const tsNegative = await tsError(ts.recvBytes(-1));
        expect(tsNegative).toBeInstanceOf(RangeError);
        expect(tsNegative.message).toBe('negative maxlength');
        await ts.sendBytes(bytes('\x01'));
        const pyNegative = await peer.attempt('recv_bytes', { conn: py, maxlength: -1 });
        // 2.7 says "maxlength < 0"; 3.x says "negative maxlength".
        expect([tsNegative.message, 'maxlength < 0']).toContain(pythonMessage(pyNegative));
        expect(Buffer.from(await ts.recvBytes()).toString('hex')).toBe('01');
        expect((await peer.call<{ hex: string }>('recv_bytes', { conn: py })).hex).toBe('01');
      });
    });

    it('recvBytesInto: BufferTooShort carries and consumes the message; offsets are bytes; bad offsets consume nothing', async () => {
      const peer = peers[index]!;
      await withPair(peer, async ({ ts, py }) => {
        const messages = ['0123456789', 'wxyz', 'after'];
        for (const text of messages) await ts.sendBytes(bytes(text));
        await peer.call('send_many', { conn: py, messages: messages.map((text) => ({ hex: hexOf(text) })) });

        const tsBuffer = new Uint8Array(8);
        const tsShort = await tsError(ts.recvBytesInto(tsBuffer));
        const pyShort = await peer.attempt<{ n: number }>('recv_bytes_into', { conn: py, size: 8 });
        expect(tsShort).toBeInstanceOf(BufferTooShort);
        expect(pyShort.error?.type).toBe('BufferTooShort');
        expect(Buffer.from((tsShort as BufferTooShort).payload).toString('hex')).toBe(
          pyShort.error?.payload_hex,
        );
        expect(Buffer.from(tsBuffer).toString('hex')).toBe('0000000000000000');

        for (const offset of [-1, 9]) {
          const tsBad = await tsError(ts.recvBytesInto(tsBuffer, offset));
          const pyBad = await peer.attempt('recv_bytes_into', { conn: py, size: 8, offset });
          expect(tsBad).toBeInstanceOf(RangeError);
          expect(tsBad.message).toBe(pythonMessage(pyBad));
        }

        const tsCount = await ts.recvBytesInto(tsBuffer, 2);
        const pyInto = await peer.call<{ n: number; buffer_hex: string }>('recv_bytes_into', {
          conn: py,
          size: 8,
          offset: 2,
        });
        expect(tsCount).toBe(pyInto.n);
        expect(Buffer.from(tsBuffer).toString('hex')).toBe(pyInto.buffer_hex);
        // The connection stays fully usable after BufferTooShort.
        expect(Buffer.from(await ts.recvBytes()).toString()).toBe('after');
        expect((await peer.call<{ hex: string }>('recv_bytes', { conn: py })).hex).toBe(hexOf('after'));
      });
    });

    it('recvBytesInto a typed array with item size 4 uses byte offsets', async () => {
      const peer = peers[index]!;
      await withPair(peer, async ({ ts, py }) => {
        await peer.call('send_bytes', { conn: py, data: { hex: '0102030405060708' } });
        const ints = new Int32Array(4);
        expect(await ts.recvBytesInto(ints, 4)).toBe(8);
        expect(Buffer.from(ints.buffer).toString('hex')).toBe('00000000010203040506070800000000');
      });
    });

    it('poll: default 0 does not block, negative means 0, empty messages count, EOF counts', async () => {
      const peer = peers[index]!;
      await withPair(peer, async ({ ts, py }) => {
        expect(await ts.poll()).toBe(false);
        const started = performance.now();
        expect(await ts.poll(-1)).toBe(false);
        expect(await ts.poll(0.2)).toBe(false);
        expect(performance.now() - started).toBeGreaterThanOrEqual(190);
        const pyPoll = await peer.call<{ ready: boolean }>('poll', { conn: py, timeout: -1 });
        expect(pyPoll.ready).toBe(false);

        const waiting = ts.poll(null);
        await peer.call('send_bytes', { conn: py, data: { hex: '' } });
        expect(await waiting).toBe(true);
        expect(await ts.poll()).toBe(true);
        expect((await ts.recvBytes(0)).byteLength).toBe(0);
        expect(await ts.poll()).toBe(false);

        await peer.call('close', { handle: py });
        expect(await ts.poll(5)).toBe(true);
        await expect(ts.recvBytes()).rejects.toBeInstanceOf(EOFError);
        await expect(ts.recvBytes()).rejects.toBeInstanceOf(EOFError);
        // Python keeps readable/writable True after EOF; so do we.
        expect({ readable: ts.readable, writable: ts.writable, closed: ts.closed }).toEqual({
          readable: true,
          writable: true,
          closed: false,
        });
      }).catch((error: unknown) => {
        // The pair's own close also closes `py`; a second close finds it gone.
        if (!String(error).includes('KeyError')) throw error;
      });
    });

    it('EOF is EOFError on both sides; a header or payload cut short is "got end of file during message"', async () => {
      const peer = peers[index]!;
      for (const cut of ['00', '0000000a0102']) {
        const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: false });
        const socket = (pair.ts as unknown as { socket: import('node:net').Socket }).socket;
        const pyRecv = peer.attempt('recv_bytes', { conn: pair.py });
        socket.end(Buffer.from(cut, 'hex'));
        const outcome = await pyRecv;
        expect(outcome.error?.message).toBe('got end of file during message');
        pair.ts.close();
        await peer.call('close', { handle: pair.py });
      }
      const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: false });
      const pyRecv = peer.attempt('recv_bytes', { conn: pair.py });
      pair.ts.close();
      expect((await pyRecv).error?.type).toBe('EOFError');
      await peer.call('close', { handle: pair.py });
    });
  },
);
