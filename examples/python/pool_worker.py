"""A worker of examples/worker-pool.mjs: started by Node's spawnPython with an inherited pipe.

Receives ('count_primes', task_id, limit) and answers ('done', task_id, count, pid) until the pipe closes.
Stdlib only; Python 2.7 and 3.6+.
"""
import os

try:
    from multiprocessing.connection import Connection
except ImportError:  # Python 2.7 keeps the class in _multiprocessing
    from _multiprocessing import Connection


def count_primes(limit):
    if limit < 3:
        return 0
    sieve = bytearray([1]) * limit
    sieve[0] = sieve[1] = 0
    for n in range(2, int(limit ** 0.5) + 1):
        if sieve[n]:
            sieve[n * n::n] = bytearray(len(range(n * n, limit, n)))
    return sum(sieve)


def main():
    conn = Connection(int(os.environ['MPWIRE_FD']))
    while True:
        try:
            command, task_id, limit = conn.recv()
        except EOFError:
            return
        if command == 'count_primes':
            conn.send(('done', task_id, count_primes(limit), os.getpid()))


if __name__ == '__main__':
    main()
