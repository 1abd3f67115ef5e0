#!/usr/bin/env node
// Runs one codec case, or one transport exchange with a CPython server, in a loop under `node --cpu-prof` and
// prints the functions with the most self time and mpwire's hottest source lines.
//   node bench/profile.mjs [--case records-p4] [--op decode|encode] [--impl mpwire|pickleparser]
//   node bench/profile.mjs --transport pingpong|sink|source|sink-obj|source-obj|handshake
//                          [--family tcp|unix] [--size BYTES] [--count N]
//   both: [--seconds 5] [--top 25] [--lines 15]
// The .cpuprofile stays in bench/results/profiles/ for Chrome DevTools or speedscope.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire, SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASE_NAMES, CASES } from './lib/cases.mjs';
import { writeCasePickles } from './lib/codec.mjs';
import { DIST_INDEX, loadMpwire, missingReason } from './lib/mpwire.mjs';
import { runMpwireClient } from './lib/mpwire-client.mjs';
import { PYTHON_DIR, pythonExecutable } from './lib/python.mjs';
import { startServer } from './lib/transport.mjs';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const PROFILE_DIR = join(RESULTS_DIR, 'profiles');
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const { values: args } = parseArgs({
  options: {
    case: { type: 'string', default: 'records-p4' },
    op: { type: 'string', default: 'decode' },
    impl: { type: 'string', default: 'mpwire' },
    seconds: { type: 'string', default: '5' },
    warm: { type: 'string', default: '' },
    top: { type: 'string', default: '25' },
    lines: { type: 'string', default: '15' },
    transport: { type: 'string' },
    family: { type: 'string', default: 'tcp' },
    size: { type: 'string', default: String(2 ** 20) },
    count: { type: 'string', default: '64' },
    addr: { type: 'string' },
    authkey: { type: 'string' },
    child: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: node bench/profile.mjs [--case ${CASE_NAMES.join('|')}] [--op decode|encode]
                             [--impl mpwire|pickleparser] [--seconds N] [--top N] [--lines N]
                             [--warm CASE,CASE]  (run those cases' same op first, as make bench does)
       node bench/profile.mjs --transport pingpong|sink|source|sink-obj|source-obj|handshake
                             [--family tcp|unix] [--size BYTES] [--count N] [--seconds N]
Prints the functions with the most self time, then the hottest source lines of mpwire (TypeScript lines
through the source maps).`);
  process.exit(0);
}
/** One transport exchange after another against the CPython server the parent started. */
async function transportChild() {
  const api = await loadMpwire();
  if (!api.transport) throw new Error(missingReason('transport'));
  const addr = JSON.parse(args.addr);
  const authkey = Buffer.from(args.authkey, 'hex');
  const bench = args.transport;
  const opts = { size: Number(args.size), count: Number(args.count) };
  if (bench === 'sink-obj') opts.value = CASES['records-p4'].build(api.mod);
  const until = performance.now() + Number(args.seconds) * 1e3;
  let calls = 0;
  while (performance.now() < until) {
    await runMpwireClient(api.mod, addr, authkey, bench, opts);
    calls++;
  }
  console.log(JSON.stringify({ calls }));
}

function caseFn(api, name) {
  const spec = CASES[name];
  if (!spec) throw new Error(`unknown case ${name}`);
  if (args.op === 'decode') {
    const data = new Uint8Array(readFileSync(join(RESULTS_DIR, 'cases', `${name}.pickle`)));
    if (args.impl === 'pickleparser') {
      const { Parser } = createRequire(import.meta.url)('pickleparser');
      return () => new Parser().parse(data);
    }
    if (!api.loads) throw new Error(missingReason('loads'));
    return () => api.mod.loads(data);
  }
  if (!api.dumps) throw new Error(missingReason('dumps'));
  const value = spec.build(api.mod);
  return spec.protocol === 4
    ? () => api.mod.dumps(value)
    : () => api.mod.dumps(value, { protocol: spec.protocol });
}

async function child() {
  if (args.transport) return transportChild();
  const api = await loadMpwire();
  const fn = caseFn(api, args.case);
  // The bench runs every case in one process: earlier cases leave their type feedback in the codec.
  for (const name of args.warm ? args.warm.split(',') : []) {
    const warmFn = caseFn(api, name);
    for (let i = 0; i < 10; i++) warmFn();
  }
  const until = performance.now() + Number(args.seconds) * 1e3;
  let calls = 0;
  let sink;
  while (performance.now() < until) {
    sink = fn();
    calls++;
  }
  console.log(JSON.stringify({ calls, kept: sink !== undefined }));
}

function location(cf) {
  if (!cf.url) return '(native)';
  const path = cf.url.startsWith('file://') ? relative(ROOT, fileURLToPath(cf.url)) : cf.url;
  return `${path}:${cf.lineNumber + 1}`;
}

function report(profilePath) {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const cf = byId.get(profile.samples[i]).callFrame;
    const key = `${cf.functionName || '(anonymous)'}\t${location(cf)}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top));
  console.log(`| self ms | self % | function | where |`);
  console.log(`|---:|---:|---|---|`);
  for (const [key, us] of rows) {
    const [fnName, where] = key.split('\t');
    console.log(`| ${(us / 1e3).toFixed(0)} | ${((us / total) * 100).toFixed(1)} | ${fnName} | ${where} |`);
  }
}

/** Where a line of a built file came from: the TypeScript file and line through its source map, if any. */
function originalLine(file, line) {
  const mapFile = `${file}.map`;
  if (!existsSync(mapFile)) return { where: `${relative(ROOT, file)}:${line}`, text: null };
  originalLine.maps ??= new Map();
  if (!originalLine.maps.has(mapFile)) {
    originalLine.maps.set(mapFile, new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))));
  }
  // Look up the first non-blank column: column 0 is indentation and maps to whatever came before it.
  originalLine.sources ??= new Map();
  if (!originalLine.sources.has(file)) originalLine.sources.set(file, readFileSync(file, 'utf8').split('\n'));
  const column = Math.max(0, originalLine.sources.get(file)[line - 1]?.search(/\S/) ?? 0);
  const entry = originalLine.maps.get(mapFile).findEntry(line - 1, column);
  if (!entry?.originalSource) return { where: `${relative(ROOT, file)}:${line}`, text: null };
  const source = resolve(dirname(file), entry.originalSource.replace(/^file:\/\//, ''));
  const text = existsSync(source)
    ? readFileSync(source, 'utf8').split('\n')[entry.originalLine]?.trim()
    : null;
  return { where: `${relative(ROOT, source)}:${entry.originalLine + 1}`, text };
}

/** Self time by source line inside the project's own files (V8's positionTicks), mapped back to TypeScript. */
function reportLines(profilePath) {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
  const ticks = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    for (const pt of node.positionTicks ?? []) total += pt.ticks;
    const url = node.callFrame.url;
    if (!url.startsWith('file://')) continue;
    const file = fileURLToPath(url);
    if (!file.startsWith(join(ROOT, 'dist')) && !file.startsWith(dirname(DIST_INDEX))) continue;
    for (const pt of node.positionTicks ?? []) {
      const key = `${file}\t${pt.line}`;
      ticks.set(key, (ticks.get(key) ?? 0) + pt.ticks);
    }
  }
  const rows = [...ticks.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.lines));
  console.log(`\n| ticks % | line | source |`);
  console.log(`|---:|---|---|`);
  for (const [key, n] of rows) {
    const [file, line] = key.split('\t');
    const { where, text } = originalLine(file, Number(line));
    console.log(`| ${((n / total) * 100).toFixed(1)} | ${where} | \`${(text ?? '').slice(0, 90)}\` |`);
  }
}

if (args.child) {
  await child();
} else {
  mkdirSync(PROFILE_DIR, { recursive: true });
  let childArgs;
  let server;
  let title;
  if (args.transport) {
    const authkey = randomBytes(16).toString('hex');
    const unixPath = join(tmpdir(), `mpwire-profile-${process.pid}.sock`);
    const family = args.family === 'unix' ? 'AF_UNIX' : 'AF_INET';
    server = await startServer(pythonExecutable(), [
      join(PYTHON_DIR, 'transport_peer.py'),
      'serve',
      family,
      family === 'AF_UNIX' ? unixPath : '127.0.0.1:0',
      authkey,
    ]);
    const [host, port] = server.info.address.split(':');
    const addr =
      family === 'AF_UNIX' ? { family: 'unix', path: unixPath } : { family: 'tcp', host, port: Number(port) };
    childArgs = ['--transport', args.transport, '--addr', JSON.stringify(addr), '--authkey', authkey];
    childArgs.push('--size', args.size, '--count', args.count);
    title = `mpwire ${args.transport} (${args.family}, size ${args.size}, count ${args.count}) with CPython`;
  } else {
    if (!CASE_NAMES.includes(args.case)) throw new Error(`unknown case ${args.case}`);
    const warm = args.warm ? args.warm.split(',') : [];
    writeCasePickles(join(RESULTS_DIR, 'cases'), [args.case, ...warm]);
    childArgs = ['--case', args.case, '--op', args.op, '--impl', args.impl, '--warm', args.warm];
    title = `${args.impl} ${args.op} of ${args.case}`;
  }
  const before = new Set(readdirSync(PROFILE_DIR));
  const run = spawnSync(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${PROFILE_DIR}`,
      fileURLToPath(import.meta.url),
      '--child',
      ...childArgs,
      '--seconds',
      args.seconds,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  server?.child.kill();
  if (run.status !== 0) process.exit(run.status ?? 1);
  const { calls } = JSON.parse(run.stdout.trim().split('\n').pop());
  const created = readdirSync(PROFILE_DIR)
    .filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
    .map((f) => join(PROFILE_DIR, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  console.log(`## ${title}: ${calls} calls in ${args.seconds} s`);
  console.log(`profile: ${relative(ROOT, created[0])}\n`);
  report(created[0]);
  reportLines(created[0]);
}
