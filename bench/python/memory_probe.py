"""Peak RSS of CPython doing what the mpwire memory probe does, in a fresh process. Stdlib only.

  memory_probe.py decode PICKLE_FILE
  memory_probe.py recv FAMILY ADDRESS AUTHKEY_HEX SIZE    (against transport_peer.py serve)

Prints {"baseline": bytes, "peak": bytes, ...}: the RSS just before the operation and the high-water mark after it.
"""

import json
import pickle
import resource
import sys


def status_kb(field):
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss():
    kb = status_kb('VmRSS')
    return kb * 1024 if kb is not None else None


def peak():
    kb = status_kb('VmHWM')
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kb * 1024


def main():
    mode = sys.argv[1]
    if mode == 'decode':
        with open(sys.argv[2], 'rb') as f:
            data = f.read()
        baseline = rss()
        value = pickle.loads(data)
        out = {'baseline': baseline, 'peak': peak(), 'items': len(value)}
    elif mode == 'recv':
        from multiprocessing.connection import Client
        family, address, authkey, size = sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4]), int(sys.argv[5])
        if family == 'AF_INET':
            host, port = address.rsplit(':', 1)
            address = (host, int(port))
        with Client(address, family=family, authkey=authkey) as conn:
            conn.send_bytes(json.dumps({'mode': 'source', 'size': size, 'count': 1}).encode())
            conn.recv_bytes()
            baseline = rss()
            conn.send_bytes(b'go')
            msg = conn.recv_bytes()
            out = {'baseline': baseline, 'peak': peak(), 'received': len(msg)}
    else:
        raise SystemExit('unknown mode %r' % mode)
    out['python'] = sys.version.split()[0]
    print(json.dumps(out))


if __name__ == '__main__':
    main()
