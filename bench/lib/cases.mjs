// The codec cases as JavaScript values: the mirror of bench/python/cases.py (keep the two in step).
// Used as the encode input and as the expected value when checking what each decoder returned.

export const RECORDS = 100_000;
export const FLOATS = 1_000_000;
export const STRDICT = 100_000;
export const BYTES_LEN = 10 * 1024 * 1024;
export const STRINGS = 300_000;
export const NEST_CHAINS = 1_000;
export const NEST_DEPTH = 300;
export const BIGINTS = 100_000;

function records() {
  const out = new Array(RECORDS);
  for (let i = 0; i < RECORDS; i++) {
    out[i] = {
      id: i,
      name: `user${i}`,
      email: `user${i}@example.com`,
      score: i * 0.5 + 0.25,
      active: i % 3 === 0,
      tags: i % 2 ? ['alpha', 'beta'] : ['gamma'],
      parent: null,
    };
  }
  return out;
}

function floats() {
  const out = new Array(FLOATS);
  for (let i = 0; i < FLOATS; i++) out[i] = i + (((i * 7919) % 1000003) + 1) / 1000004;
  return out;
}

function strdict() {
  const out = {};
  for (let i = 0; i < STRDICT; i++) out[`key${String(i).padStart(6, '0')}`] = i * 3;
  return out;
}

function bytes10m() {
  const out = new Uint8Array(BYTES_LEN);
  for (let i = 0; i < BYTES_LEN; i++) out[i] = i & 255;
  return out;
}

export function mixedString(i) {
  switch (i % 4) {
    case 0:
      return `ascii-${i}`;
    case 1:
      return `plain ascii text number ${i}`;
    case 2:
      return `ünïcødé-€-${i}`;
    default:
      return `emoji-\u{1F600}-漢字-${i}`;
  }
}

function strings() {
  const out = new Array(STRINGS);
  for (let i = 0; i < STRINGS; i++) out[i] = mixedString(i);
  return out;
}

function nest(depth, makeTuple) {
  let node = 'leaf';
  for (let d = 1; d <= depth; d++) {
    const m = d % 3;
    if (m === 0) node = makeTuple(d, node);
    else if (m === 1) node = [d, node];
    else node = { depth: d, child: node };
  }
  return node;
}

function nested(makeTuple) {
  const out = new Array(NEST_CHAINS);
  for (let i = 0; i < NEST_CHAINS; i++) out[i] = nest(NEST_DEPTH, makeTuple);
  return out;
}

function bigints() {
  const out = new Array(BIGINTS);
  for (let i = 0; i < BIGINTS; i++) {
    const v = (1n << BigInt(64 + (i % 512))) + BigInt(i);
    out[i] = i % 2 ? -v : v;
  }
  return out;
}

// One record of records(): a typical small message, where the cost of each call counts.
function message() {
  return {
    id: 7,
    name: 'user7',
    email: 'user7@example.com',
    score: 3.75,
    active: false,
    tags: ['alpha', 'beta'],
    parent: null,
  };
}

/**
 * name -> { build(api), protocol, description, bytesPayload? }. bytesPayload: the value is one bytes object,
 * which decoders may return as a view into the input instead of a copy. `api` is the loaded mpwire module (or null): the nested case
 * uses its tuple type so the encoder writes tuples where Python has them; without it, arrays stand in.
 */
export const CASES = {
  'records-p4': { build: records, protocol: 4, description: '1e5 small record dicts, protocol 4' },
  'records-p2': { build: records, protocol: 2, description: '1e5 small record dicts, protocol 2' },
  floats: { build: floats, protocol: 4, description: '1e6 floats in a list' },
  strdict: { build: strdict, protocol: 4, description: '1e5 str->int dict' },
  bytes10m: { build: bytes10m, protocol: 4, description: '10 MiB bytes', bytesPayload: true },
  strings: { build: strings, protocol: 4, description: '3e5 mixed ASCII / non-ASCII strings' },
  nested: {
    build: (api) => nested(api?.tuple ? (a, b) => api.tuple(a, b) : (a, b) => [a, b]),
    protocol: 4,
    description: '1e3 chains nested 300 deep (list/dict/tuple)',
  },
  bigints: { build: bigints, protocol: 4, description: '1e5 ints of 65-576 bits' },
  message: { build: message, protocol: 4, description: 'one small record dict (a message)' },
};

export const CASE_NAMES = Object.keys(CASES);
