"""The CPython side of `make demo`: an unmodified multiprocessing.connection Listener.

It prints the address it listens on (one JSON line), then for each message: prints what it received
(as Python sees it) and replies with a summary built from it. Runs on Python 2.7 and 3.6+.
"""
from __future__ import print_function

import json
import sys
from multiprocessing.connection import Listener


def describe(value):
    return "%s %r" % (type(value).__name__, value)


def main():
    authkey = sys.argv[1].encode("utf-8") if len(sys.argv) > 1 else b"mpwire-demo"
    listener = Listener(("127.0.0.1", 0), authkey=authkey)
    print(json.dumps({"address": list(listener.address)}))
    sys.stdout.flush()
    conn = listener.accept()
    print("python %s: accepted %r, handshake done" % (sys.version.split()[0], listener.last_accepted))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        print("python received: %s" % describe(message))
        if message == "bye":
            conn.send("bye")
            break
        reply = {"echo": message, "python": tuple(sys.version_info[:3]), "type": type(message).__name__}
        conn.send(reply)
        sys.stdout.flush()
    conn.close()
    listener.close()
    print("python: connection closed")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
