# -*- coding: utf-8 -*-
"""Several pickles in one stream, as one Pickler (or Unpickler) writes (or reads) them in turn.

A Pickler's memo outlives each dump, so a later pickle refers to objects of earlier ones by memo index; an
Unpickler's memo outlives each load, so it can read them, and the objects come back shared.

stdin:  {"mode": "write"}  -> the stream every protocol writes (the C pickler where there is one)
        {"mode": "read", "streams": [{"protocol": int, "stream": hex, "ends": [int]}]}
                           -> reads each stream back with pickle.Unpickler, load by load
stdout: write: {"python": str, "streams": [{"protocol": int, "stream": hex, "ends": [int]}]}
        read:  {"python": str, "results": [{"protocol", "ends": [int], "values": [repr], "shared": [bool]}]}

The values, one per dump:  shared = ['shared', 7]; d = {'k': shared}; dt = datetime(2020, 1, 2, 3, 4, 5, 6)
  0: shared   1: [shared, d]   2: (d, dt)   3: [dt, shared, 'tail']
"shared" holds, in order: loads[1][0] is loads[0], loads[2][0] is loads[1][1], loads[3][0] is loads[2][1],
loads[3][1] is loads[0].
"""
from __future__ import print_function

import binascii
import datetime
import io
import json
import pickle
import sys


def values():
    shared = ['shared', 7]
    d = {'k': shared}
    dt = datetime.datetime(2020, 1, 2, 3, 4, 5, 6)
    return [shared, [shared, d], (d, dt), [dt, shared, 'tail']]


def write():
    streams = []
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        out = io.BytesIO()
        pickler = pickle.Pickler(out, protocol)
        ends = []
        for value in values():
            pickler.dump(value)
            ends.append(out.tell())
        streams.append({'protocol': protocol, 'stream': binascii.hexlify(out.getvalue()).decode('ascii'),
                        'ends': ends})
    return {'streams': streams}


def read(streams):
    results = []
    for case in streams:
        data = io.BytesIO(binascii.unhexlify(case['stream'].encode('ascii')))
        unpickler = pickle.Unpickler(data)
        loaded = []
        ends = []
        for _ in case['ends']:
            loaded.append(unpickler.load())
            ends.append(data.tell())
        shared = [loaded[1][0] is loaded[0], loaded[2][0] is loaded[1][1], loaded[3][0] is loaded[2][1],
                  loaded[3][1] is loaded[0]]
        results.append({'protocol': case['protocol'], 'ends': ends, 'values': [repr(v) for v in loaded],
                        'shared': shared, 'same': loaded == values()})
    return {'results': results}


def main():
    request = json.loads(sys.stdin.read())
    if request['mode'] == 'write':
        result = write()
    else:
        result = read(request['streams'])
    result['python'] = '%d.%d.%d' % sys.version_info[:3]
    sys.stdout.write(json.dumps(result))


if __name__ == '__main__':
    main()
