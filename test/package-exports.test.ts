import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
        'process.stdout.write(JSON.stringify([typeof codec.loads, typeof codec.dumps, typeof codec.dis, "Client" in codec]));',
    );
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function', false]);
  });
});
