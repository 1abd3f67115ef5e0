// The physical reference: plain Node sockets, no framing, no codec, in a process of their own.
// `node raw-server.mjs tcp|unix [PATH]` prints {"port"} or {"path"} when listening. Each connection starts with a
// 9-byte command: mode (1 = sink, 2 = source, 3 = echo) and a 64-bit length.
//   sink:   read `length` bytes, then write one byte.
//   source: wait for one byte, then write `length` bytes.
//   echo:   write every chunk back until the peer hangs up.
import { unlinkSync } from 'node:fs';
import net from 'node:net';

const [family, path] = process.argv.slice(2);
const CHUNK = Buffer.alloc(1 << 20, 0xa5);

function writeVolume(socket, length) {
  let left = length;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

const server = net.createServer({ noDelay: true }, (socket) => {
  let header = Buffer.alloc(0);
  let mode = 0;
  let length = 0;
  let seen = 0;
  socket.on('data', (chunk) => {
    if (mode === 0) {
      header = Buffer.concat([header, chunk]);
      if (header.length < 9) return;
      mode = header[0];
      length = Number(header.readBigUInt64BE(1));
      chunk = header.subarray(9);
      if (mode === 2 && chunk.length === 0) return;
    }
    if (mode === 1) {
      seen += chunk.length;
      if (seen >= length) socket.write(Buffer.of(1));
    } else if (mode === 2) {
      mode = -1;
      writeVolume(socket, length);
    } else if (mode === 3) {
      if (chunk.length) socket.write(chunk);
    }
  });
  socket.on('error', () => {});
});

if (family === 'unix') {
  try {
    unlinkSync(path);
  } catch {}
  server.listen(path, () => console.log(JSON.stringify({ path })));
} else {
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
}
