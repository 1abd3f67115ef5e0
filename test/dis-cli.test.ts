/**
 * The `mpwire dis` command: `runCli` with in-memory streams, the same run compared with
 * `python -m pickletools` of the reference CPython (3.13 under pyenv, else python3), and the compiled bin
 * started as a real process.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, ExitCode, runCli } from '../src/cli.js';
import { dis } from '../src/codec/dis.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LIST_PICKLE = Uint8Array.of(0x80, 0x02, 0x5d, 0x71, 0x00, 0x4b, 0x07, 0x61, 0x2e); // [7], memo 0 = the list
const GET_PICKLE = Uint8Array.of(0x80, 0x02, 0x68, 0x00, 0x2e); // memo 0, from the pickle before
const TRUNCATED_PICKLE = Uint8Array.of(0x28, 0x4e, 0x4a, 0x01); // MARK NONE BININT with 1 of 4 bytes

function memoryIo(
  stdin: Uint8Array = new Uint8Array(),
): CliIo & { stdout: string; stderr: string; files: Map<string, string> } {
  const io = {
    stdout: '',
    stderr: '',
    files: new Map<string, string>(),
    openOutput: (path: string) => {
      io.files.set(path, '');
      return {
        write: (text: string) => io.files.set(path, io.files.get(path) + text),
        close: () => {},
      };
    },
    readStdin: async () => stdin,
    readFile: async (path: string) => new Uint8Array(await readFile(path)),
    writeStdout: (text: string) => {
      io.stdout += text;
    },
    writeStderr: (text: string) => {
      io.stderr += text;
    },
  };
  return io;
}

let workDir: string;
const file = (name: string, data: Uint8Array): string => {
  const path = join(workDir, name);
  writeFileSync(path, data);
  return path;
};

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'mpwire-dis-cli-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('runCli dis', () => {
  it('lists the pickle on standard input', async () => {
    const io = memoryIo(LIST_PICKLE);
    expect(await runCli(['dis'], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe(dis(LIST_PICKLE));
    expect(io.stderr).toBe('');
  });

  it('passes --annotate and --indentlevel through to dis', async () => {
    const io = memoryIo();
    const path = file('list.pkl', LIST_PICKLE);
    expect(await runCli(['dis', '-a', '--indentlevel', '2', path], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe(dis(LIST_PICKLE, { annotate: true, indentLevel: 2 }));
    // argparse takes -l -1, as python -m pickletools does: no indentation.
    const negative = memoryIo();
    expect(await runCli(['dis', '-l', '-1', path], negative)).toBe(ExitCode.OK);
    expect(negative.stdout).toBe(dis(LIST_PICKLE, { indentLevel: 0 }));
  });

  it('prints a preamble per file and, with --memo, resolves memo references across files', async () => {
    const first = file('first.pkl', LIST_PICKLE);
    const second = file('second.pkl', GET_PICKLE);
    const io = memoryIo();
    expect(await runCli(['dis', '--memo', '-p', '## {name}', first, second], io)).toBe(ExitCode.OK);
    const memo = new Map();
    expect(io.stdout).toBe(
      `## ${first}\n${dis(LIST_PICKLE, { memo })}## ${second}\n${dis(GET_PICKLE, { memo })}`,
    );
  });

  it('without --memo, prints the listing up to a bad memo reference and exits 1', async () => {
    const first = file('first.pkl', LIST_PICKLE);
    const second = file('second.pkl', GET_PICKLE);
    const io = memoryIo();
    expect(await runCli(['dis', first, second], io)).toBe(ExitCode.BAD_PICKLE);
    expect(io.stdout).toBe(
      `==> ${first} <==\n${dis(LIST_PICKLE)}==> ${second} <==\n    0: \\x80 PROTO      2\n    2: h    BINGET     0\n`,
    );
    expect(io.stderr).toBe(`mpwire dis: ${second}: memo key 0 has never been stored into (at byte 2)\n`);
  });

  it('prints what it could of a truncated pickle on stdout and the reason on stderr', async () => {
    const io = memoryIo(TRUNCATED_PICKLE);
    expect(await runCli(['dis', '-'], io)).toBe(ExitCode.BAD_PICKLE);
    expect(io.stdout).toBe('    0: (    MARK\n    1: N        NONE\n');
    expect(io.stderr).toBe('mpwire dis: <stdin>: not enough data in stream to read int4 (at byte 2)\n');
  });

  it('exits 2 for an unreadable file, an unknown option, a missing value or a missing command', async () => {
    const missing = memoryIo();
    expect(await runCli(['dis', join(workDir, 'no-such-file')], missing)).toBe(ExitCode.USAGE);
    expect(missing.stderr).toMatch(/^mpwire dis: cannot read .*no-such-file: ENOENT/);
    const unknown = memoryIo();
    expect(await runCli(['dis', '--frobnicate'], unknown)).toBe(ExitCode.USAGE);
    expect(unknown.stderr).toMatch(/^mpwire dis: unknown option --frobnicate\n\nUsage: mpwire/);
    const notNumber = memoryIo();
    expect(await runCli(['dis', '-l', 'two'], notNumber)).toBe(ExitCode.USAGE);
    expect(notNumber.stderr).toMatch(/^mpwire dis: --indentlevel needs an integer up to 10000, got two/);
    const noValue = memoryIo();
    expect(await runCli(['dis', '-l'], noValue)).toBe(ExitCode.USAGE);
    expect(noValue.stderr).toMatch(/^mpwire dis: option -l needs a value/);
    const noCommand = memoryIo();
    expect(await runCli([], noCommand)).toBe(ExitCode.USAGE);
    expect(noCommand.stderr).toMatch(/^Usage: mpwire <command>/);
    expect(noCommand.stdout).toBe('');
  });

  it('prints the usage on stdout for --help and exits 0', async () => {
    for (const argv of [['--help'], ['dis', '-h']]) {
      const io = memoryIo();
      expect(await runCli(argv, io)).toBe(ExitCode.OK);
      expect(io.stdout).toMatch(/^Usage: mpwire <command> \[options\]\n[\s\S]*--annotate/);
    }
  });
});

function referencePython(): string {
  if (process.env.MPWIRE_DIS_PYTHON) return process.env.MPWIRE_DIS_PYTHON;
  try {
    const root = execFileSync('pyenv', ['root'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const version = readdirSync(join(root, 'versions'))
      .filter((name) => name.startsWith('3.13.'))
      .sort()
      .pop();
    const candidate = version && join(root, 'versions', version, 'bin', 'python3');
    if (candidate && existsSync(candidate)) return candidate;
  } catch {
    // no pyenv: fall through to python3 on PATH
  }
  return 'python3';
}

describe('mpwire dis matches python -m pickletools', () => {
  it('with -a -m -l 3 over two files', async () => {
    const python = referencePython();
    const first = file('cli-ref-1.pkl', LIST_PICKLE);
    const second = file('cli-ref-2.pkl', GET_PICKLE);
    const args = ['-a', '-m', '-l', '3', first, second];
    const expected = execFileSync(python, ['-m', 'pickletools', ...args], { encoding: 'utf8' });
    const io = memoryIo();
    expect(await runCli(['dis', ...args], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe(expected);
  });

  it.each([
    [['-am', '-l3']],
    [['-ml3', '--preamble={name}:']],
    [['--indentlevel=2', '-am']],
    [['-p', '>> {name}', '-l', '0', '-m']],
    [['-l=2', '-p=X {name}', '-m']],
    [['--indent', '2', '--ann', '--mem', '--pre', '{{name}} {name!r} {name!a:*^60} {name:>010.9}|']],
    [['-l', '1_0', '-amp={name!s:}']],
  ])('with the argparse spellings %j', async (options) => {
    const python = referencePython();
    const args = [...options, file('cli-spell-1.pkl', LIST_PICKLE), file('cli-spell-2.pkl', GET_PICKLE)];
    const expected = execFileSync(python, ['-m', 'pickletools', ...args], { encoding: 'utf8' });
    const io = memoryIo();
    expect(await runCli(['dis', ...args], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe(expected);
  });
});

describe('mpwire dis matches python -m pickletools: streams, names and output files', () => {
  it('lists the pickles one Pickler wrote to standard input in turn for - -, offsets going on', async () => {
    const python = referencePython();
    const stream = new Uint8Array([...LIST_PICKLE, ...GET_PICKLE]);
    const path = file('cli-stream.pkl', stream);
    // pickletools counts offsets with tell(), which a pipe does not have: standard input is the file itself.
    const fd = openSync(path, 'r');
    let expected: string;
    try {
      expected = execFileSync(python, ['-m', 'pickletools', '-m', '-', '-'], {
        encoding: 'utf8',
        stdio: [fd, 'pipe', 'pipe'],
      });
    } finally {
      closeSync(fd);
    }
    const io = memoryIo(stream);
    expect(await runCli(['dis', '-m', '-', '-'], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe(expected);
    expect(io.stdout).toContain('    9: \\x80 PROTO      2\n');
  });

  it("prints file names with $ and non-ASCII characters in the preamble as Python's format does", async () => {
    const python = referencePython();
    const first = file('a$&b é.pkl', LIST_PICKLE);
    const second = file("c$$d$`'.pkl", GET_PICKLE);
    const args = ['-m', '-p', '{name} {name!r} {name!a}', first, second];
    const expected = execFileSync(python, ['-m', 'pickletools', ...args], { encoding: 'utf8' });
    const io = memoryIo();
    expect(await runCli(['dis', ...args], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe(expected);
  });

  it('writes the listing to the -o file', async () => {
    const python = referencePython();
    const source = file('cli-out.pkl', LIST_PICKLE);
    const target = join(workDir, 'cli-out.txt');
    execFileSync(python, ['-m', 'pickletools', '-a', '-o', target, source]);
    const io = memoryIo();
    expect(await runCli(['dis', '-a', '--output', 'listing.txt', source], io)).toBe(ExitCode.OK);
    expect(io.stdout).toBe('');
    expect(io.files.get('listing.txt')).toBe(readFileSync(target, 'utf8'));
  });

  it('refuses a preamble Python cannot format, before listing anything; one file is listed without one', async () => {
    for (const [preamble, message] of [
      ['{nme}', "the preamble's field {nme} is not one it has"],
      ['{name', "the preamble has a single '{'"],
      ['x}', "the preamble has a single '}'"],
      ['{name!x}', "the preamble's conversion !x is not one of !r, !s, !a"],
      ['{name:d}', 'the preamble\'s format spec "d" is not one for a str'],
    ] as const) {
      const io = memoryIo();
      const files = [file('cli-p.pkl', LIST_PICKLE), file('cli-p2.pkl', GET_PICKLE)];
      expect(await runCli(['dis', '-m', '-p', preamble, ...files], io)).toBe(ExitCode.USAGE);
      expect(io.stdout).toBe('');
      expect(io.stderr).toContain(`mpwire dis: ${message}`);
      // pickletools prints no preamble for one file, so never formats it.
      const single = memoryIo();
      expect(await runCli(['dis', '-p', preamble, files[0]!], single)).toBe(ExitCode.OK);
      expect(single.stdout).toBe(dis(LIST_PICKLE));
    }
  });
});

describe('the compiled mpwire bin', () => {
  let buildDir: string;
  beforeAll(() => {
    buildDir = join(workDir, 'build');
    execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsc'),
      ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', buildDir],
      {
        stdio: 'inherit',
      },
    );
  });

  it('starts with a node shebang, reads stdin and sets the exit status', () => {
    const bin = join(buildDir, 'cli.js');
    chmodSync(bin, 0o755); // what npm does to a package's bin on install
    const ok = spawnSync(bin, ['dis'], { input: LIST_PICKLE, encoding: 'utf8' });
    expect({ status: ok.status, stdout: ok.stdout, stderr: ok.stderr }).toEqual({
      status: 0,
      stdout: dis(LIST_PICKLE),
      stderr: '',
    });
    const bad = spawnSync(process.execPath, [bin, 'dis'], { input: TRUNCATED_PICKLE, encoding: 'utf8' });
    expect(bad.status).toBe(ExitCode.BAD_PICKLE);
    expect(bad.stderr).toBe('mpwire dis: <stdin>: not enough data in stream to read int4 (at byte 2)\n');
  });

  // '(' * 240 + 'l' * 240 + '.' listed with -l 10000: about 576 million characters, more than a string holds.
  const deepPickle = (): string =>
    file(
      'cli-deep.pkl',
      new Uint8Array([...'('.repeat(240), ...'l'.repeat(240), '.'].map((c) => c.charCodeAt(0))),
    );

  it('streams a listing longer than a string can hold, byte for byte as pickletools prints it', () => {
    const path = deepPickle();
    const digest = (command: string): string =>
      execFileSync('bash', ['-o', 'pipefail', '-c', `${command} | md5sum`], { encoding: 'utf8' });
    const ours = digest(`"${process.execPath}" "${join(buildDir, 'cli.js')}" dis -l 10000 "${path}"`);
    expect(ours).toBe(digest(`"${referencePython()}" -m pickletools -l 10000 "${path}"`));
  }, 60_000);

  it('stops quietly, with status 0, when the reader of the listing goes away', () => {
    const path = deepPickle();
    const result = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${join(buildDir, 'cli.js')}" dis -l 10000 "${path}" | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ],
      { encoding: 'utf8' },
    );
    expect({ stdout: result.stdout, stderr: result.stderr }).toEqual({ stdout: '0\n', stderr: '' });
  }, 60_000);
});
