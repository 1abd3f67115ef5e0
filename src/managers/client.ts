/**
 * A client of a CPython `multiprocessing.managers` server (`BaseManager`, `SyncManager`, or any subclass),
 * speaking the protocol exactly as Python's own client does:
 *
 * - public functions (`create`, `incref`, `decref`, `shutdown`, ...) each go on a fresh, freshly
 *   authenticated connection that carries that one request;
 * - method calls go on one long-lived channel opened with `accept_connection`, where requests and replies
 *   alternate strictly, so calls are queued and sent one at a time.
 */
import { Client } from '../transport/client.js';
import { type ConnectionOptions, checkConnectionOptions } from '../transport/connection.js';
import { EOFError } from '../transport/errors.js';
import { ManagerClosedError, ManagerProtocolError } from './errors.js';
import {
  buildRequest,
  expectReturn,
  type ManagerReply,
  type PythonKwargs,
  parseCreateResult,
  parseReply,
  replyToError,
} from './messages.js';
import { proxiesFromPickle, proxiesToPickle, type ReceivedProxy } from './nested-proxies.js';
import {
  DictProxy,
  ListProxy,
  ManagerProxy,
  type ProxyCallOptions,
  type ProxyClass,
  type ProxyHost,
  QueueProxy,
} from './proxy.js';
import { type ManagerAddress, type ManagerToken, rewriteTokenAddress, tokenToPickle } from './token.js';

/** The part of a transport `Connection` the managers client uses. */
export interface ManagerConnection {
  send(message: unknown): Promise<void> | void;
  recv(): Promise<unknown>;
  close(): Promise<void> | void;
  /** Keeps the process alive while a call runs on it (the transport's `Connection.ref`); optional. */
  ref?(): void;
  /** Lets the process exit while it sits idle between calls (`Connection.unref`); optional. */
  unref?(): void;
}

/** Opens an authenticated connection to the server; the default uses the transport's `Client`. */
export type ManagerConnector = (address: ManagerAddress) => Promise<ManagerConnection>;

/** Options of {@link connectManager}. */
export interface ManagerClientOptions extends ConnectionOptions {
  /** The server's authkey (`BaseManager(authkey=...)`); a string is taken as UTF-8. Required: managers always authenticate. */
  readonly authkey: Uint8Array | string;
  /** Only `'pickle'` is supported; `'xmlrpclib'` servers cannot carry Tokens or exceptions. */
  readonly serializer?: 'pickle';
  /**
   * Pickle protocol of the requests (default 4). Pass `2` for a Python 2.7 server, which cannot read protocol 3
   * or higher: the handshake does not reveal the server's version, so mpwire does not guess.
   */
  readonly protocol?: number;
  /** The name `accept_connection` gives the server thread serving this client's method calls. */
  readonly channelName?: string;
  /** Replaces the transport, e.g. to add TLS or logging; receives the address each fresh connection goes to. */
  readonly connect?: ManagerConnector;
  /**
   * Seconds each connection may take to connect and authenticate (the transport's `Client` timeout), as a
   * server that accepts but never authenticates would otherwise hold a call for ever. It does not bound the
   * call itself: abort one with its `signal`. Default (and `null`): none, as Python.
   */
  readonly timeout?: number | null;
}

/**
 * Connects to a manager server and checks that it answers (Python's `BaseManager.connect()`, the `dummy`
 * request). Rejects with `AuthenticationError` on a wrong authkey.
 *
 * ```ts
 * const manager = await connectManager(['127.0.0.1', 50000], { authkey: 'secret' });
 * const queue = await manager.queue('get_queue');   // QueueManager.register('get_queue') in Python
 * const item = await queue.get({ timeout: 5 });
 * ```
 */
export async function connectManager(
  address: ManagerAddress,
  options: ManagerClientOptions,
): Promise<ManagerClient> {
  const client = new ManagerClient(address, options);
  await client.callPublic('dummy');
  return client;
}

/** Fresh authenticated connections, as Python's `Client(address, authkey=...)`. */
function transportConnector(options: ManagerClientOptions): ManagerConnector {
  const {
    authkey,
    serializer: _serializer,
    channelName: _channelName,
    connect: _connect,
    ...connection
  } = options;
  return (address) => Client(address, { ...connection, authkey });
}

/** Arguments with any proxies inside replaced by Python's pickled proxy form. */
function proxiesInArgs(args: readonly unknown[]): readonly unknown[] {
  return proxiesToPickle(args) as readonly unknown[];
}

function proxiesInKwargs(kwargs: PythonKwargs | undefined): PythonKwargs | undefined {
  return kwargs === undefined ? undefined : (proxiesToPickle(kwargs) as PythonKwargs);
}

/** A call waiting for its turn on the method channel: `run` it, or `fail` it without running. */
interface ChannelTask {
  readonly run: () => Promise<void>;
  readonly fail: (error: unknown) => void;
}

/** A reference this client holds on the server, for a proxy that may already have been collected. */
interface HeldReference {
  readonly token: ManagerToken;
  readonly proxy: WeakRef<ManagerProxy>;
}

/**
 * Fresh connections (public functions: create, incref, decref, ...) open at once to one server from this
 * process, at most, however many clients it has of that server. CPython 3.8–3.12 managers listen with a
 * backlog of 16; a burst beyond it leaves connections the server never accepts, whose clients wait for ever
 * for its challenge (Python's threads rarely burst that hard).
 */
const MAX_PUBLIC_CONNECTIONS = 8;

/** Fresh connections open to one server address, and the calls waiting for one to close. */
interface ConnectionSlots {
  open: number;
  readonly waiting: (() => void)[];
}

/**
 * Per server address (`host:port` or path), shared by every client of this process; an entry lives while a
 * connection to its server is open or awaited.
 */
const publicConnectionSlots = new Map<string, ConnectionSlots>();

function addressKey(address: ManagerAddress): string {
  return typeof address === 'string' ? address : `${address[0]}:${address[1]}`;
}

/**
 * Waits until fewer than MAX_PUBLIC_CONNECTIONS fresh connections to the server are open, and counts one more.
 * `cancelled` gives up the wait (rejecting with its error) when it settles first.
 */
async function takeConnectionSlot(key: string, cancelled?: Promise<never>): Promise<void> {
  let slots = publicConnectionSlots.get(key);
  if (slots === undefined) {
    slots = { open: 0, waiting: [] };
    publicConnectionSlots.set(key, slots);
  }
  while (slots.open >= MAX_PUBLIC_CONNECTIONS) {
    const waiting = slots;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
      waiting.waiting.push(resolve);
    });
    try {
      await (cancelled ? Promise.race([woken, cancelled]) : woken);
    } catch (error) {
      const at = waiting.waiting.indexOf(wake);
      if (at >= 0) waiting.waiting.splice(at, 1);
      throw error;
    }
  }
  slots.open++;
}

function giveConnectionSlot(key: string): void {
  const slots = publicConnectionSlots.get(key)!;
  slots.open--;
  const next = slots.waiting.shift();
  if (next) next();
  else if (slots.open === 0) publicConnectionSlots.delete(key);
}

/** ManagerClientOptions beyond a connection's; a record of every key, so that one added there and not here fails to compile. */
const MANAGER_CLIENT_OPTION_NAMES: readonly string[] = Object.keys({
  authkey: true,
  serializer: true,
  channelName: true,
  connect: true,
  timeout: true,
} satisfies Record<Exclude<keyof ManagerClientOptions, keyof ConnectionOptions>, true>);

/** The failure of a call close() dropped before it ran. */
function closedBeforeRun(): ManagerClosedError {
  return new ManagerClosedError('the manager client was closed before this call ran');
}

/** How long close() waits for public calls already under way (a create, an incref) to bring their references. */
const CLOSE_WAIT_SECONDS = 10;

/**
 * A connection to one manager server. Create proxies with {@link create} or the typed {@link queue},
 * {@link dict} and {@link list}; close it (or `await using`) to release every proxy still held.
 */
export class ManagerClient implements ProxyHost {
  /** The address given to `connectManager`; proxies' Tokens are rewritten to it. */
  readonly address: ManagerAddress;
  readonly #connect: ManagerConnector;
  readonly #channelName: string;
  /** References held for proxies, without keeping the proxies alive: a collected one is decref'd. */
  readonly #held = new Set<HeldReference>();
  readonly #heldBy = new WeakMap<ManagerProxy, HeldReference>();
  readonly #finalizer = new FinalizationRegistry<HeldReference>((held) => this.#decrefCollected(held));
  #channel: Promise<ManagerConnection> | undefined;
  #channelQueue: ChannelTask[] = [];
  #channelBusy = false;
  /** Rejects when close() starts: calls still waiting for a connection slot then give up. */
  readonly #closeStarted: Promise<never>;
  #startClose: (error: Error) => void = () => undefined;
  /** Public-function calls running, settled or not; close() waits for them. */
  readonly #publicInFlight = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(address: ManagerAddress, options: ManagerClientOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError("a manager client needs options with at least the server's authkey: { authkey }");
    }
    checkConnectionOptions(options, MANAGER_CLIENT_OPTION_NAMES);
    if (options.serializer !== undefined && options.serializer !== 'pickle') {
      throw new TypeError(
        `unsupported manager serializer ${JSON.stringify(options.serializer)}; only 'pickle' is supported`,
      );
    }
    if (options.connect === undefined && (options.authkey === undefined || options.authkey === null)) {
      // Without a key the server's challenge would be read as a pickle: "invalid load key, '#'".
      throw new TypeError(
        "a manager client needs the server's authkey (BaseManager(authkey=...), by default the server " +
          "process's current_process().authkey): manager servers always authenticate",
      );
    }
    this.address = address;
    this.#closeStarted = new Promise<never>((_, reject) => {
      this.#startClose = reject;
    });
    this.#closeStarted.catch(() => undefined);
    this.#connect = options.connect ?? transportConnector(options);
    this.#channelName = options.channelName ?? `mpwire-${process.pid}`;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Creates an object of a registered typeid on the server (Python's `manager.<typeid>(*args, **kwargs)`, e.g.
   * `manager.get_queue()` is `create('get_queue')`). The proxy owns the reference `create` takes.
   */
  async create(typeid: string, args: readonly unknown[] = [], kwargs?: PythonKwargs): Promise<ManagerProxy> {
    return this.#createAs(ManagerProxy, typeid, args, kwargs);
  }

  /** {@link create} with a {@link QueueProxy}: `Queue` (SyncManager) or the typeid a server registered, e.g. `get_queue`. */
  queue<T = unknown>(typeid = 'Queue', args: readonly unknown[] = []): Promise<QueueProxy<T>> {
    return this.#createAs(QueueProxy<T>, typeid, args);
  }

  /** {@link create} with a {@link DictProxy} (SyncManager `dict`); `args` as for Python's `dict(...)`. */
  dict<K = unknown, V = unknown>(typeid = 'dict', args: readonly unknown[] = []): Promise<DictProxy<K, V>> {
    return this.#createAs(DictProxy<K, V>, typeid, args);
  }

  /** {@link create} with a {@link ListProxy} (SyncManager `list`); `args` as for Python's `list(...)`. */
  list<T = unknown>(typeid = 'list', args: readonly unknown[] = []): Promise<ListProxy<T>> {
    return this.#createAs(ListProxy<T>, typeid, args);
  }

  /**
   * Runs one of the server's public functions (`dummy`, `create`, `incref`, `decref`, `number_of_objects`,
   * `debug_info`, `get_methods`, ...) on a fresh connection, as Python does, and returns its result.
   */
  async callPublic(name: string, args: readonly unknown[] = [], kwargs?: PythonKwargs): Promise<unknown> {
    this.#assertOpen();
    return this.#runPublic(name, args, kwargs);
  }

  /**
   * A public call on a fresh connection, once a slot is free. A call that only brings a reference (any but a
   * decref) is dropped when the client started closing while it waited for its slot; once under way, close()
   * waits for it (a create or incref brings a reference it must give back).
   */
  async #runPublic(
    name: string,
    args: readonly unknown[],
    kwargs: PythonKwargs | undefined,
    givesBack = name === 'decref',
  ): Promise<unknown> {
    let underWay: (() => void) | undefined;
    const track = (): void => {
      const settled = new Promise<void>((resolve) => {
        underWay = resolve;
      });
      this.#publicInFlight.add(settled);
      void settled.then(() => this.#publicInFlight.delete(settled));
    };
    // A decref counts from the start, so that close() waits for one adopt() began while it was closing.
    if (givesBack) track();
    const key = addressKey(this.address);
    // Any other call still waiting for a slot when close() starts is dropped.
    await takeConnectionSlot(key, givesBack ? undefined : this.#closeStarted);
    try {
      if (this.#closing && !givesBack) throw closedBeforeRun();
      if (!givesBack) track();
      const connection = await this.#connect(this.address);
      try {
        await connection.send(buildRequest(null, name, args, kwargs));
        return expectReturn(parseReply(await connection.recv()));
      } finally {
        await connection.close();
      }
    } finally {
      giveConnectionSlot(key);
      // Settled after the caller's continuation has had its turn (it adopts, or gives back).
      if (underWay) setImmediate(underWay);
    }
  }

  /** How many objects the server holds references to (`number_of_objects`). */
  async numberOfObjects(): Promise<number> {
    return Number(await this.callPublic('number_of_objects'));
  }

  /** The server's table of idents, refcounts and object descriptions (`debug_info`). */
  async debugInfo(): Promise<string> {
    return String(await this.callPublic('debug_info'));
  }

  /** The exposed method names of an object (`get_methods`). */
  async getMethods(token: ManagerToken): Promise<readonly string[]> {
    const names = await this.callPublic('get_methods', [tokenToPickle(token)]);
    if (!Array.isArray(names)) throw new ManagerProtocolError('get_methods must return a sequence');
    return names.map(String);
  }

  /**
   * Stops the server (`shutdown`) and closes this client without releasing proxies (their objects die with
   * the server). Python 3 replies twice and 2.7 once before exiting; the first reply, or EOF, is enough.
   */
  async shutdown(): Promise<void> {
    this.#assertOpen();
    const connection = await this.#connect(this.address);
    try {
      await connection.send(buildRequest(null, 'shutdown'));
      try {
        expectReturn(parseReply(await connection.recv()));
      } catch (error) {
        // A server already exiting (2.7 calls os._exit right after replying) may close before we read.
        if (!(error instanceof EOFError)) throw error;
      }
    } finally {
      await connection.close();
    }
    for (const held of [...this.#held]) this.#forgetHeld(held);
    await this.close();
  }

  /**
   * Fails the method calls still waiting for the channel with ManagerClosedError (they never run), releases
   * every proxy still held (one `decref` each), then closes the method channel, which fails a call running on
   * it with ManagerClosedError too. Idempotent: every call returns the first one's promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeOnce();
    return this.#closing;
  }

  async #closeOnce(): Promise<void> {
    const notRun = closedBeforeRun();
    this.#startClose(notRun);
    for (const task of this.#channelQueue.splice(0)) task.fail(notRun);
    const releases = [...this.#held].map((held) => {
      const proxy = held.proxy.deref();
      if (proxy !== undefined) return proxy.release();
      // Collected, and its finalizer not run yet: give the reference back here.
      this.#forgetHeld(held);
      return this.callPublic('decref', [held.token.id]);
    });
    await Promise.allSettled(releases);
    // Public calls under way (a create, an incref) may bring references, which adopt() then gives back; a
    // server that does not answer holds close() for CLOSE_WAIT_SECONDS at most.
    const deadline = Date.now() + CLOSE_WAIT_SECONDS * 1000;
    while (this.#publicInFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.#publicInFlight]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
        }),
      ]);
      clearTimeout(timer);
    }
    this.#closed = true;
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) await channel.then((c) => c.close()).catch(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Runs a method on the channel; `#PROXY` replies become proxies of this client. */
  async callMethod(
    token: ManagerToken,
    methodName: string,
    args: readonly unknown[],
    kwargs?: PythonKwargs,
    options?: ProxyCallOptions,
  ): Promise<unknown> {
    this.#assertOpen();
    if (this.#closing) throw new ManagerClosedError('the manager client is closing');
    const request = buildRequest(token.id, methodName, proxiesInArgs(args), proxiesInKwargs(kwargs));
    const reply = await this.#exchangeOnChannel(request, options?.signal);
    if (reply.kind === '#RETURN') return proxiesFromPickle(reply.value, this.#adoptReceived);
    if (reply.kind === '#PROXY') {
      // The server already took a reference for us (create inside serve_client); the new proxy owns it.
      const proxy = new ManagerProxy(this, rewriteTokenAddress(reply.token, this.address), reply.exposed);
      this.adopt(proxy);
      return proxy;
    }
    throw replyToError(reply);
  }

  /** @internal `incref` on a fresh connection. */
  async incref(token: ManagerToken): Promise<void> {
    await this.callPublic('incref', [token.id]);
  }

  /** @internal */
  async releaseReference(proxy: ManagerProxy): Promise<void> {
    if (!this.#heldBy.has(proxy)) return;
    this.#forget(proxy);
    if (this.#closed) return;
    await this.callPublic('decref', [proxy.token.id]);
  }

  /**
   * @internal Records a proxy's reference. On a closing or closed client the reference is given back at once
   * (close() has already let go of the others, or is doing so) and ManagerClosedError thrown, so that nothing
   * is left held on the server.
   */
  adopt(proxy: ManagerProxy): void {
    if (this.#closing) {
      proxy.markReleased();
      this.#runPublic('decref', [proxy.token.id], undefined).catch(() => undefined);
      throw new ManagerClosedError(
        `the manager client was closed before ${proxy.describe()} arrived; its reference was given back`,
      );
    }
    const held: HeldReference = { token: proxy.token, proxy: new WeakRef(proxy) };
    this.#held.add(held);
    this.#heldBy.set(proxy, held);
    this.#finalizer.register(proxy, held, proxy);
  }

  /** @internal */
  transfer(from: ManagerProxy, to: ManagerProxy): void {
    this.#forget(from);
    this.adopt(to);
  }

  async #createAs<P extends ManagerProxy>(
    proxyClass: ProxyClass<P>,
    typeid: string,
    args: readonly unknown[],
    kwargs?: PythonKwargs,
  ): Promise<P> {
    const createArgs = [typeid, ...proxiesInArgs(args)];
    const { id, exposed } = parseCreateResult(
      await this.callPublic('create', createArgs, proxiesInKwargs(kwargs)),
    );
    const proxy = new proxyClass(this, { typeid, address: this.address, id }, exposed);
    this.adopt(proxy);
    return proxy;
  }

  /**
   * A proxy found inside a returned value: take a reference of our own, as Python's RebuildProxy does. It is
   * assumed to live on this server (SyncManager nesting), so its Token gets this client's address.
   */
  readonly #adoptReceived = async (received: ReceivedProxy): Promise<ManagerProxy> => {
    const token = rewriteTokenAddress(received.token, this.address);
    await this.incref(token);
    const proxy = new received.proxyClass(this, token, received.exposed, received.pythonProxyType);
    this.adopt(proxy);
    return proxy;
  };

  #forget(proxy: ManagerProxy): void {
    const held = this.#heldBy.get(proxy);
    if (held !== undefined) this.#forgetHeld(held);
  }

  #forgetHeld(held: HeldReference): void {
    this.#held.delete(held);
    const proxy = held.proxy.deref();
    if (proxy === undefined) return;
    this.#heldBy.delete(proxy);
    this.#finalizer.unregister(proxy);
    proxy.markReleased();
  }

  /** A proxy collected without release(): give its reference back, as Python's proxy finalizer does. */
  #decrefCollected(held: HeldReference): void {
    if (!this.#held.delete(held) || this.#closed) return;
    this.callPublic('decref', [held.token.id]).catch(() => undefined);
  }

  #assertOpen(): void {
    if (this.#closed) throw new ManagerClosedError('the manager client is closed');
  }

  /** Sends one request on the channel once every earlier call has had its reply. */
  #exchangeOnChannel(request: unknown, signal: AbortSignal | undefined): Promise<ManagerReply> {
    return new Promise<ManagerReply>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let running = false;
      const onAbort = (): void => {
        if (running) {
          // The reply can no longer be told apart from the next one's: this channel is done for.
          this.#dropChannel();
        } else {
          this.#channelQueue = this.#channelQueue.filter((queued) => queued !== task);
        }
        reject(signal!.reason);
      };
      const task: ChannelTask = {
        run: async () => {
          running = true;
          try {
            const channel = await this.#openChannel();
            channel.ref?.();
            await channel.send(request);
            resolve(parseReply(await channel.recv()));
          } catch (error) {
            // A failed send or recv leaves the stream at an unknown point: start a new channel next time.
            if (!(error instanceof ManagerProtocolError)) this.#dropChannel();
            reject(
              this.#closing
                ? new ManagerClosedError('the manager client was closed during this call', { cause: error })
                : error,
            );
          } finally {
            signal?.removeEventListener('abort', onAbort);
          }
        },
        fail: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#channelQueue.push(task);
      void this.#drainChannelQueue();
    });
  }

  async #drainChannelQueue(): Promise<void> {
    if (this.#channelBusy) return;
    this.#channelBusy = true;
    try {
      for (let task = this.#channelQueue.shift(); task; task = this.#channelQueue.shift()) await task.run();
    } finally {
      this.#channelBusy = false;
      // An idle method connection does not keep the process alive, as a Python client's does not.
      this.#channel?.then(
        (channel) => {
          if (!this.#channelBusy) channel.unref?.();
        },
        () => undefined,
      );
    }
  }

  #openChannel(): Promise<ManagerConnection> {
    if (this.#channel) return this.#channel;
    const opening = (async () => {
      const connection = await this.#connect(this.address);
      try {
        await connection.send(buildRequest(null, 'accept_connection', [this.#channelName]));
        expectReturn(parseReply(await connection.recv()));
      } catch (error) {
        await connection.close();
        throw error;
      }
      return connection;
    })();
    this.#channel = opening;
    opening.catch(() => {
      if (this.#channel === opening) this.#channel = undefined;
    });
    return opening;
  }

  #dropChannel(): void {
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) void channel.then((c) => c.close()).catch(() => undefined);
  }
}
