/**
 * Runs the examples in examples/ (model-client, manager-queue, worker-pool) exactly as a user would after
 * `npm run build`, so they cannot rot. Builds dist/ first when it is missing or older than src/.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { describePythons, findPythons } from './support/pythons.js';

const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);
const python3 = findPythons()
  .filter((p) => p.version[0] === 3)
  .at(-1);
// The examples' Python scripts run on 2.7 too, and the examples say protocol 2 for it.
const python2 = findPythons().find((p) => p.version[0] === 2);
const interpreters = [python3, python2].filter((p) => p !== undefined);

function newestMtime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  const built = join(ROOT, 'dist', 'index.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
}, 120_000);

describe.each(interpreters.map((p) => [p.label, p] as const))('examples on Python %s', (_label, python) => {
  const runExample = async (name: string): Promise<string> => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'examples', name)], {
      cwd: ROOT,
      env: { ...process.env, PYTHON: python.executable },
      timeout: 60_000,
    });
    return stdout;
  };

  beforeAll(() => {
    console.log(`examples run with: ${describePythons([python])}`);
  });

  it('model-client.mjs talks to a Python model server behind a Listener', async () => {
    const out = await runExample('model-client.mjs');
    expect(out).toMatch(/^model iris-linear \(Python [23]\.\d+\) labels: setosa, versicolor, virginica$/m);
    expect(out).toMatch(/^predict \[5\.1,3\.5,1\.4,0\.2\] -> ok setosa \(0\.9\d\d\)$/m);
    expect(out).toMatch(/^predict \[5\.9,2\.8,4\.3,1\.3\] -> ok versicolor /m);
    expect(out).toMatch(/^predict \[6\.7,3,5\.2,2\.3\] -> ok virginica /m);
    expect(out).toMatch(/^predict \[1,2\] -> error: expected 4 features, got 2$/m);
    expect(out).toMatch(/^server says bye$/m);
    expect(out).toMatch(/^server exited with code 0$/m);
  });

  it('manager-queue.mjs consumes a BaseManager queue fed by a Python producer', async () => {
    const out = await runExample('manager-queue.mjs');
    expect(out).toMatch(/^received 25 orders from the Python producer$/m);
    // Orders 1..25, item = ['apple','pear','plum'][n % 3], quantity = n % 5 + 1.
    const expected = new Map<string, number>();
    for (let n = 1; n <= 25; n++) {
      const item = ['apple', 'pear', 'plum'][n % 3]!;
      expected.set(item, (expected.get(item) ?? 0) + (n % 5) + 1);
    }
    for (const [item, quantity] of expected) expect(out).toContain(`  ${item}: ${quantity}\n`);
    expect(out).toMatch(/^queue drained: get_nowait raised queue\.Empty \(isQueueEmpty=true\)$/m);
    expect(out).toMatch(/^manager server exited with code 0$/m);
  });

  it('worker-pool.mjs spreads tasks over spawned Python workers', async () => {
    const out = await runExample('worker-pool.mjs');
    expect(out).toMatch(/^primes below +10000: +1229 +\(python pid \d+\)$/m);
    expect(out).toMatch(/^primes below +1000000: +78498 +\(python pid \d+\)$/m);
    expect(out).toMatch(/^8 tasks on [1-4] of [2-4] Python workers$/m);
    expect(out).toMatch(/^workers exited with codes 0(, 0)+$/m);
  });
});
