"""A SyncManager server for mpwire's managers interop tests and examples (stdlib only; Python 2.7 and 3.6+).

Usage: python manager_server.py [AUTHKEY]

Listens on 127.0.0.1 with an ephemeral port, prints ``READY <host> <port>`` on stdout, and serves until a
client sends ``shutdown`` or its stdin closes (so a dying test runner never leaves it behind).

Besides SyncManager's own typeids (Queue, dict, list, ...) it registers:
- ``get_queue``: one queue.Queue shared by every client (the documented way to share a queue across machines);
- ``Workshop``: an object whose methods raise, return values that cannot be pickled, and return proxies
  (``make_child`` is in ``method_to_typeid``, so its reply is ``#PROXY``).
"""
import os
import sys
import threading
from multiprocessing.managers import SyncManager

try:
    import queue
except ImportError:  # Python 2.7
    import Queue as queue

SHARED_QUEUE = queue.Queue()


def get_queue():
    return SHARED_QUEUE


class Workshop(object):
    def __init__(self, name='workshop'):
        self.name = name

    def get_name(self):
        return self.name

    def make_child(self, name):
        return Workshop(name)

    def fail(self, message):
        raise ValueError(message)

    def unpicklable(self):
        return threading.Lock()

    def echo(self, *args, **kwargs):
        return (args, sorted(kwargs.items()))


class ServerManager(SyncManager):
    pass


ServerManager.register('get_queue', callable=get_queue)
ServerManager.register('Workshop', callable=Workshop, method_to_typeid={'make_child': 'WorkshopChild'})
ServerManager.register('WorkshopChild', create_method=False)


def exit_when_stdin_closes():
    # The parent holds our stdin; when it goes away (crash, kill), we go too.
    try:
        while sys.stdin.read(1):
            pass
    finally:
        os._exit(0)


def main():
    authkey = (sys.argv[1] if len(sys.argv) > 1 else 'mpwire-test').encode('ascii')
    manager = ServerManager(address=('127.0.0.1', 0), authkey=authkey)
    server = manager.get_server()
    watchdog = threading.Thread(target=exit_when_stdin_closes)
    watchdog.daemon = True
    watchdog.start()
    sys.stdout.write('READY %s %d\n' % server.address)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == '__main__':
    main()
