/** Errors of Node-spawned Python workers. */

/** How a Python child ended: an exit code, or the signal that killed it, and the end of its stderr. */
export interface PythonExit {
  /** The exit status, or null when a signal ended the process. */
  readonly code: number | null;
  /** The signal that ended the process (`'SIGKILL'`, ...), or null. */
  readonly signal: NodeJS.Signals | null;
  /** The last bytes of stderr (bounded by `stderrLimit`), e.g. the traceback of an uncaught exception. */
  readonly stderrTail: string;
}

/**
 * The Python child exited (or was killed) while a call on its connection was pending, or had already exited
 * when the call was made; `cause` holds the transport error that revealed it (EOF, a torn message, EPIPE).
 */
export class PythonExitError extends Error {
  override readonly name = 'PythonExitError';
  /** The exit status, or null when a signal ended the process. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The end of the child's stderr, usually its traceback. */
  readonly stderrTail: string;
  readonly pid: number | undefined;

  constructor(pid: number | undefined, exit: PythonExit, operation: string, options?: { cause?: unknown }) {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const lastLine = exit.stderrTail.trimEnd().split('\n').pop()?.trim();
    super(
      `Python worker (pid ${pid ?? '?'}) ${how} during ${operation}${lastLine ? `: ${lastLine}` : ''}`,
      options,
    );
    this.exitCode = exit.code;
    this.signal = exit.signal;
    this.stderrTail = exit.stderrTail;
    this.pid = pid;
  }
}

/** The interpreter could not be started (not found, not executable, bad cwd). */
export class PythonSpawnError extends Error {
  override readonly name = 'PythonSpawnError';
  /** The interpreter that was tried. */
  readonly python: string;

  constructor(python: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(`could not start Python interpreter ${JSON.stringify(python)}: ${reason}`, options);
    this.python = python;
  }
}
