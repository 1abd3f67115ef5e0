/** `wait()`: CPython's `multiprocessing.connection.wait` for connections, listeners and child processes. */
import type { ChildProcess } from 'node:child_process';
import { kindOf } from '../codec/kind-of.js';
import {
  type CallOptions,
  Connection,
  eventLoopTurn,
  type ReadinessHook,
  readinessHook,
  timeoutMilliseconds,
} from './connection.js';
import { ConnectionClosedError } from './errors.js';
import { Listener } from './listener.js';

/** An object that stands for a connection in `wait()` (a spawned worker's `WorkerConnection`). */
export interface WaitableObject {
  /** How `wait()` watches the object; the package's own objects provide it, not user code. */
  readonly [readinessHook]: ReadinessHook;
}

/**
 * What `wait()` watches: a connection (a message, EOF or an error to read), a listener (a connection to
 * accept), a child (it exited), or a worker's connection.
 */
export type Waitable = Connection | Listener | ChildProcess | WaitableObject;

/**
 * The waits watching each child: one 'exit' and one 'error' listener per child however many waits watch it,
 * so concurrent waits do not pile listeners onto it (and Node's MaxListenersExceededWarning with them).
 */
const childWatchers = new WeakMap<ChildProcess, { listeners: Set<() => void>; fire: () => void }>();

function childHook(child: ChildProcess): ReadinessHook {
  // A child that failed to start (ENOENT, EACCES) gets a negative exitCode and an 'error' event, never 'exit'.
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    ready: exited,
    subscribe: (listener) => {
      let watchers = childWatchers.get(child);
      if (watchers === undefined) {
        const listeners = new Set<() => void>();
        const fire = (): void => {
          for (const each of [...listeners]) each();
        };
        watchers = { listeners, fire };
        childWatchers.set(child, watchers);
        child.on('exit', fire);
        child.on('error', fire);
      }
      const { listeners, fire } = watchers;
      // A function given twice would be removed at the first unsubscribe: wrap it.
      const entry = (): void => listener();
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
        if (listeners.size > 0 || childWatchers.get(child) !== watchers) return;
        childWatchers.delete(child);
        child.off('exit', fire);
        child.off('error', fire);
      };
    },
  };
}

function isChildProcess(object: unknown): object is ChildProcess {
  const child = object as Partial<ChildProcess> | null;
  return (
    typeof child === 'object' &&
    child !== null &&
    typeof child.on === 'function' &&
    typeof child.off === 'function' &&
    'exitCode' in child &&
    'signalCode' in child
  );
}

/** A connection, or an object standing for one (a worker's connection), that has been closed. */
function isClosedConnection(object: Waitable): boolean {
  if (object instanceof Connection) return object.closed;
  if (object instanceof Listener || isChildProcess(object)) return false;
  return (object as { closed?: unknown }).closed === true;
}

function hookOf(object: Waitable): ReadinessHook {
  if (object instanceof Connection) {
    if (object.closed) throw new ConnectionClosedError();
    return object[readinessHook];
  }
  if (object instanceof Listener) return object[readinessHook];
  if (isChildProcess(object)) return childHook(object);
  if (typeof object === 'object' && object !== null && readinessHook in object) return object[readinessHook];
  // CPython also takes file descriptors and objects with fileno(); a Node process cannot watch those.
  throw new TypeError(
    `wait() watches Connection, Listener, ChildProcess and WorkerConnection objects, not ${kindOf(object)}`,
  );
}

/**
 * The subset of `objects` (an array or any other iterable) that is ready, in input order and each once;
 * `[]` on timeout. Nothing is read.
 * @throws ConnectionClosedError for a connection closed before or during the wait (CPython fails on its
 *   closed handle too); TypeError
 *   for objects that are not iterable or hold something other than a Connection, Listener or ChildProcess,
 *   and for a timeout that is not a number; RangeError for a NaN timeout.
 * @param timeout seconds; `undefined`/`null` wait forever, `0` or negative check once (as CPython), after one turn of the
 *   event loop reads what the kernel holds.
 */
export async function wait<T extends Waitable>(
  objects: Iterable<T>,
  timeout: number | null = null,
  options: CallOptions = {},
): Promise<T[]> {
  const milliseconds = timeoutMilliseconds(timeout);
  if (typeof (objects as Partial<Iterable<T>> | null)?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`wait() takes an iterable of objects to watch, not ${kindOf(objects)}`);
  }
  // An object given twice is watched, and reported, once (CPython's selector refuses it with a KeyError).
  const watched = Array.from(new Set(objects));
  const hooks = watched.map(hookOf);
  const readyNow = (): T[] => watched.filter((_, index) => hooks[index]!.ready());
  const first = readyNow();
  if (first.length > 0) return first;
  if (milliseconds === 0) {
    // As poll(0): what the kernel holds is read first, and an aborted signal is honoured before and after.
    options.signal?.throwIfAborted();
    await eventLoopTurn();
    if (watched.some(isClosedConnection)) throw new ConnectionClosedError();
    options.signal?.throwIfAborted();
    return readyNow();
  }
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
      // A connection closed while waited on fails the wait, as a closed one given to it does (and poll()).
      if (watched.some(isClosedConnection)) {
        finish({ error: new ConnectionClosedError() });
        return;
      }
      const ready = readyNow();
      if (ready.length > 0) finish(ready);
    };
    const onAbort = (): void => finish({ error: options.signal?.reason });
    for (const hook of hooks) unsubscribers.push(hook.subscribe(check));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (milliseconds !== undefined) timer = setTimeout(() => finish([]), milliseconds);
  });
}
