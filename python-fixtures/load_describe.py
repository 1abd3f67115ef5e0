# -*- coding: utf-8 -*-
"""Loads hand-made pickles with each of this interpreter's unpicklers and describes what each returned.

stdin:  {"cases": [{"id": str, "pickle": hex}], "restricted"?: true, "stream"?: true}
stdout: {"python": "3.13.0", "results": [{"id", "loaders": {loader: {"description": tagged} | {"error": str}}}]}
        or, with "stream", one result per line as each case is done, so a caller can tell which pickle an
        interpreter crashed on (CPython 3.13.0's C unpickler segfaults on some malformed pickles).
Loaders: "c" and "python" on 3.x (pickle.loads, pickle._loads), "cPickle" and "pickle" on 2.7.
"restricted" (3.8+; for mutated pickles) lets the unpicklers find only the data types of the corpus, so no
mutation can reach a callable with effects; any other global fails with "RestrictedGlobal".
"""
from __future__ import print_function

import binascii
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus_types  # noqa: E402,F401 - the user classes pickles may name
from tagged import PY2, describe  # noqa: E402

if PY2:
    import cPickle  # noqa: E402

    LOADERS = (('cPickle', cPickle.loads), ('pickle', pickle.loads))
else:
    LOADERS = (('c', pickle.loads), ('python', pickle._loads))

# The globals a restricted load may find: data types whose construction has no effect beyond the value.
ALLOWED_GLOBALS = {
    'builtins': {'set', 'frozenset', 'bytearray', 'complex', 'range', 'slice', 'list', 'dict', 'tuple',
                 'int', 'float', 'str', 'bytes', 'bool', 'object'},
    'copyreg': {'_reconstructor', '__newobj__', '__newobj_ex__'},
    'collections': {'OrderedDict', 'defaultdict', 'Counter', 'deque'},
    'datetime': {'datetime', 'date', 'time', 'timedelta', 'timezone'},
    'decimal': {'Decimal'},
    'uuid': {'UUID', 'SafeUUID'},
    'array': {'array', '_array_reconstructor'},
    '_codecs': {'encode'},
}


class RestrictedGlobal(Exception):
    pass


def check_allowed(module, name):
    """Refuses a global outside ALLOWED_GLOBALS, under its own name and under its Python 3 one."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    if module != 'corpus_types' and name not in ALLOWED_GLOBALS.get(module, ()):
        raise RestrictedGlobal('%s.%s' % (module, name))


def restrict_globals():
    """From here on, every find_class of this process refuses globals outside ALLOWED_GLOBALS (3.8+: through
    the pickle.find_class audit event, so pickle.loads keeps its own reading of the bytes)."""

    def hook(event, args):
        if event == 'pickle.find_class':
            check_allowed(*args)

    sys.addaudithook(hook)


def load(case):
    data = binascii.unhexlify(case['pickle'].encode('ascii'))
    loaders = {}
    for name, loads in LOADERS:
        try:
            value = loads(data)
        except Exception as exc:
            loaders[name] = {'error': '%s: %s' % (type(exc).__name__, exc)}
            continue
        try:
            loaders[name] = {'description': describe(value, pickle.HIGHEST_PROTOCOL)}
        except Exception as exc:
            loaders[name] = {'undescribable': '%s: %s' % (type(exc).__name__, exc)}
    return {'id': case['id'], 'loaders': loaders}


def main():
    request = json.loads(sys.stdin.read())
    if request.get('restricted'):
        restrict_globals()
    version = '.'.join(map(str, sys.version_info[:3]))
    if request.get('stream'):
        for case in request['cases']:
            sys.stdout.write(json.dumps(load(case)) + '\n')
            sys.stdout.flush()
        return
    results = [load(c) for c in request['cases']]
    sys.stdout.write(json.dumps({'python': version, 'results': results}))


if __name__ == '__main__':
    main()
