/**
 * spawnPython against every interpreter found: a real multiprocessing.connection.Connection on the inherited
 * pipe in the child (python-fixtures/worker_echo.py), and the child's death surfacing as typed errors here.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { UnpicklingError } from '../src/codec/errors.js';
import { tuple } from '../src/codec/values.js';
import { ConnectionClosedError, TransportError } from '../src/transport/errors.js';
import { wait } from '../src/transport/wait.js';
import {
  PythonExitError,
  PythonSpawnError,
  type SpawnPythonOptions,
  spawnPython,
} from '../src/workers/index.js';
import { describePythons, findPythons, type PythonInterpreter } from './support/pythons.js';

const FIXTURES = join(import.meta.dirname, '..', 'python-fixtures');
const WORKER = join(FIXTURES, 'worker_echo.py');
const pythons = findPythons();
console.log(`spawnPython interop against: ${describePythons(pythons)}`);

/** Python 2.7 reads pickle protocol 2 at most. */
function workerOptions(
  python: PythonInterpreter,
  extra: Partial<SpawnPythonOptions> = {},
): SpawnPythonOptions & { script: string } {
  return {
    python: python.executable,
    script: WORKER,
    ...(python.version[0] === 2 ? { protocol: 2 } : {}),
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

function isProcessGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe.concurrent.each(pythons.map((p) => [p.label, p] as const))(
  'spawnPython with Python %s',
  (_label, python) => {
    it('gives the child a working Connection on the inherited pipe', async () => {
      const worker = await spawnPython(workerOptions(python));
      try {
        await worker.conn.send(tuple('version'));
        expect(await worker.conn.recv()).toEqual([...python.version]);
        const value = { text: 'héllo', numbers: [1, 2.5, -3], nested: tuple(true, null) };
        await worker.conn.send(tuple('echo', value));
        expect(await worker.conn.recv()).toEqual(value);
        await worker.conn.send(tuple('echo_bytes'));
        await worker.conn.sendBytes(new Uint8Array([0, 1, 2, 255]));
        expect([...(await worker.conn.recvBytes())]).toEqual([0, 1, 2, 255]);
      } finally {
        const exit = await worker.close();
        expect(exit).toEqual({ code: 0, signal: null, stderrTail: '' });
      }
    });

    it('passes args, cwd and env, and runs -c code and -m modules', async () => {
      const worker = await spawnPython(
        workerOptions(python, {
          args: ['one', 'two'],
          cwd: FIXTURES,
          env: { MPWIRE_TEST_VALUE: 'from-node' },
        }),
      );
      await worker.conn.send(tuple('argv'));
      expect(await worker.conn.recv()).toEqual([['one', 'two'], FIXTURES, 'from-node']);
      await worker.close();

      const code = await spawnPython({
        python: python.executable,
        code: 'import sys; sys.exit(7)',
      });
      expect((await code.exited).code).toBe(7);

      const module = await spawnPython({
        python: python.executable,
        module: 'worker_echo',
        cwd: FIXTURES,
        ...(python.version[0] === 2 ? { protocol: 2 } : {}),
      });
      await module.conn.send(tuple('echo', 'via -m'));
      expect(await module.conn.recv()).toBe('via -m');
      expect((await module.close()).code).toBe(0);
    });

    it('raises PythonExitError with the exit code from a pending recv', async () => {
      const worker = await spawnPython(workerOptions(python));
      await worker.conn.send(tuple('exit', 3));
      const error = (await rejection(worker.conn.recv())) as PythonExitError;
      expect(error).toBeInstanceOf(PythonExitError);
      expect(error.exitCode).toBe(3);
      expect(error.signal).toBeNull();
      expect(error.pid).toBe(worker.pid);
      // Calls after the exit fail the same way.
      expect(await rejection(worker.conn.send(tuple('echo', 1)))).toBeInstanceOf(PythonExitError);
      await worker.close();
    });

    it('carries the stderr tail: an uncaught exception and explicit stderr output', async () => {
      const crashing = await spawnPython(workerOptions(python));
      await crashing.conn.send(tuple('raise', 'kaboom'));
      const crash = (await rejection(crashing.conn.recv())) as PythonExitError;
      expect(crash.exitCode).toBe(1);
      expect(crash.stderrTail).toMatch(/Traceback \(most recent call last\)/);
      expect(crash.stderrTail).toMatch(/RuntimeError: kaboom/);
      expect(crash.message).toMatch(/exited with code 1 during recv: RuntimeError: kaboom/);
      await crashing.close();

      const bounded = await spawnPython(workerOptions(python, { stderrLimit: 16 }));
      await bounded.conn.send(tuple('stderr_then_exit', `${'x'.repeat(100)}the end\n`, 5));
      const error = (await rejection(bounded.conn.recv())) as PythonExitError;
      expect(error.exitCode).toBe(5);
      expect(error.stderrTail).toBe('xxxxxxxxthe end\n');
      await bounded.close();
    });

    it('reports a message torn by the child dying mid-write', async () => {
      const worker = await spawnPython(workerOptions(python));
      await worker.conn.send(tuple('half_message'));
      const error = (await rejection(worker.conn.recv())) as PythonExitError;
      expect(error).toBeInstanceOf(PythonExitError);
      expect(error.exitCode).toBe(3);
      expect(error.cause).toBeInstanceOf(TransportError);
      expect((error.cause as TransportError).code).toBe('TRUNCATED_MESSAGE');
      await worker.close();
    });

    it('reports the signal that killed the child', async () => {
      const worker = await spawnPython(workerOptions(python));
      await worker.conn.send(tuple('kill_self'));
      const error = (await rejection(worker.conn.recv())) as PythonExitError;
      expect(error.signal).toBe('SIGKILL');
      expect(error.exitCode).toBeNull();
      await worker.close();
    });

    it('kills a child that ignores EOF and SIGTERM, leaving no process behind', async () => {
      const worker = await spawnPython(workerOptions(python, { exitTimeout: 0.1, killTimeout: 0.1 }));
      await worker.conn.send(tuple('ignore_eof_and_sleep', 30));
      expect(await worker.conn.recv()).toBe('ready');
      const started = Date.now();
      const exit = await worker.close();
      expect(exit.signal).toBe('SIGKILL');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(isProcessGone(worker.pid!)).toBe(true);
    });

    it('ends the child with await using', async () => {
      let pid = 0;
      {
        await using worker = await spawnPython(workerOptions(python));
        pid = worker.pid!;
        await worker.conn.send(tuple('echo', 'x'));
        expect(await worker.conn.recv()).toBe('x');
      }
      expect(isProcessGone(pid)).toBe(true);
    });
  },
);

describe('spawnPython without a usable interpreter', () => {
  it('rejects with PythonSpawnError naming the interpreter', async () => {
    const error = (await rejection(
      spawnPython({ python: '/nonexistent/python9', code: 'pass' }),
    )) as PythonSpawnError;
    expect(error).toBeInstanceOf(PythonSpawnError);
    expect(error.python).toBe('/nonexistent/python9');
    expect(error.message).toMatch(/ENOENT/);
  });

  it('rejects with PythonSpawnError when the process has no file descriptors left, and the process lives on', () => {
    // Node reports EMFILE in an 'error' event on the next tick, which used to find no listener and end the
    // process. A separate Node process runs under a low descriptor limit, using the built package.
    const script = [
      "import { spawnPython } from 'mpwire';",
      'const workers = [];',
      'let failure;',
      'try {',
      "  for (let i = 0; i < 200; i++) workers.push(await spawnPython({ code: 'import time; time.sleep(30)' }));",
      '} catch (error) { failure = error; }',
      'await Promise.all(workers.map((worker) => worker.close()));',
      'process.stdout.write(JSON.stringify({ started: workers.length, name: failure?.name, message: failure?.message }));',
    ].join('\n');
    const output = execFileSync(
      'bash',
      ['-c', 'ulimit -n 64 && exec "$0" --input-type=module -e "$1"', process.execPath, script],
      { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' },
    );
    const result = JSON.parse(output) as { started: number; name: string; message: string };
    expect(result.started).toBeGreaterThan(0);
    expect(result.name).toBe('PythonSpawnError');
    expect(result.message).toMatch(/no file descriptors left.*EMFILE/);
  });

  it('refuses a target that is not exactly one of module, script, code', async () => {
    const bad = { python: 'python3', module: 'a', code: 'b' } as unknown as Parameters<typeof spawnPython>[0];
    await expect(spawnPython(bad)).rejects.toThrow(/exactly one of/);
  });
});

describe('closing a worker', () => {
  it('fails a send still going out with ConnectionClosedError, its cause the broken pipe', async () => {
    const worker = await spawnPython({
      code: 'import time; time.sleep(30)',
      exitTimeout: 0.2,
      killTimeout: 0.2,
    });
    const sending = rejection(worker.conn.sendBytes(new Uint8Array(32 << 20)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await worker.close();
    const error = (await sending) as ConnectionClosedError;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe('the connection was closed during sendBytes');
    expect((error.cause as NodeJS.ErrnoException).code).toMatch(/ECONNRESET|EPIPE/);
  });

  it('with exitTimeout null, close() waits for a child that takes longer than the default to exit', async () => {
    // The default exitTimeout (2 s) would SIGTERM it.
    const worker = await spawnPython({
      code: 'import time; time.sleep(2.5)',
      exitTimeout: null,
      killTimeout: 0.1,
    });
    expect(await worker.close()).toMatchObject({ code: 0, signal: null });
  });
});

describe('a long-running worker', () => {
  it('lets go of each received message once the caller does, while the child runs on', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const worker = await spawnPython({
      code:
        'import os, sys\nfrom multiprocessing.connection import Connection\n' +
        "c = Connection(int(os.environ['MPWIRE_FD']))\n" +
        "for _ in range(40): c.send_bytes(b'x' * (1 << 20))\nc.recv()",
    });
    const received: WeakRef<Uint8Array>[] = [];
    for (let i = 0; i < 40; i++) received.push(new WeakRef(await worker.conn.recvBytes()));
    await worker.conn.send('done');
    // The child has not exited yet: nothing may hold the messages until it does.
    for (let round = 0; round < 5 && received.some((r) => r.deref() !== undefined); round++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(received.filter((r) => r.deref() !== undefined).length).toBe(0);
    await worker.close();
  });
});

describe('a worker connection as a transport connection', () => {
  const sender = (count: number, exitCode: number): string =>
    'import os, sys\nfrom multiprocessing.connection import Connection\n' +
    "c = Connection(int(os.environ['MPWIRE_FD']))\n" +
    `for i in range(${count}): c.send(i)\nsys.exit(${exitCode})`;

  it('iterates messages until a child that exits with code 0 is done, and fileno() is its descriptor', async () => {
    await using worker = await spawnPython({ code: sender(5, 0) });
    expect(worker.conn.fileno()).toBe(worker.conn.connection.fileno());
    expect([worker.conn.readable, worker.conn.writable]).toEqual([true, true]);
    const got: unknown[] = [];
    for await (const message of worker.conn) got.push(message);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it('ends iterBytes the same way, and a child that fails ends the iteration with PythonExitError', async () => {
    await using done = await spawnPython({ code: sender(2, 0) });
    const chunks: number[] = [];
    for await (const bytes of done.conn.iterBytes()) chunks.push(bytes.length);
    expect(chunks).toHaveLength(2);
    await using failing = await spawnPython({ code: sender(1, 3) });
    const seen: unknown[] = [];
    const iterate = async (): Promise<void> => {
      for await (const message of failing.conn) seen.push(message);
    };
    await expect(iterate()).rejects.toMatchObject({ name: 'PythonExitError', exitCode: 3 });
    expect(seen).toEqual([0]);
  });

  it('wait() on a worker connection closed during the wait fails, as for any connection', async () => {
    await using worker = await spawnPython({ code: 'import time; time.sleep(30)', exitTimeout: 0.1 });
    const waiting = wait([worker.conn], 10);
    setTimeout(() => worker.conn.close(), 100);
    await expect(waiting).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('wait() watches a worker connection, and many waits on one child add one listener to it', async () => {
    await using worker = await spawnPython({
      code:
        'import os\nfrom multiprocessing.connection import Connection\n' +
        "c = Connection(int(os.environ['MPWIRE_FD']))\nc.recv()\nc.send('pong')\nc.recv()",
    });
    expect(await wait([worker.conn], 0)).toEqual([]);
    await worker.conn.send('ping');
    expect(await wait([worker.conn], 10)).toEqual([worker.conn]);
    expect(await worker.conn.recv()).toBe('pong');
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const before = worker.process.listenerCount('exit');
      const waits = Array.from({ length: 20 }, () => wait([worker.process], 10));
      await new Promise((resolve) => setImmediate(resolve));
      expect(worker.process.listenerCount('exit')).toBe(before + 1);
      // The child exits once it has this.
      await worker.conn.send('bye');
      for (const ready of await Promise.all(waits)) expect(ready).toEqual([worker.process]);
      expect(worker.process.listenerCount('exit')).toBeLessThanOrEqual(before);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('spawnPython options', () => {
  it('refuses bad options before starting a child', async () => {
    // An interpreter that does not exist: a start attempt would be a PythonSpawnError.
    const python = join(FIXTURES, 'no-such-python');
    const bad: [Partial<SpawnPythonOptions>, new (...args: never[]) => Error][] = [
      [{ exitTimeout: Number.NaN }, RangeError],
      [{ killTimeout: Number.POSITIVE_INFINITY }, RangeError],
      [{ killTimeout: '1' as unknown as number }, TypeError],
      [{ stderrLimit: -1 }, RangeError],
      [{ stderrLimit: 1.5 }, RangeError],
      [{ maxMessageLength: Number.NaN }, RangeError],
      [{ unpicklerOptions: { dicts: 'maps' as 'map' } }, UnpicklingError],
      // Node would spread a string into one argument per character, and take a number for a descriptor.
      [{ args: 'a b' as unknown as string[] }, TypeError],
      [{ pythonArgs: ['-X', 5 as unknown as string] }, TypeError],
      [{ stdout: 5 as unknown as 'pipe' }, TypeError],
      [{ stdin: 'file' as 'pipe' }, TypeError],
      [{ env: 5 as unknown as Record<string, string> }, TypeError],
      [{ cwd: 5 as unknown as string }, TypeError],
      [{ python: '' }, TypeError],
      // A misspelt option would be ignored without a word.
      [{ maxMesageLength: 10 } as Partial<SpawnPythonOptions>, TypeError],
      [{ exitTimout: 1 } as Partial<SpawnPythonOptions>, TypeError],
    ];
    for (const [options, type] of bad) {
      const error = await rejection(spawnPython({ python, code: 'pass', ...options }));
      expect(error).toBeInstanceOf(type);
    }
    expect(await rejection(spawnPython({ python, code: 'pass' }))).toBeInstanceOf(PythonSpawnError);
    expect(await rejection(spawnPython({ python, code: 5 as unknown as string }))).toBeInstanceOf(TypeError);
    expect(await rejection(spawnPython(null as unknown as Parameters<typeof spawnPython>[0]))).toBeInstanceOf(
      TypeError,
    );
  });

  it('names a missing working directory, which Node reports as the interpreter missing', async () => {
    const error = await rejection(spawnPython({ code: 'pass', cwd: join(FIXTURES, 'no-such-directory') }));
    expect(error).toBeInstanceOf(PythonSpawnError);
    expect((error as Error).message).toMatch(/working directory .*no-such-directory.* does not exist/);
  });
});
