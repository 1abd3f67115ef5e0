import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, Client, Listener } from '../src/transport/index.js';
import { type PythonPeer, pattern, type Received, sha256, startPeers } from './support/mp-peer.js';
import { connectPair, FAMILIES, freshAddress } from './support/pairs.js';
import { describePythons, findPythons } from './support/pythons.js';

const pythons = findPythons();
const SIZES = [0, 1, 16384, 16385, 1 << 20];
let peers: PythonPeer[] = [];

beforeAll(async () => {
  console.log(`transport Client/Listener interop against: ${describePythons(pythons)}`);
  peers = await startPeers(pythons);
}, 60_000);

afterAll(async () => {
  await Promise.all(peers.map((peer) => peer.stop()));
});

describe.each(pythons.map((python, index) => ({ label: python.label, index })))(
  'CPython $label',
  ({ index }) => {
    for (const pythonListens of [true, false]) {
      for (const family of FAMILIES) {
        for (const authkey of [undefined, 'secret']) {
          const name = `${pythonListens ? 'Python Listener, TS Client' : 'TS Listener, Python Client'} over ${family} ${
            authkey ? 'with' : 'without'
          } authkey: messages of ${SIZES.join(', ')} bytes both ways`;
          it(name, async () => {
            const peer = peers[index]!;
            const pair = await connectPair(peer, { family, pythonListens, authkey });
            try {
              const echoed = peer.call<{ count: number }>('echo', { conn: pair.py, count: SIZES.length });
              for (const [seed, size] of SIZES.entries()) {
                const sent = pattern(size, seed);
                await pair.ts.sendBytes(sent);
                const back = await pair.ts.recvBytes();
                expect(back.byteLength).toBe(size);
                expect(sha256(back)).toBe(sha256(sent));
              }
              expect(await echoed).toEqual({ count: SIZES.length });
              // Python-originated frames, back to back, must come out as separate messages.
              await peer.call('send_many', {
                conn: pair.py,
                messages: [{ hex: '' }, { hex: '61' }, { size: 70000, seed: 9 }],
              });
              expect((await pair.ts.recvBytes()).byteLength).toBe(0);
              expect(Buffer.from(await pair.ts.recvBytes()).toString()).toBe('a');
              expect(sha256(await pair.ts.recvBytes())).toBe(sha256(pattern(70000, 9)));
            } finally {
              await pair.close();
            }
          });
        }
      }
    }

    it('wrong key, Python Listener: AuthenticationError on both sides', async () => {
      const peer = peers[index]!;
      const listening = await peer.call<{ handle: string; address: [string, number] }>('listen', {
        address: ['127.0.0.1', 0],
        authkey: Buffer.from('right').toString('hex'),
      });
      const accepted = peer.attempt('accept', { handle: listening.handle });
      await expect(Client(listening.address, { authkey: 'wrong', timeout: 20 })).rejects.toThrow(
        new AuthenticationError('digest sent was rejected'),
      );
      const outcome = await accepted;
      expect(outcome.error?.type).toBe('AuthenticationError');
      expect(outcome.error?.message).toBe('digest received was wrong');
      await peer.call('close', { handle: listening.handle });
    });

    it('wrong key, TS Listener: AuthenticationError on both sides, and the Listener keeps serving', async () => {
      const peer = peers[index]!;
      const failures: unknown[] = [];
      const listener = await Listener.listen(freshAddress('AF_UNIX'), {
        authkey: 'right',
        onHandshakeError: (error) => failures.push(error),
      });
      try {
        const outcome = await peer.attempt('client', {
          address: listener.address,
          authkey: Buffer.from('wrong').toString('hex'),
        });
        expect(outcome.error?.type).toBe('AuthenticationError');
        expect(outcome.error?.message).toBe('digest sent was rejected');
        await expect.poll(() => failures.length).toBe(1);
        expect(failures[0]).toEqual(new AuthenticationError('digest received was wrong'));
        const [good, accepted] = await Promise.all([
          peer.call<{ conn: string }>('client', {
            address: listener.address,
            authkey: Buffer.from('right').toString('hex'),
          }),
          listener.accept(),
        ]);
        await accepted.sendBytes(Buffer.from('still serving'));
        const received = await peer.call<Received>('recv_bytes', { conn: good.conn });
        expect(Buffer.from(received.hex!, 'hex').toString()).toBe('still serving');
        accepted.close();
        await peer.call('close', { handle: good.conn });
      } finally {
        listener.close();
      }
    });
  },
);

describe('64 MiB messages', () => {
  const chosen = [pythons[0]!, pythons.at(-1)!].filter((p, i, all) => all.indexOf(p) === i);
  it.each(chosen.map((python) => ({ label: python.label })))(
    'CPython $label echoes 64 MiB both ways over a Unix socket',
    async ({ label }) => {
      const peer = peers.find((p) => p.label === label)!;
      const pair = await connectPair(peer, { family: 'AF_UNIX', pythonListens: false });
      try {
        const size = 64 << 20;
        const sent = pattern(size, 5);
        const echoed = peer.call('echo', { conn: pair.py, count: 1 });
        await pair.ts.sendBytes(sent);
        const back = await pair.ts.recvBytes();
        await echoed;
        expect(back.byteLength).toBe(size);
        expect(Buffer.compare(back, sent)).toBe(0);
      } finally {
        await pair.close();
      }
    },
    120_000,
  );
});

describe('a Unix-socket Listener whose backlog is full', () => {
  // CPython's Listener() listens with backlog 1; its blocking connect waits for room, where Node's
  // non-blocking one fails at once with EAGAIN. Client waits as CPython's does.
  const chosen = [pythons[0]!, pythons.at(-1)!].filter((p, i, all) => all.indexOf(p) === i);
  it.each(chosen.map((python) => ({ label: python.label, executable: python.executable })))(
    'CPython $label: four Clients at once all connect to a Listener() that accepts a moment later',
    async ({ executable }) => {
      const server = spawn(
        executable,
        [
          '-u',
          '-c',
          [
            'import sys, time',
            'from multiprocessing.connection import Listener',
            'l = Listener()',
            'sys.stdout.write(l.address + "\\n")',
            'time.sleep(0.5)',
            'for i in range(4):',
            '    c = l.accept(); c.send("hello"); c.close()',
          ].join('\n'),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      try {
        const address = await new Promise<string>((resolve, reject) => {
          server.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
          server.once('error', reject);
        });
        const replies = await Promise.all(
          Array.from({ length: 4 }, async () => {
            const connection = await Client(address, { timeout: 20 });
            try {
              return await connection.recv();
            } finally {
              connection.close();
            }
          }),
        );
        expect(replies).toEqual(['hello', 'hello', 'hello', 'hello']);
      } finally {
        server.kill();
      }
    },
    30_000,
  );
});
