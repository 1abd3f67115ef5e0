/**
 * Proxies: TypeScript handles on objects that live in a manager server. Each owns exactly one server-side
 * reference, as a Python proxy does once its constructor's incref and the creator's decref have cancelled out.
 */
import { PyGlobal } from '../codec/values.js';
import { secondsToMilliseconds } from '../transport/connection.js';
import { ManagerClosedError } from './errors.js';
import type { PythonKwargs } from './messages.js';
import type { ManagerToken } from './token.js';

/**
 * The client a proxy belongs to (a `ManagerClient`), as the proxy sees it: method calls over the shared channel
 * and reference counting over fresh connections. Opaque outside the package: a proxy subclass's constructor
 * only hands it on to `super`.
 */
export interface ProxyHost {
  /** @internal */
  callMethod(
    token: ManagerToken,
    methodName: string,
    args: readonly unknown[],
    kwargs?: PythonKwargs,
    options?: ProxyCallOptions,
  ): Promise<unknown>;
  /** @internal */
  incref(token: ManagerToken): Promise<void>;
  /** @internal Drops this proxy's reference; `proxy` is forgotten by the client's bookkeeping. */
  releaseReference(proxy: ManagerProxy): Promise<void>;
  /** @internal Records a new proxy so the client can release it on close and when it is garbage-collected. */
  adopt(proxy: ManagerProxy): void;
  /** @internal Moves the reference `from` owns to `to`, which replaces it in the bookkeeping. */
  transfer(from: ManagerProxy, to: ManagerProxy): void;
}

/** Per-call options of remote method calls. */
export interface ProxyCallOptions {
  /**
   * Gives up on the call. A call still queued is simply dropped. A call already sent cannot be cancelled on
   * the server (Python has no way to), so the client closes its method channel and opens a new one for the
   * next call; the server finishes the call anyway and its result is lost (an aborted `get` may consume an
   * item, and a new proxy the reply would have held leaves its reference on the server). Prefer Python-side
   * timeouts, such as `get({ timeout })`, where the method has one.
   */
  readonly signal?: AbortSignal;
}

/** A constructor for a typed proxy class, e.g. {@link QueueProxy}; all share ManagerProxy's signature. */
export type ProxyClass<P extends ManagerProxy> = new (
  host: ProxyHost,
  token: ManagerToken,
  exposed: readonly string[],
  pythonProxyType?: PyGlobal,
) => P;

const MANAGERS_MODULE = 'multiprocessing.managers';

/** Python's generic proxy class, made from the exposed names a pickled proxy carries. */
export const AUTO_PROXY = new PyGlobal(MANAGERS_MODULE, 'AutoProxy');

/**
 * The proxy classes SyncManager registers its typeids with (`SyncManager.register('Lock', threading.Lock,
 * AcquirerProxy)`...), each with methods its `_exposed_` lists. A server answers `create` with the exposed names
 * it registered, which for a typeid registered with a proxy class are that class's `_exposed_`: so a proxy
 * takes the class only when its exposed names include these, and another server's typeid of the same name
 * (registered without a proxy class, so exposing its object's public methods) gets AutoProxy.
 */
const SYNC_MANAGER_PROXY_TYPES: ReadonlyMap<
  string,
  { readonly name: string; readonly exposes: readonly string[] }
> = new Map([
  ['Event', { name: 'EventProxy', exposes: ['is_set', 'set', 'clear', 'wait'] }],
  ['Lock', { name: 'AcquirerProxy', exposes: ['acquire', 'release'] }],
  ['RLock', { name: 'AcquirerProxy', exposes: ['acquire', 'release'] }],
  ['Semaphore', { name: 'AcquirerProxy', exposes: ['acquire', 'release'] }],
  ['BoundedSemaphore', { name: 'AcquirerProxy', exposes: ['acquire', 'release'] }],
  ['Condition', { name: 'ConditionProxy', exposes: ['acquire', 'release', 'wait', 'notify'] }],
  ['Barrier', { name: 'BarrierProxy', exposes: ['__getattribute__', 'wait', 'abort', 'reset'] }],
  ['Pool', { name: 'PoolProxy', exposes: ['apply_async', 'map_async', 'terminate'] }],
  ['list', { name: 'ListProxy', exposes: ['__getitem__', '__setitem__', 'append'] }],
  ['dict', { name: 'DictProxy', exposes: ['__getitem__', '__setitem__', 'keys'] }],
  ['Value', { name: 'ValueProxy', exposes: ['get', 'set'] }],
  ['Array', { name: 'ArrayProxy', exposes: ['__len__', '__getitem__', '__setitem__'] }],
  ['Namespace', { name: 'NamespaceProxy', exposes: ['__getattribute__', '__setattr__', '__delattr__'] }],
  ['Iterator', { name: 'IteratorProxy', exposes: ['send', 'throw', 'close'] }],
]);

/**
 * The Python proxy class a new proxy is pickled as, when it did not arrive pickled as one: SyncManager's for
 * its typeid (or, for a ListProxy or DictProxy, for its TypeScript class) when its exposed names say the server
 * registered it so, else AutoProxy.
 */
function defaultPythonProxyType(proxy: ManagerProxy, typeid: string): PyGlobal {
  const known =
    SYNC_MANAGER_PROXY_TYPES.get(typeid) ??
    SYNC_MANAGER_PROXY_TYPES.get(
      proxy instanceof ListProxy ? 'list' : proxy instanceof DictProxy ? 'dict' : '',
    );
  return known?.exposes.every((method) => proxy.exposed.includes(method))
    ? new PyGlobal(MANAGERS_MODULE, known.name)
    : AUTO_PROXY;
}

/**
 * A handle on one object in a manager server, like Python's `BaseProxy`/`AutoProxy`. `call` runs any exposed
 * method; the subclasses add typed helpers. Release it with `release()` or `await using`.
 */
export class ManagerProxy {
  /** Which object this is: typeid, the server address this client uses, and the server's hex ident. */
  readonly token: ManagerToken;
  /** The method names the server lets this proxy call (the server's list; it differs across Python versions). */
  readonly exposed: readonly string[];
  /**
   * The Python proxy class this proxy is pickled as when sent to the server or to Python clients (inside a
   * value stored in a dict, put on a queue...): the class it came in as, or the one SyncManager registers its
   * typeid with (`NamespaceProxy` for `Namespace`, `AcquirerProxy` for `Lock`...), else `AutoProxy`.
   */
  readonly pythonProxyType: PyGlobal;
  readonly #host: ProxyHost;
  #released = false;

  /**
   * Proxies come from `ManagerClient.create` and its typed variants, not from user code; a subclass's
   * constructor hands these on to `super`.
   */
  constructor(host: ProxyHost, token: ManagerToken, exposed: readonly string[], pythonProxyType?: PyGlobal) {
    this.#host = host;
    this.token = token;
    this.exposed = exposed;
    this.pythonProxyType = pythonProxyType ?? defaultPythonProxyType(this, token.typeid);
  }

  /** True once `release()` has run; further calls throw ManagerClosedError. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Calls `methodName(*args, **kwargs)` on the remote object. Resolves with the `#RETURN` value, or a new
   * {@link ManagerProxy} for methods the server maps to a typeid (`#PROXY`); rejects with a RemoteError.
   */
  call(
    methodName: string,
    args: readonly unknown[] = [],
    kwargs?: PythonKwargs,
    options?: ProxyCallOptions,
  ): Promise<unknown> {
    if (this.#released) {
      return Promise.reject(new ManagerClosedError(`proxy ${this.describe()} was released`));
    }
    // The proxy stays reachable until the reply is in: collected while its call waits for the channel, its
    // finalizer's decref (on a connection of its own) could reach the server first and free the object.
    return this.#host.callMethod(this.token, methodName, args, kwargs, options).finally(() => this);
  }

  /** A copy of the remote object itself (Python's `proxy._getvalue()`, the `#GETVALUE` request). */
  getValue(): Promise<unknown> {
    return this.call('#GETVALUE');
  }

  /**
   * Another proxy for the same object, holding its own reference (an `incref`), for handing to code that
   * releases it independently, as Python does when a proxy is copied or unpickled.
   */
  async share(): Promise<this> {
    if (this.#released) throw new ManagerClosedError(`proxy ${this.describe()} was released`);
    await this.#host.incref(this.token);
    const ctor = this.constructor as ProxyClass<this>;
    const copy = new ctor(this.#host, this.token, this.exposed, this.pythonProxyType);
    this.#host.adopt(copy);
    return copy;
  }

  /**
   * The same remote object through a typed proxy class, e.g. `proxy.as(QueueProxy)`. The reference moves to the
   * returned proxy (no round trip) and this one counts as released.
   */
  as<P extends ManagerProxy>(proxyClass: ProxyClass<P>): P {
    if (this.#released) throw new ManagerClosedError(`proxy ${this.describe()} was released`);
    const typed = new proxyClass(this.#host, this.token, this.exposed, this.pythonProxyType);
    this.#host.transfer(this, typed);
    this.#released = true;
    return typed;
  }

  /** Drops this proxy's server reference (`decref`). Idempotent; the object dies when no reference is left. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#host.releaseReference(this);
  }

  /** @internal Marks the proxy released without a decref (the client is gone, or another handle released it). */
  markReleased(): void {
    this.#released = true;
  }

  /** `await using queue = await manager.queue('get_queue')` releases the reference at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** `typeid id=...` for messages. */
  describe(): string {
    return `${this.token.typeid} id=${this.token.id}`;
  }
}

/** How long a blocking queue call may wait. `timeout` is in seconds, as in Python. */
export interface QueueWaitOptions extends ProxyCallOptions {
  /** False for the non-blocking form (`queue.Empty`/`queue.Full` at once). Default true. */
  readonly block?: boolean;
  /**
   * Seconds to wait before `queue.Empty`/`queue.Full`. Without it a blocking call waits for ever and ties up the
   * client's method channel meanwhile (closing the socket does not cancel it on the server). `null` is no
   * timeout, as Python's `timeout=None`.
   */
  readonly timeout?: number | null;
}

/**
 * A queue call's timeout as Python takes it. NaN is refused here: the server's `queue.get(timeout=nan)`
 * never returns (every comparison with NaN is false), tying up a server thread for good. A negative timeout
 * goes on, so that the server raises its own ValueError.
 */
function queueTimeout(timeout: number | null | undefined): number | null {
  if (timeout === undefined || timeout === null) return null;
  if (Number.isNaN(timeout) || timeout === Number.POSITIVE_INFINITY) {
    // 3.x servers answer an infinite timeout with OverflowError; 2.7's wait for ever.
    throw new RangeError(
      `timeout must be a finite number of seconds, got ${timeout} (the server's queue would wait for ever or ` +
        'refuse it); pass null to wait without a limit',
    );
  }
  // Anything but a number: a TypeError, as for every timeout.
  secondsToMilliseconds(timeout);
  return timeout;
}

/** A proxy for a `queue.Queue` (SyncManager's `Queue`/`JoinableQueue`, or a registered `get_queue`). */
export class QueueProxy<T = unknown> extends ManagerProxy {
  /** `put(item, block, timeout)`. Rejects with `err.isQueueFull` when a bounded queue stays full. */
  async put(item: T, options: QueueWaitOptions = {}): Promise<void> {
    const timeout = queueTimeout(options.timeout);
    await this.call('put', [item, options.block ?? true, timeout], undefined, options);
  }

  /** `get(block, timeout)`. Rejects with `err.isQueueEmpty` when nothing arrives in time. */
  async get(options: QueueWaitOptions = {}): Promise<T> {
    const timeout = queueTimeout(options.timeout);
    return (await this.call('get', [options.block ?? true, timeout], undefined, options)) as T;
  }

  /** `put_nowait(item)`. */
  async putNowait(item: T): Promise<void> {
    await this.call('put_nowait', [item]);
  }

  /** `get_nowait()`: rejects at once with `err.isQueueEmpty` on an empty queue. */
  async getNowait(): Promise<T> {
    return (await this.call('get_nowait')) as T;
  }

  /** `qsize()`: approximate, as in Python. */
  async qsize(): Promise<number> {
    return Number(await this.call('qsize'));
  }

  /** `empty()`. */
  async empty(): Promise<boolean> {
    return (await this.call('empty')) === true;
  }

  /** `full()`. */
  async full(): Promise<boolean> {
    return (await this.call('full')) === true;
  }

  /** `task_done()`. */
  async taskDone(): Promise<void> {
    await this.call('task_done');
  }

  /** `join()`: blocks the channel until every item has been marked done. */
  async join(): Promise<void> {
    await this.call('join');
  }
}

/** A proxy for a remote `dict` (SyncManager's `dict`, Python's DictProxy). */
export class DictProxy<K = unknown, V = unknown> extends ManagerProxy {
  /** `d[key]`; rejects with `pythonType === 'builtins.KeyError'` when missing. */
  async getItem(key: K): Promise<V> {
    return (await this.call('__getitem__', [key])) as V;
  }

  /** `d.get(key, fallback)`. */
  async get(key: K, fallback: V | null = null): Promise<V | null> {
    return (await this.call('get', [key, fallback])) as V | null;
  }

  /** `d[key] = value`. */
  async set(key: K, value: V): Promise<void> {
    await this.call('__setitem__', [key, value]);
  }

  /** `del d[key]`. */
  async delete(key: K): Promise<void> {
    await this.call('__delitem__', [key]);
  }

  /** `key in d`. */
  async has(key: K): Promise<boolean> {
    return (await this.call('__contains__', [key])) === true;
  }

  /** `len(d)`. */
  async size(): Promise<number> {
    return Number(await this.call('__len__'));
  }

  /** `list(d.keys())` (the server sends views as lists). */
  async keys(): Promise<K[]> {
    return [...((await this.call('keys')) as Iterable<K>)];
  }

  /** `d.pop(key)`. */
  async pop(key: K): Promise<V> {
    return (await this.call('pop', [key])) as V;
  }

  /** `d.update(entries)`. */
  async update(entries: ReadonlyMap<K, V>): Promise<void> {
    await this.call('update', [entries]);
  }

  /** `d.clear()`. */
  async clear(): Promise<void> {
    await this.call('clear');
  }

  /** `d.copy()`: a snapshot of the whole dict. */
  async copy(): Promise<unknown> {
    return this.call('copy');
  }
}

/** A proxy for a remote `list` (SyncManager's `list`, Python's ListProxy). */
export class ListProxy<T = unknown> extends ManagerProxy {
  /** `l.append(item)`. */
  async append(item: T): Promise<void> {
    await this.call('append', [item]);
  }

  /** `l.extend(items)`. */
  async extend(items: readonly T[]): Promise<void> {
    await this.call('extend', [items]);
  }

  /** `l[index]` (negative indexes count from the end); rejects with `builtins.IndexError` out of range. */
  async getItem(index: number): Promise<T> {
    return (await this.call('__getitem__', [index])) as T;
  }

  /** `l[index] = item`. */
  async setItem(index: number, item: T): Promise<void> {
    await this.call('__setitem__', [index, item]);
  }

  /** `len(l)`. */
  async size(): Promise<number> {
    return Number(await this.call('__len__'));
  }

  /** `l.pop()` or `l.pop(index)`. */
  async pop(index?: number): Promise<T> {
    return (await this.call('pop', index === undefined ? [] : [index])) as T;
  }

  /** `l.insert(index, item)`. */
  async insert(index: number, item: T): Promise<void> {
    await this.call('insert', [index, item]);
  }

  /** `l.remove(item)`: rejects with `builtins.ValueError` when absent. */
  async remove(item: T): Promise<void> {
    await this.call('remove', [item]);
  }

  /** A copy of the whole list (`#GETVALUE`). */
  async toArray(): Promise<T[]> {
    return [...((await this.getValue()) as Iterable<T>)];
  }
}
