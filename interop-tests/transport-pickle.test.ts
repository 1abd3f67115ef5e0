/** `send`/`recv` carry pickles: each CPython reads what we pickle at its protocol, and we read what it sends. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyGlobal, tuple } from '../src/codec/index.js';
import { Listener } from '../src/transport/index.js';
import { atLeast, type PythonPeer, startPeers } from './support/mp-peer.js';
import { connectPair, freshAddress } from './support/pairs.js';
import { describePythons, findPythons, type PythonInterpreter } from './support/pythons.js';

const pythons = findPythons();
let peers: PythonPeer[] = [];

beforeAll(async () => {
  console.log(`transport pickles against: ${describePythons(pythons)}`);
  peers = await startPeers(pythons);
}, 60_000);

afterAll(async () => {
  await Promise.all(peers.map((peer) => peer.stop()));
});

/** The highest protocol the peer reads, capped at our default of 4. */
function protocolFor(python: PythonInterpreter): number {
  return python.version[0] === 2 ? 2 : atLeast(python, 3, 4) ? 4 : 3;
}

describe.each(pythons.map((python, index) => ({ label: python.label, index, python })))(
  'CPython $label',
  ({ index, python }) => {
    it(`send() pickles at protocol ${protocolFor(python)} and CPython's recv() reads it`, async () => {
      const peer = peers[index]!;
      const pair = await connectPair(peer, {
        family: 'AF_UNIX',
        pythonListens: true,
        protocol: protocolFor(python),
      });
      try {
        const values: [unknown, string, string][] = [
          ['hello', python.version[0] === 2 ? "u'hello'" : "'hello'", 'unicode|str'],
          [
            tuple(1, 2n ** 64n, -1.5),
            python.version[0] === 2 ? '(1, 18446744073709551616L, -1.5)' : '(1, 18446744073709551616, -1.5)',
            'tuple',
          ],
          [[null, true, 3], '[None, True, 3]', 'list'],
        ];
        for (const [value, repr, type] of values) {
          const received = peer.call<{ repr: string; type: string }>('recv_pickle', { conn: pair.py });
          await pair.ts.send(value);
          const got = await received;
          expect(got.repr).toBe(repr);
          expect(type.split('|')).toContain(got.type);
        }
      } finally {
        await pair.close();
      }
    });

    it('recv() reads what CPython sends with its default protocol', async () => {
      const peer = peers[index]!;
      const pair = await connectPair(peer, { family: 'AF_INET', pythonListens: false, authkey: 'k' });
      try {
        await peer.call('send_pickle', { conn: pair.py, expr: "{'a': [1, 2.5, None], 'n': -7}" });
        expect(await pair.ts.recv()).toEqual({ a: [1, 2.5, null], n: -7 });
        await peer.call('send_pickle', { conn: pair.py, expr: '(1, (2, 3))' });
        expect(await pair.ts.recv()).toEqual(tuple(1, tuple(2, 3)));
      } finally {
        await pair.close();
      }
    });

    it('a TS Listener receives a pickled function reference from a Python client', async () => {
      const peer = peers[index]!;
      const listener = await Listener.listen(freshAddress('AF_UNIX'), { authkey: 'secret' });
      try {
        const [client, conn] = await Promise.all([
          peer.call<{ conn: string }>('client', {
            address: listener.address,
            authkey: Buffer.from('secret').toString('hex'),
          }),
          listener.accept(),
        ]);
        await peer.call('send_pickle', { conn: client.conn, expr: 'os.path.join' });
        const received = await conn.recv();
        expect(received).toBeInstanceOf(PyGlobal);
        expect(received).toMatchObject({ module: 'posixpath', name: 'join' });
        await peer.call('close', { handle: client.conn });
        // for-await yields unpickled messages until EOF.
        const rest: unknown[] = [];
        for await (const message of conn) rest.push(message);
        expect(rest).toEqual([]);
        conn.close();
      } finally {
        listener.close();
      }
    });
  },
);

const python27 = pythons.find((python) => python.version[0] === 2);

describe('send() at the connection protocol', () => {
  // Skipped only when no CPython 2.7 interpreter exists on this machine.
  it.skipIf(python27 === undefined)(
    'Client({ protocol: 2 }) lets a Python 2.7 Listener recv() our pickles',
    async () => {
      const peer = peers.find((p) => p.python === python27)!;
      const { Client } = await import('../src/transport/index.js');
      const listening = await peer.call<{ handle: string; address: [string, number] }>('listen', {
        address: ['127.0.0.1', 0],
        authkey: null,
      });
      const accepted = peer.call<{ conn: string }>('accept', { handle: listening.handle });
      const conn = await Client(listening.address, { protocol: 2 });
      const { conn: py } = await accepted;
      const received = peer.call<{ repr: string }>('recv_pickle', { conn: py });
      await conn.send({ key: [1, 2] });
      expect((await received).repr).toBe("{u'key': [1, 2]}");
      conn.close();
      await peer.call('close', { handle: py });
      await peer.call('close', { handle: listening.handle });
    },
  );
});
