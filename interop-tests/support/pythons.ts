/**
 * Finds the CPython interpreters the interop suites run against.
 *
 * - `MPWIRE_PYTHONS` (a list separated by `:` or `,`) names the interpreters and turns discovery off.
 * - Otherwise: `python3` on PATH, plus every interpreter under `$(pyenv root)/versions` when pyenv exists.
 * Interpreters are deduplicated by their real executable and sorted by version.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

export interface PythonInterpreter {
  /** Path or command used to start it. */
  readonly executable: string;
  /** `[major, minor, micro]`. */
  readonly version: readonly [number, number, number];
  /** `"3.11.7"`. */
  readonly label: string;
  /** Highest pickle protocol the interpreter writes and reads. */
  readonly highestProtocol: number;
}

const PROBE =
  'import sys, pickle; sys.stdout.write("%d %d %d %d %s" % (sys.version_info[0], sys.version_info[1], sys.version_info[2], pickle.HIGHEST_PROTOCOL, sys.executable))';

function probe(executable: string): (PythonInterpreter & { realExecutable: string }) | undefined {
  try {
    const out = execFileSync(executable, ['-c', PROBE], {
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [maj, min, mic, highest, ...rest] = out.trim().split(' ');
    const version = [Number(maj), Number(min), Number(mic)] as const;
    const realExecutable = safeRealpath(rest.join(' ')) ?? executable;
    return {
      executable,
      realExecutable,
      version,
      label: version.join('.'),
      highestProtocol: Number(highest),
    };
  } catch {
    return undefined;
  }
}

function safeRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function pyenvCandidates(): string[] {
  let root: string;
  try {
    root = execFileSync('pyenv', ['root'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return [];
  }
  const versionsDir = join(root, 'versions');
  if (!existsSync(versionsDir)) return [];
  const found: string[] = [];
  for (const name of readdirSync(versionsDir)) {
    for (const exe of ['python3', 'python']) {
      const candidate = join(versionsDir, name, 'bin', exe);
      if (existsSync(candidate)) {
        found.push(candidate);
        break;
      }
    }
  }
  return found;
}

let cached: PythonInterpreter[] | undefined;

/** Every distinct CPython found, oldest first. Never empty on a machine with python3 on PATH. */
export function findPythons(): PythonInterpreter[] {
  if (cached) return cached;
  const override = process.env.MPWIRE_PYTHONS;
  const candidates = override
    ? override.split(/[:,]/).filter((s) => s.length > 0)
    : ['python3', ...pyenvCandidates()];
  const seen = new Set<string>();
  const result: PythonInterpreter[] = [];
  for (const candidate of candidates) {
    const found = probe(candidate);
    if (!found || seen.has(found.realExecutable)) continue;
    seen.add(found.realExecutable);
    const { realExecutable: _ignored, ...interpreter } = found;
    result.push(interpreter);
  }
  result.sort(
    (a, b) => a.version[0] - b.version[0] || a.version[1] - b.version[1] || a.version[2] - b.version[2],
  );
  cached = result;
  return result;
}

/** Interpreters at or above a version, e.g. `pythonsAtLeast(3, 8)`. */
export function pythonsAtLeast(major: number, minor: number): PythonInterpreter[] {
  return findPythons().filter(
    (p) => p.version[0] > major || (p.version[0] === major && p.version[1] >= minor),
  );
}

/** One line for the test log naming every interpreter a suite ran against. */
export function describePythons(pythons: readonly PythonInterpreter[] = findPythons()): string {
  return pythons.map((p) => `${p.label} (${p.executable})`).join(', ');
}
