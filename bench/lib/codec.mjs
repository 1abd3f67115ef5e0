// Codec section: decode and encode of the same bytes and values by mpwire, CPython's C pickle (in a CPython worker,
// time.perf_counter, GC on and off), pickleparser and jpickle. Rounds interleave the implementations; medians.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CASES } from './cases.mjs';
import { compareLoose } from './compare.mjs';
import { collectGarbage, dropSink, timeCalls } from './jsgc.mjs';
import { loadMpwire, missingReason } from './mpwire.mjs';
import { PYTHON_DIR, PythonWorker, pythonExecutable } from './python.mjs';
import { median, spreadPct } from './stats.mjs';

const require = createRequire(import.meta.url);
const { Parser } = require('pickleparser');
const jpickle = require('jpickle');

/** CPython writes the case pickles; every decoder then reads these very bytes. */
export function writeCasePickles(dir, names) {
  mkdirSync(dir, { recursive: true });
  execFileSync(pythonExecutable(), [join(PYTHON_DIR, 'cases.py'), dir, ...names], { stdio: 'inherit' });
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}

function errorText(e) {
  const msg = String(e?.message ?? e).split('\n')[0];
  return `${e?.name ?? 'Error'}: ${msg.length > 80 ? `${msg.slice(0, 80)}...` : msg}`;
}

/** Runs `fn` once and checks its result; status 'ok', 'wrong' (returned a different value) or 'error' (threw). */
function probe(fn, check, noteFor = () => null) {
  let result;
  const t0 = performance.now();
  try {
    result = fn();
  } catch (e) {
    return { status: 'error', detail: errorText(e), seconds: Number.NaN };
  }
  const seconds = (performance.now() - t0) / 1e3;
  const diff = check ? check(result) : null;
  const note = noteFor(result);
  dropSink();
  return diff
    ? { status: 'wrong', detail: diff, seconds, note }
    : { status: 'ok', detail: null, seconds, note };
}

function itersFor(secondsPerCall, roundSeconds) {
  if (!Number.isFinite(secondsPerCall) || secondsPerCall <= 0) return 1;
  return Math.max(1, Math.min(1e6, Math.round(roundSeconds / secondsPerCall)));
}

/** A JavaScript implementation: warm-up and calibrate, then one timed batch per round. */
function jsRunner(fn) {
  return {
    async warmup(roundSeconds, warmupSeconds) {
      let perCall = Number.NaN;
      const until = performance.now() + warmupSeconds * 1e3;
      let iters = 1;
      let n = 0;
      collectGarbage();
      // Batches that double up to 50 ms: enough calls for V8 to optimise a call of a microsecond (the
      // message case), and still a few single calls of a slow one.
      do {
        perCall = timeCalls(fn, iters) / iters;
        if (perCall * iters < 0.05) iters *= 2;
        n++;
      } while (performance.now() < until && n < 200);
      return itersFor(perCall, roundSeconds);
    },
    async measure(iters) {
      collectGarbage();
      const s = timeCalls(fn, iters);
      dropSink();
      return s / iters;
    },
  };
}

/** CPython in its worker, with the collector on or off. */
function pyRunner(worker, caseName, what, gcOn) {
  const time = async (iters) =>
    (await worker.request({ op: 'time', case: caseName, what, gc: gcOn, iters })).seconds;
  return {
    async warmup(roundSeconds) {
      await time(1);
      return itersFor(await time(1), roundSeconds);
    },
    async measure(iters) {
      return (await time(iters)) / iters;
    },
  };
}

/** Interleaved rounds: every round runs each implementation once, starting with a different one each time. */
async function measureInterleaved(impls, opts) {
  const live = impls.filter((i) => i.runner);
  for (const impl of live) {
    impl.iters = await impl.runner.warmup(opts.roundSeconds, opts.warmupSeconds);
    impl.samples = [];
  }
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < live.length; k++) {
      const impl = live[(r + k) % live.length];
      impl.samples.push(await impl.runner.measure(impl.iters));
    }
  }
  for (const impl of live) impl.median = median(impl.samples);
}

function summarize(impl, bytes, objects) {
  const out = { impl: impl.id, status: impl.status, detail: impl.detail ?? null, note: impl.note ?? null };
  if (impl.samples) {
    Object.assign(out, {
      seconds: impl.median,
      rounds: impl.samples,
      itersPerRound: impl.iters,
      spreadPct: spreadPct(impl.samples),
      mbPerSec: bytes / impl.median / 1e6,
      objectsPerSec: objects / impl.median,
    });
  }
  return out;
}

export async function runCodec(opts, log) {
  const api = await loadMpwire();
  const names = opts.cases;
  log(`codec: CPython writes ${names.length} case pickles`);
  const manifest = writeCasePickles(opts.casesDir, names);
  const worker = new PythonWorker('codec_worker.py');
  const hello = await worker.request({ op: 'hello' });
  const results = { python: hello, cases: [] };
  try {
    for (const name of names) {
      const caseStarted = performance.now();
      const m = manifest[name];
      const spec = CASES[name];
      const data = new Uint8Array(readFileSync(m.path));
      const expected = spec.build(api.mod);
      const loaded = await worker.request({ op: 'load', case: name, path: m.path });
      if (!loaded.ok) throw new Error(`${name}: CPython does not load its own pickle back to the case value`);
      // CPython with its collector off is a note beside the reference; --quick leaves it out.
      const gcOff = () =>
        opts.quick
          ? { id: 'cpython-gc-off', status: 'n/a', detail: 'not measured in --quick' }
          : { id: 'cpython-gc-off', py: true, gc: false };
      const check = (v) => compareLoose(v, expected);
      // A decoder that hands back a window on the input does no copy: say so next to its time.
      const viewNote = (v) =>
        v instanceof Uint8Array && v.buffer === data.buffer ? 'a view into the input, not a copy' : null;
      const caseOut = {
        case: name,
        description: spec.description,
        protocol: spec.protocol,
        bytes: m.bytes,
        objects: m.objects,
        decode: [],
        encode: [],
      };

      // Decode: the same bytes to every decoder.
      const decoders = [
        api.loads
          ? { id: 'mpwire', fn: () => api.mod.loads(data) }
          : { id: 'mpwire', status: 'missing', detail: missingReason('loads') },
        { id: 'cpython', py: true, gc: true },
        gcOff(),
        { id: 'pickleparser', fn: () => new Parser().parse(data) },
      ];
      // pickleparser hands back bytes as a view into the input; mpwire does so with zeroCopyBytes, and that
      // is the row it is compared with (a copy against a view would only measure the copy).
      if (spec.bytesPayload && api.loads) {
        decoders.push({ id: 'mpwire-zero-copy', fn: () => api.mod.loads(data, { zeroCopyBytes: true }) });
      }
      if (opts.quick) {
        decoders.push({ id: 'jpickle', status: 'n/a', detail: 'not measured in --quick' });
      } else if (spec.protocol <= 3) {
        const binary = Buffer.from(data).toString('latin1');
        decoders.push({ id: 'jpickle', fn: () => jpickle.loads(binary) });
      } else {
        decoders.push({ id: 'jpickle', status: 'n/a', detail: 'protocol 4 (jpickle reads 0-3)' });
      }
      for (const d of decoders) {
        if (d.py) {
          d.status = 'ok';
          d.runner = pyRunner(worker, name, 'loads', d.gc);
        } else if (d.fn) {
          Object.assign(d, probe(d.fn, check, viewNote));
          // A decoder that throws is reported, not timed; one that returns a wrong value is timed and flagged.
          if (d.status !== 'error') d.runner = jsRunner(d.fn);
        }
      }
      log(`codec: ${name} decode (${decoders.map((d) => `${d.id}:${d.status ?? 'ok'}`).join(' ')})`);
      await measureInterleaved(decoders, opts);
      caseOut.decode = decoders.map((d) => summarize(d, m.bytes, m.objects));

      // Encode: the equal JavaScript value, built once; CPython pickles its own value.
      const encoders = [{ id: 'cpython', py: true, gc: true }, gcOff()];
      if (api.dumps) {
        // Protocol 4 is the default: call dumps as users do, without options (it may reuse a warm pickler).
        const fn =
          spec.protocol === 4
            ? () => api.mod.dumps(expected)
            : () => api.mod.dumps(expected, { protocol: spec.protocol });
        const enc = { id: 'mpwire', fn, ...probe(fn, null) };
        if (enc.status === 'ok') {
          const out = join(opts.casesDir, `${name}.mpwire.pickle`);
          writeFileSync(out, fn());
          const verdict = await worker.request({ op: 'check', case: name, path: out });
          enc.identical = verdict.identical;
          if (!verdict.loads_equal) {
            enc.status = 'wrong';
            enc.detail = verdict.error ?? 'CPython loads it to a different value';
          } else if (!verdict.identical) {
            enc.detail = 'loads equal; bytes differ from CPython dumps';
          }
        }
        if (enc.status !== 'error') enc.runner = jsRunner(fn);
        encoders.unshift(enc);
      } else {
        encoders.unshift({ id: 'mpwire', status: 'missing', detail: missingReason('dumps') });
      }
      for (const e of encoders) {
        if (e.py) {
          e.status = 'ok';
          e.runner = pyRunner(worker, name, 'dumps', e.gc);
        }
      }
      log(`codec: ${name} encode (${encoders.map((e) => `${e.id}:${e.status}`).join(' ')})`);
      await measureInterleaved(encoders, opts);
      caseOut.encode = encoders.map((e) => ({
        ...summarize(e, m.bytes, m.objects),
        ...(e.identical === undefined ? {} : { identicalToCPython: e.identical }),
      }));

      await worker.request({ op: 'unload', case: name });
      caseOut.elapsedSeconds = (performance.now() - caseStarted) / 1e3;
      log(`codec: ${name} done in ${caseOut.elapsedSeconds.toFixed(1)} s`);
      results.cases.push(caseOut);
    }
  } finally {
    await worker.close();
  }
  return results;
}
