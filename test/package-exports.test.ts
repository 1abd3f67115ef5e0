import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

// Runs a module in a separate Node process from the package root, where `mpwire` resolves through package.json
// "exports" to the built files, exactly as it does for a user after `npm run build`.
function runNode(source: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
  });
}

describe('package entry points (built dist/)', () => {
  it('has been built', () => {
    expect(existsSync(`${root}dist/index.js`)).toBe(true);
    expect(existsSync(`${root}dist/index.d.ts`)).toBe(true);
  });

  it("`import { loads, dumps } from 'mpwire'` round-trips through CPython's bytes", () => {
    const out = runNode(
      "import { loads, dumps, Client, Listener } from 'mpwire';" +
        "const b = dumps('hi');" +
        'process.stdout.write(JSON.stringify([Buffer.from(b).toString("hex"), loads(b), typeof Client, typeof Listener.listen]));',
    );
    // The first application message of protocol.md §2.7: pickle.dumps('hi', 4) from CPython.
    expect(JSON.parse(out)).toEqual(['80049506000000000000008c026869942e', 'hi', 'function', 'function']);
  });

  it("'mpwire/codec' exposes the pure codec alone", () => {
    const out = runNode(
      "import * as codec from 'mpwire/codec';" +
        'process.stdout.write(JSON.stringify([typeof codec.loads, typeof codec.dumps, typeof codec.dis, "Client" in codec, "reprStr" in codec]));',
    );
    // The disassembler's Python repr helpers are its own, not the package's.
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function', false, false]);
  });

  it("`require('mpwire')` works where Node can require ES modules, and says why where it cannot", () => {
    const source =
      "let m; try { m = require('mpwire'); } catch (e) { m = e.code; }" +
      "process.stdout.write(JSON.stringify([process.features.require_module === true, typeof m === 'string' ? m : [typeof m.loads, typeof require('mpwire/codec').dumps]]));";
    const [canRequire, result] = JSON.parse(
      execFileSync(process.execPath, ['-e', source], { cwd: root, encoding: 'utf8' }),
    );
    expect(result).toEqual(canRequire ? ['function', 'function'] : 'ERR_REQUIRE_ESM');
  });
});

describe('the built declarations, as a consumer compiles them', () => {
  it('compile under strict settings with library checks on, and show no internal member', () => {
    // A consumer package whose node_modules/mpwire is this package, compiled with the consumer's usual settings
    // and without skipLibCheck, so every shipped .d.ts is checked too.
    const dir = mkdtempSync(posix.join(tmpdir(), 'mpwire-consumer-'));
    try {
      mkdirSync(`${dir}/node_modules`);
      symlinkSync(root, `${dir}/node_modules/mpwire`, 'dir');
      symlinkSync(`${root}node_modules/@types`, `${dir}/node_modules/@types`, 'dir');
      writeFileSync(`${dir}/package.json`, '{ "type": "module" }');
      const compilerOptions = {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
      };
      writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
      writeFileSync(
        `${dir}/consumer.ts`,
        [
          "import { type ManagerClient, ManagerProxy, type ProxyClass, QueueProxy, dumps, loads, wait } from 'mpwire';",
          "import { dumps as codecDumps } from 'mpwire/codec';",
          "// A typed proxy of the user's own, reached through as().",
          'class CounterProxy extends ManagerProxy {',
          "  increment(): Promise<unknown> { return this.call('increment', []); }",
          '}',
          '// One that takes its own constructor, handing the arguments on.',
          'class LoggedProxy extends ManagerProxy {',
          '  constructor(...args: ConstructorParameters<ProxyClass<ManagerProxy>>) { super(...args); }',
          '}',
          '// @ts-expect-error proxies come from a client, with their arguments',
          'export const bare = new QueueProxy();',
          "// @ts-expect-error wait() watches the package's connections, listeners and workers",
          "export const waiting = wait([42, 'x']);",
          'export async function use(client: ManagerClient, proxy: ManagerProxy): Promise<unknown> {',
          '  const counter: CounterProxy = proxy.as(CounterProxy);',
          '  const queue: QueueProxy<string> = await client.queue<string>();',
          "  // @ts-expect-error the client's channel methods are the package's own",
          "  client.callMethod(proxy.token, 'get', []);",
          '  return [await counter.increment(), queue, proxy.as(LoggedProxy), loads(dumps(1)), codecDumps(2)];',
          '}',
        ].join('\n'),
      );
      const tsc = `${root}node_modules/typescript/bin/tsc`;
      const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the packed tarball (npm pack --dry-run)', () => {
  const listing = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
  ) as { files: { path: string }[] }[];
  const files = new Set(listing[0]!.files.map((f) => f.path));

  it('ships the build, its sources, the README and the licence, and nothing of the test suite', () => {
    for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/codec/index.js', 'src/index.ts', 'LICENSE'])
      expect(files, path).toContain(path);
    for (const path of files) expect(path).not.toMatch(/^(test|interop-tests|bench|node_modules)\//);
  });

  it('every source map names sources that are in the tarball', () => {
    const maps = [...files].filter((path) => path.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(10);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(`${root}${map}`, 'utf8')) as { sources: string[] };
      for (const source of sources)
        expect(files, `${map} -> ${source}`).toContain(posix.join(posix.dirname(map), source));
    }
  });

  it('every built module has its source, and the build has no module its source lacks', () => {
    for (const path of files) {
      if (path.startsWith('dist/') && path.endsWith('.js'))
        expect(files, path).toContain(path.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));
    }
  });
});
