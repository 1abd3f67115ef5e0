/**
 * `multiprocessing.managers.Token`: which server object a proxy stands for. Pickled as
 * `Token.__new__(Token)` + BUILD with the state tuple `(typeid, address, id)` (protocol 2+), or through
 * `copyreg._reconstructor` at protocols 0/1.
 */
import { PyGlobal, PyObject, type PyTuple, tuple } from '../codec/values.js';
import { ManagerProtocolError } from './errors.js';
import { pythonText } from './python-text.js';

/**
 * Where a manager server listens: `[host, port]` for TCP (Python's `(host, port)` tuple) or a filesystem
 * path for an AF_UNIX socket.
 */
export type ManagerAddress = readonly [host: string, port: number] | string;

/** A decoded `Token`. `id` is the server's hex ident (`'%x' % id(obj)`), a string, never a number. */
export interface ManagerToken {
  readonly typeid: string;
  /** The address to reach the server at: after {@link rewriteTokenAddress}, the one this client used. */
  readonly address: ManagerAddress;
  readonly id: string;
}

/** A Token as the server pickled it; its address is the server's bind address, which may be unreachable. */
export interface ReceivedToken {
  readonly typeid: string;
  /** `(host, port)`, a path, or an abstract socket name (bytes), exactly as sent; often `0.0.0.0`. */
  readonly serverAddress: unknown;
  readonly id: string;
}

const TOKEN_MODULE = 'multiprocessing.managers';
const TOKEN_NAME = 'Token';

function isTokenGlobal(value: unknown): boolean {
  return value instanceof PyGlobal && value.module === TOKEN_MODULE && value.name === TOKEN_NAME;
}

/** True when `value` is a decoded pickled Token (either construction form). */
export function isPickledToken(value: unknown): value is PyObject {
  if (!(value instanceof PyObject)) return false;
  if (isTokenGlobal(value.callable)) return true;
  // Protocols 0/1: copyreg._reconstructor(Token, object, None), then BUILD.
  return (
    value.callable instanceof PyGlobal &&
    value.callable.name === '_reconstructor' &&
    (value.callable.module === 'copyreg' || value.callable.module === 'copy_reg') &&
    isTokenGlobal(value.args[0])
  );
}

/** Reads a decoded pickled Token. Throws {@link ManagerProtocolError} when `value` is not one. */
export function tokenFromPickle(value: unknown): ReceivedToken {
  if (!isPickledToken(value)) throw new ManagerProtocolError('expected a multiprocessing.managers.Token');
  const state = value.state;
  if (!Array.isArray(state) || state.length !== 3) {
    throw new ManagerProtocolError('a Token state must be the tuple (typeid, address, id)');
  }
  const typeid = pythonText(state[0]);
  const id = pythonText(state[2]);
  if (typeid === undefined || id === undefined) {
    throw new ManagerProtocolError('a Token typeid and id must be str');
  }
  return { typeid, serverAddress: state[1], id };
}

/**
 * Replaces the server's own address in a received Token with the one this client reached it at, as Python's
 * `BaseProxy._callmethod` does: a server bound to `0.0.0.0` or behind NAT sends an address the client cannot use.
 */
export function rewriteTokenAddress(token: ReceivedToken, clientAddress: ManagerAddress): ManagerToken {
  return { typeid: token.typeid, address: clientAddress, id: token.id };
}

/** The address as Python pickles it: a `(host, port)` tuple or a str path. */
export function addressToPython(address: ManagerAddress): PyTuple | string {
  return typeof address === 'string' ? address : tuple(address[0], address[1]);
}

/** The pickle form of a Token (protocol 2+ shape), for public functions such as `get_methods` that take one. */
export function tokenToPickle(token: ManagerToken): PyObject {
  const pickled = new PyObject('newobj', new PyGlobal(TOKEN_MODULE, TOKEN_NAME), []);
  pickled.state = tuple(token.typeid, addressToPython(token.address), token.id);
  return pickled;
}
