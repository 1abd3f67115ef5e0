"""The CPython side of the transport benchmarks: a multiprocessing.connection server, and the Python client that
gives the Python<->Python reference figures. Stdlib only.

  transport_peer.py serve FAMILY ADDRESS AUTHKEY_HEX
      Listener on ADDRESS ('host:port' with port 0 for any, or a socket path); prints {"address": ...} once
      listening, then serves one connection at a time until killed. The first message of a connection is a JSON
      command (bytes); a connection that sends nothing is a handshake probe and is simply closed.
        {"mode": "echo"}                          send_bytes back every message until EOF
        {"mode": "echo-obj"}                      send back every recv() until EOF
        {"mode": "sink", "count": N}              recv_bytes N messages, then send_bytes(b'ok')
        {"mode": "sink-obj", "count": N}          recv() N objects, then send_bytes(b'ok')
        {"mode": "source", "size": S, "count": N} send b'ready'; on b'go' send_bytes S bytes N times
        {"mode": "source-obj", "count": N}        send b'ready'; on b'go' send() the records list N times
  transport_peer.py client FAMILY ADDRESS AUTHKEY_HEX BENCH JSON_ARGS
      The same exchanges from a Python client, timed with time.perf_counter; prints {"seconds": ...}.
"""

import json
import os
import sys
import time
from multiprocessing.connection import Client, Listener

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402


def parse_address(family, address):
    if family == 'AF_INET':
        host, port = address.rsplit(':', 1)
        return (host, int(port))
    return address


def format_address(family, address):
    if family == 'AF_INET':
        return '%s:%d' % address
    return address


def serve(family, address, authkey):
    records = None
    with Listener(parse_address(family, address), family=family, authkey=authkey, backlog=64) as listener:
        print(json.dumps({'address': format_address(family, listener.address)}), flush=True)
        while True:
            try:
                conn = listener.accept()
            except Exception:  # a failed handshake must not stop the server
                continue
            with conn:
                try:
                    first = conn.recv_bytes()
                except EOFError:
                    continue
                cmd = json.loads(first)
                mode = cmd['mode']
                try:
                    if mode == 'echo':
                        while True:
                            conn.send_bytes(conn.recv_bytes())
                    elif mode == 'echo-obj':
                        while True:
                            conn.send(conn.recv())
                    elif mode == 'sink':
                        for _ in range(cmd['count']):
                            conn.recv_bytes()
                        conn.send_bytes(b'ok')
                    elif mode == 'sink-obj':
                        for _ in range(cmd['count']):
                            conn.recv()
                        conn.send_bytes(b'ok')
                    elif mode == 'source':
                        payload = b'\xa5' * cmd['size']
                        conn.send_bytes(b'ready')
                        conn.recv_bytes()
                        for _ in range(cmd['count']):
                            conn.send_bytes(payload)
                    elif mode == 'source-obj':
                        if records is None:
                            records = cases.records()
                        conn.send_bytes(b'ready')
                        conn.recv_bytes()
                        for _ in range(cmd['count']):
                            conn.send(records)
                    # Wait for the client to hang up so its timing ends before this side closes.
                    conn.recv_bytes()
                except (EOFError, OSError):
                    pass  # the client hung up (or failed): serve the next one


def command(conn, **cmd):
    conn.send_bytes(json.dumps(cmd).encode())


def client(family, address, authkey, bench, args):
    addr = parse_address(family, address)
    if bench == 'handshake':
        t0 = time.perf_counter()
        for _ in range(args['count']):
            Client(addr, family=family, authkey=authkey).close()
        return time.perf_counter() - t0
    with Client(addr, family=family, authkey=authkey) as conn:
        if bench == 'pingpong':
            msg = b'x' * args['size']
            command(conn, mode='echo')
            for _ in range(args.get('warmup', 1)):
                conn.send_bytes(msg)
                conn.recv_bytes()
            t0 = time.perf_counter()
            for _ in range(args['count']):
                conn.send_bytes(msg)
                conn.recv_bytes()
            return time.perf_counter() - t0
        if bench == 'pingpong-obj':
            command(conn, mode='echo-obj')
            t0 = time.perf_counter()
            for i in range(args['count']):
                conn.send(('ping', i))
                conn.recv()
            return time.perf_counter() - t0
        if bench == 'sink':
            payload = b'\xa5' * args['size']
            command(conn, mode='sink', count=args['count'])
            t0 = time.perf_counter()
            for _ in range(args['count']):
                conn.send_bytes(payload)
            conn.recv_bytes()
            return time.perf_counter() - t0
        if bench == 'source':
            command(conn, mode='source', size=args['size'], count=args['count'])
            conn.recv_bytes()
            t0 = time.perf_counter()
            conn.send_bytes(b'go')
            for _ in range(args['count']):
                conn.recv_bytes()
            return time.perf_counter() - t0
        if bench == 'sink-obj':
            records = cases.records()
            command(conn, mode='sink-obj', count=args['count'])
            t0 = time.perf_counter()
            for _ in range(args['count']):
                conn.send(records)
            conn.recv_bytes()
            return time.perf_counter() - t0
        if bench == 'source-obj':
            command(conn, mode='source-obj', count=args['count'])
            conn.recv_bytes()
            t0 = time.perf_counter()
            conn.send_bytes(b'go')
            for _ in range(args['count']):
                conn.recv()
            return time.perf_counter() - t0
    raise ValueError('unknown bench %r' % bench)


def main():
    role, family, address, authkey = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
    if role == 'serve':
        serve(family, address, authkey)
    else:
        seconds = client(family, address, authkey, sys.argv[5], json.loads(sys.argv[6]))
        print(json.dumps({'seconds': seconds}), flush=True)


if __name__ == '__main__':
    main()
