# -*- coding: utf-8 -*-
"""Tagged JSON descriptions of Python values, shared with interop-tests/support/tagged.ts.

describe(value, protocol) turns a value into the tagged form (see README.md); rebuild(tagged) makes a Python
value from it; same_value(a, b) compares two values structurally, types exact, with identity and cycles.
Runs unchanged on Python 2.7 and 3.6+ (stdlib only).
"""
from __future__ import print_function

import array
import binascii
import collections
import datetime
import decimal
import json
import math
import sys
import uuid

PY2 = sys.version_info[0] == 2

if PY2:  # pragma: no cover - exercised under 2.7 only
    text_type = unicode  # noqa: F821
    int_types = (int, long)  # noqa: F821
    import __builtin__ as builtins_module  # noqa: F401
    import copy_reg as copyreg
    import types

    OldStyleInstance = types.InstanceType
    ClassTypes = (type, types.ClassType)
    xrange_type = xrange  # noqa: F821
else:
    text_type = str
    int_types = (int,)
    import builtins as builtins_module  # noqa: F401
    import copyreg

    OldStyleInstance = None
    ClassTypes = (type,)
    xrange_type = range

# Python 2 module names as Python 3 (and mpwire's fix_imports) spells them.
PY2_MODULE_NAMES = {'__builtin__': 'builtins', 'exceptions': 'builtins', 'copy_reg': 'copyreg'}
# Python 2 builtins Python 3 reads as other names (_compat_pickle.NAME_MAPPING); CPython 3 writes int as
# __builtin__.long below protocol 3, so Python 2 loads it as long.
PY2_GLOBAL_NAMES = {('builtins', 'long'): 'int', ('builtins', 'unicode'): 'str', ('builtins', 'xrange'): 'range'}
PY3_TO_PY2_MODULES = {'builtins': ['__builtin__', 'exceptions'], 'copyreg': ['copy_reg']}

HAS_TIMEZONE = hasattr(datetime, 'timezone')
HAS_FOLD = sys.version_info >= (3, 6)


class NotExpressible(Exception):
    """The description names a value this interpreter cannot build (e.g. datetime.timezone on 2.7)."""


def hex_of(data):
    return binascii.hexlify(bytes(data) if not PY2 else str(data)).decode('ascii')


def float_tag(x):
    if math.isnan(x):
        return 'nan'
    if math.isinf(x):
        return 'inf' if x > 0 else '-inf'
    return x.hex()


def float_from_tag(s):
    if s in ('nan', 'inf', '-inf'):
        return float(s)
    return float.fromhex(s)


def module_name(obj):
    name = getattr(obj, '__module__', None) or 'builtins'
    return PY2_MODULE_NAMES.get(name, name)


def qualified_name(obj):
    return getattr(obj, '__qualname__', None) or obj.__name__


def is_untracked(x):
    """Values with no identity a JavaScript decoder could keep: CPython never memoizes numbers, and JS
    strings have no identity."""
    if x is None or isinstance(x, (bool, float) + int_types):
        return True
    if isinstance(x, (text_type, str)):
        return True
    return type(x) is tuple and len(x) == 0


def placeholder_reduction(obj, protocol):
    """(kind, callable, args, kwargs, state, listitems, dictitems) as CPython's pickler writes obj."""
    if OldStyleInstance is not None and isinstance(obj, OldStyleInstance):
        args = list(obj.__getinitargs__()) if hasattr(obj, '__getinitargs__') else []
        state = obj.__getstate__() if hasattr(obj, '__getstate__') else obj.__dict__
        return ('inst' if protocol == 0 else 'obj', obj.__class__, args, None, state, None, None)
    reducer = copyreg.dispatch_table.get(type(obj))
    rv = reducer(obj) if reducer else obj.__reduce_ex__(protocol)
    rv = tuple(rv) + (None,) * (5 - len(rv))
    func, args, state, listitems, dictitems = rv[:5]
    func_name = getattr(func, '__name__', '')
    if protocol >= 2 and func_name == '__newobj__':
        return ('newobj', args[0], list(args[1:]), None, state, listitems, dictitems)
    if protocol >= 4 and func_name == '__newobj_ex__':
        cls, pos, kw = args
        return ('newobj_ex', cls, list(pos), kw, state, listitems, dictitems)
    return ('reduce', func, list(args), None, state, listitems, dictitems)


class Describer(object):
    """One describe() call: numbers shared objects in the order first seen."""

    def __init__(self, protocol, unordered_sets=False, unordered_dicts=False):
        self.protocol = protocol
        # For comparing two values: sets (and Python 2 dicts) iterate in an order that depends on history.
        self.unordered_sets = unordered_sets
        self.unordered_dicts = unordered_dicts
        self.counts = {}
        self.keep_alive = []
        self.ids = {}

    def count(self, x):
        """First pass: how often each tracked object is reached (reductions are kept alive so ids stay
        unique)."""
        if is_untracked(x):
            return
        key = id(x)
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] > 1:
            return
        self.keep_alive.append(x)
        for child in self.children(x):
            self.count(child)

    def children(self, x):
        t = type(x)
        if t in (list, tuple, set, frozenset, collections.deque):
            return list(x)
        if t in (dict, collections.OrderedDict, collections.Counter):
            return [c for kv in x.items() for c in kv]
        if t is collections.defaultdict:
            return [x.default_factory] + [c for kv in x.items() for c in kv]
        if t is slice:
            return [x.start, x.stop, x.step]
        if t in (datetime.datetime, datetime.time):
            return [x.tzinfo]
        if self.is_global(x) or t in SIMPLE_TYPES:
            return []
        red = self.reduction(x)
        kind, func, args, kwargs, state, listitems, dictitems = red
        out = [func] + args
        if kwargs:
            out += [c for kv in kwargs.items() for c in kv]
        if state is not None:
            out.append(state)
        out += list(listitems or ())
        out += [c for kv in (dictitems or ()) for c in kv]
        return out

    def reduction(self, x):
        cache = getattr(self, '_reductions', None)
        if cache is None:
            cache = self._reductions = {}
        key = id(x)
        if key not in cache:
            kind, func, args, kwargs, state, listitems, dictitems = placeholder_reduction(x, self.protocol)
            red = (kind, func, args, kwargs, state,
                   list(listitems) if listitems is not None else None,
                   list(dictitems) if dictitems is not None else None)
            cache[key] = red
            self.keep_alive.append(red)
        return cache[key]

    @staticmethod
    def is_global(x):
        import types as _types
        return isinstance(x, ClassTypes) or isinstance(
            x, (_types.FunctionType, _types.BuiltinFunctionType))

    def describe(self, x):
        if is_untracked(x):
            return self.describe_plain(x)
        key = id(x)
        if key in self.ids:
            return ['ref', self.ids[key]]
        if self.counts.get(key, 0) > 1:
            n = len(self.ids)
            self.ids[key] = n
            return ['def', n, self.describe_plain(x)]
        return self.describe_plain(x)

    def items(self, pairs, unordered=False):
        pairs = list(pairs)
        if unordered:
            pairs.sort(key=lambda kv: self.sort_key(kv[0]))
        return [[self.describe(k), self.describe(v)] for k, v in pairs]

    def elements(self, values, unordered=False):
        values = list(values)
        if unordered:
            values.sort(key=self.sort_key)
        return [self.describe(v) for v in values]

    def sort_key(self, x):
        return json.dumps(Describer(self.protocol, True, True).describe(x), sort_keys=True)

    def describe_plain(self, x):
        t = type(x)
        d = self.describe
        if x is None:
            return ['none']
        if t is bool:
            return ['bool', x]
        if t in int_types:
            return ['int', str(x).rstrip('L')]
        if t is float:
            return ['float', float_tag(x)]
        if t is text_type:
            return ['str', x]
        if PY2 and t is str:
            return ['py2str', hex_of(x)]
        if t is bytes:
            return ['bytes', hex_of(x)]
        if t is bytearray:
            return ['bytearray', hex_of(x)]
        if t is tuple:
            return ['tuple', [d(i) for i in x]]
        if t is list:
            return ['list', [d(i) for i in x]]
        if t is dict:
            return ['dict', self.items(x.items(), self.unordered_dicts)]
        if t is set:
            return ['set', self.elements(x, self.unordered_sets)]
        if t is frozenset:
            return ['frozenset', self.elements(x, self.unordered_sets)]
        if t is complex:
            return ['complex', float_tag(x.real), float_tag(x.imag)]
        if t is datetime.datetime:
            return ['datetime', x.year, x.month, x.day, x.hour, x.minute, x.second, x.microsecond,
                    self.describe_tz(x.tzinfo), self.fold(x)]
        if t is datetime.date:
            return ['date', x.year, x.month, x.day]
        if t is datetime.time:
            return ['time', x.hour, x.minute, x.second, x.microsecond, self.describe_tz(x.tzinfo),
                    self.fold(x)]
        if t is datetime.timedelta:
            return ['timedelta', x.days, x.seconds, x.microseconds]
        if HAS_TIMEZONE and t is datetime.timezone:
            return self.describe_timezone(x)
        if t is decimal.Decimal:
            return ['decimal', str(x)]
        if t is uuid.UUID:
            return ['uuid', x.hex]
        if t is collections.OrderedDict:
            return ['ordereddict', self.items(x.items())]
        if t is collections.Counter:
            return ['counter', self.items(x.items())]
        if t is collections.defaultdict:
            return ['defaultdict', d(x.default_factory), self.items(x.items())]
        if t is collections.deque:
            return ['deque', [d(i) for i in x], x.maxlen]
        if t is xrange_type:
            start, stop, step = x.__reduce__()[1]
            return ['range', str(start), str(stop), str(step)]
        if t is slice:
            return ['slice', d(x.start), d(x.stop), d(x.step)]
        if t is array.array:
            if x.typecode in ('u', 'w'):
                return ['array', x.typecode, x.tounicode()]
            if x.typecode in ('f', 'd'):
                return ['array', x.typecode, [['float', float_tag(v)] for v in x]]
            return ['array', x.typecode, [['int', str(v).rstrip('L')] for v in x]]
        if self.is_global(x):
            module = module_name(x)
            name = qualified_name(x)
            return ['global', module, PY2_GLOBAL_NAMES.get((module, name), name) if PY2 else name]
        kind, func, args, kwargs, state, listitems, dictitems = self.reduction(x)
        record = {'kind': kind, 'callable': d(func), 'args': [d(a) for a in args]}
        if kwargs:
            record['kwargs'] = self.items(kwargs.items())
        if state is not None:
            record['state'] = d(state)
        record['listItems'] = [d(i) for i in (listitems or [])]
        record['dictItems'] = self.items(dictitems or [])
        return ['object', record]

    def fold(self, x):
        # CPython pickles fold only at protocol 4 and above; below, the loaded value has fold=0.
        return getattr(x, 'fold', 0) if self.protocol >= 4 else 0

    def describe_tz(self, tz):
        if tz is None:
            return None
        return self.describe(tz)

    def describe_timezone(self, tz):
        offset = tz.utcoffset(None)
        args = tz.__getinitargs__()
        name = args[1] if len(args) > 1 else None
        return ['timezone', ['timedelta', offset.days, offset.seconds, offset.microseconds], name]


SIMPLE_TYPES = (type(None), bool, float, complex, bytes, bytearray, text_type, datetime.date,
                datetime.timedelta, decimal.Decimal, uuid.UUID, xrange_type, array.array) + int_types
if HAS_TIMEZONE:
    SIMPLE_TYPES += (datetime.timezone,)


def describe(value, protocol):
    """The tagged JSON form of value, with placeholders reduced as CPython pickles them at protocol."""
    describer = Describer(protocol)
    describer.count(value)
    return describer.describe(value)


def resolve_global(module, name):
    """Imports module.name, trying the Python 2 spellings of Python 3 module names."""
    import importlib
    candidates = [module] + (PY3_TO_PY2_MODULES.get(module, []) if PY2 else [])
    for candidate in candidates:
        try:
            obj = importlib.import_module(candidate)
        except ImportError:
            continue
        try:
            for part in name.split('.'):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise NotExpressible('no global %s.%s here' % (module, name))


def unhex(s):
    return binascii.unhexlify(s.encode('ascii'))


class Rebuilder(object):
    """Builds the Python value a description names; ['def', n, v] / ['ref', n] give shared objects."""

    def __init__(self):
        self.defs = {}

    def build(self, t):
        tag = t[0]
        if tag == 'def':
            return self.build_def(t[1], t[2])
        if tag == 'ref':
            return self.defs[t[1]]
        return self.build_def(None, t)

    def bind(self, n, obj):
        if n is not None:
            self.defs[n] = obj
        return obj

    def build_def(self, n, t):
        tag = t[0]
        b = self.build
        if tag == 'none':
            return self.bind(n, None)
        if tag == 'bool':
            return self.bind(n, t[1])
        if tag == 'int':
            return self.bind(n, int(t[1]))
        if tag == 'float':
            return self.bind(n, float_from_tag(t[1]))
        if tag == 'str':
            return self.bind(n, text_type(t[1]))
        if tag == 'py2str':
            return self.bind(n, unhex(t[1]))
        if tag == 'bytes':
            return self.bind(n, unhex(t[1]))
        if tag == 'bytearray':
            return self.bind(n, bytearray(unhex(t[1])))
        if tag == 'list':
            out = self.bind(n, [])
            out.extend(b(i) for i in t[1])
            return out
        if tag in ('dict', 'ordereddict', 'counter'):
            cls = {'dict': dict, 'ordereddict': collections.OrderedDict, 'counter': collections.Counter}[tag]
            out = self.bind(n, cls())
            for k, v in t[1]:
                key = b(k)
                out[key] = b(v)
            return out
        if tag == 'defaultdict':
            out = self.bind(n, collections.defaultdict(b(t[1])))
            for k, v in t[2]:
                key = b(k)
                out[key] = b(v)
            return out
        if tag == 'set':
            out = self.bind(n, set())
            for i in t[1]:
                out.add(b(i))
            return out
        if tag == 'deque':
            out = self.bind(n, collections.deque([], t[2]))
            out.extend(b(i) for i in t[1])
            return out
        # Immutable containers: build the items first, as the unpickler does.
        if tag == 'tuple':
            return self.bind(n, tuple(b(i) for i in t[1]))
        if tag == 'frozenset':
            return self.bind(n, frozenset(b(i) for i in t[1]))
        if tag == 'complex':
            return self.bind(n, complex(float_from_tag(t[1]), float_from_tag(t[2])))
        if tag == 'datetime':
            kw = {'fold': t[9]} if HAS_FOLD else self.no_fold(t[9])
            return self.bind(n, datetime.datetime(t[1], t[2], t[3], t[4], t[5], t[6], t[7],
                                                  self.build_tz(t[8]), **kw))
        if tag == 'date':
            return self.bind(n, datetime.date(t[1], t[2], t[3]))
        if tag == 'time':
            kw = {'fold': t[6]} if HAS_FOLD else self.no_fold(t[6])
            return self.bind(n, datetime.time(t[1], t[2], t[3], t[4], self.build_tz(t[5]), **kw))
        if tag == 'timedelta':
            return self.bind(n, datetime.timedelta(t[1], t[2], t[3]))
        if tag == 'timezone':
            if not HAS_TIMEZONE:
                raise NotExpressible('datetime.timezone needs Python 3')
            offset = b(t[1])
            return self.bind(n, datetime.timezone(offset) if t[2] is None else datetime.timezone(offset, t[2]))
        if tag == 'decimal':
            return self.bind(n, decimal.Decimal(t[1]))
        if tag == 'uuid':
            return self.bind(n, uuid.UUID(hex=t[1]))
        if tag == 'range':
            return self.bind(n, xrange_type(int(t[1]), int(t[2]), int(t[3])))
        if tag == 'slice':
            return self.bind(n, slice(b(t[1]), b(t[2]), b(t[3])))
        if tag == 'array':
            available = getattr(array, 'typecodes', 'cbBuhHiIlLfd')  # 2.7 has no array.typecodes
            if str(t[1]) not in available:
                raise NotExpressible('array typecode %r is not available here' % (t[1],))
            if isinstance(t[2], list):
                return self.bind(n, array.array(str(t[1]), [b(i) for i in t[2]]))
            return self.bind(n, array.array(str(t[1]), t[2]))
        if tag == 'global':
            return self.bind(n, resolve_global(t[1], t[2]))
        if tag == 'object':
            return self.build_object(n, t[1])
        raise ValueError('unknown tag %r' % (tag,))

    @staticmethod
    def no_fold(fold):
        if fold:
            raise NotExpressible('fold=1 needs Python 3.6')
        return {}

    def build_tz(self, t):
        return None if t is None else self.build(t)

    def build_object(self, n, record):
        func = self.build(record['callable'])
        args = [self.build(a) for a in record['args']]
        kind = record['kind']
        if kind in ('newobj', 'newobj_ex'):
            kwargs = dict((self.build(k), self.build(v)) for k, v in record.get('kwargs') or [])
            obj = func.__new__(func, *args, **kwargs)
        elif kind in ('inst', 'obj'):
            obj = func(*args) if args else func.__new__(func) if not PY2 else self.old_style_new(func)
        else:
            obj = func(*args)
        self.bind(n, obj)
        if 'state' in record:
            self.apply_state(obj, self.build(record['state']))
        for item in record.get('listItems') or []:
            obj.append(self.build(item))
        for k, v in record.get('dictItems') or []:
            key = self.build(k)
            obj[key] = self.build(v)
        return obj

    @staticmethod
    def old_style_new(cls):
        import types as _types
        return _types.InstanceType(cls) if isinstance(cls, _types.ClassType) else cls.__new__(cls)

    @staticmethod
    def apply_state(obj, state):
        setstate = getattr(obj, '__setstate__', None)
        if setstate is not None and not isinstance(state, dict):
            setstate(state)
            return
        if setstate is not None and getattr(type(obj), '__setstate__', None) is not getattr(object, '__setstate__', None):
            setstate(state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        if state:
            obj.__dict__.update(state)
        for k, v in (slotstate or {}).items():
            setattr(obj, k, v)


def rebuild(tagged):
    return Rebuilder().build(tagged)


def comparable(value, protocol):
    """The description of value with sets (and Python 2 dicts, whose order depends on history) sorted, so
    that equal values compare equal as JSON: exact types, float bits, sharing and cycles all count."""
    describer = Describer(protocol, unordered_sets=True, unordered_dicts=PY2)
    describer.count(value)
    return describer.describe(value)


def same_value(a, b, protocol):
    return comparable(a, protocol) == comparable(b, protocol)


def has_surrogate_pair(s):
    """True when s holds a high surrogate followed by a low one: JSON and JavaScript read that pair as one
    astral character, so such a str has no lossless description."""
    return any(u'\ud800' <= a <= u'\udbff' and u'\udc00' <= b <= u'\udfff' for a, b in zip(s, s[1:]))


def strings_in(value):
    """Every str reached from value (each occurrence; shared containers walked once)."""
    found = []
    stack = [value]
    visited = set()
    while stack:
        x = stack.pop()
        if isinstance(x, text_type) or (not PY2 and isinstance(x, str)):
            found.append(x)
            continue
        if is_untracked(x) or id(x) in visited:
            continue
        visited.add(id(x))
        if isinstance(x, dict):
            for k, v in x.items():
                stack.append(k)
                stack.append(v)
        elif isinstance(x, (list, tuple, set, frozenset, collections.deque)):
            stack.extend(x)
        elif isinstance(x, BaseException):
            # Reading an exception's __dict__ creates it, and CPython then pickles it as state.
            stack.extend(x.args)
        elif hasattr(x, '__dict__') and not isinstance(x, ClassTypes):
            stack.extend(vars(x).keys())
            stack.extend(vars(x).values())
    return found


def string_sharing(value):
    """'none' when no string value repeats, 'all-shared' when every repeated string is one object (an
    encoder that memoizes equal strings writes CPython's bytes), 'mixed' when equal strings are distinct
    objects (no JavaScript value can reproduce CPython's memo)."""
    ids_by_text = {}
    occurrences = {}
    for s in strings_in(value):
        ids_by_text.setdefault(s, set()).add(id(s))
        occurrences[s] = occurrences.get(s, 0) + 1
    repeated = [s for s, n in occurrences.items() if n > 1]
    if not repeated:
        return 'none'
    return 'mixed' if any(len(ids_by_text[s]) > 1 for s in repeated) else 'all-shared'


def javascript_lossless(value):
    """False when a str in value has no JavaScript form that encodes back to the same Python str."""
    return not any(has_surrogate_pair(s) for s in strings_in(value))
