#!/usr/bin/env node
// mpwire benchmark suite (`make bench`). Never part of `make test`.
// Prints markdown tables and writes bench/results/latest.json; `--report` also rewrites bench/RESULTS.md and
// bench/HEADLINE.md from this very run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASE_NAMES } from './lib/cases.mjs';
import { runCodec } from './lib/codec.mjs';
import { describeMachine, machineMarkdown } from './lib/machine.mjs';
import { memoryTable, runMemory } from './lib/memory.mjs';
import { loadMpwire } from './lib/mpwire.mjs';
import { codecTables } from './lib/report-codec.mjs';
import { transportTable } from './lib/report-transport.mjs';
import { busy, collectTargets, headline, targetsTable } from './lib/summary.mjs';
import { runTransport } from './lib/transport.mjs';

const SECTIONS = ['codec', 'transport', 'memory'];
const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
const RESULTS_DIR = `${BENCH_DIR}results/`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    rounds: { type: 'string' },
    case: { type: 'string', multiple: true },
    out: { type: 'string' },
    report: { type: 'boolean', default: false },
    from: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: node bench/run.mjs [options]      (make bench = build, then this with no options)
  --quick            3 shorter rounds, no jpickle or CPython-GC-off columns, bulk and handshakes over TCP
                     only, one memory run each (about 1-2 minutes)
  --only SECTION     codec, transport or memory (repeatable or comma-separated; default all three)
  --rounds N         interleaved rounds per measurement (default 5, --quick 3)
  --case NAME        codec case (repeatable): ${CASE_NAMES.join(', ')}
  --out FILE         JSON results (default bench/results/latest.json)
  --report           also rewrite bench/RESULTS.md and bench/HEADLINE.md from this run
  --from FILE        measure nothing: print (and with --report, write) the tables of an earlier run's JSON
environment:
  MPWIRE_BENCH_PYTHON   CPython to compare with (default python3 on PATH)
  MPWIRE_BENCH_DIST     another build's dist/index.js to measure (compare before/after a change)
profile one case:  node bench/profile.mjs --help`);
  process.exit(0);
}

const only = (args.only ?? SECTIONS).flatMap((s) => s.split(','));
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s}`);
for (const c of args.case ?? []) if (!CASE_NAMES.includes(c)) throw new Error(`--case: unknown case ${c}`);

const opts = {
  quick: args.quick,
  rounds: args.rounds ? Number(args.rounds) : args.quick ? 3 : 5,
  roundSeconds: args.quick ? 0.1 : 0.25,
  warmupSeconds: args.quick ? 0.1 : 0.5,
  cases: args.case?.length ? args.case : CASE_NAMES,
  casesDir: `${RESULTS_DIR}cases`,
};

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

async function runAll() {
  const started = performance.now();
  const machine = describeMachine();
  machine.loadAverageAtStart = os.loadavg().map((x) => +x.toFixed(2));
  const api = await loadMpwire();
  const results = {
    command: `node bench/run.mjs${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    machine,
    options: { ...opts, only },
    mpwire: { loads: api.loads, dumps: api.dumps, transport: api.transport, error: api.error },
  };
  const runners = { codec: runCodec, transport: runTransport, memory: runMemory };
  results.sectionSeconds = {};
  for (const section of SECTIONS.filter((s) => only.includes(s))) {
    const t0 = performance.now();
    results[section] = await runners[section](opts, log);
    results.sectionSeconds[section] = +((performance.now() - t0) / 1e3).toFixed(1);
    log(`${section} took ${results.sectionSeconds[section]} s`);
  }
  machine.loadAverageAtEnd = os.loadavg().map((x) => +x.toFixed(2));
  results.elapsedSeconds = (performance.now() - started) / 1e3;
  results.targets = collectTargets(results);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const outPath = args.out ?? `${RESULTS_DIR}latest.json`;
  writeFileSync(
    outPath,
    JSON.stringify(results, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1),
  );
  log(`JSON written to ${outPath}`);
  return results;
}

// --from renders the tables of an earlier run's JSON (its figures, its machine) without measuring anything.
const results = args.from ? JSON.parse(readFileSync(args.from, 'utf8')) : await runAll();
const { machine, command } = results;
const tables = [];
if (results.codec) tables.push(codecTables(results.codec));
if (results.transport) tables.push(transportTable(results.transport));
if (results.memory) tables.push(memoryTable(results.memory));
tables.push(targetsTable(results.targets));
const runLine = `${busy(machine) ? '**Warning: the load average exceeded the core count during this run; other processes competed for the CPU, so absolute figures are low and noisy (ratios from interleaved rounds hold up better).** ' : ''}_\`${command}\` took ${results.elapsedSeconds.toFixed(0)} s; load average ${machine.loadAverageAtStart.join(' ')} at start, ${machine.loadAverageAtEnd.join(' ')} at end._`;

console.log(
  ['## mpwire benchmarks', '', machineMarkdown(machine), '', runLine, '', tables.join('\n\n'), ''].join('\n'),
);

if (args.report) {
  writeFileSync(`${BENCH_DIR}HEADLINE.md`, `${headline(results)}\n`);
  writeFileSync(
    `${BENCH_DIR}RESULTS.md`,
    [
      '# mpwire benchmark results',
      '',
      'Written by `node bench/run.mjs --report` from one run; every figure below comes from that run. Re-run on',
      'your machine with `make bench` (the full suite, about ten minutes) or `node bench/run.mjs --quick`.',
      'What limits each missed target, and what was measured while trying to close it: [ANALYSIS.md](ANALYSIS.md).',
      '',
      '## Machine',
      '',
      machineMarkdown(machine),
      `- Load average ${machine.loadAverageAtStart.join(' ')} at start, ${machine.loadAverageAtEnd.join(' ')} at end (the machine is shared; ratios come from interleaved rounds, so both sides of a ratio saw the same load)`,
      '',
      '## Method',
      '',
      '- Codec: CPython writes each case pickle (`bench/python/cases.py`) and the same bytes go to every decoder;',
      '  the encoders get equal values built once on each side (`bench/lib/cases.mjs` mirrors the Python builder).',
      "  CPython's C `pickle` is timed inside a long-lived CPython worker with `time.perf_counter`, GC on (the",
      '  reference) and GC off (noted). Each measurement is a warm-up, then interleaved rounds (every round runs',
      '  each implementation once, rotating which goes first), each round a batch of calls of about 0.25 s; the',
      '  figure is the median per call, ± half the range of the rounds. A full JS garbage collection runs between',
      '  batches, never inside one.',
      '  Results are checked against the expected value once before timing: errors and wrong results are reported.',
      '  objects/s counts every value in the tree (containers, scalars and dict keys). jpickle takes a binary',
      '  string, made from the bytes outside the timing; it reads protocols 0-3 only. mpwire encodes protocol 4 with',
      "  `dumps(value)` (no options, as users call it) and protocol 2 with `dumps(value, { protocol: 2 })`; CPython's",
      '  verdict on the bytes (loads equal, byte-identical) is in the encode table.',
      '- Transport: a CPython `multiprocessing.connection.Listener` (authkey set) serves every client; the',
      '  Python↔Python figures use a CPython client against the same server in the same interleaved rounds. The',
      '  raw reference is plain `net` sockets between two Node processes moving the same volumes; its reader takes',
      "  the socket's 64 KiB chunks, while CPython reads a whole message into one buffer. Bulk rows with a CPython",
      '  end are held to Python↔Python, since the CPython peer bounds them; mpwire→mpwire (an mpwire Listener in a',
      '  Node process of its own, `bench/probes/mpwire-server.mjs`) is held to raw Node, both as recvBytes (a fresh',
      '  buffer per message) and as recvBytesInto ("into" rows: one buffer reused for every message), both ways.',
      '  The Python↔Python client is a fresh CPython process per sample (its start-up is outside the timing).',
      '- Memory: each figure is a fresh process; peak RSS is `VmHWM` from `/proc/self/status`, baseline the RSS',
      '  just before the operation.',
      '',
      '## Results',
      '',
      runLine,
      '',
      tables.join('\n\n'),
      '',
    ].join('\n'),
  );
  // The repository's formatter aligns markdown tables; format here so `make lint` stays clean after a report.
  const biome = `${BENCH_DIR}../node_modules/.bin/biome`;
  const files = [`${BENCH_DIR}RESULTS.md`, `${BENCH_DIR}HEADLINE.md`];
  if (existsSync(biome)) spawnSync(biome, ['format', '--write', ...files], { stdio: 'ignore' });
  log('bench/RESULTS.md and bench/HEADLINE.md rewritten');
}
