// Small numeric helpers for the benchmark tables.

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Spread of the rounds around the median, as a percentage: (max - min) / median. */
export function spreadPct(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 2) return 0;
  const m = median(v);
  return ((Math.max(...v) - Math.min(...v)) / m) * 100;
}

export function fmtMs(seconds) {
  if (!Number.isFinite(seconds)) return '—';
  const ms = seconds * 1e3;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1e3).toFixed(1)} µs`;
}

export function fmtRate(perSecond, unit = '') {
  if (!Number.isFinite(perSecond)) return '—';
  const [div, suffix] =
    perSecond >= 1e9 ? [1e9, 'G'] : perSecond >= 1e6 ? [1e6, 'M'] : perSecond >= 1e3 ? [1e3, 'k'] : [1, ''];
  const x = perSecond / div;
  return `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}${suffix}${unit}`;
}

export function fmtMBps(mbPerSecond) {
  if (!Number.isFinite(mbPerSecond)) return '—';
  const mb = mbPerSecond;
  return `${mb >= 100 ? mb.toFixed(0) : mb.toFixed(1)} MB/s`;
}

export function fmtRatio(x) {
  if (!Number.isFinite(x)) return '—';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '—';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(0)} MiB`;
  return `${(n / 2 ** 10).toFixed(0)} KiB`;
}

export function passMiss(ok) {
  return ok ? 'PASS' : 'MISS';
}
