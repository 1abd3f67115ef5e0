/**
 * Proxies inside values. Python pickles a proxy as `RebuildProxy(proxytype, token, serializer, kwds)`, so a
 * proxy can be stored in a SyncManager dict or list, or put on a queue, and comes back as a proxy. These
 * walks turn {@link ManagerProxy} objects into that form on the way out, and that form into proxies on the way in.
 */
import { PyFrozenSet, PyGlobal, PyObject, PyTuple } from '../codec/values.js';
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
 * `value` with every ManagerProxy inside arrays, tuples, plain objects, Maps (keys and values), Sets, frozensets
 * and the parts of PyObject placeholders replaced by its pickled form. Containers without proxies are returned
 * as they are, so the common case copies nothing.
 */
export function proxiesToPickle(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (value instanceof ManagerProxy) {
    // One pickled form per proxy, so a proxy met twice is one object in the pickle, as in Python's.
    const pickled = proxyToPickle(value);
    seen.set(value, pickled);
    return pickled;
  }
  seen.set(value, value);
  const walk = (item: unknown): unknown => proxiesToPickle(item, seen);
  let result: unknown = value;
  if (Array.isArray(value)) {
    const items = value.map(walk);
    if (items.some((item, i) => item !== value[i])) {
      result = value instanceof PyTuple ? PyTuple.fromItems(items) : items;
    }
  } else if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [walk(k), walk(v)] as const);
    if (entries.some(([k, v]) => !value.has(k) || v !== value.get(k))) result = new Map(entries);
  } else if (value instanceof Set) {
    const items = [...value].map(walk);
    if (items.some((item) => !value.has(item))) {
      result = value instanceof PyFrozenSet ? new PyFrozenSet(items) : new Set(items);
    }
  } else if (value instanceof PyObject) {
    result = rebuiltPlaceholder(value, walk);
  } else if (isPlainObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => [k, walk(v)] as const);
    if (entries.some(([k, v]) => v !== value[k])) result = Object.fromEntries(entries);
  }
  seen.set(value, result);
  return result;
}

/** The placeholder with `walk` applied to its arguments, state and items; itself when nothing changed. */
function rebuiltPlaceholder(value: PyObject, walk: (item: unknown) => unknown): PyObject {
  const args = value.args.map(walk);
  const kwargs = value.kwargs && new Map([...value.kwargs].map(([k, v]) => [k, walk(v)] as const));
  const state = walk(value.state);
  const listItems = value.listItems.map(walk);
  const dictItems = value.dictItems.map(([k, v]) => [walk(k), walk(v)] as [unknown, unknown]);
  const changed =
    args.some((item, i) => item !== value.args[i]) ||
    (kwargs !== undefined && [...kwargs].some(([k, v]) => v !== value.kwargs!.get(k))) ||
    state !== value.state ||
    listItems.some((item, i) => item !== value.listItems[i]) ||
    dictItems.some(([k, v], i) => k !== value.dictItems[i]![0] || v !== value.dictItems[i]![1]);
  if (!changed) return value;
  const copy = new PyObject(value.kind, value.callable, PyTuple.fromItems(args), kwargs);
  copy.state = state;
  copy.listItems.push(...listItems);
  copy.dictItems.push(...dictItems);
  return copy;
}

/** True when a decoded value holds a pickled proxy anywhere inside. */
function containsRebuildProxy(value: unknown, seen: Set<object>): boolean {
  if (isRebuildProxy(value)) return true;
  if (value === null || typeof value !== 'object' || seen.has(value)) return false;
  seen.add(value);
  const inside = (item: unknown): boolean => containsRebuildProxy(item, seen);
  if (Array.isArray(value)) return value.some(inside);
  if (value instanceof Map) return [...value].some(([k, v]) => inside(k) || inside(v));
  if (value instanceof Set) return [...value].some(inside);
  if (value instanceof PyObject) {
    return (
      value.args.some(inside) ||
      [...(value.kwargs?.values() ?? [])].some(inside) ||
      inside(value.state) ||
      value.listItems.some(inside) ||
      value.dictItems.some(([k, v]) => inside(k) || inside(v))
    );
  }
  if (isPlainObject(value)) return Object.values(value).some(inside);
  return false;
}

/**
 * A decoded value with every pickled proxy replaced by a live proxy from `adopt`. Decoded containers are
 * fresh objects, so lists, objects, Maps, Sets and placeholders' state and items are updated in place; frozen
 * tuples and frozensets, and placeholders whose arguments hold a proxy, are rebuilt.
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
    const visitAll = async (items: Iterable<unknown>): Promise<unknown[]> => {
      const out: unknown[] = [];
      for (const element of items) out.push(await visit(element));
      return out;
    };
    if (item instanceof PyTuple) {
      const rebuilt = PyTuple.fromItems(await visitAll(item));
      done.set(item, rebuilt);
      return rebuilt;
    }
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) item[i] = await visit(item[i]);
    } else if (item instanceof Map) {
      const entries: [unknown, unknown][] = [];
      for (const [k, v] of item) entries.push([await visit(k), await visit(v)]);
      item.clear();
      for (const [k, v] of entries) item.set(k, v);
    } else if (item instanceof PyFrozenSet) {
      const rebuilt = new PyFrozenSet(await visitAll(item));
      done.set(item, rebuilt);
      return rebuilt;
    } else if (item instanceof Set) {
      const items = await visitAll(item);
      item.clear();
      for (const element of items) item.add(element);
    } else if (item instanceof PyObject) {
      const args = await visitAll(item.args);
      if (args.some((arg, i) => arg !== item.args[i])) {
        const rebuilt = new PyObject(item.kind, item.callable, PyTuple.fromItems(args), item.kwargs);
        done.set(item, rebuilt);
        rebuilt.state = item.state;
        rebuilt.listItems.push(...item.listItems);
        rebuilt.dictItems.push(...item.dictItems);
        return visitParts(rebuilt, visit);
      }
      return visitParts(item, visit);
    } else if (isPlainObject(item)) {
      for (const k of Object.keys(item)) item[k] = await visit(item[k]);
    }
    return item;
  };
  return visit(value);
}

/** A placeholder's keyword arguments, state and items visited in place. */
async function visitParts(item: PyObject, visit: (value: unknown) => Promise<unknown>): Promise<PyObject> {
  if (item.kwargs) for (const [k, v] of item.kwargs) item.kwargs.set(k, await visit(v));
  item.state = await visit(item.state);
  for (let i = 0; i < item.listItems.length; i++) item.listItems[i] = await visit(item.listItems[i]);
  for (const pair of item.dictItems) {
    pair[0] = await visit(pair[0]);
    pair[1] = await visit(pair[1]);
  }
  return item;
}
