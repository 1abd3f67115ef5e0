import { describe, expect, it } from 'vitest';
import { dumps } from '../src/codec/encoder.js';
import { loads } from '../src/codec/loads.js';
import { PyFrozenSet, PyGlobal, PyObject, PyTuple, tuple } from '../src/codec/values.js';
import { ManagerClient, type ManagerClientOptions, type ManagerConnection } from '../src/managers/client.js';
import {
  canonicalExceptionName,
  ManagerClosedError,
  ManagerProtocolError,
  RemoteException,
  RemoteTracebackError,
  RemoteUnserializableError,
} from '../src/managers/errors.js';
import { buildRequest, expectReturn, parseCreateResult, parseReply } from '../src/managers/messages.js';
import { proxiesFromPickle, proxiesToPickle, type ReceivedProxy } from '../src/managers/nested-proxies.js';
import { DictProxy, ListProxy, ManagerProxy, QueueProxy } from '../src/managers/proxy.js';
import {
  type ManagerToken,
  rewriteTokenAddress,
  tokenFromPickle,
  tokenToPickle,
} from '../src/managers/token.js';

function pickledToken(typeid: string, address: unknown, id: string): PyObject {
  const token = new PyObject('newobj', new PyGlobal('multiprocessing.managers', 'Token'), []);
  token.state = tuple(typeid, address, id);
  return token;
}

function pickledException(module: string, name: string, ...args: unknown[]): PyObject {
  return new PyObject('reduce', new PyGlobal(module, name), args);
}

describe('manager requests', () => {
  it('builds (ident, methodname, args, kwds) with a tuple of args and a dict of kwargs', () => {
    const request = buildRequest(null, 'create', ['get_queue']);
    expect(request).toBeInstanceOf(PyTuple);
    expect([...request]).toEqual([null, 'create', tuple('get_queue'), new Map()]);
    expect(request[2]).toBeInstanceOf(PyTuple);
    const call = buildRequest('7f0fc826dbe0', 'get', [true, 5], { extra: 1 });
    expect(call[0]).toBe('7f0fc826dbe0');
    expect(call[3]).toEqual(new Map([['extra', 1]]));
  });
});

describe('manager replies', () => {
  it('reads #RETURN, #TRACEBACK and #UNSERIALIZABLE', () => {
    expect(parseReply(tuple('#RETURN', 42))).toEqual({ kind: '#RETURN', value: 42 });
    expect(parseReply(tuple('#TRACEBACK', 'Traceback...\nKeyError: 1\n'))).toEqual({
      kind: '#TRACEBACK',
      traceback: 'Traceback...\nKeyError: 1\n',
    });
    expect(parseReply(tuple('#UNSERIALIZABLE', 'x'))).toEqual({ kind: '#UNSERIALIZABLE', traceback: 'x' });
  });

  it('reads Python 2 byte strings as text', () => {
    const reply = parseReply(tuple(new TextEncoder().encode('#RETURN'), null));
    expect(reply).toEqual({ kind: '#RETURN', value: null });
  });

  it('reads #PROXY with its exposed names and Token', () => {
    const reply = parseReply(
      tuple('#PROXY', tuple(tuple('get_name'), pickledToken('Child', tuple('0.0.0.0', 5000), 'abc'))),
    );
    expect(reply).toEqual({
      kind: '#PROXY',
      exposed: ['get_name'],
      token: { typeid: 'Child', serverAddress: tuple('0.0.0.0', 5000), id: 'abc' },
    });
  });

  it('rejects shapes CPython never sends', () => {
    expect(() => parseReply(['#RETURN'])).toThrow(ManagerProtocolError);
    expect(() => parseReply(tuple('#NOPE', 1))).toThrow(/unrecognized manager reply kind "#NOPE"/);
    expect(() => parseReply(tuple('#TRACEBACK', 3))).toThrow(ManagerProtocolError);
    expect(() => parseReply(tuple('#PROXY', tuple(tuple(), 'not a token')))).toThrow(ManagerProtocolError);
  });

  it('turns #ERROR into a RemoteException whose type is the same on every Python version', () => {
    for (const [module, name] of [
      ['_queue', 'Empty'],
      ['queue', 'Empty'],
      ['Queue', 'Empty'],
    ] as const) {
      const error = (() => {
        try {
          expectReturn(parseReply(tuple('#ERROR', pickledException(module, name))));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(RemoteException);
      const remote = error as RemoteException;
      expect(remote.pythonType).toBe('queue.Empty');
      expect(remote.pythonTypeAsSent).toBe(`${module}.${name}`);
      expect(remote.isQueueEmpty).toBe(true);
      expect(remote.isQueueFull).toBe(false);
    }
  });

  it('keeps exception args and names the builtin class', () => {
    const reply = parseReply(tuple('#ERROR', pickledException('exceptions', 'ValueError', 'bad', 2)));
    const error = (() => {
      try {
        expectReturn(reply);
      } catch (e) {
        return e as RemoteException;
      }
      throw new Error('expected a throw');
    })();
    expect(error.pythonType).toBe('builtins.ValueError');
    expect(error.pythonArgs).toEqual(['bad', 2]);
    expect(error.message).toBe("builtins.ValueError: ('bad', 2)");
  });

  it("words the message as Python's str() of the exception", () => {
    const messageOf = (module: string, name: string, ...args: unknown[]): string => {
      try {
        expectReturn(parseReply(tuple('#ERROR', pickledException(module, name, ...args))));
      } catch (e) {
        return (e as RemoteException).message;
      }
      throw new Error('expected a throw');
    };
    expect(messageOf('builtins', 'KeyError', 'a')).toBe("builtins.KeyError: 'a'");
    expect(messageOf('builtins', 'ValueError', 'it broke')).toBe('builtins.ValueError: it broke');
    expect(messageOf('builtins', 'ValueError')).toBe('builtins.ValueError');
    expect(messageOf('builtins', 'FileNotFoundError', 2, 'No such file or directory', 'x.txt')).toBe(
      "builtins.FileNotFoundError: [Errno 2] No such file or directory: 'x.txt'",
    );
    expect(messageOf('builtins', 'RuntimeError', 1.5, null, [true, tuple(1)])).toBe(
      'builtins.RuntimeError: (1.5, None, [True, (1,)])',
    );
    expect(messageOf('builtins', 'ValueError', new Set([1]), new PyFrozenSet())).toBe(
      'builtins.ValueError: ({1}, frozenset())',
    );
    // Python 2.7's IOError reads as an OSError does.
    expect(messageOf('exceptions', 'IOError', 2, 'No such file or directory', 'a.txt')).toBe(
      "builtins.IOError: [Errno 2] No such file or directory: 'a.txt'",
    );
    expect(
      messageOf(
        'builtins',
        'UnicodeDecodeError',
        'utf-8',
        Uint8Array.of(0x61, 0xe9),
        1,
        2,
        'invalid continuation byte',
      ),
    ).toBe(
      "builtins.UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in position 1: invalid continuation byte",
    );
    expect(
      messageOf('builtins', 'UnicodeEncodeError', 'ascii', 'caf\u00e9', 3, 4, 'ordinal not in range(128)'),
    ).toBe(
      "builtins.UnicodeEncodeError: 'ascii' codec can't encode character '\\xe9' in position 3: ordinal not in range(128)",
    );
  });

  it('reports the AttributeError of a method that is not exposed, not the fallback lookup failing after it', () => {
    const traceback = [
      'Traceback (most recent call last):',
      '  File "managers.py", line 265, in serve_client',
      '    raise AttributeError(',
      "AttributeError: method 'echo' of <class 'Thing'> object is not in exposed=('get_name',)",
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "managers.py", line 290, in serve_client',
      '    fallback_func = self.fallback_mapping[methodname]',
      "KeyError: 'echo'",
      '',
    ].join('\n');
    const error = new RemoteTracebackError(traceback);
    expect(error.message).toBe(
      "AttributeError: method 'echo' of <class 'Thing'> object is not in exposed=('get_name',)",
    );
    expect(error.pythonType).toBe('builtins.AttributeError');
    // Any other chained traceback reports its last exception.
    const other = traceback.replace('fallback_mapping[methodname]', 'lookup(name)');
    expect(new RemoteTracebackError(other).pythonType).toBe('builtins.KeyError');
  });

  it('turns #TRACEBACK into RemoteTracebackError carrying the text and the exception class', () => {
    const text = 'Traceback (most recent call last):\n  File "x", line 1\nKeyError: \'nonexistent\'\n';
    const error = (() => {
      try {
        expectReturn(parseReply(tuple('#TRACEBACK', text)));
      } catch (e) {
        return e as RemoteTracebackError;
      }
      throw new Error('expected a throw');
    })();
    expect(error).toBeInstanceOf(RemoteTracebackError);
    expect(error.remoteTraceback).toBe(text);
    expect(error.pythonType).toBe('builtins.KeyError');
    expect(error.message).toBe("KeyError: 'nonexistent'");
  });

  it('turns #UNSERIALIZABLE into RemoteUnserializableError', () => {
    expect(() => expectReturn(parseReply(tuple('#UNSERIALIZABLE', 'TypeError: cannot pickle\n')))).toThrow(
      RemoteUnserializableError,
    );
  });

  it('normalises exception names across versions', () => {
    expect(canonicalExceptionName('_queue.Empty')).toBe('queue.Empty');
    expect(canonicalExceptionName('Queue.Full')).toBe('queue.Full');
    expect(canonicalExceptionName('exceptions.KeyError')).toBe('builtins.KeyError');
    expect(canonicalExceptionName('__builtin__.ValueError')).toBe('builtins.ValueError');
    expect(canonicalExceptionName('queue.ShutDown')).toBe('queue.ShutDown');
  });
});

describe('manager tokens', () => {
  it('reads the protocol 2+ form and the copyreg._reconstructor form', () => {
    expect(tokenFromPickle(pickledToken('Queue', '/tmp/sock', '7f01'))).toEqual({
      typeid: 'Queue',
      serverAddress: '/tmp/sock',
      id: '7f01',
    });
    const legacy = new PyObject('reduce', new PyGlobal('copy_reg', '_reconstructor'), [
      new PyGlobal('multiprocessing.managers', 'Token'),
      new PyGlobal('__builtin__', 'object'),
      null,
    ]);
    legacy.state = tuple('dict', tuple('127.0.0.1', 1), 'ab');
    expect(tokenFromPickle(legacy).id).toBe('ab');
  });

  it('replaces the server bind address with the address the client used', () => {
    const received = tokenFromPickle(pickledToken('Child', tuple('0.0.0.0', 5000), 'abc'));
    expect(rewriteTokenAddress(received, ['10.1.2.3', 5000])).toEqual({
      typeid: 'Child',
      address: ['10.1.2.3', 5000],
      id: 'abc',
    });
  });

  it('writes a Token as NEWOBJ + BUILD with the state tuple', () => {
    const pickled = tokenToPickle({ typeid: 'Queue', address: ['127.0.0.1', 9], id: 'ff' });
    expect(pickled.kind).toBe('newobj');
    expect(pickled.module).toBe('multiprocessing.managers');
    expect(pickled.name).toBe('Token');
    expect(pickled.state).toEqual(tuple('Queue', tuple('127.0.0.1', 9), 'ff'));
    expect(tokenFromPickle(pickled)).toEqual({
      typeid: 'Queue',
      serverAddress: tuple('127.0.0.1', 9),
      id: 'ff',
    });
  });
});

/**
 * An in-memory manager server that follows `Server.handle_request`/`serve_client`: one public function per
 * fresh connection, method calls only after `accept_connection`, strictly alternating request and reply.
 */
class FakeManagerServer {
  readonly log: string[] = [];
  readonly refcounts = new Map<string, number>();
  readonly objects = new Map<string, unknown[]>();
  #nextId = 0x100;
  #connections = 0;
  #inFlight = 0;
  maxInFlight = 0;

  connect = async (): Promise<ManagerConnection> => {
    const index = ++this.#connections;
    const replies: unknown[] = [];
    let channel = false;
    let publicDone = false;
    return {
      send: async (request: unknown) => {
        const [ident, method, args] = request as [string | null, string, unknown[]];
        this.log.push(
          `c${index} ${ident ?? '-'} ${method}${args.length ? ` ${JSON.stringify([...args])}` : ''}`,
        );
        if (channel) {
          this.#inFlight++;
          this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
          await new Promise((resolve) => setTimeout(resolve, 2));
          this.#inFlight--;
          replies.push(this.#callMethod(ident!, method, args));
          return;
        }
        if (publicDone) throw new Error('a second request on a public-function connection');
        publicDone = true;
        if (method === 'accept_connection') channel = true;
        replies.push(this.#callPublic(method, args));
      },
      recv: async () => {
        if (replies.length === 0) throw new Error('recv before send');
        return replies.shift();
      },
      close: () => {
        this.log.push(`c${index} close`);
      },
      ref: () => {
        if (channel) this.log.push(`c${index} ref`);
      },
      unref: () => {
        if (channel) this.log.push(`c${index} unref`);
      },
    };
  };

  #callPublic(method: string, args: unknown[]): unknown {
    switch (method) {
      case 'dummy':
      case 'accept_connection':
        return tuple('#RETURN', null);
      case 'create': {
        const id = (this.#nextId++).toString(16);
        this.objects.set(id, []);
        this.refcounts.set(id, 1);
        return tuple('#RETURN', tuple(id, tuple('get', 'make_child', 'put')));
      }
      case 'incref':
        this.refcounts.set(String(args[0]), (this.refcounts.get(String(args[0])) ?? 0) + 1);
        return tuple('#RETURN', null);
      case 'decref': {
        const id = String(args[0]);
        const count = this.refcounts.get(id);
        if (count === undefined) return tuple('#TRACEBACK', `KeyError: '${id}'\n`);
        if (count === 1) this.refcounts.delete(id);
        else this.refcounts.set(id, count - 1);
        return tuple('#RETURN', null);
      }
      default:
        return tuple('#TRACEBACK', `AssertionError: ${method} unrecognized\n`);
    }
  }

  #callMethod(ident: string, method: string, args: unknown[]): unknown {
    const items = this.objects.get(ident);
    if (!items) return tuple('#TRACEBACK', `KeyError: '${ident}'\n`);
    if (method === 'put') {
      items.push(args[0]);
      return tuple('#RETURN', null);
    }
    if (method === 'get' || method === 'get_nowait') {
      return items.length > 0
        ? tuple('#RETURN', items.shift())
        : tuple('#ERROR', pickledException('_queue', 'Empty'));
    }
    if (method === 'make_child') {
      const id = (this.#nextId++).toString(16);
      this.objects.set(id, []);
      this.refcounts.set(id, 1);
      return tuple('#PROXY', tuple(tuple('get'), pickledToken('Child', tuple('0.0.0.0', 1), id)));
    }
    return tuple('#TRACEBACK', `AttributeError: ${method}\n`);
  }
}

describe('ManagerClient (against an in-memory server)', () => {
  const address = ['127.0.0.1', 50000] as const;

  it('refuses options without an authkey, with a misspelt name or another serializer, before connecting', () => {
    // Without a key, the server's challenge would have been read as a pickle: "invalid load key, '#'".
    expect(() => new ManagerClient(address, {} as ManagerClientOptions)).toThrow(
      /needs the server's authkey .* manager servers always authenticate/,
    );
    expect(() => new ManagerClient(address, null as unknown as ManagerClientOptions)).toThrow(TypeError);
    expect(
      () => new ManagerClient(address, { authkey: 'k', timout: 5 } as unknown as ManagerClientOptions),
    ).toThrow(/unknown option "timout": .*timeout/);
    expect(() => new ManagerClient(address, { authkey: 'k', serializer: 'xmlrpclib' as 'pickle' })).toThrow(
      `unsupported manager serializer "xmlrpclib"; only 'pickle' is supported`,
    );
  });

  it('close() gives back the references of creates and shares still running, which then fail', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const kept = await client.queue('get_queue');
    const creating = Promise.allSettled([
      client.queue('get_queue'),
      client.create('get_queue'),
      kept.share(),
    ]);
    await client.close();
    for (const result of await creating) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ManagerClosedError);
    }
    expect([...server.refcounts]).toEqual([]);
    expect(kept.released).toBe(true);
  });

  it('close() is not held up by calls that never started, even behind another client of the same server', async () => {
    const hung = ['hung.example', 1] as const;
    // A server that takes requests and never answers: client A's calls take every connection slot.
    const silent = async (): Promise<ManagerConnection> => ({
      send: () => undefined,
      recv: () => new Promise<never>(() => {}),
      close: () => undefined,
    });
    const a = new ManagerClient(hung, { authkey: 'k', connect: silent });
    for (let i = 0; i < 8; i++) void a.callPublic('number_of_objects').catch(() => undefined);
    const b = new ManagerClient(hung, { authkey: 'k', connect: silent });
    const queued = b.callPublic('number_of_objects');
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(queued).rejects.toBeInstanceOf(ManagerClosedError);
  });

  it('lets the process exit while the method channel sits idle, and holds it while calls run', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const queue = await client.queue('get_queue');
    await Promise.all([queue.put('a'), queue.put('b')]);
    await new Promise((resolve) => setImmediate(resolve));
    const channelLog = server.log
      .filter((line) => / (put|ref|unref)/.test(line))
      .map((line) => line.slice(3));
    expect(channelLog).toEqual(['ref', '100 put ["a",true,null]', 'ref', '100 put ["b",true,null]', 'unref']);
    await client.close();
  });

  it('creates on a fresh connection, calls on one channel, decrefs on release', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const queue = await client.queue('get_queue');
    expect(queue).toBeInstanceOf(QueueProxy);
    expect(queue.token).toEqual({ typeid: 'get_queue', address, id: '100' });
    expect(queue.exposed).toEqual(['get', 'make_child', 'put']);
    await queue.put('a');
    await queue.put('b');
    expect(await queue.get()).toBe('a');
    await queue.release();
    await queue.release();
    expect(server.log.filter((line) => !/ (un)?ref$/.test(line))).toEqual([
      'c1 - create ["get_queue"]',
      'c1 close',
      `c2 - accept_connection ["mpwire-${process.pid}"]`,
      'c2 100 put ["a",true,null]',
      'c2 100 put ["b",true,null]',
      'c2 100 get [true,null]',
      'c3 - decref ["100"]',
      'c3 close',
    ]);
    expect(server.refcounts.size).toBe(0);
    await expect(queue.get()).rejects.toBeInstanceOf(ManagerClosedError);
    await client.close();
  });

  it('refuses a NaN or non-number queue timeout before sending anything', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const queue = await client.queue();
    const logged = server.log.length;
    await expect(queue.get({ timeout: Number.NaN })).rejects.toThrow(RangeError);
    await expect(queue.put(1, { timeout: Number.NaN })).rejects.toThrow(/wait for ever/);
    await expect(queue.get({ timeout: '5' as unknown as number })).rejects.toThrow(TypeError);
    expect(server.log.length).toBe(logged);
    // The server's queue waits out long timeouts itself: no timer here limits them.
    await queue.put(4, { timeout: 1e7 });
    expect(await queue.get({ timeout: 1e7 })).toBe(4);
    // Negative timeouts go to the server, which raises its own ValueError, as Python's queue does.
    await queue.put(3, { timeout: 2.5 });
    expect(await queue.get({ timeout: 0 })).toBe(3);
    await client.close();
  });

  it('sends concurrent calls one at a time and keeps their order', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const queue = await client.queue();
    await Promise.all([1, 2, 3, 4, 5].map((n) => queue.put(n)));
    const got = await Promise.all([1, 2, 3, 4, 5].map(() => queue.get()));
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(server.maxInFlight).toBe(1);
    await client.close();
  });

  it('maps #ERROR to RemoteException and keeps the channel usable', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const queue = await client.queue();
    const error = await queue.getNowait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteException);
    expect((error as RemoteException).isQueueEmpty).toBe(true);
    await queue.put(7);
    expect(await queue.get()).toBe(7);
    await client.close();
  });

  it('turns #PROXY into a proxy at the client address that owns the reference the server took', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const parent = await client.create('Workshop');
    const child = await parent.call('make_child', ['x']);
    expect(child).toBeInstanceOf(ManagerProxy);
    const childProxy = child as ManagerProxy;
    expect(childProxy.token).toEqual({ typeid: 'Child', address, id: '101' });
    expect(childProxy.exposed).toEqual(['get']);
    expect(server.refcounts.get('101')).toBe(1);
    await client.close();
    expect(server.refcounts.size).toBe(0);
    expect(childProxy.released).toBe(true);
  });

  it('shares a proxy with an incref and moves the reference with as()', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const generic = await client.create('dict');
    const typed = generic.as(DictProxy);
    expect(generic.released).toBe(true);
    const copy = await typed.share();
    expect(copy).toBeInstanceOf(DictProxy);
    expect(server.refcounts.get(typed.token.id)).toBe(2);
    await typed.release();
    expect(server.refcounts.get(typed.token.id)).toBe(1);
    await copy.release();
    expect(server.refcounts.has(typed.token.id)).toBe(false);
    await client.close();
    expect(server.log.filter((line) => line.includes('decref'))).toHaveLength(2);
  });

  it('drops an aborted call that is still queued without sending it', async () => {
    const server = new FakeManagerServer();
    const client = new ManagerClient(address, { authkey: 'k', connect: server.connect });
    const queue = await client.queue();
    const controller = new AbortController();
    const first = queue.put('sent');
    const second = queue.put('never sent', { signal: controller.signal });
    // Observe the rejection before awaiting `first`, or it is reported as unhandled in between.
    const secondRejected = expect(second).rejects.toThrow('changed my mind');
    controller.abort(new Error('changed my mind'));
    await first;
    await secondRejected;
    await expect(queue.get({ signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
    expect(server.log.filter((line) => line.includes(' put '))).toEqual(['c2 100 put ["sent",true,null]']);
    await client.close();
  });

  it('refuses serializers other than pickle', () => {
    expect(
      () =>
        new ManagerClient(address, {
          authkey: 'k',
          serializer: 'xmlrpclib' as 'pickle',
          connect: async () => {
            throw new Error('unused');
          },
        }),
    ).toThrow(/only 'pickle'/);
  });
});

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const ascii = (text: string): string => Buffer.from(text, 'latin1').toString('hex');

describe('manager messages on the wire (protocol.md §5.6 and captures from CPython)', () => {
  it('encodes requests byte for byte as CPython 3.13 (protocol 4) and 3.6 (protocol 3) do', () => {
    expect(dumps(buildRequest(null, 'create', ['get_queue']), { protocol: 4 })).toEqual(
      hex(
        `8004951e00000000000000 28 4e 8c06${ascii('create')}94 8c09${ascii('get_queue')}94 85 94 7d 94 74 94 2e`,
      ),
    );
    expect(dumps(buildRequest(null, 'create', ['get_queue']), { protocol: 3 })).toEqual(
      hex(
        `8003 28 4e 5806000000${ascii('create')}7100 5809000000${ascii('get_queue')}7101 85 7102 7d 7103 74 7104 2e`,
      ),
    );
    expect(dumps(buildRequest('7f0fc826dbe0', 'put', ['hello']), { protocol: 4 })).toEqual(
      hex(
        `8004952500000000000000 28 8c0c${ascii('7f0fc826dbe0')}94 8c03${ascii('put')}94 8c05${ascii('hello')}94 85 94 7d 94 74 94 2e`,
      ),
    );
  });

  // ('#ERROR', queue.Empty()) as each version's server pickles it.
  const emptyErrors = {
    '2.7': '80025506234552524f5271016351756575650a456d7074790a7102295271038671042e',
    '3.6': '80035806000000234552524f5271006371756575650a456d7074790a7101295271028671032e',
    '3.13': '80049522000000000000008c06234552524f52948c065f7175657565948c05456d70747994939429529486942e',
  };
  for (const [version, bytes] of Object.entries(emptyErrors)) {
    it(`reads queue.Empty from a ${version} server as the same error`, () => {
      const error = (() => {
        try {
          expectReturn(parseReply(loads(hex(bytes))));
        } catch (e) {
          return e as RemoteException;
        }
        throw new Error('expected a throw');
      })();
      expect(error).toBeInstanceOf(RemoteException);
      expect(error.pythonType).toBe('queue.Empty');
      expect(error.isQueueEmpty).toBe(true);
      expect(error.pythonArgs).toEqual([]);
    });
  }

  it('reads KeyError from 2.7 (exceptions.KeyError) and 3.13 (builtins.KeyError) alike', () => {
    for (const bytes of [
      '80025506234552524f52710163657863657074696f6e730a4b65794572726f720a71025501618571035271048671052e',
      '8004952c000000000000008c06234552524f52948c086275696c74696e73948c084b65794572726f729493948c0161948594529486942e',
    ]) {
      const reply = parseReply(loads(hex(bytes)));
      expect(reply.kind).toBe('#ERROR');
      const error = new RemoteException((reply as { exception: unknown }).exception);
      expect(error.pythonType).toBe('builtins.KeyError');
      expect(error.pythonArgs).toEqual(['a']);
    }
  });

  // ('#PROXY', ((), Token('Iter', ('127.0.0.1', 22913), '7f468c07ebb0'))) from 2.7, 3.6 and 3.13.
  for (const bytes of [
    '800255062350524f5859710129636d756c746970726f63657373696e672e6d616e61676572730a546f6b656e0a710229817103550449746572710455093132372e302e302e3171054d8159867106550c37663436386330376562623071078762868671082e',
    '800358060000002350524f585971002963' +
      '6d756c746970726f63657373696e672e6d616e61676572730a546f6b656e0a710129817102580400000049746572710358090000003132372e302e302e3171044d8159867105580c0000003766343638633037656262307106877107628671088671092e',
    '80049561000000000000008c062350524f585994298c186d756c746970726f63657373696e672e6d616e6167657273948c05546f6b656e9493942981948c0449746572948c093132372e302e302e31944d815986948c0c37663436386330376562623094879462869486942e',
  ]) {
    it(`reads a #PROXY Token (protocol ${bytes.slice(2, 4)})`, () => {
      const reply = parseReply(loads(hex(bytes)));
      expect(reply).toEqual({
        kind: '#PROXY',
        exposed: [],
        token: { typeid: 'Iter', serverAddress: tuple('127.0.0.1', 22913), id: '7f468c07ebb0' },
      });
    });
  }

  it('reads a create reply (ident, exposed) from 2.7 byte strings and 3.x str alike', () => {
    for (const bytes of [
      '800255072352455455524e7101550c37663066633832366462653071025503676574710355037075747104867105868671062e',
      '8004952c000000000000008c072352455455524e948c0c376630666338323664626530948c03676574948c03707574948694869486942e',
    ]) {
      expect(parseCreateResult(expectReturn(parseReply(loads(hex(bytes)))))).toEqual({
        id: '7f0fc826dbe0',
        exposed: ['get', 'put'],
      });
    }
  });

  it('writes a Token that CPython 3.13 would write for get_methods', () => {
    const token = tokenToPickle({ typeid: 'Iter', address: ['127.0.0.1', 22913], id: '7f468c07ebb0' });
    const expected = hex(
      '80049561000000000000008c062350524f585994298c186d756c746970726f63657373696e672e6d616e6167657273948c05546f6b656e9493942981948c0449746572948c093132372e302e302e31944d815986948c0c37663436386330376562623094879462869486942e',
    );
    expect(dumps(tuple('#PROXY', tuple(tuple(), token)), { protocol: 4 })).toEqual(expected);
  });
});

describe('proxies inside values', () => {
  const noHost = {} as ConstructorParameters<typeof ManagerProxy>[0];
  const token = { typeid: 'Queue', address: ['127.0.0.1', 9] as const, id: 'a1' };

  it('writes a proxy as RebuildProxy(AutoProxy or the typed class, token, "pickle", kwds)', () => {
    const auto = new ManagerProxy(noHost, token, ['get', 'put']);
    const listExposed = ['__getitem__', '__setitem__', 'append', 'count', 'extend'];
    const list = new ListProxy(noHost, { ...token, typeid: 'list', id: 'b2' }, listExposed);
    const value = { plain: [1, 2], proxies: tuple(auto, list) };
    const out = proxiesToPickle(value) as { plain: number[]; proxies: PyTuple };
    expect(out).not.toBe(value);
    expect(out.plain).toBe(value.plain);
    expect(out.proxies).toBeInstanceOf(PyTuple);
    const [autoForm, listForm] = out.proxies as unknown as [PyObject, PyObject];
    expect(autoForm.module).toBe('multiprocessing.managers');
    expect(autoForm.name).toBe('RebuildProxy');
    expect(autoForm.args[0]).toEqual(new PyGlobal('multiprocessing.managers', 'AutoProxy'));
    expect(tokenFromPickle(autoForm.args[1]).id).toBe('a1');
    expect(autoForm.args[2]).toBe('pickle');
    expect(autoForm.args[3]).toEqual(new Map([['exposed', tuple('get', 'put')]]));
    expect(listForm.args[0]).toEqual(new PyGlobal('multiprocessing.managers', 'ListProxy'));
    expect(listForm.args[3]).toEqual(new Map());
  });

  it('leaves values without proxies untouched', () => {
    const value = [1, { a: [2, new Map([['k', 'v']])] }];
    expect(proxiesToPickle(value)).toBe(value);
  });

  it('pickles a proxy as the Python proxy class it came in as, or the one SyncManager gives its typeid', async () => {
    const pickledType = (proxy: ManagerProxy): string => {
      const [proxyType, , , kwds] = (proxiesToPickle(proxy) as PyObject).args as [
        PyGlobal,
        unknown,
        unknown,
        Map<string, unknown>,
      ];
      return `${proxyType.module}.${proxyType.name}${kwds.has('exposed') ? ' with exposed' : ''}`;
    };
    const of = (typeid: string): ManagerToken => ({ ...token, typeid });
    // A server registered with SyncManager's proxy class answers create with that class's _exposed_.
    const namespaceExposed = ['__getattribute__', '__setattr__', '__delattr__'];
    expect(pickledType(new ManagerProxy(noHost, of('Namespace'), namespaceExposed))).toBe(
      'multiprocessing.managers.NamespaceProxy',
    );
    expect(pickledType(new ManagerProxy(noHost, of('Lock'), ['acquire', 'release']))).toBe(
      'multiprocessing.managers.AcquirerProxy',
    );
    // Another server's 'Event', registered without a proxy class, exposes its object's public methods.
    expect(pickledType(new ManagerProxy(noHost, of('Event'), ['get', 'put']))).toBe(
      'multiprocessing.managers.AutoProxy with exposed',
    );
    expect(pickledType(new ManagerProxy(noHost, of('Queue'), ['get']))).toBe(
      'multiprocessing.managers.AutoProxy with exposed',
    );
    expect(pickledType(new ListProxy(noHost, of('my_list'), ['__getitem__', '__setitem__', 'append']))).toBe(
      'multiprocessing.managers.ListProxy',
    );
    // A proxy read from a pickle goes back as the class it was pickled as, even one of another module.
    const custom = new PyGlobal('mymodule', 'MyProxy');
    const received = (await proxiesFromPickle(
      proxiesToPickle(new ManagerProxy(noHost, of('Thing'), [], custom)),
      async (r) => new r.proxyClass(noHost, { ...r.token, address: ['h', 1] }, r.exposed, r.pythonProxyType),
    )) as ManagerProxy;
    expect(pickledType(received)).toBe('mymodule.MyProxy');
  });

  it('finds proxies in Sets, frozensets, Map keys and placeholders, both ways, as Python pickles them', async () => {
    const proxy = new ManagerProxy(noHost, token, ['get']);
    const namespace = new PyObject('reduce', new PyGlobal('multiprocessing.managers', 'Namespace'), tuple());
    namespace.state = { inner: proxy };
    const value = {
      set: new Set([proxy]),
      frozen: new PyFrozenSet([proxy]),
      keyed: new Map([[proxy, 1]]),
      namespace,
    };
    const out = proxiesToPickle(value) as {
      set: Set<unknown>;
      frozen: PyFrozenSet;
      keyed: Map<unknown, number>;
      namespace: PyObject;
    };
    const isRebuild = (item: unknown): boolean => item instanceof PyObject && item.name === 'RebuildProxy';
    expect([...out.set].every(isRebuild)).toBe(true);
    expect(out.frozen).toBeInstanceOf(PyFrozenSet);
    expect([...out.frozen].every(isRebuild)).toBe(true);
    expect([...out.keyed.keys()].every(isRebuild)).toBe(true);
    expect(isRebuild((out.namespace.state as { inner: unknown }).inner)).toBe(true);
    // The caller's own values are left as they were.
    expect([...value.set][0]).toBe(proxy);
    expect((namespace.state as { inner: unknown }).inner).toBe(proxy);
    let adopted = 0;
    const back = (await proxiesFromPickle(out, async (received) => {
      adopted++;
      return new received.proxyClass(noHost, { ...received.token, address: ['h', 1] }, received.exposed);
    })) as typeof out;
    expect(adopted).toBe(1);
    const live = [...back.set][0];
    expect(live).toBeInstanceOf(ManagerProxy);
    expect([...back.frozen][0]).toBe(live);
    expect([...back.keyed.keys()][0]).toBe(live);
    expect((back.namespace.state as { inner: unknown }).inner).toBe(live);
  });

  it('reads pickled proxies back through the adopter, once per pickled object', async () => {
    const auto = proxiesToPickle(new ManagerProxy(noHost, token, ['get'])) as PyObject;
    const decoded = { one: auto, many: [auto, tuple(auto)], map: new Map([['x', auto]]) };
    const adopted: ReceivedProxy[] = [];
    const result = (await proxiesFromPickle(decoded, async (received) => {
      adopted.push(received);
      return new received.proxyClass(noHost, { ...received.token, address: ['h', 1] }, received.exposed);
    })) as { one: ManagerProxy; many: [ManagerProxy, PyTuple]; map: Map<string, ManagerProxy> };
    expect(adopted).toEqual([
      {
        token: { typeid: 'Queue', serverAddress: tuple('127.0.0.1', 9), id: 'a1' },
        exposed: ['get'],
        proxyClass: ManagerProxy,
        pythonProxyType: new PyGlobal('multiprocessing.managers', 'AutoProxy'),
      },
    ]);
    expect(result.one).toBeInstanceOf(ManagerProxy);
    expect(result.many[0]).toBe(result.one);
    expect(result.many[1]).toBeInstanceOf(PyTuple);
    expect(result.many[1][0]).toBe(result.one);
    expect(result.map.get('x')).toBe(result.one);
  });
});
