"""A small "model server" behind multiprocessing.connection.Listener: the Python side of examples/model-client.mjs.

Usage: python model_server.py AUTHKEY

Prints ``READY <host> <port>`` once listening on 127.0.0.1, then serves each client in its own thread:
  ('describe',)          -> a dict describing the model
  ('predict', features)  -> {'label': str, 'scores': {label: probability}}   (a softmax over linear scores)
  ('shutdown',)          -> 'bye', then the server exits
Stdlib only; runs on Python 2.7 and 3.6+.
"""
import math
import os
import sys
import threading
from multiprocessing.connection import Listener

LABELS = ['setosa', 'versicolor', 'virginica']
# Weights of a linear classifier over (sepal length, sepal width, petal length, petal width).
WEIGHTS = [
    [-0.42, 0.97, -2.52, -1.08],
    [0.53, -0.32, -0.21, -0.94],
    [-0.11, -0.65, 2.73, 2.02],
]
BIASES = [9.85, 2.24, -12.09]


def predict(features):
    if len(features) != 4:
        raise ValueError('expected 4 features, got %d' % len(features))
    scores = [sum(w * x for w, x in zip(row, features)) + b for row, b in zip(WEIGHTS, BIASES)]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    probabilities = dict((label, e / total) for label, e in zip(LABELS, exps))
    best = max(LABELS, key=lambda label: probabilities[label])
    return {'label': best, 'scores': probabilities}


def serve(conn):
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        command = request[0]
        if command == 'describe':
            conn.send({'name': 'iris-linear', 'labels': LABELS, 'features': 4,
                       'python': '%d.%d' % sys.version_info[:2]})
        elif command == 'predict':
            try:
                conn.send(('ok', predict(request[1])))
            except Exception as error:
                conn.send(('error', str(error)))
        elif command == 'shutdown':
            conn.send('bye')
            conn.close()
            os._exit(0)
        else:
            conn.send(('error', 'unknown command %r' % (command,)))


def main():
    authkey = sys.argv[1].encode('ascii')
    listener = Listener(('127.0.0.1', 0), authkey=authkey)
    sys.stdout.write('READY %s %d\n' % listener.address)
    sys.stdout.flush()
    while True:
        conn = listener.accept()
        worker = threading.Thread(target=serve, args=(conn,))
        worker.daemon = True
        worker.start()


if __name__ == '__main__':
    main()
