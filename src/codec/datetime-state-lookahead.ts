/**
 * Whether a Python 2 `str` is the state of a `datetime`, `date` or `time` being built: Python 2 pickles
 * their state as a str of packed bytes, which must stay bytes whatever `encoding` decodes other strs with.
 * The decoder asks when a str comes right after one of those classes; that str is the state only if the
 * opcodes after it build the argument tuple (the state, then perhaps a tzinfo) and REDUCE it with the class:
 *
 *     protocol 2:    cls  str [tzinfo] TUPLE1|TUPLE2  REDUCE
 *     protocols 0-1: cls MARK str [tzinfo] TUPLE  REDUCE
 *
 * with memo puts anywhere between. Any other use (`(datetime.date, 'name')`, a list or dict holding the
 * class and a str) is an ordinary str. Pure: reads the pickle bytes and nothing else.
 */
import { opcodeEnd } from './dis.js';
import { OPCODE_BY_CODE, Op } from './opcodes.js';

/**
 * Opcodes one load may read ahead, across all its strs: {@link lookaheadBudget}. Past it a str is taken as
 * an ordinary one (a datetime class still accepts a Latin-1 str state, as CPython's does).
 */
export interface LookaheadBudget {
  left: number;
}

/** Enough for any tzinfo, and bounded by the input's length, so read-ahead never makes a load quadratic. */
export function lookaheadBudget(inputLength: number): LookaheadBudget {
  return { left: 4096 + inputLength };
}

/** One opcode's effect on the stack: values it pops (before any mark), and what it pushes. */
interface StackEffect {
  readonly pops: number;
  readonly popsMark: boolean;
  readonly pushes: number;
  readonly pushesMark: boolean;
}

const EFFECTS: readonly (StackEffect | undefined)[] = OPCODE_BY_CODE.map((info) => {
  if (info === undefined) return undefined;
  const popsMark = info.stackBefore.includes('mark');
  const markAt = info.stackBefore.indexOf('mark');
  return {
    // Values below the mark (APPENDS' list, SETITEMS' dict) are popped after the mark is.
    pops: popsMark ? markAt : info.stackBefore.length,
    popsMark,
    pushes: info.stackAfter.filter((item) => item !== 'mark').length,
    pushesMark: info.stackAfter.includes('mark'),
  };
});

const MEMO_PUTS: ReadonlySet<number> = new Set([Op.PUT, Op.BINPUT, Op.LONG_BINPUT, Op.MEMOIZE]);

/**
 * Whether the str whose opcode ends at `at` is the state argument of the datetime class beneath it.
 * `afterMark`: a MARK stands between the class and the str (protocols 0 and 1).
 */
export function isDatetimeStateAt(
  data: Uint8Array,
  at: number,
  end: number,
  afterMark: boolean,
  budget: LookaheadBudget,
): boolean {
  // Nothing past `end` (the input limit) is read.
  const view = end < data.length ? data.subarray(0, end) : data;
  const closing = (depth: number, op: number): boolean =>
    afterMark ? op === Op.TUPLE : (depth === 0 && op === Op.TUPLE1) || (depth === 1 && op === Op.TUPLE2);
  // Values pushed since the str, per open mark level (marks opened after the str).
  const levels = [0];
  let pos = at;
  while (budget.left-- > 0) {
    pos = skipMemoPuts(view, pos);
    if (pos < 0 || pos >= view.length) return false;
    const op = view[pos]!;
    const depth = levels[levels.length - 1]!;
    if (levels.length === 1 && depth <= 1 && closing(depth, op)) {
      const next = skipMemoPuts(view, pos + 1);
      return next >= 0 && next < view.length && view[next] === Op.REDUCE;
    }
    const effect = EFFECTS[op];
    if (effect === undefined || op === Op.STOP) return false;
    if (effect.popsMark) {
      if (levels.length === 1) return false; // pops to a mark opened before the str
      levels.pop();
    }
    const level = levels.length - 1;
    if (levels[level]! < effect.pops) return false; // would consume the str or what lies beneath it
    levels[level] = levels[level]! - effect.pops + effect.pushes;
    if (effect.pushesMark) levels.push(0);
    pos = opcodeEnd(view, pos);
  }
  return false;
}

function skipMemoPuts(data: Uint8Array, pos: number): number {
  while (pos >= 0 && pos < data.length && MEMO_PUTS.has(data[pos]!)) pos = opcodeEnd(data, pos);
  return pos;
}
