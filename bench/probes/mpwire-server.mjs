// The Node end of the mpwire→mpwire benchmarks: the command protocol of transport_peer.py's server, served by
// mpwire's Listener and Connection, so a bulk transfer can be measured with mpwire on both ends.
// `node mpwire-server.mjs DIST_INDEX tcp|unix [PATH] AUTHKEY_HEX` prints {"address": ...} when listening.
// The first message of a connection is a JSON command (bytes); see transport_peer.py for the two modes served
// here, sink and source. A third, sink-into, is sink received with recvBytesInto into one buffer of `size`
// bytes, allocated once for the whole process and reused for every message, as a reader of bulk data would
// (a buffer per connection would page-fault its fresh memory inside the timing, one message in four at 64 MiB).
import { unlinkSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [dist, family, ...rest] = process.argv.slice(2);
const authkeyHex = rest.pop();
const { Listener } = await import(pathToFileURL(dist).href);
const DECODER = new TextDecoder();
/** The sink-into buffer, kept across connections. */
let intoBuffer = new Uint8Array(0);

async function serve(conn) {
  const cmd = JSON.parse(DECODER.decode(await conn.recvBytes()));
  if (cmd.mode === 'sink') {
    for (let i = 0; i < cmd.count; i++) await conn.recvBytes();
    await conn.sendBytes(new TextEncoder().encode('ok'));
  } else if (cmd.mode === 'sink-into') {
    if (intoBuffer.byteLength < cmd.size) intoBuffer = new Uint8Array(cmd.size);
    const buffer = intoBuffer;
    for (let i = 0; i < cmd.count; i++) await conn.recvBytesInto(buffer);
    await conn.sendBytes(new TextEncoder().encode('ok'));
  } else if (cmd.mode === 'source') {
    const payload = new Uint8Array(cmd.size).fill(0xa5);
    await conn.sendBytes(new TextEncoder().encode('ready'));
    await conn.recvBytes();
    for (let i = 0; i < cmd.count; i++) await conn.sendBytes(payload);
  } else {
    throw new Error(`unknown mode ${cmd.mode}`);
  }
  // Wait for the client to hang up so its timing ends before this side closes.
  await conn.recvBytes();
}

let address;
if (family === 'unix') {
  address = rest[0];
  try {
    unlinkSync(address);
  } catch {}
} else {
  address = ['127.0.0.1', 0];
}
const listener = await Listener.listen(address, { authkey: Buffer.from(authkeyHex, 'hex') });
const bound = listener.address;
console.log(JSON.stringify({ address: Array.isArray(bound) ? `${bound[0]}:${bound[1]}` : bound }));
// One connection at a time, as the CPython server: the client hangs up (EOF) to end each exchange.
for await (const conn of listener) {
  try {
    await serve(conn);
  } catch {
    // EOF or a failed exchange: serve the next client.
  } finally {
    conn.close();
  }
}
