# -*- coding: utf-8 -*-
"""Harvests CPython's own unpickling conformance cases from this interpreter's test/pickletester.py.

Runs every test of AbstractUnpickleTests with `loads` and `check_unpickling_error` intercepted, so the pickles
come from CPython's suite itself rather than being copied by hand:
- every pickle a test expects to be refused (check_unpickling_error, or loads inside assertRaises), confirmed
  against this interpreter's C unpickler;
- the canonical DATA0..DATAn, DATA_XRANGE, DATA_SET, DATA_SET2 pickles with the description of the value
  CPython loads from them.

stdout: {"python", "available": bool, "reason"?, "refused": [{"test", "pickle": hex, "kwargs", "cpythonError"}],
"acceptedByC": [...same, pickles the suite expects refused but this C unpickler loads...],
"canonical": [{"name", "protocol", "pickle": hex, "description"}], "testErrors": [{"test", "error"}]}
"""
from __future__ import print_function

import contextlib
import json
import os
import pickle
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tagged import describe, hex_of  # noqa: E402

VERSION = '.'.join(map(str, sys.version_info[:3]))
# Decoder options that mean the same in mpwire; a case needing any other keyword is not portable.
PORTABLE_KWARGS = ('encoding', 'errors', 'fix_imports')
# Tests about Python's object model, not about bytes (pickle-anchors.md §3.2 "X"): they patch copyreg, race
# imports, override find_class, or expect the refusal from the pickled class's own code (2.7's
# test_load_classic_instance_error raises MyErr from __init__), which no decoder that never runs Python can see.
NOT_PORTABLE_TESTS = ('test_bad_ext_inverted_registry', 'test_unpickle_module_race', 'test_find_class',
                      'test_custom_find_class', 'test_load_classic_instance_error')


def unavailable(reason):
    sys.stdout.write(json.dumps({'python': VERSION, 'available': False, 'reason': reason}))
    sys.exit(0)


try:
    from test import pickletester
except Exception as exc:  # the interpreter was built without its test package
    unavailable('test.pickletester cannot be imported: %s: %s' % (type(exc).__name__, exc))

if not hasattr(pickletester, 'AbstractUnpickleTests'):
    unavailable('test.pickletester has no AbstractUnpickleTests')


def cpython_error(data, kwargs):
    try:
        pickle.loads(data, **kwargs)
    except Exception as exc:
        return type(exc).__name__
    return None


class Harvest(object):
    def __init__(self):
        self.refused = []
        self.accepted_by_c = []
        self.test_errors = []
        self.current_test = None

    def record_refusal(self, data, kwargs):
        if any(k not in PORTABLE_KWARGS for k in kwargs):
            return
        data = bytes(data) if not isinstance(data, bytes) else data
        case = {'test': self.current_test, 'pickle': hex_of(data), 'kwargs': kwargs,
                'cpythonError': cpython_error(data, kwargs)}
        (self.refused if case['cpythonError'] else self.accepted_by_c).append(case)


HARVEST = Harvest()

base = pickletester.AbstractUnpickleTests
bases = (base,) if issubclass(base, unittest.TestCase) else (base, unittest.TestCase)


def make_intercepting_class():
    def loads(self, data, **kwargs):
        if self._refusing:
            HARVEST.record_refusal(data, kwargs)
            raise pickle.UnpicklingError('harvested')
        return pickle.loads(data, **kwargs)

    def check_unpickling_error(self, errors, data):
        HARVEST.record_refusal(data, {})

    def assertRaises(self, expected, *args, **kwargs):
        if args:
            with self.refusing():
                try:
                    args[0](*args[1:], **kwargs)
                except Exception:
                    pass
            return None
        return self.refusing()

    @contextlib.contextmanager
    def refusing(self):
        self._refusing = True
        try:
            yield self
        except Exception:
            pass
        finally:
            self._refusing = False

    namespace = {
        '_refusing': False, 'loads': loads, 'check_unpickling_error': check_unpickling_error,
        'assertRaises': assertRaises, 'refusing': refusing, 'runTest': lambda self: None,
        'bad_stack_errors': (pickle.UnpicklingError, IndexError),
        'bad_mark_errors': (pickle.UnpicklingError, IndexError),
        'truncated_errors': (pickle.UnpicklingError, EOFError, AttributeError, ValueError, IndexError),
        'error': pickle.UnpicklingError,
    }
    return type('Intercepting', bases, namespace)


def run_tests():
    cls = make_intercepting_class()
    names = sorted(n for n in dir(cls) if n.startswith('test_') and n not in NOT_PORTABLE_TESTS)
    for name in names:
        HARVEST.current_test = name
        test = cls('runTest')
        try:
            getattr(test, name)()
        except unittest.SkipTest:
            continue
        except Exception as exc:  # an assertion about values (not refusals) that the interception changed
            HARVEST.test_errors.append({'test': name, 'error': '%s: %s' % (type(exc).__name__, exc)})


def canonical_cases():
    """DATA pickles and what CPython loads from them, described at the pickle's protocol."""
    cases = []
    main_module = sys.modules['__main__']
    instance_class = getattr(pickletester, 'C', None)
    if instance_class is not None:
        # The DATA pickles name the suite's class C as __main__.C.
        main_module.C = instance_class
        instance_class.__module__ = '__main__'
    for protocol in range(7):
        name = 'DATA%d' % protocol
        data = getattr(pickletester, name, None)
        if data is None:
            continue
        data = data if isinstance(data, bytes) else data.encode('latin-1')
        cases.append({'name': name, 'protocol': protocol, 'pickle': hex_of(data),
                      'description': describe(pickle.loads(data), protocol)})
    for name in ('DATA_XRANGE', 'DATA_SET', 'DATA_SET2'):
        data = getattr(pickletester, name, None)
        if data is not None:
            cases.append({'name': name, 'protocol': 2, 'pickle': hex_of(data),
                          'description': describe(pickle.loads(data), 2)})
    return cases


def main():
    run_tests()
    result = {'python': VERSION, 'available': True, 'refused': HARVEST.refused,
              'acceptedByC': HARVEST.accepted_by_c, 'canonical': canonical_cases(),
              'testErrors': HARVEST.test_errors}
    sys.stdout.write(json.dumps(result))


if __name__ == '__main__':
    main()
