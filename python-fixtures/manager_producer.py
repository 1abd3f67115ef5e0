"""Puts COUNT items on the ``get_queue`` queue of a manager server, then one ``None`` as an end marker.

Usage: python manager_producer.py HOST PORT AUTHKEY COUNT   (stdlib only; Python 2.7 and 3.6+)

Each item is ``{'seq': i, 'payload': 'item-<i>', 'square': i * i}``. Prints ``PRODUCED <count>`` when done.
"""
import sys
from multiprocessing.managers import BaseManager


class ProducerManager(BaseManager):
    pass


ProducerManager.register('get_queue')


def main():
    host, port, authkey, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    manager = ProducerManager(address=(host, port), authkey=authkey.encode('ascii'))
    manager.connect()
    shared = manager.get_queue()
    for i in range(count):
        shared.put({'seq': i, 'payload': 'item-%d' % i, 'square': i * i})
    shared.put(None)
    sys.stdout.write('PRODUCED %d\n' % count)
    sys.stdout.flush()


if __name__ == '__main__':
    main()
