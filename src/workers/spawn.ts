/**
 * `spawnPython`: starts a CPython child with one end of a duplex pipe (a Unix socket pair) inherited as a file
 * descriptor, so the child talks to Node through a real `multiprocessing.connection.Connection`:
 *
 * ```python
 * from multiprocessing.connection import Connection   # Python 2.7: from _multiprocessing import Connection
 * conn = Connection(int(os.environ['MPWIRE_FD']))
 * ```
 *
 * The child's exit surfaces as {@link PythonExitError} from whatever call on the connection it interrupts.
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import {
  CONNECTION_OPTION_NAMES,
  type Connection,
  type ConnectionOptions,
  checkConnectionOptions,
  checkOptionNames,
  checkWholeNumber,
  timeoutMilliseconds,
} from '../transport/connection.js';
import { spawnWithPipe } from '../transport/pipe.js';
import { type PythonExit, PythonSpawnError } from './errors.js';
import { StderrTail } from './stderr-tail.js';
import { WorkerConnection } from './worker-connection.js';

/** The descriptor number the child's end of the pipe gets (the first after stdin, stdout, stderr). */
const CHILD_PIPE_FD = 3;

/** What to run: exactly one of `module`, `script` or `code`. */
export type PythonTarget =
  | { readonly module: string; readonly script?: undefined; readonly code?: undefined }
  | { readonly script: string; readonly module?: undefined; readonly code?: undefined }
  | { readonly code: string; readonly module?: undefined; readonly script?: undefined };

/** Options of {@link spawnPython}, besides the target; connection options shape the pipe's `Connection`. */
export interface SpawnPythonOptions extends ConnectionOptions {
  /** The interpreter: a path or a command on PATH. Default `python3`. */
  readonly python?: string;
  /** Arguments after the target (`sys.argv[1:]`). */
  readonly args?: readonly string[];
  /** Interpreter flags before the target, e.g. `['-X', 'dev']`. */
  readonly pythonArgs?: readonly string[];
  /** Variables added to (or, with `undefined`, removed from) the parent's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Working directory of the child. */
  readonly cwd?: string;
  /** The child's stdin; default `'ignore'`. */
  readonly stdin?: 'ignore' | 'inherit' | 'pipe';
  /** The child's stdout; default `'inherit'` so its prints show up. */
  readonly stdout?: 'ignore' | 'inherit' | 'pipe';
  /** Bytes of stderr kept for errors ({@link PythonExit.stderrTail}); default 64 KiB. */
  readonly stderrLimit?: number;
  /** Also copy the child's stderr to this process's stderr as it arrives; default false. */
  readonly echoStderr?: boolean;
  /**
   * Seconds `close()` waits, after closing the pipe, for the child to exit by itself before SIGTERM. Default 2;
   * `null` waits without a limit.
   */
  readonly exitTimeout?: number | null;
  /** Seconds to wait after SIGTERM before SIGKILL. Default 2; `null` waits without a limit. */
  readonly killTimeout?: number | null;
}

/** What {@link spawnPython} takes: its target, its own options and a connection's. */
const SPAWN_PYTHON_OPTION_NAMES: readonly string[] = [
  ...Object.keys({
    module: true,
    script: true,
    code: true,
    python: true,
    args: true,
    pythonArgs: true,
    env: true,
    cwd: true,
    stdin: true,
    stdout: true,
    stderrLimit: true,
    echoStderr: true,
    exitTimeout: true,
    killTimeout: true,
  } satisfies Record<Exclude<keyof (SpawnPythonOptions & PythonTarget), keyof ConnectionOptions>, true>),
  ...CONNECTION_OPTION_NAMES,
];

const DEFAULT_STDERR_LIMIT = 64 * 1024;
const DEFAULT_EXIT_TIMEOUT_SECONDS = 2;
const DEFAULT_KILL_TIMEOUT_SECONDS = 2;
/** Longest wait for stderr to drain after exit; a grandchild holding stderr open must not hang `exited`. */
const STDERR_DRAIN_MS = 500;

/**
 * Children still running, killed when this process exits first. A signal that ends it without an 'exit'
 * event (SIGKILL, or SIGTERM and SIGINT with no handler) skips that; the child's pipe then reaches EOF,
 * which ends a worker blocked in `conn.recv()` but not one busy elsewhere.
 */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killLiveChildrenOnExit(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

/**
 * A running Python child and its end of the pipe. Close it (or `await using`) to end the child: the pipe is
 * closed, then SIGTERM and SIGKILL follow if it does not exit in time. No zombie is left either way.
 */
export class PythonWorker {
  /** The connection to the child; calls fail with PythonExitError once the child is gone. */
  readonly conn: WorkerConnection;
  /** The Node child process (stdin/stdout streams are there when set to `'pipe'`). */
  readonly process: ChildProcess;
  /** Resolves (never rejects) once the child has exited and its stderr is drained. */
  readonly exited: Promise<PythonExit>;
  readonly #stderr: StderrTail;
  readonly #exitTimeoutMs: number | undefined;
  readonly #killTimeoutMs: number | undefined;
  #exit: PythonExit | undefined;

  /** Made by {@link spawnPython}; not for user code. */
  constructor(child: ChildProcess, connection: Connection, stderr: StderrTail, options: SpawnPythonOptions) {
    this.process = child;
    this.#stderr = stderr;
    this.#exitTimeoutMs = timeoutMilliseconds(
      options.exitTimeout === undefined ? DEFAULT_EXIT_TIMEOUT_SECONDS : options.exitTimeout,
    );
    this.#killTimeoutMs = timeoutMilliseconds(
      options.killTimeout === undefined ? DEFAULT_KILL_TIMEOUT_SECONDS : options.killTimeout,
    );
    this.exited = new Promise<PythonExit>((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        void drained(child.stderr, STDERR_DRAIN_MS).then(() => {
          this.#exit = { code, signal, stderrTail: stderr.text() };
          resolve(this.#exit);
        });
      });
    });
    this.conn = new WorkerConnection(connection, this);
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /** How the child ended, once it has; undefined while it runs. */
  get exit(): PythonExit | undefined {
    return this.#exit;
  }

  /** The end of the child's stderr so far. */
  stderrTail(): string {
    return this.#stderr.text();
  }

  /** Sends a signal (default SIGTERM) to the child. Returns false when it has already exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return false;
    return this.process.kill(signal);
  }

  /**
   * Ends the child: closes the pipe (a well-behaved worker sees EOF and returns), then SIGTERM after
   * `exitTimeout` seconds, then SIGKILL after `killTimeout` seconds. Resolves with how it ended. Idempotent.
   */
  async close(): Promise<PythonExit> {
    this.conn.close();
    if (await settlesWithin(this.exited, this.#exitTimeoutMs)) return this.exited;
    this.kill('SIGTERM');
    if (await settlesWithin(this.exited, this.#killTimeoutMs)) return this.exited;
    this.kill('SIGKILL');
    return this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts a CPython child with an inherited duplex pipe (its descriptor number is in `MPWIRE_FD`).
 *
 * ```ts
 * await using worker = await spawnPython({ script: 'worker.py', python: 'python3.12' });
 * await worker.conn.send(['square', 7]);
 * const answer = await worker.conn.recv();
 * ```
 *
 * Pass `protocol: 2` for a Python 2.7 child, which cannot read pickle protocol 3 or higher.
 * @throws PythonSpawnError when the interpreter cannot be started.
 */
export async function spawnPython(options: SpawnPythonOptions & PythonTarget): Promise<PythonWorker> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(
      'spawnPython takes an object with one of `module`, `script` or `code`, and its options',
    );
  }
  const python = options.python ?? 'python3';
  const targetArgs = pythonTargetArgs(options);
  // Checked before the child exists, which a later throw would leave running.
  checkSpawnShape(options);
  timeoutMilliseconds(options.exitTimeout);
  timeoutMilliseconds(options.killTimeout);
  checkWholeNumber('stderrLimit', options.stderrLimit, 0);
  checkOptionNames(options, SPAWN_PYTHON_OPTION_NAMES);
  checkConnectionOptions(connectionOptions(options));
  const stdio: StdioOptions = [options.stdin ?? 'ignore', options.stdout ?? 'inherit', 'pipe'];
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  // Unbuffered output, so the stderr tail of a crashed child holds its last words.
  env.PYTHONUNBUFFERED ??= '1';
  let spawned: ReturnType<typeof spawnWithPipe>;
  try {
    spawned = spawnWithPipe(python, [...(options.pythonArgs ?? []), ...targetArgs, ...(options.args ?? [])], {
      cwd: options.cwd,
      env,
      stdio,
      fd: CHILD_PIPE_FD,
      ...connectionOptions(options),
    });
  } catch (error) {
    // Node's own argument errors stay what they are; a spawn that failed at once (EMFILE) started nothing.
    if (error instanceof TypeError || error instanceof RangeError) throw error;
    throw new PythonSpawnError(python, { cause: error });
  }
  const { child, connection } = spawned;
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } catch (error) {
    connection.close();
    // Node reports a missing working directory as the interpreter's ENOENT.
    if (options.cwd !== undefined && !isDirectory(options.cwd)) {
      throw new PythonSpawnError(python, {
        cause: new Error(`working directory ${JSON.stringify(options.cwd)} does not exist`, { cause: error }),
      });
    }
    throw new PythonSpawnError(python, { cause: error });
  }
  // Later errors (a failed kill) must not crash the parent; the exit is reported through `exited`.
  child.on('error', () => undefined);
  liveChildren.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killLiveChildrenOnExit);
  }
  const stderr = new StderrTail(options.stderrLimit ?? DEFAULT_STDERR_LIMIT);
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk);
    if (options.echoStderr) process.stderr.write(chunk);
  });
  return new PythonWorker(child, connection, stderr, options);
}

/** The transport's options among spawnPython's. */
function connectionOptions(options: SpawnPythonOptions): ConnectionOptions {
  const { protocol, picklerOptions, unpicklerOptions, maxMessageLength, readHighWaterMark } = options;
  return { protocol, picklerOptions, unpicklerOptions, maxMessageLength, readHighWaterMark };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const STDIO_CHOICES: readonly unknown[] = ['ignore', 'inherit', 'pipe'];

/**
 * The options Node would otherwise take in a different sense or ignore: a string of arguments spread into
 * one argument per character, a number for stdout taken as a file descriptor, an `env` that is not an object.
 */
function checkSpawnShape(options: SpawnPythonOptions): void {
  if (options.python !== undefined && (typeof options.python !== 'string' || options.python === '')) {
    throw new TypeError(`python must be an interpreter's path or command, not ${String(options.python)}`);
  }
  for (const name of ['args', 'pythonArgs'] as const) {
    const list = options[name];
    if (list !== undefined && (!Array.isArray(list) || list.some((arg) => typeof arg !== 'string'))) {
      throw new TypeError(`${name} must be an array of strings`);
    }
  }
  for (const name of ['stdin', 'stdout'] as const) {
    if (options[name] !== undefined && !STDIO_CHOICES.includes(options[name])) {
      throw new TypeError(`${name} must be 'ignore', 'inherit' or 'pipe', not ${String(options[name])}`);
    }
  }
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) {
    throw new TypeError('env must be an object of variable names to strings (undefined removes one)');
  }
  if (options.cwd !== undefined && typeof options.cwd !== 'string') {
    throw new TypeError('cwd must be a path');
  }
}

function pythonTargetArgs(target: PythonTarget): string[] {
  const given = [target.module, target.script, target.code].filter((t) => t !== undefined).length;
  if (given !== 1) throw new TypeError('spawnPython needs exactly one of `module`, `script` or `code`');
  const text = target.module ?? target.script ?? target.code;
  if (typeof text !== 'string') throw new TypeError('`module`, `script` or `code` must be a string');
  if (target.module !== undefined) return ['-m', target.module];
  if (target.code !== undefined) return ['-c', target.code];
  return [target.script!];
}

/** Whether `promise` settles within `ms` (undefined: it is waited for without a limit). */
async function settlesWithin(promise: Promise<unknown>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) return promise.then(() => true);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `stream` has ended or closed, or after `ms`. */
function drained(stream: NodeJS.ReadableStream | null, ms: number): Promise<void> {
  if (!stream) return Promise.resolve();
  const readable = stream as NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean };
  if (readable.readableEnded || readable.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('end', done);
    stream.once('close', done);
  });
}
