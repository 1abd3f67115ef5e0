// The mpwire side of the transport benchmarks: the same exchanges as transport_peer.py's Python client, through
// mpwire's Client and Connection, timed with performance.now().

function command(conn, cmd) {
  return conn.sendBytes(new TextEncoder().encode(JSON.stringify(cmd)));
}

/** Opens an authenticated connection to the Python server. `addr` is { family: 'tcp'|'unix', host, port, path }. */
export async function connectMpwire(mod, addr, authkey) {
  const address = addr.family === 'unix' ? addr.path : [addr.host, addr.port];
  return await mod.Client(address, { authkey });
}

/** Runs one benchmark exchange and returns its wall time in seconds (setup excluded). */
export async function runMpwireClient(mod, addr, authkey, bench, args) {
  if (bench === 'handshake') {
    const t0 = performance.now();
    for (let i = 0; i < args.count; i++) {
      const c = await connectMpwire(mod, addr, authkey);
      await c.close();
    }
    return (performance.now() - t0) / 1e3;
  }
  const conn = await connectMpwire(mod, addr, authkey);
  try {
    let t0;
    switch (bench) {
      case 'pingpong': {
        const msg = new Uint8Array(args.size).fill(0x78);
        await command(conn, { mode: 'echo' });
        for (let i = 0; i < (args.warmup ?? 1); i++) {
          await conn.sendBytes(msg);
          await conn.recvBytes();
        }
        t0 = performance.now();
        for (let i = 0; i < args.count; i++) {
          await conn.sendBytes(msg);
          await conn.recvBytes();
        }
        break;
      }
      case 'sink':
      case 'sink-into': {
        const payload = new Uint8Array(args.size).fill(0xa5);
        await command(conn, { mode: bench, size: args.size, count: args.count });
        t0 = performance.now();
        for (let i = 0; i < args.count; i++) await conn.sendBytes(payload);
        await conn.recvBytes();
        break;
      }
      case 'source': {
        await command(conn, { mode: 'source', size: args.size, count: args.count });
        await conn.recvBytes();
        t0 = performance.now();
        await conn.sendBytes(new TextEncoder().encode('go'));
        for (let i = 0; i < args.count; i++) await conn.recvBytes();
        break;
      }
      case 'source-into': {
        // The same messages as 'source', received with recvBytesInto into one buffer reused for each.
        const buffer = new Uint8Array(args.size);
        await command(conn, { mode: 'source', size: args.size, count: args.count });
        await conn.recvBytes();
        t0 = performance.now();
        await conn.sendBytes(new TextEncoder().encode('go'));
        for (let i = 0; i < args.count; i++) await conn.recvBytesInto(buffer);
        break;
      }
      case 'sink-obj': {
        await command(conn, { mode: 'sink-obj', count: args.count });
        t0 = performance.now();
        for (let i = 0; i < args.count; i++) await conn.send(args.value);
        await conn.recvBytes();
        break;
      }
      case 'source-obj': {
        await command(conn, { mode: 'source-obj', count: args.count });
        await conn.recvBytes();
        t0 = performance.now();
        await conn.sendBytes(new TextEncoder().encode('go'));
        for (let i = 0; i < args.count; i++) await conn.recv();
        break;
      }
      default:
        throw new Error(`unknown bench ${bench}`);
    }
    return (performance.now() - t0) / 1e3;
  } finally {
    await conn.close();
  }
}
