"""CPython side of mpwire's transport interop tests. Standard library only; runs on 2.7 and 3.6+.

Modes:
  serve                       JSON-lines control: one command per stdin line, answered on stdout. Commands run
                              on their own threads, so a test can keep a listener accepting while it connects.
  pipe-child FD ROLE [N]      use the inherited descriptor FD as multiprocessing.connection.Connection:
                              ROLE echo (duplex echo until EOF), writer (send N messages, close), reader
                              (receive until EOF, report count and sha256 of all payloads).
  load-client HOST PORT KEYHEX THREADS COUNT BASE
                              THREADS clients (ids BASE..), each sends COUNT messages b"id:i", then b"done",
                              waits for the server's reply and checks it.
"""
import binascii
import hashlib
import json
import socket
import sys
import threading
import time
import traceback

import multiprocessing
from multiprocessing import connection as mpc

PY2 = sys.version_info[0] == 2
# 2.7's Connection is the C type in _multiprocessing; 3.x's is the Python class in multiprocessing.connection.
FdConnection = getattr(mpc, 'Connection', None) or __import__('_multiprocessing').Connection
if PY2:
    text_type = unicode  # noqa: F821
else:
    text_type = str


def to_hex(data):
    return binascii.hexlify(bytes(data)).decode('ascii')


def from_hex(text):
    return binascii.unhexlify(text.encode('ascii'))


def pattern(size, seed):
    """The bytes the TypeScript side expects: byte i is (i * 31 + seed) & 255."""
    block = bytes(bytearray((i * 31 + seed) & 255 for i in range(256)))
    return block * (size // 256) + block[:size % 256]


def data_of(spec):
    if 'hex' in spec:
        return from_hex(spec['hex'])
    return pattern(spec['size'], spec.get('seed', 0))


def describe(data):
    data = bytes(data)
    out = {'size': len(data), 'sha256': hashlib.sha256(data).hexdigest()}
    if len(data) <= 4096:
        out['hex'] = to_hex(data)
    return out


def native_str(value):
    if PY2 and isinstance(value, text_type):
        return value.encode('latin-1')
    return value


def address_in(value):
    if isinstance(value, list):
        return (native_str(value[0]), value[1])
    return native_str(value)


def address_out(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, bytes) and not PY2:
        return value.decode('latin-1')
    if PY2 and isinstance(value, str):
        return value.decode('latin-1')
    return value


def key_in(value):
    return None if value is None else from_hex(value)


def error_out(exc):
    out = {'type': type(exc).__name__, 'message': str(exc)}
    if isinstance(exc, multiprocessing.BufferTooShort):
        out['payload_hex'] = to_hex(exc.args[0])
    return out


class Peer(object):
    def __init__(self):
        self.objects = {}
        self.counter = 0
        self.lock = threading.Lock()
        self.out_lock = threading.Lock()

    def store(self, obj):
        with self.lock:
            self.counter += 1
            handle = 'h%d' % self.counter
            self.objects[handle] = obj
        return handle

    def reply(self, message):
        line = json.dumps(message) + '\n'
        with self.out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def run(self, command):
        try:
            result = getattr(self, 'op_' + command['op'])(**command.get('args', {}))
            self.reply({'id': command['id'], 'ok': result})
        except BaseException as exc:  # report everything, including AssertionError from 2.7's handshake
            error = error_out(exc)
            error['traceback'] = traceback.format_exc()
            self.reply({'id': command['id'], 'error': error})

    # ---- listeners and clients ----

    def op_listen(self, address=None, family=None, authkey=None, backlog=1):
        listener = mpc.Listener(address_in(address), family and native_str(family), backlog, key_in(authkey))
        unlink = getattr(listener._listener, '_unlink', None)
        if unlink is not None and isinstance(address, text_type) and address.startswith('\0'):
            unlink.cancel()  # 2.7 and 3.6 would try to remove an abstract name at exit
        return {'handle': self.store(listener), 'address': address_out(listener.address)}

    def op_accept(self, handle):
        listener = self.objects[handle]
        conn = listener.accept()
        return {'conn': self.store(conn), 'last_accepted': address_out(listener.last_accepted)}

    def op_client(self, address, family=None, authkey=None):
        conn = mpc.Client(address_in(address), family and native_str(family), key_in(authkey))
        return {'conn': self.store(conn)}

    def op_close(self, handle):
        obj = self.objects.pop(handle)
        try:
            obj.close()
        except (TypeError, ValueError):
            pass  # 2.7/3.6 try to unlink an abstract name at close; the socket is closed already
        return {}

    # ---- connection calls ----

    def op_send_bytes(self, conn, data, offset=None, size=None):
        payload = data_of(data)
        c = self.objects[conn]
        if offset is None and size is None:
            c.send_bytes(payload)
        elif size is None:
            c.send_bytes(payload, offset)
        else:
            c.send_bytes(payload, offset or 0, size)
        return {}

    def op_send_many(self, conn, messages):
        c = self.objects[conn]
        for spec in messages:
            c.send_bytes(data_of(spec))
        return {}

    def op_recv_bytes(self, conn, maxlength=None):
        c = self.objects[conn]
        data = c.recv_bytes() if maxlength is None else c.recv_bytes(maxlength)
        return describe(data)

    def op_recv_bytes_into(self, conn, size, offset=0):
        c = self.objects[conn]
        buf = bytearray(size)
        n = c.recv_bytes_into(buf, offset)
        return {'n': n, 'buffer_hex': to_hex(buf)}

    def op_poll(self, conn, timeout=0.0):
        c = self.objects[conn]
        start = time.time()
        ready = c.poll() if timeout == 'default' else c.poll(timeout)
        return {'ready': bool(ready), 'elapsed': time.time() - start}

    def op_state(self, conn):
        c = self.objects[conn]
        return {'closed': c.closed, 'readable': c.readable, 'writable': c.writable}

    def op_echo(self, conn, count=None):
        """Echoes messages back until EOF (or COUNT messages); returns how many."""
        c = self.objects[conn]
        n = 0
        while count is None or n < count:
            try:
                data = c.recv_bytes()
            except EOFError:
                break
            c.send_bytes(data)
            n += 1
        return {'count': n}

    def op_send_pickle(self, conn, expr, protocol=None):
        c = self.objects[conn]
        obj = eval(expr, {'os': __import__('os'), 'multiprocessing': multiprocessing})
        if protocol is None:
            c.send(obj)
        else:
            import pickle
            c.send_bytes(pickle.dumps(obj, protocol))
        return {}

    def op_recv_pickle(self, conn):
        c = self.objects[conn]
        obj = c.recv()
        return {'repr': repr(obj), 'type': type(obj).__name__}

    def op_recv_kill(self, conn):
        """Receives one message, then the peer process dies at once."""
        import os
        self.objects[conn].recv_bytes()
        os._exit(3)

    def op_send_partial_then_die(self, conn, header_size, sent):
        """Writes a header announcing HEADER_SIZE bytes but only SENT of them, then dies."""
        import os
        import struct
        c = self.objects[conn]
        os.write(c.fileno(), struct.pack('!i', header_size) + b'x' * sent)
        os._exit(3)

    def op_send_raw(self, conn, hex):
        """Writes bytes straight to the socket, bypassing the framing."""
        import os
        os.write(self.objects[conn].fileno(), from_hex(hex))
        return {}

    def op_ping_pong(self, conn, count):
        """Answers COUNT messages one at a time (a round-trip benchmark partner)."""
        c = self.objects[conn]
        for _ in range(count):
            c.send_bytes(c.recv_bytes())
        return {'count': count}

    def op_version(self):
        return {'version': list(sys.version_info[:3]), 'highest': __import__('pickle').HIGHEST_PROTOCOL}


def serve():
    peer = Peer()
    peer.reply({'ready': True, 'version': list(sys.version_info[:3])})
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        command = json.loads(line)
        if command.get('op') == 'exit':
            break
        worker = threading.Thread(target=peer.run, args=(command,))
        worker.daemon = True
        worker.start()


def pipe_child(fd, role, count):
    if role == 'echo':
        c = FdConnection(fd)
        n = 0
        while True:
            try:
                c.send_bytes(c.recv_bytes())
            except EOFError:
                break
            n += 1
        sys.stdout.write('echoed %d\n' % n)
    elif role == 'writer':
        c = FdConnection(fd, readable=False)
        for i in range(count):
            c.send_bytes(('%d:%d' % (fd, i)).encode('ascii'))
        c.close()
    elif role == 'reader':
        c = FdConnection(fd, writable=False)
        digest = hashlib.sha256()
        n = 0
        while True:
            try:
                digest.update(c.recv_bytes())
            except EOFError:
                break
            n += 1
        sys.stdout.write('%d %s\n' % (n, digest.hexdigest()))
    elif role == 'pickle':
        c = FdConnection(fd)
        obj = c.recv()
        c.send(obj)
    sys.stdout.flush()


def load_client(host, port, key, threads, count, base):
    failures = []

    def one(client_id):
        try:
            c = mpc.Client((host, port), authkey=key)
            for i in range(count):
                c.send_bytes(('%d:%d' % (client_id, i)).encode('ascii'))
            c.send_bytes(b'done')
            answer = c.recv_bytes()
            if answer != ('%d:%d' % (client_id, count)).encode('ascii'):
                failures.append('client %d got %r' % (client_id, answer))
            c.close()
        except Exception as exc:
            failures.append('client %d: %r' % (client_id, exc))

    workers = [threading.Thread(target=one, args=(base + i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    sys.stdout.write('failures %d\n' % len(failures))
    for f in failures:
        sys.stdout.write(f + '\n')
    sys.stdout.flush()
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'serve':
        serve()
    elif mode == 'pipe-child':
        pipe_child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif mode == 'load-client':
        load_client(sys.argv[2], int(sys.argv[3]), from_hex(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                    int(sys.argv[7]))
    else:
        raise SystemExit('unknown mode %r' % mode)
