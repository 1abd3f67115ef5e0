#!/usr/bin/env node
// mpwire benchmark suite: `node bench/run.mjs [--quick] [--only codec|transport|memory] [--rounds N]
// [--case NAME ...]`. Prints markdown tables and writes bench/results/latest.json. Never part of `make test`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASE_NAMES } from './lib/cases.mjs';
import { runCodec } from './lib/codec.mjs';
import { describeMachine, machineMarkdown } from './lib/machine.mjs';
import { memoryTable, runMemory } from './lib/memory.mjs';
import { loadMpwire } from './lib/mpwire.mjs';
import { codecTables } from './lib/report-codec.mjs';
import { transportTable } from './lib/report-transport.mjs';
import { runTransport } from './lib/transport.mjs';

const SECTIONS = ['codec', 'transport', 'memory'];
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    rounds: { type: 'string' },
    case: { type: 'string', multiple: true },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: node bench/run.mjs [options]
  --quick            fewer rounds, shorter rounds, smaller transport volumes (under 2 minutes)
  --only SECTION     codec, transport or memory (repeatable; default all)
  --rounds N         interleaved rounds per measurement (default 5, --quick 3)
  --case NAME        codec case to run (repeatable): ${CASE_NAMES.join(', ')}
  --out FILE         JSON results path (default bench/results/latest.json)
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
  warmupSeconds: args.quick ? 0.2 : 0.5,
  cases: args.case?.length ? args.case : CASE_NAMES,
  casesDir: `${RESULTS_DIR}cases`,
};

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const started = performance.now();
const machine = describeMachine();
const api = await loadMpwire();
const results = {
  machine,
  options: { ...opts, only },
  mpwire: { loads: api.loads, dumps: api.dumps, transport: api.transport, error: api.error },
};

if (only.includes('codec')) results.codec = await runCodec(opts, log);
if (only.includes('transport')) results.transport = await runTransport(opts, log);
if (only.includes('memory')) results.memory = await runMemory(opts, log);

results.elapsedSeconds = (performance.now() - started) / 1e3;
mkdirSync(RESULTS_DIR, { recursive: true });
const outPath = args.out ?? `${RESULTS_DIR}latest.json`;
writeFileSync(
  outPath,
  JSON.stringify(results, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1),
);

const md = [`## mpwire benchmarks`, '', machineMarkdown(machine), ''];
if (opts.quick) md.push('_Quick run (`--quick`): fewer and shorter rounds; figures are indicative._', '');
if (results.codec) md.push(codecTables(results.codec), '');
if (results.transport) md.push(transportTable(results.transport), '');
if (results.memory) md.push(memoryTable(results.memory), '');
md.push(`_Run took ${results.elapsedSeconds.toFixed(0)} s; JSON in ${outPath}._`);
console.log(md.join('\n'));
