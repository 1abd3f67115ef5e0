/**
 * Drives `python-fixtures/mp_peer.py serve`: one long-lived CPython process per interpreter that runs
 * `multiprocessing.connection` calls on request, so many test cases share one interpreter start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { PythonInterpreter } from './pythons.js';

/** Path of the Python peer script. */
export const PEER_SCRIPT = fileURLToPath(new URL('../../python-fixtures/mp_peer.py', import.meta.url));

/** What CPython raised: its class name and `str(exc)`, plus `BufferTooShort`'s payload. */
export interface PythonError {
  readonly type: string;
  readonly message: string;
  readonly payload_hex?: string;
  readonly traceback: string;
}

/** A call's outcome: `ok` with the result, or `error` with what CPython raised. */
export type PeerOutcome<T> =
  | { readonly ok: T; readonly error?: undefined }
  | { readonly ok?: undefined; readonly error: PythonError };

/** How a peer reports a received message. */
export interface Received {
  readonly size: number;
  readonly sha256: string;
  readonly hex?: string;
}

/** Data to send, as the peer builds it: literal hex or the shared pattern. */
export type DataSpec = { readonly hex: string } | { readonly size: number; readonly seed?: number };

/** Byte i is `(i * 31 + seed) & 255`, as `pattern()` in mp_peer.py. */
export function pattern(size: number, seed = 0): Uint8Array {
  const block = new Uint8Array(256);
  for (let i = 0; i < 256; i++) block[i] = (i * 31 + seed) & 255;
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += 256) out.set(block.subarray(0, Math.min(256, size - at)), at);
  return out;
}

export function sha256(data: Uint8Array): string {
  const hash = createHash('sha256');
  // Hash.update refuses inputs of 2 GiB or more.
  for (let at = 0; at < data.byteLength; at += 1 << 30) hash.update(data.subarray(at, at + (1 << 30)));
  return hash.digest('hex');
}

export const hex = (data: Uint8Array): string =>
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');

export class PythonPeer {
  readonly python: PythonInterpreter;
  private readonly process: ChildProcess;
  private readonly pending = new Map<number, (outcome: PeerOutcome<unknown>) => void>();
  private nextId = 1;
  private buffered = '';
  private readonly exited: Promise<void>;

  private constructor(python: PythonInterpreter, child: ChildProcess) {
    this.python = python;
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      const error: PythonError = {
        type: 'PeerExited',
        message: `peer exited with ${code ?? signal}`,
        traceback: '',
      };
      for (const settle of this.pending.values()) settle({ error });
      this.pending.clear();
    });
  }

  /** Starts a peer on `python` and waits until it is ready. */
  static async start(python: PythonInterpreter): Promise<PythonPeer> {
    const child = spawn(python.executable, ['-u', PEER_SCRIPT, 'serve'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const peer = new PythonPeer(python, child);
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.stdout!.setEncoding('utf8');
      let ready = false;
      child.stdout!.on('data', (text: string) => {
        peer.buffered += text;
        for (let newline = peer.buffered.indexOf('\n'); newline >= 0; newline = peer.buffered.indexOf('\n')) {
          const line = peer.buffered.slice(0, newline);
          peer.buffered = peer.buffered.slice(newline + 1);
          const message = JSON.parse(line) as { ready?: boolean; id?: number } & PeerOutcome<unknown>;
          if (message.ready && !ready) {
            ready = true;
            resolve();
          } else if (message.id !== undefined) {
            const settle = peer.pending.get(message.id);
            peer.pending.delete(message.id);
            settle?.(message);
          }
        }
      });
    });
    return peer;
  }

  /** Label for test names, e.g. `"3.13.0"`. */
  get label(): string {
    return this.python.label;
  }

  /** Runs `op` and returns what happened, success or Python exception. */
  attempt<T>(op: string, args: Record<string, unknown> = {}): Promise<PeerOutcome<T>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (outcome: PeerOutcome<unknown>) => void);
      this.process.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Runs `op`; a Python exception becomes a rejected promise carrying its type and message. */
  async call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const outcome = await this.attempt<T>(op, args);
    if (outcome.error) {
      throw new Error(
        `${this.label} ${op}: ${outcome.error.type}: ${outcome.error.message}\n${outcome.error.traceback}`,
      );
    }
    return outcome.ok as T;
  }

  /** Stops the peer (threads blocked in calls are abandoned). */
  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.stdin!.end(`${JSON.stringify({ op: 'exit' })}\n`);
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Kills the peer at once. */
  kill(): void {
    this.process.kill('SIGKILL');
  }
}

/** Starts one peer per interpreter, all at once. */
export function startPeers(pythons: readonly PythonInterpreter[]): Promise<PythonPeer[]> {
  return Promise.all(pythons.map((python) => PythonPeer.start(python)));
}

/** True for CPython at or above `major.minor`. */
export function atLeast(python: PythonInterpreter, major: number, minor: number): boolean {
  return python.version[0] > major || (python.version[0] === major && python.version[1] >= minor);
}
