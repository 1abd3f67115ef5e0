"""Feeds the shared queue of queue_server.py: COUNT orders, then None to say it is done.

Usage: python queue_producer.py HOST PORT AUTHKEY COUNT   (stdlib only; Python 2.7 and 3.6+)
"""
import sys
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


QueueManager.register('get_queue')


def main():
    host, port, authkey, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    manager = QueueManager(address=(host, port), authkey=authkey.encode('ascii'))
    manager.connect()
    orders = manager.get_queue()
    for number in range(1, count + 1):
        orders.put({'order': number, 'item': ['apple', 'pear', 'plum'][number % 3], 'quantity': number % 5 + 1})
    orders.put(None)


if __name__ == '__main__':
    main()
