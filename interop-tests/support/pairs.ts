/** Connects a TypeScript `Connection` to a connection inside a Python peer, either side listening. */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Address,
  Client,
  type Connection,
  Listener,
  paddedAbstractAddress,
} from '../../src/transport/index.js';
import type { PythonPeer } from './mp-peer.js';

export type TestFamily = 'AF_INET' | 'AF_UNIX' | 'abstract';

export const FAMILIES: readonly TestFamily[] = ['AF_INET', 'AF_UNIX', 'abstract'];

/** A fresh address of the family: loopback port 0, a temp socket path, or a Linux abstract name. */
export function freshAddress(family: TestFamily): Address {
  const tag = randomBytes(6).toString('hex');
  if (family === 'AF_INET') return ['127.0.0.1', 0];
  if (family === 'AF_UNIX') return join(tmpdir(), `mpwire-${tag}.sock`);
  // Node 20 binds and connects abstract names padded to 108 bytes; CPython is given that same name.
  return paddedAbstractAddress(`\0mpwire-${tag}`);
}

export interface Pair {
  /** The TypeScript end. */
  readonly ts: Connection;
  /** Handle of the Python end inside the peer. */
  readonly py: string;
  /** Closes both ends (and the listeners). */
  close(): Promise<void>;
}

export interface PairOptions {
  readonly family: TestFamily;
  readonly pythonListens: boolean;
  readonly authkey?: string;
  /** Pickle protocol of the TypeScript end's `send()`. */
  readonly protocol?: number;
}

const keyHex = (key: string | undefined): string | null =>
  key === undefined ? null : Buffer.from(key, 'utf8').toString('hex');

export async function connectPair(peer: PythonPeer, options: PairOptions): Promise<Pair> {
  const address = freshAddress(options.family);
  if (options.pythonListens) {
    const listening = await peer.call<{ handle: string; address: Address }>('listen', {
      address,
      authkey: keyHex(options.authkey),
    });
    const accepted = peer.call<{ conn: string }>('accept', { handle: listening.handle });
    const ts = await Client(listening.address, {
      authkey: options.authkey,
      timeout: 20,
      protocol: options.protocol,
    });
    const { conn } = await accepted;
    return {
      ts,
      py: conn,
      close: async () => {
        ts.close();
        await peer.call('close', { handle: conn });
        await peer.call('close', { handle: listening.handle });
      },
    };
  }
  const listener = await Listener.listen(address, {
    authkey: options.authkey,
    handshakeTimeout: 20,
    protocol: options.protocol,
  });
  const [client, ts] = await Promise.all([
    peer.call<{ conn: string }>('client', { address: listener.address, authkey: keyHex(options.authkey) }),
    listener.accept(),
  ]);
  return {
    ts,
    py: client.conn,
    close: async () => {
      ts.close();
      listener.close();
      await peer.call('close', { handle: client.conn });
    },
  };
}
