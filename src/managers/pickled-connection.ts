/**
 * Pickled messages over a transport `Connection`: one `dumps` per message sent, one `loads` per message
 * received, which is what CPython's `Connection.send`/`recv` do.
 */
import { loads, type UnpicklerOptions } from '../codec/decoder.js';
import { dumps } from '../codec/encoder.js';
import type { CallOptions, Connection } from '../transport/connection.js';

/** How values are pickled toward the peer and unpickled from it. */
export interface PickleOptions {
  /**
   * Pickle protocol of the messages this side sends. Default 4, which CPython 3.4+ reads; pass `2` for a
   * Python 2.7 peer, which cannot read protocol 3 or higher.
   */
  readonly protocol?: number;
  /** Options for decoding the peer's pickles (dict representation, Python 2 `str` encoding, limits, ...). */
  readonly unpickler?: UnpicklerOptions;
}

/** Pickles `value` and sends it as one message. */
export async function sendPickled(
  connection: Connection,
  value: unknown,
  pickle: PickleOptions,
  options?: CallOptions,
): Promise<void> {
  const payload = pickle.protocol === undefined ? dumps(value) : dumps(value, { protocol: pickle.protocol });
  await connection.sendBytes(payload, 0, undefined, options);
}

/** Receives one message and unpickles it. */
export async function recvPickled(
  connection: Connection,
  pickle: PickleOptions,
  options?: CallOptions,
): Promise<unknown> {
  return loads(await connection.recvBytes(undefined, options), pickle.unpickler);
}
