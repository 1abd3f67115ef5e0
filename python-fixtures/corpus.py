# -*- coding: utf-8 -*-
"""Writes the conformance corpus as one JSON document on stdout: every corpus value at every protocol this
interpreter has, pickled by each of its picklers, with the value's tagged description.

    python corpus.py              -> {"python": ..., "highestProtocol": ..., "values": [...]}
    python corpus.py --self-test  -> checks describe/rebuild/pickle agree here; exit 1 on a mismatch

Each value: {"name", "stringSharing", "javascriptLossless", "protocols": [{"protocol", "description", "pickles": {pickler: hex},
"exact": bool}]}. "exact" says CPython's own bytes are what a conformant encoder writes for the
description (C pickler of 3.8-3.13, and no equal-but-distinct strings). Values a pickler refuses at a protocol
are listed under "refused" with the reason.
"""
from __future__ import print_function

import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corpus_types import corpus_values  # noqa: E402
from tagged import PY2, comparable, describe, hex_of, javascript_lossless, rebuild, string_sharing  # noqa: E402

# Protocol outputs are identical on 3.8-3.13 for these types (pickle-anchors.md §3.3); older ones differ.
EXACT_VERSIONS = ((3, 8), (3, 13))
# Except array.array at protocol 4+: 3.8/3.9 fetch the 'array' module string of the second STACK_GLOBAL from
# the memo, 3.10+ write it again; an encoder can match only one, and the newer is the reference.
EXACT_SINCE = {'array': ((3, 10), 4)}


def picklers():
    if PY2:
        import cPickle  # noqa: F401 - Python 2 only

        return [('pickle', pickle.dumps), ('cPickle', cPickle.dumps)]
    return [('c', pickle.dumps), ('python', pickle._dumps)]


def exact_interpreter(name, protocol):
    version = sys.version_info[:2]
    since = EXACT_SINCE.get(name.split(' ')[0])
    if since is not None and protocol >= since[1] and version < since[0]:
        return False
    return EXACT_VERSIONS[0] <= version <= EXACT_VERSIONS[1]


def build_corpus():
    values = []
    for name, value in corpus_values():
        sharing = string_sharing(value)
        entry = {'name': name, 'stringSharing': sharing, 'javascriptLossless': javascript_lossless(value),
                 'protocols': [], 'refused': []}
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            pickles = {}
            for pickler_name, dumps in picklers():
                try:
                    pickles[pickler_name] = hex_of(dumps(value, protocol))
                except Exception as exc:  # a value this pickler cannot write at this protocol
                    entry['refused'].append({'protocol': protocol, 'pickler': pickler_name,
                                             'reason': '%s: %s' % (type(exc).__name__, exc)})
            if not pickles:
                continue
            exact = exact_interpreter(name, protocol) and sharing != 'mixed' and 'c' in pickles
            entry['protocols'].append({'protocol': protocol, 'description': describe(value, protocol),
                                       'pickles': pickles, 'exact': exact})
        values.append(entry)
    return {'python': '.'.join(map(str, sys.version_info[:3])), 'highestProtocol': pickle.HIGHEST_PROTOCOL,
            'values': values}


def self_test():
    """describe(loads(dumps(v))) == describe(v) and describe(rebuild(describe(v))) == describe(v)."""
    failures = []
    checked = 0
    for name, value in corpus_values():
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            try:
                data = pickle.dumps(value, protocol)
            except Exception:
                continue
            if not javascript_lossless(value):
                continue
            expected = comparable(value, protocol)
            reloaded = comparable(pickle.loads(data), protocol)
            rebuilt = comparable(rebuild(json.loads(json.dumps(describe(value, protocol)))), protocol)
            checked += 1
            if reloaded != expected:
                failures.append({'name': name, 'protocol': protocol, 'what': 'loads(dumps(v))',
                                 'expected': expected, 'actual': reloaded})
            if rebuilt != expected:
                failures.append({'name': name, 'protocol': protocol, 'what': 'rebuild(describe(v))',
                                 'expected': expected, 'actual': rebuilt})
    print(json.dumps({'checked': checked, 'failures': failures}))
    return 1 if failures else 0


if __name__ == '__main__':
    if '--self-test' in sys.argv:
        sys.exit(self_test())
    sys.stdout.write(json.dumps(build_corpus()))
