/**
 * Messages over 2^31 bytes, which need the −1 + 8-byte length escape (CPython 3.8+). Opt-in:
 * `make test-large` (MPWIRE_LARGE=1); needs about 12 GB of free memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PythonPeer as Peer, type PythonPeer, pattern, type Received, sha256 } from './support/mp-peer.js';
import { connectPair } from './support/pairs.js';
import { describePythons, pythonsAtLeast } from './support/pythons.js';

const candidates = pythonsAtLeast(3, 8);
const python = candidates.at(-1);
const enabled = process.env.MPWIRE_LARGE === '1' && python !== undefined;
const SIZE = 2 ** 31 + 16;
let peer: PythonPeer | undefined;

beforeAll(async () => {
  if (!enabled) return;
  console.log(`large messages against: ${describePythons([python!])}`);
  peer = await Peer.start(python!);
});

afterAll(async () => {
  await peer?.stop();
});

// Skipped unless MPWIRE_LARGE=1 and a CPython >= 3.8 exists (older ones cannot read the 64-bit header).
describe.skipIf(!enabled)(
  `payloads of 2^31 + 16 bytes with CPython ${python?.label ?? '>= 3.8 (none found)'}`,
  () => {
    it('TS -> Python: sent with the escape header, read whole by CPython', async () => {
      const pair = await connectPair(peer!, { family: 'AF_UNIX', pythonListens: false });
      try {
        const payload = pattern(SIZE, 11);
        const expected = sha256(payload);
        const received = peer!.call<Received>('recv_bytes', { conn: pair.py });
        await pair.ts.sendBytes(payload);
        const got = await received;
        expect(got.size).toBe(SIZE);
        expect(got.sha256).toBe(expected);
      } finally {
        await pair.close();
      }
    });

    it('Python -> TS: the escape header is parsed and the payload arrives whole', async () => {
      const pair = await connectPair(peer!, { family: 'AF_UNIX', pythonListens: false });
      try {
        const sending = peer!.call('send_bytes', { conn: pair.py, data: { size: SIZE, seed: 13 } });
        const payload = await pair.ts.recvBytes();
        await sending;
        expect(payload.byteLength).toBe(SIZE);
        expect(sha256(payload)).toBe(sha256(pattern(SIZE, 13)));
      } finally {
        await pair.close();
      }
    });
  },
);
