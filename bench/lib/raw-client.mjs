// Client side of the plain-socket reference (see probes/raw-server.mjs): the same volumes as the mpwire runs.
import net from 'node:net';

function connect(addr) {
  return new Promise((resolve, reject) => {
    const socket = addr.path ? net.connect(addr.path) : net.connect(addr.port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function header(mode, length) {
  const h = Buffer.alloc(9);
  h[0] = mode;
  h.writeBigUInt64BE(BigInt(length), 1);
  return h;
}

function write(socket, buf) {
  return socket.write(buf) ? Promise.resolve() : new Promise((r) => socket.once('drain', r));
}

function readAtLeast(socket, n) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const onData = (chunk) => {
      seen += chunk.length;
      if (seen >= n) {
        socket.off('data', onData);
        socket.off('error', reject);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Seconds to write `count` buffers of `size` bytes and get the reader's one-byte acknowledgement. */
export async function rawSink(addr, size, count) {
  const socket = await connect(addr);
  const payload = Buffer.alloc(size, 0xa5);
  await write(socket, header(1, size * count));
  const ack = readAtLeast(socket, 1);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await write(socket, payload);
  await ack;
  const seconds = (performance.now() - t0) / 1e3;
  socket.destroy();
  return seconds;
}

/** Seconds to read `size * count` bytes the other side writes once asked. */
export async function rawSource(addr, size, count) {
  const socket = await connect(addr);
  await write(socket, header(2, size * count));
  const done = readAtLeast(socket, size * count);
  const t0 = performance.now();
  await write(socket, Buffer.of(1));
  await done;
  const seconds = (performance.now() - t0) / 1e3;
  socket.destroy();
  return seconds;
}

/** Seconds for `count` round trips of a `size`-byte message through an echo, after `warmup` untimed ones. */
export async function rawPingPong(addr, size, count, warmup = 0) {
  const socket = await connect(addr);
  await write(socket, header(3, 0));
  const msg = Buffer.alloc(size, 0x78);
  let pending = null;
  let seen = 0;
  socket.on('data', (chunk) => {
    seen += chunk.length;
    if (pending && seen >= size) {
      seen -= size;
      const p = pending;
      pending = null;
      p();
    }
  });
  const roundTrip = () => {
    const back = new Promise((r) => {
      pending = r;
    });
    socket.write(msg);
    return back;
  };
  for (let i = 0; i < warmup; i++) await roundTrip();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await roundTrip();
  const seconds = (performance.now() - t0) / 1e3;
  socket.destroy();
  return seconds;
}
