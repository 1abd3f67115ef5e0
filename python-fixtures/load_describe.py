# -*- coding: utf-8 -*-
"""Loads hand-made pickles with each of this interpreter's unpicklers and describes what each returned.

stdin:  {"cases": [{"id": str, "pickle": hex}]}
stdout: {"python": "3.13.0", "results": [{"id", "loaders": {loader: {"description": tagged} | {"error": str}}}]}
Loaders: "c" and "python" on 3.x (pickle.loads, pickle._loads), "cPickle" and "pickle" on 2.7.
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


def load(case):
    data = binascii.unhexlify(case['pickle'].encode('ascii'))
    loaders = {}
    for name, loads in LOADERS:
        try:
            value = loads(data)
        except Exception as exc:
            loaders[name] = {'error': '%s: %s' % (type(exc).__name__, exc)}
            continue
        loaders[name] = {'description': describe(value, pickle.HIGHEST_PROTOCOL)}
    return {'id': case['id'], 'loaders': loaders}


def main():
    request = json.loads(sys.stdin.read())
    version = '.'.join(map(str, sys.version_info[:3]))
    sys.stdout.write(json.dumps({'python': version, 'results': [load(c) for c in request['cases']]}))


if __name__ == '__main__':
    main()
