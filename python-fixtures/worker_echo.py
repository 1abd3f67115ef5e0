"""The Python side of mpwire's spawnPython interop tests (stdlib only; Python 2.7 and 3.6+).

Takes the inherited end of the duplex Pipe exactly as the mpwire docs say a worker should:

    from multiprocessing.connection import Connection
    conn = Connection(int(os.environ['MPWIRE_FD']))

(on Python 2.7 the class lives in ``_multiprocessing``), then obeys commands, each a tuple whose first item names it, until the parent closes the pipe.
"""
import os
import signal
import struct
import sys
import time

try:
    from multiprocessing.connection import Connection
except ImportError:  # Python 2.7 keeps the C class in _multiprocessing
    from _multiprocessing import Connection


def main():
    conn = Connection(int(os.environ['MPWIRE_FD']))
    while True:
        try:
            command = conn.recv()
        except EOFError:
            return 0
        name = command[0]
        if name == 'echo':
            conn.send(command[1])
        elif name == 'echo_bytes':
            conn.send_bytes(conn.recv_bytes())
        elif name == 'version':
            conn.send(tuple(sys.version_info[:3]))
        elif name == 'argv':
            conn.send((sys.argv[1:], os.getcwd(), os.environ.get('MPWIRE_TEST_VALUE')))
        elif name == 'exit':
            conn.close()
            sys.exit(command[1])
        elif name == 'stderr_then_exit':
            sys.stderr.write(command[1])
            sys.stderr.flush()
            os._exit(command[2])
        elif name == 'raise':
            raise RuntimeError(command[1])
        elif name == 'half_message':
            # A header promising 100 bytes, then only 3 of them: the parent must see a torn message.
            os.write(conn.fileno(), struct.pack('!i', 100) + b'abc')
            os._exit(3)
        elif name == 'kill_self':
            os.kill(os.getpid(), signal.SIGKILL)
        elif name == 'sleep':
            time.sleep(command[1])
            conn.send('slept')
        elif name == 'ignore_eof_and_sleep':
            # Stands for a worker that does not react to its pipe closing: only a signal ends it.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            conn.send('ready')
            time.sleep(command[1])
        else:
            conn.send(('unknown command', name))


if __name__ == '__main__':
    sys.exit(main())
