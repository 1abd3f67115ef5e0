# -*- coding: utf-8 -*-
"""Builds each described value and pickles it with this interpreter's C pickler.

stdin:  {"cases": [{"id": str, "protocol": int, "description": tagged}]}
stdout: {"python": "3.13.0", "results": [{"id", "pickle": hex} | {"id", "error": str}]}
"""
from __future__ import print_function

import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus_types  # noqa: E402,F401 - the user classes descriptions may name
from tagged import hex_of, rebuild  # noqa: E402


def dump(case):
    try:
        return {'id': case['id'], 'pickle': hex_of(pickle.dumps(rebuild(case['description']), case['protocol']))}
    except Exception as exc:
        return {'id': case['id'], 'error': '%s: %s' % (type(exc).__name__, exc)}


def main():
    request = json.loads(sys.stdin.read())
    version = '.'.join(map(str, sys.version_info[:3]))
    sys.stdout.write(json.dumps({'python': version, 'results': [dump(c) for c in request['cases']]}))


if __name__ == '__main__':
    main()
