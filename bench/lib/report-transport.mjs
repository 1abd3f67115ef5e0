// Markdown table for the transport section; targets judged from the same run's figures.
import { fmtRate, fmtRatio, passMiss } from './stats.mjs';

function rateText(v, unit) {
  if (v.status !== 'ok') return v.status === 'error' ? `error: ${v.detail}` : v.detail;
  const spread = v.rounds?.length > 1 ? ` ±${(v.spreadPct / 2).toFixed(0)}%` : '';
  if (unit === 'MB/s') return `${v.rate >= 100 ? v.rate.toFixed(0) : v.rate.toFixed(1)} MB/s${spread}`;
  return `${fmtRate(v.rate)} ${unit}${spread}`;
}

/** Each target of a scenario judged: { variant, label, ratio, pass } (ratio null when a side was not measured). */
export function judgeTransport(s) {
  const by = Object.fromEntries(s.variants.map((v) => [v.id, v]));
  return s.targets.map((t) => {
    const a = by[t.variant];
    const b = by[t.versus];
    const ok = a?.status === 'ok' && b?.status === 'ok';
    const ratio = ok ? a.rate / b.rate : null;
    return { variant: t.variant, versus: t.versus, label: t.label, ratio, pass: ok ? ratio >= t.min : null };
  });
}

/** The Python<->Python figure an mpwire variant is compared with (same direction where there is one). */
function pythonPeerOf(s, v) {
  const by = Object.fromEntries(s.variants.map((x) => [x.id, x]));
  if (by['py-py']) return by['py-py'];
  const nodeSends = v.id.startsWith('mpwire→') || v.id === 'raw node→node';
  return nodeSends ? by['py→py'] : (by['py←py'] ?? by['py→py']);
}

export function transportTable(transport) {
  const lines = [
    '### Transport (median of interleaved rounds; the Python peer is CPython on the other end of the socket)',
    '',
    '| scenario | variant | rate | ÷ Python↔Python | target |',
    '|---|---|---:|---:|---|',
  ];
  for (const s of transport.scenarios) {
    const judged = judgeTransport(s);
    s.variants.forEach((v, i) => {
      let vsPy = '';
      // Raw sockets get the ratio too: it is the ceiling a Node peer can reach against the same Python figure.
      if ((v.id.includes('mpwire') || v.id.startsWith('raw')) && v.status === 'ok') {
        const py = pythonPeerOf(s, v);
        if (py?.status === 'ok') vsPy = fmtRatio(v.rate / py.rate);
      }
      const j = judged.find((x) => x.variant === v.id);
      const target = j
        ? j.ratio === null
          ? `${j.label}: not measured`
          : `${j.label}: ${fmtRatio(j.ratio)} of ${j.versus} ${passMiss(j.pass)}`
        : '';
      lines.push(`| ${i === 0 ? s.title : ''} | ${v.id} | ${rateText(v, s.unit)} | ${vsPy} | ${target} |`);
    });
  }
  return lines.join('\n');
}
