/**
 * The manager wire messages as values (pure; the codec turns them into pickles). A request is the 4-tuple
 * `(ident, methodname, args, kwds)`; a reply is the 2-tuple `(kind, payload)`.
 */
import { PyTuple } from '../codec/values.js';
import {
  ManagerProtocolError,
  type RemoteError,
  RemoteException,
  RemoteTracebackError,
  RemoteUnserializableError,
} from './errors.js';
import { pythonText } from './python-text.js';
import { type ReceivedToken, tokenFromPickle } from './token.js';

/** Keyword arguments of a remote call; keys are Python identifiers. */
export type PythonKwargs = Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>;

/**
 * `(ident, methodname, args, kwds)`. `ident` is null for the server's public functions (`create`, `incref`,
 * `accept_connection`, ...) and the object's hex id for method calls.
 */
export function buildRequest(
  ident: string | null,
  methodName: string,
  args: readonly unknown[] = [],
  kwargs?: PythonKwargs,
): PyTuple {
  const kwds = new Map<string, unknown>(kwargs instanceof Map ? kwargs : Object.entries(kwargs ?? {}));
  return PyTuple.fromItems<unknown>([ident, methodName, PyTuple.fromItems(args), kwds]);
}

/** A decoded reply. `#PROXY` replies carry the exposed method names and the server's Token. */
export type ManagerReply =
  | { readonly kind: '#RETURN'; readonly value: unknown }
  | { readonly kind: '#ERROR'; readonly exception: unknown }
  | { readonly kind: '#TRACEBACK'; readonly traceback: string }
  | { readonly kind: '#UNSERIALIZABLE'; readonly traceback: string }
  | { readonly kind: '#PROXY'; readonly exposed: readonly string[]; readonly token: ReceivedToken };

/** Reads a decoded `(kind, payload)` reply; throws {@link ManagerProtocolError} for any other shape. */
export function parseReply(message: unknown): ManagerReply {
  if (!Array.isArray(message) || message.length !== 2) {
    throw new ManagerProtocolError('a manager reply must be a (kind, payload) 2-tuple');
  }
  const kind = pythonText(message[0]);
  const payload: unknown = message[1];
  switch (kind) {
    case '#RETURN':
      return { kind, value: payload };
    case '#ERROR':
      return { kind, exception: payload };
    case '#TRACEBACK':
    case '#UNSERIALIZABLE': {
      const traceback = pythonText(payload);
      if (traceback === undefined) throw new ManagerProtocolError(`a ${kind} payload must be str`);
      return { kind, traceback };
    }
    case '#PROXY': {
      if (!Array.isArray(payload) || payload.length !== 2) {
        throw new ManagerProtocolError('a #PROXY payload must be (exposed, token)');
      }
      return { kind, exposed: exposedNames(payload[0]), token: tokenFromPickle(payload[1]) };
    }
    default:
      throw new ManagerProtocolError(`unrecognized manager reply kind ${JSON.stringify(kind ?? message[0])}`);
  }
}

/** The exposed method names a `create` or `#PROXY` reply lists (a tuple or list of str). */
export function exposedNames(value: unknown): readonly string[] {
  if (!Array.isArray(value)) throw new ManagerProtocolError('exposed method names must be a sequence');
  return value.map((name) => {
    const text = pythonText(name);
    if (text === undefined) throw new ManagerProtocolError('exposed method names must be str');
    return text;
  });
}

/** The error a failed reply stands for, as Python's `convert_to_error` builds it. */
export function replyToError(
  reply: ManagerReply & { kind: '#ERROR' | '#TRACEBACK' | '#UNSERIALIZABLE' },
): RemoteError {
  switch (reply.kind) {
    case '#ERROR':
      return new RemoteException(reply.exception);
    case '#TRACEBACK':
      return new RemoteTracebackError(reply.traceback);
    case '#UNSERIALIZABLE':
      return new RemoteUnserializableError(reply.traceback);
  }
}

/** The value of a `#RETURN` reply; throws the matching {@link RemoteError} for the failure kinds. */
export function expectReturn(reply: ManagerReply): unknown {
  if (reply.kind === '#RETURN') return reply.value;
  if (reply.kind === '#PROXY') {
    throw new ManagerProtocolError('unexpected #PROXY reply to a call that returns a value');
  }
  throw replyToError(reply);
}

/** `create` replies `(ident, exposed)`. */
export function parseCreateResult(value: unknown): {
  readonly id: string;
  readonly exposed: readonly string[];
} {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new ManagerProtocolError('create must return (ident, exposed)');
  }
  const id = pythonText(value[0]);
  if (id === undefined) throw new ManagerProtocolError('create must return a str ident');
  return { id, exposed: exposedNames(value[1]) };
}
