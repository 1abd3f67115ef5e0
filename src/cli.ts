#!/usr/bin/env node
/**
 * The `mpwire` command line. `mpwire dis [FILE ...]` prints the pickletools-style listing of each pickle
 * (standard input when no FILE is given, or for `-`), with `python -m pickletools`'s options.
 *
 * `runCli` holds the logic and takes its streams as arguments, so it is tested without a process; the bottom
 * of this file wires it to the real process when the file runs as the `mpwire` bin.
 */
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { DisassemblyError, type DisassemblyMemo, dis } from './codec/dis.js';

/** What `runCli` reads from and writes to. */
export interface CliIo {
  /** Reads all of standard input. */
  readonly readStdin: () => Promise<Uint8Array>;
  /** Reads a whole file. */
  readonly readFile: (path: string) => Promise<Uint8Array>;
  readonly writeStdout: (text: string) => void;
  readonly writeStderr: (text: string) => void;
}

/** Exit statuses of the `mpwire` command. */
export const ExitCode = {
  /** Every pickle was listed. */
  OK: 0,
  /** A pickle could not be disassembled; its listing up to the failure is on stdout, the reason on stderr. */
  BAD_PICKLE: 1,
  /** Bad command line or unreadable file. */
  USAGE: 2,
} as const;

const USAGE = `Usage: mpwire <command> [options]

Commands:
  dis [options] [FILE ...]   Disassemble the pickle at the start of each FILE (standard input when no FILE
                             is given, or for -), as CPython's python -m pickletools prints it.

Options of dis:
  -a, --annotate             annotate each line with a short opcode description
  -l, --indentlevel N        blanks by which to indent a new MARK level (default 4)
  -m, --memo                 preserve the memo between disassemblies of several files
  -p, --preamble TEXT        line printed before each of several files; {name} is the file name
                             (default "==> {name} <==")
  -h, --help                 show this help

Exit status: 0 when every pickle was listed, 1 when a pickle is malformed (the listing up to the failure is
printed, the reason goes to standard error), 2 for a bad command line or an unreadable file.
`;

interface DisArguments {
  readonly annotate: boolean;
  readonly indentLevel: number;
  readonly shareMemo: boolean;
  readonly preamble: string;
  readonly files: readonly string[];
}

class UsageError extends Error {}

/** Short options that take a value, and the flags; what `-l2`, `-am` and `--indentlevel=2` are made of. */
const VALUE_OPTIONS: ReadonlySet<string> = new Set(['-l', '-p', '--indentlevel', '--preamble']);
const SHORT_FLAGS: ReadonlySet<string> = new Set(['a', 'm', 'h']);

/**
 * The spellings argparse (and so `python -m pickletools`) also takes, written out: `--indentlevel=2` and
 * `-l2` as `-l 2`, `-am` as `-a -m`. Arguments after `--` are left alone.
 */
function expandArguments(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 2 && VALUE_OPTIONS.has(arg.slice(0, eq))) {
      out.push(arg.slice(0, eq), arg.slice(eq + 1));
      continue;
    }
    if (arg.length > 2 && arg[0] === '-' && arg[1] !== '-') {
      // Flags, then at most one option whose value is the rest of the argument.
      let j = 1;
      while (j < arg.length && SHORT_FLAGS.has(arg[j]!)) out.push(`-${arg[j++]}`);
      if (j < arg.length) {
        const option = `-${arg[j]}`;
        if (!VALUE_OPTIONS.has(option)) {
          out.push(arg);
          continue;
        }
        out.push(option);
        if (j + 1 < arg.length) out.push(arg.slice(j + 1));
      }
      continue;
    }
    out.push(arg);
  }
  return out;
}

function parseDisArguments(given: readonly string[]): DisArguments | 'help' {
  const args = expandArguments(given);
  let annotate = false;
  let indentLevel = 4;
  let shareMemo = false;
  let preamble = '==> {name} <==';
  const files: string[] = [];
  let onlyFiles = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`option ${arg} needs a value`);
      return next;
    };
    if (onlyFiles || arg === '-' || !arg.startsWith('-')) files.push(arg);
    else if (arg === '--') onlyFiles = true;
    else if (arg === '-h' || arg === '--help') return 'help';
    else if (arg === '-a' || arg === '--annotate') annotate = true;
    else if (arg === '-m' || arg === '--memo') shareMemo = true;
    else if (arg === '-p' || arg === '--preamble') preamble = value();
    else if (arg === '-l' || arg === '--indentlevel') {
      const text = value();
      // argparse's int: a negative level indents nothing, as ' ' * -1 is ''.
      if (!/^\s*[-+]?\d+\s*$/.test(text) || Number(text) > 10_000)
        throw new UsageError(`--indentlevel needs an integer up to 10000, got ${text}`);
      indentLevel = Number(text);
    } else throw new UsageError(`unknown option ${arg}`);
  }
  return { annotate, indentLevel, shareMemo, preamble, files: files.length > 0 ? files : ['-'] };
}

async function runDis(args: DisArguments, io: CliIo): Promise<number> {
  const sharedMemo: DisassemblyMemo | undefined = args.shareMemo ? new Map() : undefined;
  for (const file of args.files) {
    const name = file === '-' ? '<stdin>' : file;
    let data: Uint8Array;
    try {
      data = file === '-' ? await io.readStdin() : await io.readFile(file);
    } catch (error) {
      io.writeStderr(
        `mpwire dis: cannot read ${name}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return ExitCode.USAGE;
    }
    if (args.files.length > 1) io.writeStdout(`${args.preamble.replaceAll('{name}', name)}\n`);
    try {
      io.writeStdout(dis(data, { annotate: args.annotate, indentLevel: args.indentLevel, memo: sharedMemo }));
    } catch (error) {
      if (!(error instanceof DisassemblyError)) throw error;
      io.writeStdout(error.listing);
      // A failure inside a line leaves that line unfinished, as in pickletools; end it before the next output.
      if (error.listing !== '' && !error.listing.endsWith('\n')) io.writeStdout('\n');
      io.writeStderr(`mpwire dis: ${name}: ${error.message}\n`);
      return ExitCode.BAD_PICKLE;
    }
  }
  return ExitCode.OK;
}

/**
 * Runs the `mpwire` command with `argv` (the arguments after the program name, e.g. `['dis', 'x.pkl']`)
 * and returns the exit status (see {@link ExitCode}).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === 'help') {
    io.writeStdout(USAGE);
    return ExitCode.OK;
  }
  if (command !== 'dis') {
    io.writeStderr(command === undefined ? USAGE : `mpwire: unknown command ${command}\n\n${USAGE}`);
    return ExitCode.USAGE;
  }
  let args: DisArguments | 'help';
  try {
    args = parseDisArguments(rest);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.writeStderr(`mpwire dis: ${error.message}\n\n${USAGE}`);
    return ExitCode.USAGE;
  }
  if (args === 'help') {
    io.writeStdout(USAGE);
    return ExitCode.OK;
  }
  return runDis(args, io);
}

async function readAll(stream: AsyncIterable<Uint8Array | string>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream)
    chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** The process streams, for the bin. */
export const processIo: CliIo = {
  readStdin: () => readAll(process.stdin),
  readFile: (path) => readFile(path),
  writeStdout: (text) => {
    process.stdout.write(text);
  },
  writeStderr: (text) => {
    process.stderr.write(text);
  },
};

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  runCli(process.argv.slice(2), processIo).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = ExitCode.USAGE;
    },
  );
}
