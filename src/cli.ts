#!/usr/bin/env node
/**
 * The `mpwire` command line. `mpwire dis [FILE ...]` prints the pickletools-style listing of each pickle
 * (standard input when no FILE is given, or for `-`), with `python -m pickletools`'s options.
 *
 * `runCli` holds the logic and takes its streams as arguments, so it is tested without a process; the bottom
 * of this file wires it to the real process when the file runs as the `mpwire` bin.
 */
import { closeSync, openSync, realpathSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { DisassemblyError, type DisassemblyMemo, dis, genops, reprStr } from './codec/dis.js';

/** What `runCli` reads from and writes to. */
export interface CliIo {
  /** Reads all of standard input. */
  readonly readStdin: () => Promise<Uint8Array>;
  /** Reads a whole file. */
  readonly readFile: (path: string) => Promise<Uint8Array>;
  readonly writeStdout: (text: string) => void;
  readonly writeStderr: (text: string) => void;
  /** Creates (or empties) the file `-o` names; the listing goes to it instead of standard output. */
  readonly openOutput: (path: string) => CliOutput;
}

/** A file `runCli` writes the listing to. */
export interface CliOutput {
  readonly write: (text: string) => void;
  readonly close: () => void;
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
  -o, --output FILE          write the listing to FILE instead of standard output
  -a, --annotate             annotate each line with a short opcode description
  -l, --indentlevel N        blanks by which to indent a new MARK level (default 4, at most 10000)
  -m, --memo                 preserve the memo between disassemblies of several files
  -p, --preamble TEXT        line printed before each of several files, a Python format string whose
                             {name} is the file name (default "==> {name} <==")
  -h, --help                 show this help

A - (or no FILE) reads standard input, and each further - goes on with the next pickle there, so that
"dis -m - -" lists two pickles one Pickler wrote in turn. Long options may be shortened to any unique
prefix. pickletools' -t and -v (its own self-test) are not offered.

Exit status: 0 when every pickle was listed (or the reader of the listing stopped early, as head does), 1
when a pickle is malformed (the listing up to the failure is printed, the reason goes to standard error), 2
for a bad command line or an unreadable file.
`;

interface DisArguments {
  readonly output: string | undefined;
  readonly annotate: boolean;
  readonly indentLevel: number;
  readonly shareMemo: boolean;
  readonly preamble: string;
  readonly files: readonly string[];
}

class UsageError extends Error {}

/** Short options that take a value, and the flags; what `-l2`, `-am` and `--indentlevel=2` are made of. */
const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  '-l',
  '-p',
  '-o',
  '--indentlevel',
  '--preamble',
  '--output',
]);
const SHORT_FLAGS: ReadonlySet<string> = new Set(['a', 'm', 'h']);
const LONG_OPTIONS: readonly string[] = [
  '--annotate',
  '--help',
  '--indentlevel',
  '--memo',
  '--output',
  '--preamble',
];

/** A long option written as a unique prefix of one (`--indent`), as argparse takes it, in full. */
function completeLongOption(option: string): string {
  if (LONG_OPTIONS.includes(option)) return option;
  const matches = LONG_OPTIONS.filter((name) => name.startsWith(option));
  if (matches.length === 1) return matches[0]!;
  throw new UsageError(
    matches.length === 0
      ? `unknown option ${option}`
      : `ambiguous option ${option} could match ${matches.join(', ')}`,
  );
}

/**
 * The spellings argparse (and so `python -m pickletools`) also takes, written out: `--indentlevel=2`,
 * `--indent 2`, `-l2` and `-l=2` as `--indentlevel 2`, `-am` as `-a -m`. Arguments after `--` are left alone.
 */
function expandArguments(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const option = completeLongOption(eq > 2 ? arg.slice(0, eq) : arg);
      if (eq > 2) {
        if (!VALUE_OPTIONS.has(option)) throw new UsageError(`option ${option} takes no value`);
        out.push(option, arg.slice(eq + 1));
      } else {
        out.push(option);
      }
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
        // argparse reads `-l=2` as `-l 2`.
        if (j + 1 < arg.length) out.push(arg.slice(arg[j + 1] === '=' ? j + 2 : j + 1));
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
  let output: string | undefined;
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
    else if (arg === '-p' || arg === '--preamble') {
      preamble = value();
    } else if (arg === '-o' || arg === '--output') output = value();
    else if (arg === '-l' || arg === '--indentlevel') {
      const text = value();
      // argparse's int(): blanks around, a sign, and underscores between digits; a negative level indents
      // nothing, as ' ' * -1 is ''.
      if (!/^\s*[-+]?\d+(?:_\d+)*\s*$/.test(text) || Number(text.replaceAll('_', '')) > 10_000)
        throw new UsageError(`--indentlevel needs an integer up to 10000, got ${text}`);
      indentLevel = Number(text.replaceAll('_', ''));
    } else throw new UsageError(`unknown option ${arg}`);
  }
  // pickletools formats the preamble only for several files; a malformed one is refused before any listing.
  if (files.length > 1) formatPreamble(preamble, '');
  return { output, annotate, indentLevel, shareMemo, preamble, files: files.length > 0 ? files : ['-'] };
}

/** Python's `ascii()` of a str: its repr with every non-ASCII character escaped. */
function asciiRepr(text: string): string {
  let result = '';
  for (const char of reprStr(text)) {
    const code = char.codePointAt(0)!;
    if (code < 0x80) result += char;
    else if (code <= 0xff) result += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code <= 0xffff) result += `\\u${code.toString(16).padStart(4, '0')}`;
    else result += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return result;
}

/** `format(text, spec)` for a str: `[[fill]align][0][width][.precision][s]`, as Python 3.13 reads it. */
function formatStr(text: string, spec: string): string {
  const match = /^(?:(.)?([<>^]))?(0)?(\d+)?(?:\.(\d+))?s?$/su.exec(spec);
  if (match === null)
    throw new UsageError(`the preamble's format spec ${JSON.stringify(spec)} is not one for a str`);
  const [, fillGiven, align = '<', zero, width, precision] = match;
  // Python 3.10 on: a 0 before the width pads with zeros where no fill is given.
  const fill = fillGiven ?? (zero !== undefined ? '0' : ' ');
  let chars = [...text];
  if (precision !== undefined) chars = chars.slice(0, Number(precision));
  const padding = Math.max(0, Number(width ?? 0) - chars.length);
  const body = chars.join('');
  if (align === '>') return fill.repeat(padding) + body;
  if (align === '^') return fill.repeat(padding >> 1) + body + fill.repeat(padding - (padding >> 1));
  return body + fill.repeat(padding);
}

/**
 * `template.format(name=name)`, as pickletools makes its preamble: `{name}`, `{name!r}`, `{name!s}`,
 * `{name!a}`, a str format spec after `:`, and `{{`/`}}` for braces. @throws UsageError where Python would
 * raise (an unknown field, a lone brace, a spec a str does not take).
 */
function formatPreamble(template: string, name: string): string {
  let result = '';
  let i = 0;
  while (i < template.length) {
    const char = template[i]!;
    if (char === '}' || (char === '{' && template[i + 1] === '{')) {
      if (template[i + 1] !== char)
        throw new UsageError("the preamble has a single '}'; write }} for a brace");
      result += char;
      i += 2;
      continue;
    }
    if (char !== '{') {
      result += char;
      i++;
      continue;
    }
    const close = template.indexOf('}', i);
    if (close < 0) throw new UsageError("the preamble has a single '{'; write {{ for a brace");
    const field = /^([^!:]*)(?:!(.))?(?::(.*))?$/su.exec(template.slice(i + 1, close));
    if (field === null || field[1] !== 'name' || (field[3] ?? '').includes('{')) {
      throw new UsageError(
        `the preamble's field {${template.slice(i + 1, close)}} is not one it has: {name} is the file name`,
      );
    }
    const conversion = field[2];
    let value = name;
    if (conversion === 'r') value = reprStr(name);
    else if (conversion === 'a') value = asciiRepr(name);
    else if (conversion !== undefined && conversion !== 's')
      throw new UsageError(`the preamble's conversion !${conversion} is not one of !r, !s, !a`);
    result += formatStr(value, field[3] ?? '');
    i = close + 1;
  }
  return result;
}

/** Where the pickle at `start` in `data` ends, just past its STOP (it has been listed, so it has one). */
function pickleEnd(data: Uint8Array, start: number): number {
  let end = data.length;
  for (const op of genops(data, start)) end = op.end;
  return end;
}

/** Joins the listing's pieces into writes of about 64 KiB. */
class BufferedText {
  #pending = '';
  #endsLine = true;
  constructor(private readonly sink: (text: string) => void) {}
  write(text: string): void {
    if (text === '') return;
    this.#pending += text;
    this.#endsLine = text.endsWith('\n');
    if (this.#pending.length >= 1 << 16) this.flush();
  }
  /** Whether the text so far ends a line (or there is none). */
  get endsLine(): boolean {
    return this.#endsLine;
  }
  flush(): void {
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.sink(text);
  }
}

async function runDis(args: DisArguments, io: CliIo): Promise<number> {
  let output: CliOutput | undefined;
  if (args.output !== undefined) {
    try {
      output = io.openOutput(args.output);
    } catch (error) {
      io.writeStderr(
        `mpwire dis: cannot write ${args.output}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return ExitCode.USAGE;
    }
  }
  const listing = new BufferedText(output === undefined ? io.writeStdout : output.write);
  try {
    return await disassembleFiles(args, io, listing);
  } finally {
    listing.flush();
    output?.close();
  }
}

async function disassembleFiles(args: DisArguments, io: CliIo, listing: BufferedText): Promise<number> {
  const sharedMemo: DisassemblyMemo | undefined = args.shareMemo ? new Map() : undefined;
  // Standard input is read once; each - lists the next pickle in it, as pickletools reads one file object,
  // and the listing's offsets go on counting from the start of the input, as pickletools' file positions do.
  let stdin: Uint8Array | undefined;
  let stdinOffset = 0;
  const options = {
    annotate: args.annotate,
    indentLevel: args.indentLevel,
    memo: sharedMemo,
    out: (text: string) => listing.write(text),
  };
  for (const file of args.files) {
    const name = file === '-' ? '<stdin>' : file;
    let data: Uint8Array;
    try {
      if (file === '-') {
        stdin ??= await io.readStdin();
        data = stdin;
      } else {
        data = await io.readFile(file);
      }
    } catch (error) {
      listing.flush();
      io.writeStderr(
        `mpwire dis: cannot read ${name}: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return ExitCode.USAGE;
    }
    if (args.files.length > 1) listing.write(`${formatPreamble(args.preamble, name)}\n`);
    try {
      dis(data, { ...options, start: file === '-' ? stdinOffset : 0 });
    } catch (error) {
      if (!(error instanceof DisassemblyError)) throw error;
      // A failure inside a line leaves that line unfinished, as in pickletools; end it before the next output.
      if (!listing.endsLine) listing.write('\n');
      listing.flush();
      io.writeStderr(`mpwire dis: ${name}: ${error.message}\n`);
      return ExitCode.BAD_PICKLE;
    }
    if (file === '-') stdinOffset = pickleEnd(data, stdinOffset);
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

/**
 * Writes all of `text` to the descriptor at once, so that a reader that has gone (EPIPE) is known here and
 * a listing of gigabytes is never queued in memory. A descriptor another process left non-blocking is
 * retried until it takes the bytes.
 */
function writeAllSync(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** The process streams, for the bin. */
export const processIo: CliIo = {
  readStdin: () => readAll(process.stdin),
  readFile: (path) => readFile(path),
  writeStdout: (text) => writeAllSync(1, text),
  writeStderr: (text) => {
    process.stderr.write(text);
  },
  openOutput: (path) => {
    const fd = openSync(path, 'w');
    return { write: (text) => writeAllSync(fd, text), close: () => closeSync(fd) };
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
      // The reader of the listing stopped early (`mpwire dis x.pkl | head`): nothing is wrong.
      if ((error as NodeJS.ErrnoException | null)?.code === 'EPIPE') {
        process.exitCode = ExitCode.OK;
        return;
      }
      console.error(error);
      process.exitCode = ExitCode.USAGE;
    },
  );
}
