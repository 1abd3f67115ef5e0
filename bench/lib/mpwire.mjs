// What of mpwire has landed in dist/: each benchmark section measures only the parts that exist and says
// "not measured: ... not on main" for the rest, instead of failing.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The build under test: MPWIRE_BENCH_DIST (another checkout's dist/index.js, to compare builds), else ours. */
export const DIST_INDEX = process.env.MPWIRE_BENCH_DIST
  ? resolve(process.env.MPWIRE_BENCH_DIST)
  : fileURLToPath(new URL('../../dist/index.js', import.meta.url));

let cached;

/** The built package (null when dist/ is missing) and which benchmarked entry points it exports. */
export async function loadMpwire() {
  if (cached) return cached;
  let mod = null;
  let error = null;
  if (existsSync(DIST_INDEX)) {
    try {
      mod = await import(pathToFileURL(DIST_INDEX).href);
    } catch (e) {
      error = String(e?.message ?? e);
    }
  } else {
    error = `${DIST_INDEX} missing: run \`npm run build\` (make bench builds first)`;
  }
  const has = (name) => mod !== null && typeof mod[name] === 'function';
  cached = {
    mod,
    error,
    loads: has('loads'),
    dumps: has('dumps'),
    transport: has('Client') && has('Listener'),
    connectionObjects:
      has('Connection') &&
      typeof mod.Connection.prototype.send === 'function' &&
      typeof mod.Connection.prototype.recv === 'function',
  };
  return cached;
}

/** Why a part is missing, phrased for the results table. */
export function missingReason(part) {
  const branch = { loads: 'decoder', dumps: 'encoder', transport: 'transport' }[part];
  return `not measured: ${branch} not on main`;
}
