# -*- coding: utf-8 -*-
"""The conformance corpus: named Python values, plus the user types they use. Lives in an importable module
(not __main__) so that every interpreter can load pickles that name these classes."""
from __future__ import print_function

import array
import collections
import datetime
import decimal
import sys
import uuid

from tagged import HAS_FOLD, HAS_TIMEZONE, PY2


class Point(object):
    """A plain user class: pickled as copyreg._reconstructor (protocols 0/1) or NEWOBJ (2+), with a dict state."""

    def __init__(self, x, y):
        self.x = x
        self.y = y


class Bag(list):
    """A list subclass: its items travel as APPENDS on protocol 2+ (listItems)."""


class Registry(dict):
    """A dict subclass: its items travel as SETITEMS on protocol 2+ (dictItems)."""


class Slotted(object):
    """A class with __slots__: state is a (None, slots) pair."""

    __slots__ = ('a', 'b')

    def __init__(self, a, b):
        self.a = a
        self.b = b


def referenced_function(value):
    """Pickled by reference (a global)."""
    return value


def ints():
    out = []
    for n in (0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1000):
        for sign in (1, -1):
            for delta in (-1, 0, 1):
                v = sign * (2 ** n) + delta
                if v not in out:
                    out.append(v)
    out.extend([2 ** 53 - 1, 2 ** 53, -(2 ** 53) + 1, -(2 ** 53), 10 ** 100, -(10 ** 100),
                2 ** 2040 - 1, 2 ** 2047, -(2 ** 2048)])
    return [('int %d' % i, v) for i, v in enumerate(out)]


def floats():
    values = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.0, 3.0, 0.1, -2.5, 1e100, -1e-100, 1e308,
              float('inf'), float('-inf'), float('nan'), 5e-324, -5e-324, 2.2250738585072014e-308,
              2.225073858507201e-308, 1.7976931348623157e308, 9007199254740993.0, 123456789.125]
    return [('float %r' % (v,), v) for v in values]


def texts():
    values = [u'', u'a', u'abc', u'caf\xe9', u'\u20ac', u'\U0001F600', u'x\U0001F600y', u'\x00',
              u'a\x00b', u'\\', u'back\\slash', u'new\nline', u'\r\n\t', u'quote\'"', u'\x7f\x80\xff',
              u'\u0100\uffff', u'\ud800', u'\udc80', u'a\udfffb', u'\udbff\udc00', u'\ufeff', u'\\u1234',
              u'%s' % (u'long ' * 60), u'x' * 255, u'y' * 256, u'\u4e2d\u6587']
    return [('str %d' % i, v) for i, v in enumerate(values)]


def byte_strings():
    raw = [b'', b'a', b'\x00', b'\xff', b'\x00\x01\x02\x80\xfe\xff', bytes(bytearray(range(256))),
           b'\\n', b'x' * 256]
    out = [('bytes %d' % i, v) for i, v in enumerate(raw)]
    out += [('bytearray %d' % i, bytearray(v)) for i, v in enumerate(raw[:6])]
    return out


def containers():
    shared = [1, 2]
    recursive_list = [1]
    recursive_list.append(recursive_list)
    recursive_dict = {u'a': 1}
    recursive_dict[u'self'] = recursive_dict
    holder = []
    tuple_cycle = (holder, 1)
    holder.append(tuple_cycle)
    nested = {u'k': [(1, 2), {u'z': frozenset([1])}], u'l': [[[]]]}
    same_tuple = (1, u'two')
    out = [
        ('empty tuple', ()), ('tuple 1', (1,)), ('tuple 2', (1, 2)), ('tuple 3', (1, 2, 3)),
        ('tuple 4', (1, 2, 3, 4)), ('nested tuples', ((), ((),), (1, (2, (3,))))),
        ('empty list', []), ('list mixed', [None, True, False, 1, 1.0, u's', b'b']),
        ('list 1000', list(range(1000))), ('list 1001', list(range(1001))), ('list 2001', list(range(2001))),
        ('empty dict', {}), ('dict str keys', {u'a': 1, u'b': [2], u'c': {u'd': None}}),
        ('dict int keys', {1: u'a', 2: u'b'}), ('dict mixed keys', {1: u'a', u'1': u'b'}),
        ('dict tuple keys', {(1, 2): u'a', (): u'b'}), ('dict proto key', {u'__proto__': 1, u'x': 2}),
        ('dict index-like keys', {u'0': 0, u'10': 1, u'4294967294': 2}),
        ('dict non-index numeric keys', {u'007': 0, u'-1': 1, u'4294967295': 2, u'1.5': 3}),
        ('dict float/none/bool keys', {1.5: 1, None: 2, True: 3}),
        ('dict 1000', dict((u'k%d' % i, i) for i in range(1000))),
        ('dict 1001', dict((i, i) for i in range(1001))),
        ('empty set', set()), ('set ints', set([1, 2, 3])), ('set mixed', set([u'a', 1, (2, 3)])),
        ('set 1001', set(range(1001))),
        ('empty frozenset', frozenset()), ('frozenset', frozenset([1, u'x'])),
        ('set of frozensets', set([frozenset([1]), frozenset([2, 3])])),
        ('nested', nested), ('shared list', [shared, shared, (shared,)]),
        ('shared tuple', [same_tuple, same_tuple]),
        ('shared bytes', [b'xyz', b'xyz']),
        ('recursive list', recursive_list), ('recursive dict', recursive_dict),
        ('tuple in a cycle', holder), ('list of 300 distinct lists', [[i] for i in range(300)]),
        ('repeated key strings', [{u'name': 1}, {u'name': 2}]),
    ]
    return out


def stdlib_values():
    utc = datetime.timezone.utc if HAS_TIMEZONE else None
    out = [
        ('date', datetime.date(2024, 2, 29)), ('date min', datetime.date(1, 1, 1)),
        ('time', datetime.time(12, 30, 15, 250)), ('time midnight', datetime.time()),
        ('datetime naive', datetime.datetime(2024, 1, 2, 3, 4, 5, 678901)),
        ('datetime max', datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)),
        ('timedelta', datetime.timedelta(1, 2, 3)), ('timedelta negative', datetime.timedelta(-1, 86399, 999999)),
        ('timedelta zero', datetime.timedelta(0)),
        ('decimal', decimal.Decimal('1.10')), ('decimal nan', decimal.Decimal('NaN')),
        ('decimal -0', decimal.Decimal('-0')), ('decimal exp', decimal.Decimal('1E+100')),
        ('decimal small', decimal.Decimal('-1.5E-30')), ('decimal inf', decimal.Decimal('-Infinity')),
        ('uuid', uuid.UUID('12345678-1234-5678-1234-567812345678')),
        ('complex', complex(1.5, -2.0)), ('complex zero', complex(0.0, 0.0)),
        ('range', range(0, 10, 3) if not PY2 else xrange(0, 10, 3)),  # noqa: F821
        ('range negative', range(10, -5, -2) if not PY2 else xrange(10, -5, -2)),  # noqa: F821
        ('slice', slice(1, 10, 2)), ('slice none', slice(None, 5, None)),
        ('ordereddict', collections.OrderedDict([(u'b', 1), (u'a', 2)])),
        ('defaultdict list', collections.defaultdict(list, {u'a': [1]})),
        ('defaultdict none', collections.defaultdict(None, {1: 2})),
        ('counter', collections.Counter({u'a': 2, u'b': 1})),
        ('deque', collections.deque([1, 2, 3])), ('deque maxlen', collections.deque([1, 2], 5)),
        ('array i', array.array('i', [1, -2, 3])), ('array d', array.array('d', [1.5, -0.0])),
        ('array B', array.array('B', [0, 255])),
        # 8-byte C longs: below protocol 3 their items are pickled as a list of ints, beyond 2**53 too.
        ('array l', array.array('l', [-(2 ** 63), 2 ** 63 - 1, 5])),
        ('array L', array.array('L', [2 ** 64 - 1, 7])),
        ('value error', ValueError(u'bad', 1)), ('key error', KeyError(u'k')),
        ('point', Point(1, u'y')), ('points sharing', [Point(1, 2), Point(3, 4)]),
        ('bag', Bag([1, 2, 3])), ('registry', Registry({u'a': 1})),
        ('function', referenced_function), ('class', Point), ('builtin function', len),
        ('builtin type', int),
    ]
    if not PY2:
        out.append(('slotted', Slotted(1, u'b')))
    if HAS_TIMEZONE:
        out += [
            ('datetime utc', datetime.datetime(2024, 1, 2, 3, 4, 5, 6, utc)),
            ('datetime +05:30', datetime.datetime(2024, 1, 2, 3, 4, 5, 0,
                                                  datetime.timezone(datetime.timedelta(hours=5, minutes=30)))),
            ('datetime named tz', datetime.datetime(2000, 6, 1, 0, 0, 0, 0,
                                                    datetime.timezone(datetime.timedelta(hours=-8), u'PST'))),
            ('time with tz', datetime.time(1, 2, 3, 4, utc)),
            ('timezone', datetime.timezone(datetime.timedelta(minutes=-90))),
        ]
    if HAS_FOLD:
        out += [
            ('datetime fold', datetime.datetime(2021, 11, 7, 1, 30, fold=1)),
            ('time fold', datetime.time(1, 30, fold=1)),
        ]
    if sys.version_info >= (3, 0):
        out.append(('array u', array.array('u', u'hi\u20ac')))
        out.append(('array q', array.array('q', [-(2 ** 63), 2 ** 63 - 1])))
    return out


def corpus_values():
    """(name, value) pairs. Names are stable across interpreters so results can be lined up."""
    return ints() + floats() + texts() + byte_strings() + containers() + stdlib_values()
