// Transport section: mpwire<->CPython against CPython<->CPython in the same run, over TCP and Unix sockets, with
// plain Node sockets between two Node processes as the physical reference for mpwire<->mpwire (an mpwire server
// in a Node process of its own). Rounds interleave the variants.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CASES } from './cases.mjs';
import { collectGarbage } from './jsgc.mjs';
import { DIST_INDEX, loadMpwire, missingReason } from './mpwire.mjs';
import { runMpwireClient } from './mpwire-client.mjs';
import { PYTHON_DIR, pythonExecutable } from './python.mjs';
import { rawPingPong, rawSink, rawSource } from './raw-client.mjs';
import { median, spreadPct } from './stats.mjs';

const execFileP = promisify(execFile);
const RAW_SERVER = fileURLToPath(new URL('../probes/raw-server.mjs', import.meta.url));
const MPWIRE_SERVER = fileURLToPath(new URL('../probes/mpwire-server.mjs', import.meta.url));
const MiB = 2 ** 20;

/** Starts a server process and resolves with it and the first JSON line it prints (its address). */
export function startServer(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) =>
      resolve({ child, info: JSON.parse(line) }),
    );
    child.once('exit', (code) => reject(new Error(`${args[0]} exited early (${code})`)));
  });
}

async function pythonClient(addr, authkeyHex, bench, args) {
  const address = addr.family === 'unix' ? addr.path : `${addr.host}:${addr.port}`;
  const family = addr.family === 'unix' ? 'AF_UNIX' : 'AF_INET';
  const { stdout } = await execFileP(
    pythonExecutable(),
    [
      join(PYTHON_DIR, 'transport_peer.py'),
      'client',
      family,
      address,
      authkeyHex,
      bench,
      JSON.stringify(args),
    ],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()).seconds;
}

/** The scenarios, each with the variants measured side by side. */
function scenarios(opts, api) {
  const q = opts.quick;
  const list = [];
  for (const fam of ['tcp', 'unix']) {
    const count = q ? 1000 : 8000;
    // Each sample opens a fresh connection after a full garbage collection, which lets V8 drop the hidden
    // classes of the closed connection's objects and the optimized code built on them (`--trace-deopt`: "wrong
    // map", "weak objects"). Without this untimed warm-up on the same connection, given to every variant, the
    // Node figures measured re-optimisation (mpwire 12-26 µs of CPU per round trip in the first 8000 after a
    // collection, 6.7 µs warm), not the steady state of a long-lived connection.
    const warmup = count;
    list.push({
      id: `pingpong-${fam}`,
      title: `ping-pong, 16-byte sendBytes/recvBytes, ${fam.toUpperCase()}`,
      family: fam,
      unit: 'round trips/s',
      ops: count,
      variants: [
        { id: 'py-py', peer: 'python', bench: 'pingpong', args: { size: 16, count, warmup } },
        { id: 'mpwire-py', peer: 'mpwire', bench: 'pingpong', args: { size: 16, count, warmup } },
        { id: 'raw-node', peer: 'raw', run: (a) => rawPingPong(a, 20, count, warmup) },
      ],
      target: { variant: 'mpwire-py', versus: 'py-py', min: 1.0, label: '≥ 1.0× Python↔Python' },
    });
  }
  const bulk = [
    [MiB, q ? 64 : 128],
    [64 * MiB, q ? 2 : 4],
  ];
  // --quick moves bulk data over TCP only.
  for (const fam of q ? ['tcp'] : ['tcp', 'unix']) {
    for (const [size, count] of bulk) {
      const label = size === MiB ? '1 MiB' : '64 MiB';
      list.push({
        id: `bulk-${label.replace(' ', '')}-${fam}`,
        title: `one-way ${label} sendBytes ×${count}, ${fam.toUpperCase()}`,
        family: fam,
        unit: 'MB/s',
        bytes: size * count,
        variants: [
          { id: 'py→py', peer: 'python', bench: 'sink', args: { size, count } },
          { id: 'mpwire→py', peer: 'mpwire', bench: 'sink', args: { size, count } },
          { id: 'py→mpwire', peer: 'mpwire', bench: 'source', args: { size, count } },
          { id: 'mpwire→mpwire', peer: 'mpwire', server: 'mpwire', bench: 'sink', args: { size, count } },
          // The receiver reuses one buffer through recvBytesInto: the way to take bulk data without a fresh
          // buffer per message, which recvBytes must give.
          {
            id: 'mpwire→mpwire into',
            peer: 'mpwire',
            server: 'mpwire',
            bench: 'sink-into',
            args: { size, count },
          },
          { id: 'mpwire←mpwire', peer: 'mpwire', server: 'mpwire', bench: 'source', args: { size, count } },
          {
            id: 'mpwire←mpwire into',
            peer: 'mpwire',
            server: 'mpwire',
            bench: 'source-into',
            args: { size, count },
          },
          { id: 'raw node→node', peer: 'raw', run: (a) => rawSink(a, size, count) },
          { id: 'raw node←node', peer: 'raw', run: (a) => rawSource(a, size, count) },
        ],
        // With a CPython end, CPython's own speed bounds the transfer (py→py is several times slower than raw
        // Node sockets), so those rows are held to Python↔Python; mpwire on both ends is held to raw Node.
        targets: [
          { variant: 'mpwire→mpwire', versus: 'raw node→node', min: 0.9, label: '≥ 90 % of raw Node' },
          { variant: 'mpwire→mpwire into', versus: 'raw node→node', min: 0.9, label: '≥ 90 % of raw Node' },
          { variant: 'mpwire←mpwire', versus: 'raw node←node', min: 0.9, label: '≥ 90 % of raw Node' },
          { variant: 'mpwire←mpwire into', versus: 'raw node←node', min: 0.9, label: '≥ 90 % of raw Node' },
          { variant: 'mpwire→py', versus: 'py→py', min: 0.9, label: '≥ 90 % of Python↔Python' },
          { variant: 'py→mpwire', versus: 'py→py', min: 0.9, label: '≥ 90 % of Python↔Python' },
        ],
      });
    }
  }
  const objCount = q ? 1 : 2;
  list.push({
    id: 'objects-tcp',
    title: `send/recv of the 1e5-record list ×${objCount}, TCP`,
    family: 'tcp',
    unit: 'messages/s',
    ops: objCount,
    variants: [
      { id: 'py→py', peer: 'python', bench: 'sink-obj', args: { count: objCount } },
      { id: 'py←py', peer: 'python', bench: 'source-obj', args: { count: objCount } },
      { id: 'mpwire→py', peer: 'mpwire', bench: 'sink-obj', args: { count: objCount }, sendsRecords: true },
      { id: 'py→mpwire', peer: 'mpwire', bench: 'source-obj', args: { count: objCount } },
    ],
  });
  for (const fam of q ? ['tcp'] : ['tcp', 'unix']) {
    const count = q ? 50 : 300;
    list.push({
      id: `handshake-${fam}`,
      title: `connect + authenticate + close, ${fam.toUpperCase()}`,
      family: fam,
      unit: 'handshakes/s',
      ops: count,
      variants: [
        { id: 'py-py', peer: 'python', bench: 'handshake', args: { count } },
        { id: 'mpwire-py', peer: 'mpwire', bench: 'handshake', args: { count } },
      ],
    });
  }
  for (const s of list) {
    for (const v of s.variants) {
      if (v.peer === 'mpwire' && !api.transport) {
        v.status = 'missing';
        v.detail = missingReason('transport');
      } else if (v.peer === 'mpwire' && v.bench.endsWith('-obj') && !api.connectionObjects) {
        v.status = 'missing';
        v.detail = 'not measured: Connection.send/recv (codec on the connection) not on main';
      }
    }
  }
  return list;
}

export async function runTransport(opts, log) {
  const api = await loadMpwire();
  const authkey = randomBytes(16);
  const authkeyHex = authkey.toString('hex');
  const sockDir = tmpdir();
  const pyUnix = join(sockDir, `mpwire-bench-py-${process.pid}.sock`);
  const rawUnix = join(sockDir, `mpwire-bench-raw-${process.pid}.sock`);
  const mpUnix = join(sockDir, `mpwire-bench-mp-${process.pid}.sock`);
  const peer = join(PYTHON_DIR, 'transport_peer.py');
  const servers = await Promise.all([
    startServer(pythonExecutable(), [peer, 'serve', 'AF_INET', '127.0.0.1:0', authkeyHex]),
    startServer(pythonExecutable(), [peer, 'serve', 'AF_UNIX', pyUnix, authkeyHex]),
    startServer(process.execPath, [RAW_SERVER, 'tcp']),
    startServer(process.execPath, [RAW_SERVER, 'unix', rawUnix]),
    ...(api.transport
      ? [
          startServer(process.execPath, [MPWIRE_SERVER, DIST_INDEX, 'tcp', authkeyHex]),
          startServer(process.execPath, [MPWIRE_SERVER, DIST_INDEX, 'unix', mpUnix, authkeyHex]),
        ]
      : []),
  ]);
  const [host, port] = servers[0].info.address.split(':');
  const pyAddr = { tcp: { family: 'tcp', host, port: Number(port) }, unix: { family: 'unix', path: pyUnix } };
  const rawAddr = { tcp: { port: servers[2].info.port }, unix: { path: rawUnix } };
  const mpAddr = api.transport
    ? {
        tcp: { family: 'tcp', host, port: Number(servers[4].info.address.split(':')[1]) },
        unix: { family: 'unix', path: mpUnix },
      }
    : undefined;
  const out = [];
  try {
    for (const s of scenarios(opts, api)) {
      const live = s.variants.filter((v) => !v.status);
      // Built for its own scenario only: 1.65M live objects make every full collection that receiving
      // triggers (external memory of the payloads) mark them, which slowed Node receivers in this process
      // 1.3-2.5× (1 MiB TCP: raw node←node 365 → 899 MB/s, py→mpwire 674 → 1042 MB/s without them).
      const records = live.some((v) => v.sendsRecords) ? CASES['records-p4'].build(api.mod) : undefined;
      const run = (v) => {
        if (v.peer === 'raw') return v.run(rawAddr[s.family]);
        if (v.peer === 'python') return pythonClient(pyAddr[s.family], authkeyHex, v.bench, v.args);
        const addr = v.server === 'mpwire' ? mpAddr[s.family] : pyAddr[s.family];
        return runMpwireClient(
          api.mod,
          addr,
          authkey,
          v.bench,
          v.sendsRecords ? { ...v.args, value: records } : v.args,
        );
      };
      log(`transport: ${s.id} (${live.map((v) => v.id).join(', ')})`);
      for (const v of live) {
        v.samples = [];
        try {
          await run(v); // warm-up
        } catch (e) {
          v.status = 'error';
          v.detail = String(e?.message ?? e).split('\n')[0];
        }
      }
      const timed = live.filter((v) => !v.status);
      for (let r = 0; r < opts.rounds; r++) {
        for (let k = 0; k < timed.length; k++) {
          const v = timed[(r + k) % timed.length];
          collectGarbage();
          v.samples.push(await run(v));
        }
      }
      const variants = s.variants.map((v) => {
        const res = { id: v.id, status: v.status ?? 'ok', detail: v.detail ?? null };
        if (v.samples?.length) {
          const sec = median(v.samples);
          res.seconds = sec;
          res.rounds = v.samples;
          res.spreadPct = spreadPct(v.samples);
          res.rate = s.unit === 'MB/s' ? s.bytes / sec / 1e6 : s.ops / sec;
        }
        return res;
      });
      out.push({
        id: s.id,
        title: s.title,
        unit: s.unit,
        variants,
        targets: s.targets ?? (s.target ? [s.target] : []),
      });
    }
  } finally {
    for (const { child } of servers) child.kill();
    rmSync(pyUnix, { force: true });
    rmSync(rawUnix, { force: true });
    rmSync(mpUnix, { force: true });
  }
  return { scenarios: out };
}
