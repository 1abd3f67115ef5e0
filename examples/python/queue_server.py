"""A BaseManager that shares one queue across processes and machines: the server of examples/manager-queue.mjs.

Usage: python queue_server.py AUTHKEY

This is the pattern from the multiprocessing docs ("Using a remote manager"). Prints ``READY <host> <port>``
and serves until a client sends ``shutdown``. Stdlib only; Python 2.7 and 3.6+.
"""
import sys
from multiprocessing.managers import BaseManager

try:
    import queue
except ImportError:  # Python 2.7
    import Queue as queue

jobs = queue.Queue()


class QueueManager(BaseManager):
    pass


QueueManager.register('get_queue', callable=lambda: jobs)


def main():
    manager = QueueManager(address=('127.0.0.1', 0), authkey=sys.argv[1].encode('ascii'))
    server = manager.get_server()
    sys.stdout.write('READY %s %d\n' % server.address)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == '__main__':
    main()
