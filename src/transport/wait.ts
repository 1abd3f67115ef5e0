/** `wait()`: CPython's `multiprocessing.connection.wait` for connections, listeners and child processes. */
import type { ChildProcess } from 'node:child_process';
import {
  type CallOptions,
  Connection,
  type ReadinessHook,
  readinessHook,
  secondsToMilliseconds,
} from './connection.js';
import { ConnectionClosedError } from './errors.js';
import { Listener } from './listener.js';

/** What `wait()` watches: a connection (a message, EOF or an error to read), a listener (a connection to accept), a child (it exited). */
export type Waitable = Connection | Listener | ChildProcess;

function childHook(child: ChildProcess): ReadinessHook {
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    ready: exited,
    subscribe: (listener) => {
      child.on('exit', listener);
      return () => child.off('exit', listener);
    },
  };
}

function hookOf(object: Waitable): ReadinessHook {
  if (object instanceof Connection) {
    if (object.closed) throw new ConnectionClosedError();
    return object[readinessHook];
  }
  if (object instanceof Listener) return object[readinessHook];
  return childHook(object);
}

/**
 * The subset of `objects` that is ready, in input order; `[]` on timeout. Nothing is read.
 * @throws ConnectionClosedError for a closed connection (CPython fails on its closed handle too).
 * @param timeout seconds; `undefined`/`null` wait forever, `0` or negative check once (as CPython).
 */
export async function wait<T extends Waitable>(
  objects: readonly T[],
  timeout: number | null = null,
  options: CallOptions = {},
): Promise<T[]> {
  const hooks = objects.map(hookOf);
  const readyNow = (): T[] => objects.filter((_, index) => hooks[index]!.ready());
  const first = readyNow();
  const milliseconds = secondsToMilliseconds(timeout);
  if (first.length > 0 || milliseconds === 0) return first;
  options.signal?.throwIfAborted();
  return new Promise<T[]>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const unsubscribers: (() => void)[] = [];
    const finish = (result: T[] | { error: unknown }): void => {
      for (const unsubscribe of unsubscribers) unsubscribe();
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (Array.isArray(result)) resolve(result);
      else reject(result.error);
    };
    const check = (): void => {
      const ready = readyNow();
      if (ready.length > 0) finish(ready);
    };
    const onAbort = (): void => finish({ error: options.signal?.reason });
    for (const hook of hooks) unsubscribers.push(hook.subscribe(check));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (milliseconds !== undefined) timer = setTimeout(() => finish([]), milliseconds);
  });
}
