/**
 * CPython as the oracle for encoder tests: one interpreter run per batch evaluates Python expressions and
 * returns `pickle.dumps(value, protocol).hex()` per protocol, or loads mpwire's bytes and compares them with
 * the expected value. The interpreter is `MPWIRE_PYTHON` or `python3` (it must be CPython 3.8+).
 */
import { execFileSync } from 'node:child_process';

/** The interpreter's real path: going through a pyenv shim costs ~0.3 s per start. */
export const PYTHON = execFileSync(
  process.env.MPWIRE_PYTHON ?? 'python3',
  ['-c', 'import sys; print(sys.executable)'],
  {
    encoding: 'utf8',
  },
).trim();
/** The interpreter's minor version (3.x), for the few cases whose bytes changed between versions. */
export const PYTHON_MINOR = Number(
  execFileSync(PYTHON, ['-c', 'import sys; print(sys.version_info[1])'], { encoding: 'utf8' }).trim(),
);
export const ALL_PROTOCOLS = [0, 1, 2, 3, 4, 5] as const;

/** A value written both ways: `python` is an expression, or statements that assign `v`. */
export interface OracleCase {
  readonly name: string;
  readonly python: string;
  readonly value: () => unknown;
  readonly protocols?: readonly number[];
  /** Python side: pickle through a Pickler whose persistent_id maps `Ext` objects to `'ext:' + name`. */
  readonly persistent?: boolean;
  /** Python side: protocol 5 buffer_callback that keeps every buffer out of band. */
  readonly outOfBand?: boolean;
  /** Skip the CPython round trip (placeholders whose callables cannot be called). */
  readonly noRoundTrip?: boolean;
}

const PRELUDE = String.raw`
import sys, json, pickle, io, math, copyreg, array, uuid, decimal, datetime, collections
from datetime import date, time, datetime as dt, timedelta, timezone
from decimal import Decimal
from uuid import UUID, SafeUUID
from collections import OrderedDict, defaultdict, Counter, deque

class Thing:
    def __reduce_ex__(self, protocol):
        reduction = self.__dict__.get('_r')
        return reduction if reduction is not None else object.__reduce_ex__(self, protocol)

class Outer:
    class Inner:
        pass

def R(reduction=None):
    """A Thing whose __reduce_ex__ returns whatever the test needs (CPython checks NEWOBJ's class)."""
    thing = Thing()
    thing._r = reduction
    return thing

class Ext:
    def __init__(self, name):
        self.name = name

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __reduce__(self):
        return (Point, (self.x, self.y))
    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)

def build(code):
    env = dict(globals())
    if '\n' in code or code.startswith('v ='):
        exec(code, env)
        return env['v']
    return eval(code, env)

# Subclasses, since 3.13 makes persistent_id / persistent_load read-only on C pickler instances.
class ExtPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return 'ext:' + obj.name if isinstance(obj, Ext) else None

class ExtUnpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return Ext(pid[4:])

def dumps(value, protocol, case):
    f = io.BytesIO()
    kwargs = {}
    if case.get('outOfBand'):
        kwargs['buffer_callback'] = lambda buf: None
    (ExtPickler if case.get('persistent') else pickle.Pickler)(f, protocol, **kwargs).dump(value)
    return f.getvalue()

def loads(data, case):
    kwargs = {}
    if case.get('outOfBand'):
        kwargs['buffers'] = [b'']
    return (ExtUnpickler if case.get('persistent') else pickle.Unpickler)(io.BytesIO(data), **kwargs).load()

def deep_equal(a, b, seen):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Decimal):
        return repr(a) == repr(b)
    if isinstance(a, (int, str, bytes, type(None), bool, complex, range, slice, UUID, array.array, timedelta, date, timezone, type)):
        if isinstance(a, (dt, time)) and (a.fold != b.fold or a.tzinfo != b.tzinfo):
            return False
        return a == b
    key = (id(a), id(b))
    if key in seen:
        return True
    seen.add(key)
    if isinstance(a, (list, tuple, deque)):
        if getattr(a, 'maxlen', None) != getattr(b, 'maxlen', None):
            return False
        return len(a) == len(b) and all(deep_equal(x, y, seen) for x, y in zip(a, b))
    if isinstance(a, dict):
        if getattr(a, 'default_factory', None) != getattr(b, 'default_factory', None):
            return False
        ka, kb = list(a), list(b)
        return len(ka) == len(kb) and all(deep_equal(x, y, seen) and deep_equal(a[x], b[y], seen) for x, y in zip(ka, kb))
    if isinstance(a, (set, frozenset, bytearray, pickle.PickleBuffer)):
        return a == b if not isinstance(a, pickle.PickleBuffer) else bytes(a) == bytes(b)
    if isinstance(a, Ext):
        return a.name == b.name
    return a == b

request = json.load(sys.stdin)
result = {}
for case in request['cases']:
    # Built anew per protocol: a reduce value's iterators are used up by one dump.
    if request['mode'] == 'dumps':
        result[case['name']] = {str(p): dumps(build(case['python']), p, case).hex() for p in case['protocols']}
    else:
        checks = {}
        for p, data in case['encoded'].items():
            try:
                expected = loads(dumps(build(case['python']), int(p), case), case)
                checks[p] = 'ok' if deep_equal(loads(bytes.fromhex(data), case), expected, set()) else 'different value'
            except Exception as e:
                checks[p] = 'error: %r' % (e,)
        result[case['name']] = checks
json.dump(result, sys.stdout)
`;

function runPython(request: unknown): Record<string, Record<string, string>> {
  const stdout = execFileSync(PYTHON, ['-c', PRELUDE], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, PYTHONHASHSEED: '0', PYTHONWARNINGS: 'ignore' },
  });
  return JSON.parse(stdout) as Record<string, Record<string, string>>;
}

function caseRequest(c: OracleCase): Record<string, unknown> {
  return {
    name: c.name,
    python: c.python,
    protocols: c.protocols ?? ALL_PROTOCOLS,
    persistent: c.persistent ?? false,
    outOfBand: c.outOfBand ?? false,
  };
}

/** CPython's `pickle.dumps(value, p).hex()` for every case and protocol: `result[name][p]`. */
export function cpythonDumps(cases: readonly OracleCase[]): Record<string, Record<string, string>> {
  return runPython({ mode: 'dumps', cases: cases.map(caseRequest) });
}

/**
 * Loads mpwire's bytes (`encoded[name][p]`, hex) in CPython and compares each with what CPython's own
 * dumps/loads round trip of the Python value gives: `result[name][p]` is `'ok'` or the difference.
 */
export function cpythonCheckLoads(
  cases: readonly OracleCase[],
  encoded: Record<string, Record<string, string>>,
): Record<string, Record<string, string>> {
  const request = cases.map((c) => ({ ...caseRequest(c), encoded: encoded[c.name] }));
  return runPython({ mode: 'loads', cases: request });
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Every case and protocol whose load by CPython was not 'ok', as `name @protocol: verdict` lines. */
export function loadFailures(results: Record<string, Record<string, string>>): string[] {
  return Object.entries(results).flatMap(([name, byProtocol]) =>
    Object.entries(byProtocol)
      .filter(([, verdict]) => verdict !== 'ok')
      .map(([p, verdict]) => `${name} @${p}: ${verdict}`),
  );
}
