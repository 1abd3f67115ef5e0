"""The codec benchmark cases, built the same way bench/lib/cases.mjs builds them in JavaScript.

Stdlib only. Every value is a pure function of the case name (no RNG), so the JavaScript builder can make the
equal value for the encode benchmark and the correctness checks. Keep the two files in step.

    python3 bench/python/cases.py OUTDIR    writes OUTDIR/<case>.pickle and OUTDIR/manifest.json
"""

import json
import os
import pickle
import sys

RECORDS = 100_000
FLOATS = 1_000_000
STRDICT = 100_000
BYTES_LEN = 10 * 1024 * 1024
STRINGS = 300_000
NEST_CHAINS = 1_000
NEST_DEPTH = 300
BIGINTS = 100_000


def records():
    return [
        {
            'id': i,
            'name': 'user%d' % i,
            'email': 'user%d@example.com' % i,
            'score': i * 0.5 + 0.25,
            'active': i % 3 == 0,
            'tags': ['alpha', 'beta'] if i % 2 else ['gamma'],
            'parent': None,
        }
        for i in range(RECORDS)
    ]


def floats():
    # Exact integer arithmetic and one correctly rounded division: bit-identical in every IEEE language.
    return [i + ((i * 7919) % 1000003 + 1) / 1000004 for i in range(FLOATS)]


def strdict():
    return {'key%06d' % i: i * 3 for i in range(STRDICT)}


def bytes10m():
    return bytes(range(256)) * (BYTES_LEN // 256)


def mixed_string(i):
    m = i % 4
    if m == 0:
        return 'ascii-%d' % i
    if m == 1:
        return 'plain ascii text number %d' % i
    if m == 2:
        return 'ünïcødé-€-%d' % i
    return 'emoji-\U0001F600-漢字-%d' % i


def strings():
    return [mixed_string(i) for i in range(STRINGS)]


def nest(depth):
    # Iterative so the builder itself needs no recursion; the pickle still nests NEST_DEPTH deep.
    node = 'leaf'
    for d in range(1, depth + 1):
        m = d % 3
        if m == 0:
            node = (d, node)
        elif m == 1:
            node = [d, node]
        else:
            node = {'depth': d, 'child': node}
    return node


def nested():
    return [nest(NEST_DEPTH) for _ in range(NEST_CHAINS)]


def bigints():
    return [((1 << (64 + i % 512)) + i) * (-1 if i % 2 else 1) for i in range(BIGINTS)]


def message():
    # One record of records(): a typical small message, where the cost of each call counts.
    return {
        'id': 7,
        'name': 'user7',
        'email': 'user7@example.com',
        'score': 3.75,
        'active': False,
        'tags': ['alpha', 'beta'],
        'parent': None,
    }


# name -> (builder, protocol, description)
CASES = {
    'records-p4': (records, 4, '1e5 small record dicts, protocol 4'),
    'records-p2': (records, 2, '1e5 small record dicts, protocol 2'),
    'floats': (floats, 4, '1e6 floats in a list'),
    'strdict': (strdict, 4, '1e5 str->int dict'),
    'bytes10m': (bytes10m, 4, '10 MiB bytes'),
    'strings': (strings, 4, '3e5 mixed ASCII / non-ASCII strings'),
    'nested': (nested, 4, '1e3 chains nested 300 deep (list/dict/tuple)'),
    'bigints': (bigints, 4, '1e5 ints of 65-576 bits'),
    'message': (message, 4, 'one small record dict (a message)'),
}


def count_objects(value):
    """Every value in the tree, containers and scalars alike (dict keys count): the 'objects' of objects/s."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        total += 1
        if isinstance(v, dict):
            for k, x in v.items():
                stack.append(k)
                stack.append(x)
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return total


def build(name):
    builder, protocol, _ = CASES[name]
    return builder(), protocol


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    only = set(sys.argv[2:])
    manifest = {}
    for name, (builder, protocol, description) in CASES.items():
        if only and name not in only:
            continue
        value = builder()
        data = pickle.dumps(value, protocol=protocol)
        path = os.path.join(out, name + '.pickle')
        with open(path, 'wb') as f:
            f.write(data)
        manifest[name] = {
            'path': path,
            'protocol': protocol,
            'description': description,
            'bytes': len(data),
            'objects': count_objects(value),
            'python': sys.version.split()[0],
        }
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


if __name__ == '__main__':
    main()
