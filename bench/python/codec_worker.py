"""CPython's C pickle timed on the same bytes and values the JavaScript decoders and encoder get.

A long-lived worker so rounds can interleave with the JavaScript ones: one JSON command per stdin line, one JSON
reply per stdout line. Stdlib only.

  {"op": "load", "case": NAME, "path": FILE}       read the pickle, build the value, check pickle.loads == value
  {"op": "time", "case": NAME, "what": "loads"|"dumps", "gc": BOOL, "iters": N}
                                                   -> {"seconds": total wall time of N calls (time.perf_counter)}
  {"op": "check", "case": NAME, "path": FILE}      -> does FILE (written by mpwire) load to the case's value,
                                                      and is it byte-identical to CPython's own dumps?
  {"op": "quit"}
"""

import gc
import json
import os
import pickle
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

loaded = {}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def time_calls(fn, iters, gc_on):
    was = gc.isenabled()
    if gc_on:
        gc.enable()
    else:
        gc.disable()
    try:
        sink = None
        t0 = time.perf_counter()
        for _ in range(iters):
            sink = fn()
        t1 = time.perf_counter()
        del sink
    finally:
        if was:
            gc.enable()
    gc.collect()
    return t1 - t0


def handle(cmd):
    op = cmd['op']
    if op == 'hello':
        return {'python': sys.version.split()[0], 'implementation': sys.implementation.name,
                'c_pickle': pickle.Pickler.__module__ == '_pickle'}
    if op == 'load':
        name = cmd['case']
        with open(cmd['path'], 'rb') as f:
            data = f.read()
        value, protocol = cases.build(name)
        ok = pickle.loads(data) == value
        loaded[name] = (data, value, protocol)
        return {'ok': ok, 'bytes': len(data)}
    if op == 'unload':
        loaded.pop(cmd['case'], None)
        gc.collect()
        return {}
    if op == 'time':
        data, value, protocol = loaded[cmd['case']]
        if cmd['what'] == 'loads':
            fn = lambda: pickle.loads(data)  # noqa: E731
        else:
            fn = lambda: pickle.dumps(value, protocol=protocol)  # noqa: E731
        return {'seconds': time_calls(fn, int(cmd['iters']), bool(cmd['gc']))}
    if op == 'check':
        data, value, protocol = loaded[cmd['case']]
        with open(cmd['path'], 'rb') as f:
            theirs = f.read()
        try:
            equal = pickle.loads(theirs) == value
            error = None
        except Exception as e:  # report, never crash the worker
            equal = False
            error = '%s: %s' % (type(e).__name__, e)
        return {'loads_equal': equal, 'identical': theirs == pickle.dumps(value, protocol=protocol),
                'error': error}
    raise ValueError('unknown op %r' % op)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd['op'] == 'quit':
            reply({})
            return
        try:
            reply(handle(cmd))
        except Exception as e:
            reply({'error': '%s: %s' % (type(e).__name__, e)})


if __name__ == '__main__':
    main()
