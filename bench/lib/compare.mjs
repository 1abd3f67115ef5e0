// Loose structural comparison of a decoder's result with the expected JavaScript value. Each decoder maps Python
// types its own way (dict -> object or Map, tuple -> array, int -> number or bigint), so this accepts every
// faithful mapping and reports the first place where the value itself differs.

function describe(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (v instanceof Map) return `Map(${v.size})`;
  if (v && typeof v === 'object') return `${v.constructor?.name ?? 'object'}`;
  return String(v);
}

function mismatch(path, actual, expected) {
  return `at ${path || 'top'}: got ${describe(actual)}, expected ${describe(expected)}`;
}

/** Returns null when `actual` faithfully represents `expected`, else a one-line description of the difference. */
export function compareLoose(actual, expected, path = '') {
  if (expected === null) return actual === null ? null : mismatch(path, actual, expected);
  switch (typeof expected) {
    case 'number': {
      const a = actual !== null && typeof actual === 'object' ? actual.valueOf() : actual;
      return Object.is(a, expected) ? null : mismatch(path, actual, expected);
    }
    case 'bigint':
      if (typeof actual === 'bigint' && actual === expected) return null;
      return mismatch(path, actual, expected);
    case 'string':
    case 'boolean':
      return actual === expected ? null : mismatch(path, actual, expected);
    default:
      break;
  }
  if (expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array) || actual.length !== expected.length) {
      return mismatch(path, actual, expected);
    }
    for (let i = 0; i < expected.length; i++) {
      if (actual[i] !== expected[i]) return `at ${path}[${i}]: byte ${actual[i]} != ${expected[i]}`;
    }
    return null;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return mismatch(path, actual, expected);
    for (let i = 0; i < expected.length; i++) {
      const d = compareLoose(actual[i], expected[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  const keys = Object.keys(expected);
  if (actual instanceof Map) {
    if (actual.size !== keys.length) return mismatch(path, actual, expected);
    for (const k of keys) {
      const d = compareLoose(actual.get(k), expected[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  if (actual === null || typeof actual !== 'object' || Object.keys(actual).length !== keys.length) {
    return mismatch(path, actual, expected);
  }
  for (const k of keys) {
    const d = compareLoose(actual[k], expected[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}
