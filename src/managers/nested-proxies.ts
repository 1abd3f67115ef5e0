/**
 * Proxies inside values. Python pickles a proxy as `RebuildProxy(proxytype, token, serializer, kwds)`, so a
 * proxy can be stored in a SyncManager dict or list, or put on a queue, and comes back as a proxy. These
 * walks turn {@link ManagerProxy} objects into that form on the way out, and that form into proxies on the way in.
 */
import { PyGlobal, PyObject, PyTuple } from '../codec/values.js';
import { ManagerProtocolError } from './errors.js';
import { exposedNames } from './messages.js';
import { AUTO_PROXY, DictProxy, ListProxy, ManagerProxy, type ProxyClass } from './proxy.js';
import { type ReceivedToken, tokenFromPickle, tokenToPickle } from './token.js';

const MANAGERS_MODULE = 'multiprocessing.managers';

/** Python proxy classes that have a typed TypeScript counterpart; any other proxy becomes a ManagerProxy. */
const TYPED_PROXY_CLASSES: ReadonlyMap<string, ProxyClass<ManagerProxy>> = new Map<
  string,
  ProxyClass<ManagerProxy>
>([
  ['ListProxy', ListProxy],
  ['DictProxy', DictProxy],
]);

/** A proxy found in a received value, before the client has taken its reference. */
export interface ReceivedProxy {
  readonly token: ReceivedToken;
  /** The exposed names the pickle carried (AutoProxy); empty for typed Python proxy classes, which carry none. */
  readonly exposed: readonly string[];
  readonly proxyClass: ProxyClass<ManagerProxy>;
  /** The Python proxy class it was pickled as, which it is pickled as again. */
  readonly pythonProxyType: PyGlobal;
}

/** Turns a received proxy into a live one; the client increfs, as Python's RebuildProxy does. */
export type ProxyAdopter = (received: ReceivedProxy) => Promise<ManagerProxy>;

function isRebuildProxy(value: unknown): value is PyObject {
  return (
    value instanceof PyObject &&
    value.callable instanceof PyGlobal &&
    value.callable.module === MANAGERS_MODULE &&
    value.callable.name === 'RebuildProxy'
  );
}

function readRebuildProxy(value: PyObject): ReceivedProxy {
  const [proxyType, token, , kwds] = value.args;
  if (!(proxyType instanceof PyGlobal))
    throw new ManagerProtocolError('RebuildProxy needs a proxy type global');
  const exposedValue =
    kwds instanceof Map ? kwds.get('exposed') : (kwds as Record<string, unknown> | null)?.exposed;
  return {
    token: tokenFromPickle(token),
    exposed: exposedValue === undefined || exposedValue === null ? [] : exposedNames(exposedValue),
    proxyClass:
      (proxyType.module === MANAGERS_MODULE ? TYPED_PROXY_CLASSES.get(proxyType.name) : undefined) ??
      ManagerProxy,
    pythonProxyType: proxyType,
  };
}

/**
 * Python's pickled form of a proxy: its Python proxy class (AutoProxy with the exposed names, which it builds
 * its methods from; a typed class such as NamespaceProxy or ListProxy with none, as Python writes them).
 */
function proxyToPickle(proxy: ManagerProxy): PyObject {
  const proxyType = proxy.pythonProxyType;
  const kwds = new Map<string, unknown>();
  if (proxyType.module === AUTO_PROXY.module && proxyType.name === AUTO_PROXY.name) {
    kwds.set('exposed', PyTuple.fromItems(proxy.exposed));
  }
  return new PyObject('reduce', new PyGlobal(MANAGERS_MODULE, 'RebuildProxy'), [
    proxyType,
    tokenToPickle(proxy.token),
    'pickle',
    kwds,
  ]);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every ManagerProxy inside arrays, tuples, plain objects and Maps replaced by its pickled form.
 * Containers without proxies are returned as they are, so the common case copies nothing.
 */
export function proxiesToPickle(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (value instanceof ManagerProxy) return proxyToPickle(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  seen.set(value, value);
  let result: unknown = value;
  if (Array.isArray(value)) {
    const items = value.map((item) => proxiesToPickle(item, seen));
    if (items.some((item, i) => item !== value[i])) {
      result = value instanceof PyTuple ? PyTuple.fromItems(items) : items;
    }
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [k, proxiesToPickle(v, seen)] as const);
    if (entries.some(([k, v]) => v !== value.get(k))) result = new Map(entries);
  } else if (isPlainObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => [k, proxiesToPickle(v, seen)] as const);
    if (entries.some(([k, v]) => v !== value[k])) result = Object.fromEntries(entries);
  }
  seen.set(value, result);
  return result;
}

/** True when a decoded value holds a pickled proxy anywhere inside. */
function containsRebuildProxy(value: unknown, seen: Set<object>): boolean {
  if (isRebuildProxy(value)) return true;
  if (value === null || typeof value !== 'object' || seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) return value.some((item) => containsRebuildProxy(item, seen));
  if (value instanceof Map) return [...value.values()].some((item) => containsRebuildProxy(item, seen));
  if (isPlainObject(value)) return Object.values(value).some((item) => containsRebuildProxy(item, seen));
  return false;
}

/**
 * A decoded value with every pickled proxy replaced by a live proxy from `adopt`. Decoded containers are
 * fresh objects, so lists, objects and Maps are updated in place; frozen tuples are rebuilt.
 */
export async function proxiesFromPickle(value: unknown, adopt: ProxyAdopter): Promise<unknown> {
  if (!containsRebuildProxy(value, new Set())) return value;
  const done = new Map<object, unknown>();
  const visit = async (item: unknown): Promise<unknown> => {
    if (isRebuildProxy(item)) {
      if (!done.has(item)) done.set(item, await adopt(readRebuildProxy(item)));
      return done.get(item);
    }
    if (item === null || typeof item !== 'object') return item;
    if (done.has(item)) return done.get(item);
    done.set(item, item);
    if (item instanceof PyTuple) {
      const items: unknown[] = [];
      for (const element of item) items.push(await visit(element));
      const rebuilt = PyTuple.fromItems(items);
      done.set(item, rebuilt);
      return rebuilt;
    }
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) item[i] = await visit(item[i]);
    } else if (item instanceof Map) {
      for (const [k, v] of item) item.set(k, await visit(v));
    } else if (isPlainObject(item)) {
      for (const k of Object.keys(item)) item[k] = await visit(item[k]);
    }
    return item;
  };
  return visit(value);
}
