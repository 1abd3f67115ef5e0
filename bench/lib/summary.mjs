// Every target of the run judged in one list, the short headline table for the README, and bench/RESULTS.md.
import { PEAK_TARGET } from './memory.mjs';
import { judgeCodec } from './report-codec.mjs';
import { judgeTransport } from './report-transport.mjs';
import { fmtBytes, fmtMs, fmtRate, fmtRatio, passMiss } from './stats.mjs';

/** [{ area, figure, target, value, verdict }] with verdict PASS, MISS or 'not measured: ...'. */
export function collectTargets(results) {
  const out = [];
  for (const c of results.codec?.cases ?? []) {
    for (const kind of ['decode', 'encode']) {
      const rows = c[kind];
      const mp = rows.find((r) => r.impl === 'mpwire');
      const j = judgeCodec(kind, rows);
      const why = mp.status === 'ok' ? null : mp.status === 'error' ? `error: ${mp.detail}` : mp.detail;
      const add = (target, judged, fmt) =>
        out.push({
          area: 'codec',
          figure: `${kind} ${c.case}`,
          target,
          value: judged ? fmt(judged.value) : '—',
          verdict: judged ? passMiss(judged.pass) : (why ?? 'not measured'),
        });
      add('mpwire ÷ CPython ≤ 1.0×', j.ratio, fmtRatio);
      if (kind === 'decode') {
        const pp = rows.find((r) => r.impl === 'pickleparser');
        if (pp.status === 'error') {
          out.push({
            area: 'codec',
            figure: `decode ${c.case}`,
            target: 'pickleparser ÷ mpwire ≥ 3×',
            value: '—',
            verdict: `n/a: pickleparser fails (${pp.detail})`,
          });
        } else {
          const target = j.vsPickleparser?.versus
            ? 'pickleparser ÷ mpwire (zeroCopyBytes: both return a view) ≥ 3×'
            : 'pickleparser ÷ mpwire ≥ 3×';
          add(target, j.vsPickleparser, fmtRatio);
        }
      }
    }
  }
  for (const s of results.transport?.scenarios ?? []) {
    for (const j of judgeTransport(s)) {
      const v = s.variants.find((x) => x.id === j.variant);
      out.push({
        area: 'transport',
        figure: `${s.title}: ${j.variant}`,
        target: `${j.label} (vs ${j.versus})`,
        value: j.ratio === null ? '—' : fmtRatio(j.ratio),
        verdict: j.ratio === null ? (v?.detail ?? 'not measured') : passMiss(j.pass),
      });
    }
  }
  for (const p of results.memory?.probes ?? []) {
    if (!p.target) continue;
    const v = p.variants.find((x) => x.id === 'mpwire');
    const ok = v?.status === 'ok';
    out.push({
      area: 'memory',
      figure: p.title,
      target: `peak RSS ≤ ${PEAK_TARGET}× payload`,
      value: ok ? fmtRatio(v.peak / p.payload) : '—',
      verdict: ok ? passMiss(v.peak / p.payload <= p.target) : v?.detail,
    });
  }
  return out;
}

export function targetsTable(targets) {
  const pass = targets.filter((t) => t.verdict === 'PASS').length;
  const miss = targets.filter((t) => t.verdict === 'MISS').length;
  const lines = [
    `### Targets: ${pass} PASS, ${miss} MISS, ${targets.length - pass - miss} not judged`,
    '',
    '| area | figure | target | value | verdict |',
    '|---|---|---|---:|---|',
  ];
  for (const t of targets)
    lines.push(`| ${t.area} | ${t.figure} | ${t.target} | ${t.value} | ${t.verdict} |`);
  return lines.join('\n');
}

function codecRow(results, caseName, kind) {
  const c = results.codec?.cases.find((x) => x.case === caseName);
  if (!c) return null;
  const by = Object.fromEntries(c[kind].map((r) => [r.impl, r]));
  const t = (r) => (r?.status === 'ok' ? fmtMs(r.seconds) : r?.status === 'wrong' ? 'wrong result' : '—');
  const mp = by.mpwire;
  const j = judgeCodec(kind, c[kind]);
  const verdict = j.ratio
    ? `≤ 1.0× CPython's time: ${passMiss(j.ratio.pass)} (${fmtRatio(j.ratio.value)})`
    : '—';
  return `| ${kind} ${c.description} | ${mp.status === 'ok' ? t(mp) : mp.detail} | ${t(by.cpython)} | ${kind === 'decode' ? (by.pickleparser.status === 'error' ? 'fails' : t(by.pickleparser)) : 'no encoder'} | ${verdict} |`;
}

function transportRow(results, id, variant, reference, raw, label) {
  const s = results.transport?.scenarios.find((x) => x.id === id);
  if (!s) return null;
  const by = Object.fromEntries(s.variants.map((v) => [v.id, v]));
  const fmt = (v) =>
    v?.status === 'ok' ? (s.unit === 'MB/s' ? `${v.rate.toFixed(0)} MB/s` : `${fmtRate(v.rate)}/s`) : '—';
  const mp = by[variant];
  const j = judgeTransport(s).find((x) => x.variant === variant);
  const verdict = j?.ratio ? `${j.label}: ${passMiss(j.pass)} (${fmtRatio(j.ratio)})` : (j?.label ?? '—');
  return `| ${label ?? s.title} | ${mp.status === 'ok' ? fmt(mp) : mp.detail} | ${fmt(by[reference])} | ${fmt(by[raw])} | ${verdict} |`;
}

/** True when other work competed for the CPU during the run. */
export function busy(m) {
  return Math.max(...(m.loadAverageAtStart ?? [0]), ...(m.loadAverageAtEnd ?? [0])) > m.nproc;
}

/** The short table for the README. */
export function headline(results) {
  const m = results.machine;
  const lines = [
    `Measured by \`make bench\` on ${m.cpu} (${m.nproc} cores), Node ${m.node}, CPython ${m.python}; medians of interleaved rounds${busy(m) ? `, on a shared machine (load average up to ${Math.max(...m.loadAverageAtStart, ...m.loadAverageAtEnd)}), so absolute times are inflated` : ''}. Full tables: [bench/RESULTS.md](bench/RESULTS.md).`,
    '',
    '| codec (per call) | mpwire | CPython C `pickle` | pickleparser | target |',
    '|---|---:|---:|---:|---|',
  ];
  for (const [name, kind] of [
    ['records-p4', 'decode'],
    ['floats', 'decode'],
    ['strings', 'decode'],
    ['records-p4', 'encode'],
    ['strings', 'encode'],
  ]) {
    const row = codecRow(results, name, kind);
    if (row) lines.push(row);
  }
  if (results.transport) {
    lines.push('', '| transport | mpwire | CPython ↔ CPython | raw Node sockets | target |');
    lines.push('|---|---:|---:|---:|---|');
    for (const [id, variant, ref, raw, label] of [
      ['pingpong-tcp', 'mpwire-py', 'py-py', 'raw-node', 'ping-pong round trips, 16-byte messages, TCP'],
      [
        'pingpong-unix',
        'mpwire-py',
        'py-py',
        'raw-node',
        'ping-pong round trips, 16-byte messages, Unix socket',
      ],
      [
        'bulk-64MiB-tcp',
        'mpwire→py',
        'py→py',
        'raw node→node',
        'one-way 64 MiB messages, TCP, mpwire → CPython',
      ],
      [
        'bulk-64MiB-tcp',
        'py→mpwire',
        'py→py',
        'raw node←node',
        'one-way 64 MiB messages, TCP, CPython → mpwire',
      ],
      [
        'bulk-64MiB-tcp',
        'mpwire→mpwire',
        'py→py',
        'raw node→node',
        'one-way 64 MiB messages, TCP, mpwire → mpwire',
      ],
      [
        'bulk-64MiB-tcp',
        'mpwire→mpwire into',
        'py→py',
        'raw node→node',
        'one-way 64 MiB messages, TCP, mpwire → mpwire, `recvBytesInto` one reused buffer',
      ],
    ]) {
      const row = transportRow(results, id, variant, ref, raw, label);
      if (row) lines.push(row);
    }
  }
  const recv = results.memory?.probes.find((p) => p.id === 'recv-1GiB');
  if (recv) {
    const by = Object.fromEntries(recv.variants.map((v) => [v.id, v]));
    const mp = by.mpwire;
    lines.push('', '| memory | mpwire | CPython | target |', '|---|---:|---:|---|');
    lines.push(
      `| peak RSS receiving one 1 GiB message | ${mp.status === 'ok' ? fmtBytes(mp.peak) : mp.detail} | ${by.cpython.status === 'ok' ? fmtBytes(by.cpython.peak) : '—'} | ${mp.status === 'ok' ? `${fmtRatio(mp.peak / recv.payload)} payload ${passMiss(mp.peak / recv.payload <= recv.target)}` : `≤ ${PEAK_TARGET}× payload`} |`,
    );
  }
  return lines.join('\n');
}
