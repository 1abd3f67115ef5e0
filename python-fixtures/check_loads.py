# -*- coding: utf-8 -*-
"""Loads pickles written by mpwire and checks each against the value its description names.

stdin:  {"cases": [{"id": str, "protocol": int, "pickle": hex, "description": tagged}]}
stdout: {"python": "3.13.0", "results": [{"id", "status", "detail"?}]}
status: "ok"; "mismatch" (detail: expected and actual descriptions); "load-error" (pickle.loads raised);
"not-expressible" (this interpreter cannot build the described value, e.g. datetime.timezone on 2.7).
"""
from __future__ import print_function

import binascii
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import corpus_types  # noqa: E402,F401 - the user classes corpus pickles name
from tagged import NotExpressible, comparable, rebuild  # noqa: E402


def check(case):
    protocol = case['protocol']
    try:
        expected = comparable(rebuild(case['description']), protocol)
    except NotExpressible as exc:
        return {'id': case['id'], 'status': 'not-expressible', 'detail': str(exc)}
    try:
        loaded = pickle.loads(binascii.unhexlify(case['pickle'].encode('ascii')))
    except Exception as exc:
        return {'id': case['id'], 'status': 'load-error', 'detail': '%s: %s' % (type(exc).__name__, exc)}
    actual = comparable(loaded, protocol)
    if actual != expected:
        return {'id': case['id'], 'status': 'mismatch', 'detail': {'expected': expected, 'actual': actual}}
    return {'id': case['id'], 'status': 'ok'}


def main():
    request = json.loads(sys.stdin.read())
    results = [check(case) for case in request['cases']]
    version = '.'.join(map(str, sys.version_info[:3]))
    sys.stdout.write(json.dumps({'python': version, 'results': results}))


if __name__ == '__main__':
    main()
