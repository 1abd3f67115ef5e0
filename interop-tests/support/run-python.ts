/**
 * Runs a python-fixtures script under a given interpreter: JSON on stdin, one JSON document on stdout.
 * Each call is one Python process, so callers batch every case for an interpreter into one request.
 */
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { PythonInterpreter } from './pythons.js';

/** Absolute path of python-fixtures/ (the scripts import each other from there). */
export const FIXTURES_DIR = fileURLToPath(new URL('../../python-fixtures/', import.meta.url));

/** Runs `python-fixtures/<script>` with `args`, writes `input` as JSON to stdin, parses stdout as JSON. */
export async function runFixture<T>(
  python: PythonInterpreter,
  script: string,
  input?: unknown,
  args: readonly string[] = [],
): Promise<T> {
  const result = await execa(python.executable, ['-W', 'ignore', `${FIXTURES_DIR}${script}`, ...args], {
    input: input === undefined ? '' : JSON.stringify(input),
    // Python 2 and 3 agree on UTF-8 here; the JSON itself is ASCII (ensure_ascii).
    env: { PYTHONIOENCODING: 'utf-8', PYTHONHASHSEED: '0' },
    maxBuffer: 512 * 1024 * 1024,
    timeout: 120_000,
    reject: false,
  });
  if (result.exitCode !== 0) {
    throw new Error(
      `${script} failed under Python ${python.label} (exit ${result.exitCode}):\n${result.stderr.slice(-4000)}`,
    );
  }
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`${script} under Python ${python.label} wrote no JSON:\n${result.stdout.slice(0, 2000)}`);
  }
}

/** Runs one request per interpreter, all in parallel; results keyed by interpreter label. */
export async function runOnEach<T>(
  pythons: readonly PythonInterpreter[],
  script: string,
  inputFor: (python: PythonInterpreter) => unknown,
  args: readonly string[] = [],
): Promise<Map<string, T>> {
  const outputs = await Promise.all(pythons.map((p) => runFixture<T>(p, script, inputFor(p), args)));
  return new Map(pythons.map((p, i) => [p.label, outputs[i]!]));
}
