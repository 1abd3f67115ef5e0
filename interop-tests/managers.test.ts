/**
 * The managers client against real CPython manager servers (python-fixtures/manager_server.py), one per
 * interpreter found, all started at once and reused by every test of that interpreter.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectManager,
  ListProxy,
  type ManagerAddress,
  type ManagerClient,
  type ManagerClientOptions,
  ManagerClosedError,
  ManagerProxy,
  RemoteException,
  RemoteTracebackError,
  RemoteUnserializableError,
} from '../src/managers/index.js';
import { AuthenticationError } from '../src/transport/errors.js';
import { describePythons, findPythons, type PythonInterpreter } from './support/pythons.js';

const FIXTURES = join(import.meta.dirname, '..', 'python-fixtures');
// A collection on demand, to see proxies dropped without release() give their references back.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const AUTHKEY = 'mpwire-test';
const ITEM_COUNT = 200;
const pythons = findPythons();

interface RunningServer {
  readonly process: ChildProcess;
  readonly address: ManagerAddress;
}

/** Starts manager_server.py and waits for its READY line. Its stdin is ours: it exits if we die. */
async function startManagerServer(python: PythonInterpreter): Promise<RunningServer> {
  const child = spawn(python.executable, [join(FIXTURES, 'manager_server.py'), AUTHKEY], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const [ready, host, port] = line.split(' ');
  if (ready !== 'READY' || !host || !port) throw new Error(`manager_server.py said ${JSON.stringify(line)}`);
  return { process: child, address: [host, Number(port)] };
}

/** Python 2.7 cannot read pickle protocol 3+, and a handshake does not reveal the version: say it. */
function clientOptions(
  python: PythonInterpreter,
  overrides: Partial<ManagerClientOptions> = {},
): ManagerClientOptions {
  return { authkey: AUTHKEY, ...(python.version[0] === 2 ? { protocol: 2 } : {}), ...overrides };
}

function runProducer(python: PythonInterpreter, address: ManagerAddress, count: number): Promise<string> {
  const [host, port] = address as readonly [string, number];
  const child = spawn(
    python.executable,
    [join(FIXTURES, 'manager_producer.py'), host, String(port), AUTHKEY, String(count)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`producer exited ${code}`)),
    );
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

const servers = new Map<string, Promise<RunningServer>>();

beforeAll(() => {
  console.log(`managers interop against: ${describePythons(pythons)}`);
  for (const python of pythons) servers.set(python.label, startManagerServer(python));
});

afterAll(async () => {
  for (const started of servers.values()) {
    const server = await started.catch(() => undefined);
    if (server && server.process.exitCode === null) server.process.kill('SIGKILL');
  }
});

describe.each(pythons.map((p) => [p.label, p] as const))('manager server on Python %s', (label, python) => {
  let server: RunningServer;
  let manager: ManagerClient;

  beforeAll(async () => {
    server = await servers.get(label)!;
    manager = await connectManager(server.address, clientOptions(python));
  });

  afterAll(async () => {
    if (!manager.closed) await manager.close();
  });

  it('consumes every item a Python producer puts on a shared queue, in order', async () => {
    const queue = await manager.queue<{ seq: number; payload: string; square: number } | null>('get_queue');
    const produced = runProducer(python, server.address, ITEM_COUNT);
    const seen: number[] = [];
    for (;;) {
      const item = await queue.get({ timeout: 20 });
      if (item === null) break;
      expect(item).toEqual({ seq: item.seq, payload: `item-${item.seq}`, square: item.seq * item.seq });
      seen.push(item.seq);
    }
    expect(await produced).toBe(`PRODUCED ${ITEM_COUNT}\n`);
    expect(seen).toEqual(Array.from({ length: ITEM_COUNT }, (_, i) => i));
    expect(await queue.qsize()).toBe(0);
    await queue.release();
  });

  it('round-trips TypeScript values through a remote queue', async () => {
    const queue = await manager.queue('Queue');
    await queue.put('héllo');
    await queue.put([1, 2.5, null, true]);
    await queue.putNowait({ nested: { list: [1, 2, 3] } });
    expect(await queue.qsize()).toBe(3);
    expect(await queue.get()).toBe('héllo');
    expect(await queue.get({ timeout: 1 })).toEqual([1, 2.5, null, true]);
    expect(await queue.getNowait()).toEqual({ nested: { list: [1, 2, 3] } });
    expect(await queue.empty()).toBe(true);
    await queue.release();
  });

  it('reports get_nowait on an empty queue as queue.Empty, whatever the version spells it', async () => {
    const queue = await manager.queue('get_queue');
    const error = await rejection(queue.getNowait());
    expect(error).toBeInstanceOf(RemoteException);
    const remote = error as RemoteException;
    expect(remote.isQueueEmpty).toBe(true);
    expect(remote.pythonType).toBe('queue.Empty');
    // 2.7 sends Queue.Empty, which the decoder's fix_imports renames as Python 3's pickle.loads does.
    const expectedSpelling =
      python.version[0] === 3 && python.version[1] >= 7 ? '_queue.Empty' : 'queue.Empty';
    expect(remote.pythonTypeAsSent).toBe(expectedSpelling);
    // get(True, timeout) times out with the same exception.
    expect(((await rejection(queue.get({ timeout: 0.05 }))) as RemoteException).isQueueEmpty).toBe(true);
    await queue.release();
  });

  it('aborts a blocked call by giving up its channel; the server still finishes it', async () => {
    const queue = await manager.queue<string>('Queue');
    const started = Date.now();
    const aborted = await rejection(queue.get({ signal: AbortSignal.timeout(200) }));
    expect((aborted as Error).name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(5000);
    // The next call goes on a fresh channel while the old one's get still waits on the server...
    expect(await queue.qsize()).toBe(0);
    // ...and takes the next item, whose reply goes nowhere: the documented price of aborting.
    await queue.put('taken by the aborted get');
    for (let i = 0; i < 100 && (await queue.qsize()) > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await queue.qsize()).toBe(0);
    await queue.release();
  });

  it('drives a SyncManager dict', async () => {
    const dict = await manager.dict<string, unknown>();
    await dict.set('a', 1);
    await dict.set('b', [1, 2]);
    await dict.update(new Map([['c', 'three']]));
    expect(await dict.getItem('a')).toBe(1);
    expect(await dict.get('zzz', 'fallback')).toBe('fallback');
    expect(await dict.has('b')).toBe(true);
    expect(await dict.size()).toBe(3);
    expect((await dict.keys()).sort()).toEqual(['a', 'b', 'c']);
    expect(await dict.getValue()).toEqual({ a: 1, b: [1, 2], c: 'three' });
    expect(await dict.copy()).toEqual({ a: 1, b: [1, 2], c: 'three' });
    await dict.delete('a');
    const missing = (await rejection(dict.getItem('a'))) as RemoteException;
    expect(missing).toBeInstanceOf(RemoteException);
    expect(missing.pythonType).toBe('builtins.KeyError');
    expect(missing.pythonArgs).toEqual(['a']);
    expect(await dict.pop('c')).toBe('three');
    await dict.release();
  });

  it('drives a SyncManager list', async () => {
    const list = await manager.list<number | string>('list', [[10, 20]]);
    await list.append(30);
    await list.extend([40, 50]);
    await list.setItem(0, 'ten');
    await list.insert(1, 15);
    expect(await list.getItem(-1)).toBe(50);
    expect(await list.size()).toBe(6);
    expect(await list.pop()).toBe(50);
    expect(await list.toArray()).toEqual(['ten', 15, 20, 30, 40]);
    const error = (await rejection(list.getItem(99))) as RemoteException;
    expect(error.pythonType).toBe('builtins.IndexError');
    await list.release();
  });

  it('maps #ERROR, #TRACEBACK, #UNSERIALIZABLE and #PROXY from a registered type', async () => {
    const workshop = await manager.create('Workshop', ['main']);
    expect(workshop.exposed).toEqual(expect.arrayContaining(['echo', 'fail', 'get_name', 'make_child']));
    expect(await workshop.call('get_name')).toBe('main');
    expect(await workshop.call('echo', [1, 'two'], { three: 3 })).toEqual([[1, 'two'], [['three', 3]]]);

    const failure = (await rejection(workshop.call('fail', ['broken']))) as RemoteException;
    expect(failure).toBeInstanceOf(RemoteException);
    expect(failure.pythonType).toBe('builtins.ValueError');
    expect(failure.pythonArgs).toEqual(['broken']);

    const unknown = (await rejection(workshop.call('no_such_method'))) as RemoteTracebackError;
    expect(unknown).toBeInstanceOf(RemoteTracebackError);
    expect(unknown.remoteTraceback).toMatch(/Traceback \(most recent call last\)/);

    const unpicklable = await rejection(workshop.call('unpicklable'));
    expect(unpicklable).toBeInstanceOf(RemoteUnserializableError);

    // The server keeps exposed names as a set: create lists make_child twice (method and typeid), get_methods once.
    expect(new Set(await manager.getMethods(workshop.token))).toEqual(new Set(workshop.exposed));

    const objectsBefore = await manager.numberOfObjects();
    const child = await workshop.call('make_child', ['kid']);
    expect(child).toBeInstanceOf(ManagerProxy);
    const childProxy = child as ManagerProxy;
    expect(childProxy.token.address).toEqual(server.address);
    expect(childProxy.token.typeid).toBe('WorkshopChild');
    expect(await childProxy.call('get_name')).toBe('kid');
    expect(await manager.numberOfObjects()).toBe(objectsBefore + 1);
    await childProxy.release();
    expect(await manager.numberOfObjects()).toBe(objectsBefore);
    await workshop.release();
  });

  it('stores a proxy inside a dict and gets a proxy back, as Python does', async () => {
    const inner = await manager.list<string>();
    await inner.append('first');
    const outer = await manager.dict<string, unknown>();
    await outer.set('inner', inner);
    await outer.set('several', [inner, { again: inner }]);
    const back = await outer.getItem('inner');
    if (python.version[0] === 2) {
      // 2.7's RebuildProxy hands the server the object itself, so the dict holds a plain list.
      expect(back).toEqual(['first']);
    } else {
      expect(back).toBeInstanceOf(ListProxy);
      const again = back as ListProxy<string>;
      expect(again.token.id).toBe(inner.token.id);
      await again.append('second');
      expect(await inner.toArray()).toEqual(['first', 'second']);
      const several = (await outer.getItem('several')) as [ListProxy, { again: ListProxy }];
      expect(several[0]).toBeInstanceOf(ListProxy);
      // One proxy sent twice in one message is one object in the pickle, both ways, as in Python.
      expect(several[1].again).toBe(several[0]);
      expect(several[0].token.id).toBe(inner.token.id);
      // Each received proxy holds its own reference, as after Python's RebuildProxy incref.
      expect(await manager.debugInfo()).toMatch(new RegExp(`${inner.token.id}:\\s+refcount=3`));
      await Promise.all([again.release(), several[0].release()]);
    }
    await outer.release();
    await inner.release();
  });

  it('stores Namespace and Lock proxies as the proxy classes Python clients expect', async () => {
    const namespace = await manager.create('Namespace', [], { a: 1 });
    const lock = await manager.create('Lock');
    const shared = await manager.dict<string, unknown>();
    await shared.set('ns', namespace);
    if (python.version[0] === 3) await shared.set('lock', lock);
    const [host, port] = server.address as readonly [string, number];
    // A Python client of the same dict, reaching it by its token as a proxy unpickled there would.
    const reader = [
      'import multiprocessing',
      'from multiprocessing.managers import DictProxy, Token',
      // Proxies unpickled in a client authenticate with its process key, which Python clients set so.
      `multiprocessing.current_process().authkey = b'${AUTHKEY}'`,
      `d = DictProxy(Token('dict', ('${host}', ${port}), '${shared.token.id}'), 'pickle', authkey=b'${AUTHKEY}')`,
      "print(d['ns'].a)",
      python.version[0] === 3 ? "with d['lock']:\n    print('locked')" : "print('locked')",
    ].join('\n');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(python.executable, ['-c', reader], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.once('error', reject);
      child.once('exit', () => resolve(text));
    });
    expect(output.trim().split('\n')).toEqual(['1', 'locked']);
    if (python.version[0] === 3) {
      // Read back, it is the NamespaceProxy it was stored as, and goes back as one.
      const back = (await shared.getItem('ns')) as ManagerProxy;
      expect(back.pythonProxyType.name).toBe('NamespaceProxy');
      await shared.set('again', back);
      expect(await back.call('__getattribute__', ['a'])).toBe(1);
      await back.release();
    }
    await Promise.all([shared.release(), namespace.release(), lock.release()]);
  });

  it('counts references as Python does: create takes one, share increfs, release decrefs', async () => {
    const before = await manager.numberOfObjects();
    const list = await manager.list();
    expect(await manager.numberOfObjects()).toBe(before + 1);
    const shared = await list.share();
    expect(await manager.debugInfo()).toMatch(new RegExp(`${list.token.id}:\\s+refcount=2`));
    await list.release();
    await shared.append('still alive');
    expect(await shared.toArray()).toEqual(['still alive']);
    await shared.release();
    expect(await manager.numberOfObjects()).toBe(before);
  });

  it('gives back the reference of a proxy that was collected without release(), as Python does', async () => {
    const before = await manager.numberOfObjects();
    const forgotten = async (): Promise<string> => (await manager.list()).token.id;
    const ids = [await forgotten(), await forgotten(), await forgotten()];
    expect(await manager.numberOfObjects()).toBe(before + 3);
    for (let i = 0; i < 100 && (await manager.numberOfObjects()) > before; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await manager.numberOfObjects()).toBe(before);
    expect(await manager.debugInfo()).not.toMatch(new RegExp(ids.join('|')));
  });

  it('keeps a proxy whose call waits for the channel alive until its reply is in', async () => {
    const queue = await manager.queue();
    // The channel is busy for 0.3 s; meanwhile the only reference to the Workshop proxy is its call.
    const blocking = queue.get({ timeout: 0.3 }).catch((error: unknown) => error);
    const name = (await manager.create('Workshop', ['temp'])).call('get_name');
    for (let i = 0; i < 5; i++) {
      collectGarbage();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await name).toBe('temp');
    expect(await blocking).toBeInstanceOf(RemoteException);
    await queue.release();
  });

  it('many calls at once open a few connections at a time, which a backlog of 16 takes', async () => {
    const before = await manager.numberOfObjects();
    const counts = await Promise.all(Array.from({ length: 60 }, () => manager.numberOfObjects()));
    expect(counts).toEqual(Array.from({ length: 60 }, () => before));
    const lists = await Promise.all(Array.from({ length: 40 }, () => manager.list()));
    await Promise.all(lists.map((list) => list.release()));
    expect(await manager.numberOfObjects()).toBe(before);
    // The limit is the process's, not each client's: six clients bursting at once stay within the backlog.
    const clients = await Promise.all(
      Array.from({ length: 6 }, () => connectManager(server.address, clientOptions(python))),
    );
    const bursts = await Promise.all(
      clients.map((client) => Promise.all(Array.from({ length: 20 }, () => client.numberOfObjects()))),
    );
    expect(bursts.flat()).toEqual(Array.from({ length: 120 }, () => before));
    await Promise.all(clients.map((client) => client.close()));
  });

  it('close() fails the calls waiting for the channel and the one on it, and runs none of them after', async () => {
    const own = await connectManager(server.address, clientOptions(python));
    const queue = await own.queue<string>('Queue');
    const running = rejection(queue.get());
    const waiting = rejection(queue.get());
    await new Promise((resolve) => setTimeout(resolve, 100));
    await own.close();
    expect(await waiting).toBeInstanceOf(ManagerClosedError);
    expect(await running).toBeInstanceOf(ManagerClosedError);
    expect(await rejection(queue.qsize())).toBeInstanceOf(ManagerClosedError);
  });

  it('rejects a wrong authkey with AuthenticationError', async () => {
    const error = await rejection(
      connectManager(server.address, clientOptions(python, { authkey: 'wrong' })),
    );
    expect(error).toBeInstanceOf(AuthenticationError);
  });

  it('shuts the server down', async () => {
    const exited = once(server.process, 'exit');
    await manager.shutdown();
    expect(manager.closed).toBe(true);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    const refused = (await rejection(
      connectManager(server.address, clientOptions(python)),
    )) as NodeJS.ErrnoException;
    expect(refused.code).toBe('ECONNREFUSED');
  });
});
