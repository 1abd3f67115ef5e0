/**
 * `dis` against CPython's own `pickletools.dis`, case by case: every pickle a reference CPython writes at every
 * protocol, pickles Python 2.7 writes (when a 2.7 is installed), and hand-built pickles for the opcodes
 * `pickle.dumps` never writes and for malformed input. python-fixtures/dis_reference.py produces the pickles
 * and, in one reference-interpreter process, the listings.
 *
 * Reference interpreter: CPython 3.13 (`$(pyenv root)/versions/3.13.*`), whose listing text `dis` targets;
 * `MPWIRE_DIS_PYTHON` overrides it (it must be 3.2 or later, for `annotate`). Without any 3.13 the suite falls
 * back to `python3` and says so; 3.11 and 3.12 listings differ from 3.13's only in LONG4's summary
 * ("found-byte"), which the suite reads as 3.13 spells it. (Before 3.11 CPython had no 4300-digit limit on
 * int <-> str conversion, so the cases testing that limit fail against such an interpreter.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DisassemblyError, type DisassemblyMemo, dis } from '../src/codec/dis.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'python-fixtures', 'dis_reference.py');

interface ReferenceCase {
  name: string;
  hex: string;
  indentlevel?: number;
  memo_group?: string;
  listing: string;
  annotated: string;
  annotated30: string;
  error: string | null;
  error_type: string | null;
}

function pyenvInterpreter(versionPrefix: string, executable: string): string | undefined {
  let root: string;
  try {
    root = execFileSync('pyenv', ['root'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
  const versions = join(root, 'versions');
  if (!existsSync(versions)) return undefined;
  const match = readdirSync(versions)
    .filter((name) => name.startsWith(versionPrefix))
    .sort()
    .pop();
  const candidate = match && join(versions, match, 'bin', executable);
  return candidate && existsSync(candidate) ? candidate : undefined;
}

function runFixture(python: string, args: string[], input?: string): string {
  return execFileSync(python, [SCRIPT, ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
}

const referencePython = process.env.MPWIRE_DIS_PYTHON ?? pyenvInterpreter('3.13.', 'python3') ?? 'python3';
const referenceVersion = execFileSync(referencePython, ['-c', 'import sys; print(sys.version.split()[0])'], {
  encoding: 'utf8',
}).trim();
console.log(`dis reference interpreter: ${referencePython} (CPython ${referenceVersion})`);

const corpus: { name: string; hex: string }[] = JSON.parse(
  runFixture(referencePython, ['corpus', '--handmade']),
);
const python27 = pyenvInterpreter('2.7.', 'python');
if (python27) {
  const old: { name: string; hex: string }[] = JSON.parse(runFixture(python27, ['corpus']));
  for (const entry of old) corpus.push({ ...entry, name: `py27_${entry.name}` });
  console.log(`dis corpus includes ${old.length} pickles written by ${python27}`);
} else {
  console.log('dis corpus has no Python 2.7 pickles: no 2.7 interpreter under `pyenv root`');
}
corpus.push(...mutatedPickles(corpus));
const cases: ReferenceCase[] = JSON.parse(runFixture(referencePython, ['dis'], JSON.stringify(corpus)));
const [major = 0, minor = 0] = referenceVersion.split('.').map(Number);
if (major === 3 && minor < 13) {
  // The one listing difference before 3.13: a typo in LONG4's summary, fixed in 3.13.
  console.log(
    `CPython ${referenceVersion} is not the 3.13 reference: reading its LONG4 summary as 3.13 spells it`,
  );
  for (const c of cases) {
    for (const key of ['annotated', 'annotated30'] as const) {
      c[key] = c[key].replaceAll(
        'Long integer using found-byte length.',
        'Long integer using four-byte length.',
      );
    }
  }
}

/**
 * Damaged copies of the small pickles (a byte changed, the data cut short, a byte inserted), from a fixed
 * seed: pickletools decides what each one lists and where it fails, and `dis` must agree.
 */
function mutatedPickles(sources: readonly { name: string; hex: string }[]): { name: string; hex: string }[] {
  let seed = 0x2545f491;
  const random = (limit: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % limit;
  };
  const mutated: { name: string; hex: string }[] = [];
  for (const source of sources) {
    const original = fromHex(source.hex);
    if (original.length === 0 || original.length > 300 || source.name.startsWith('err_')) continue;
    for (let round = 0; round < 4; round++) {
      const data = Array.from(original);
      const at = random(data.length);
      const kind = ['changed', 'cut', 'inserted'][random(3)];
      if (kind === 'changed') data[at] = random(256);
      else if (kind === 'cut') data.length = at;
      else data.splice(at, 0, random(256));
      const hex = data.map((byte) => byte.toString(16).padStart(2, '0')).join('');
      mutated.push({ name: `${source.name}_${kind}_at_${at}_${round}`, hex });
    }
  }
  return mutated;
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** `dis` the way pickletools ran: the listing printed, and the exception message if it raised. */
function runDis(
  data: Uint8Array,
  options: Parameters<typeof dis>[1],
): { listing: string; error: string | null } {
  try {
    return { listing: dis(data, options), error: null };
  } catch (error) {
    if (!(error instanceof DisassemblyError)) throw error;
    return { listing: error.listing, error: error.reason };
  }
}

const memos = new Map<string, DisassemblyMemo>();
const memoFor = (group: string | undefined, variant: string): DisassemblyMemo | undefined => {
  if (group === undefined) return undefined;
  const key = `${group}/${variant}`;
  if (!memos.has(key)) memos.set(key, new Map());
  return memos.get(key);
};

describe(`dis matches pickletools.dis of CPython ${referenceVersion}`, () => {
  it('covers every opcode in the corpus of valid pickles', () => {
    const seen = new Set<string>();
    for (const c of cases) {
      if (c.error !== null) continue;
      for (const line of c.listing.split('\n')) {
        const name = /^ *\d+: \S+\s+([A-Z_0-9]+)/.exec(line)?.[1];
        if (name) seen.add(name);
      }
    }
    expect(seen.size).toBe(68);
  });

  // Tests in a file run in order, so memo groups share one memo across consecutive cases as in pickletools.
  const variants = [
    { label: 'plain', expected: (c: ReferenceCase) => c.listing, annotate: undefined },
    { label: 'annotate=1', expected: (c: ReferenceCase) => c.annotated, annotate: 1 },
    {
      label: 'annotate=true (pickletools -a)',
      expected: (c: ReferenceCase) => c.annotated30,
      annotate: true,
    },
  ] as const;
  for (const variant of variants) {
    it.each(cases)(`$name, ${variant.label}`, (c) => {
      const options = {
        indentLevel: c.indentlevel ?? 4,
        annotate: variant.annotate,
        memo: memoFor(c.memo_group, variant.label),
      };
      expect(runDis(fromHex(c.hex), options)).toEqual({ listing: variant.expected(c), error: c.error });
    });
  }
});
