// Markdown tables for the codec section, with the targets judged from the same run's figures.
import { fmtMBps, fmtMs, fmtRate, fmtRatio, passMiss } from './stats.mjs';

export const CODEC_TARGETS = {
  ratioToCPython: 1.0,
  stretchRatioToCPython: 0.5,
  speedupOverPickleparser: 3,
};

function cell(r) {
  if (!r) return '—';
  if (r.status === 'missing' || r.status === 'n/a') return r.detail;
  if (r.status === 'error') return `error: ${r.detail}`;
  const spread = r.rounds?.length > 1 ? ` ±${(r.spreadPct / 2).toFixed(0)}%` : '';
  const t = `${fmtMs(r.seconds)}${spread} (${fmtMBps(r.mbPerSec)}${r.note ? `; ${r.note}` : ''})`;
  return r.status === 'wrong' ? `${t} **wrong result**: ${r.detail}` : t;
}

/** Judged targets for one case and direction; each { name, value, target, pass }. */
export function judgeCodec(kind, rows) {
  const by = Object.fromEntries(rows.map((r) => [r.impl, r]));
  const mp = by.mpwire;
  const cp = by.cpython;
  const out = { ratio: null, stretch: null, vsPickleparser: null };
  if (mp?.status !== 'ok' || !Number.isFinite(mp.seconds)) return out;
  const ratio = mp.seconds / cp.seconds;
  out.ratio = { value: ratio, pass: ratio <= CODEC_TARGETS.ratioToCPython };
  out.stretch = { value: ratio, pass: ratio <= CODEC_TARGETS.stretchRatioToCPython };
  const pp = by.pickleparser;
  if (kind === 'decode' && pp && pp.status !== 'error' && Number.isFinite(pp.seconds)) {
    // A view against a view: when pickleparser returned the input's own bytes, so does the row it meets.
    const zc = by['mpwire-zero-copy'];
    const versus = pp.note && zc?.status === 'ok' ? zc : mp;
    const speedup = pp.seconds / versus.seconds;
    out.vsPickleparser = {
      value: speedup,
      pass: speedup >= CODEC_TARGETS.speedupOverPickleparser,
      versus: versus === zc ? `mpwire with zeroCopyBytes, ${fmtMs(zc.seconds)}` : null,
    };
  }
  return out;
}

function verdict(j, fmt) {
  if (!j) return '—';
  return `${fmt(j.value)} ${passMiss(j.pass)}${j.versus ? ` (vs ${j.versus})` : ''}`;
}

export function codecTables(codec) {
  const lines = [];
  lines.push(`### Decode (median per call; MB/s of pickle bytes) — CPython ${codec.python.python}`);
  lines.push('');
  lines.push(
    '| case | pickle | objects | CPython C | CPython C, gc off | mpwire | mpwire objects/s | mpwire ÷ CPython (≤ 1.0×; stretch ≤ 0.5×) | pickleparser | pickleparser ÷ mpwire (≥ 3×) | jpickle |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of codec.cases) {
    const by = Object.fromEntries(c.decode.map((r) => [r.impl, r]));
    const j = judgeCodec('decode', c.decode);
    const mp = by.mpwire;
    lines.push(
      `| ${c.case} | ${(c.bytes / 1e6).toFixed(1)} MB | ${fmtRate(c.objects)} | ${cell(by.cpython)} | ${cell(by['cpython-gc-off'])} | ${cell(mp)} | ${mp?.status === 'ok' ? fmtRate(mp.objectsPerSec, '/s') : '—'} | ${j.ratio ? `${verdict(j.ratio, fmtRatio)}${j.stretch.pass ? ' (stretch PASS)' : ''}` : '—'} | ${cell(by.pickleparser)} | ${verdict(j.vsPickleparser, fmtRatio)} | ${cell(by.jpickle)} |`,
    );
  }
  lines.push('');
  lines.push('### Encode (median per call; MB/s of pickle bytes written)');
  lines.push('');
  lines.push(
    '| case | CPython C | CPython C, gc off | mpwire | mpwire objects/s | mpwire ÷ CPython (≤ 1.0×; stretch ≤ 0.5×) | bytes identical to CPython |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---|');
  for (const c of codec.cases) {
    const by = Object.fromEntries(c.encode.map((r) => [r.impl, r]));
    const j = judgeCodec('encode', c.encode);
    const mp = by.mpwire;
    const ident = mp?.identicalToCPython === undefined ? '—' : mp.identicalToCPython ? 'yes' : 'no';
    lines.push(
      `| ${c.case} | ${cell(by.cpython)} | ${cell(by['cpython-gc-off'])} | ${cell(mp)} | ${mp?.status === 'ok' ? fmtRate(mp.objectsPerSec, '/s') : '—'} | ${j.ratio ? `${verdict(j.ratio, fmtRatio)}${j.stretch.pass ? ' (stretch PASS)' : ''}` : '—'} | ${ident} |`,
    );
  }
  return lines.join('\n');
}
