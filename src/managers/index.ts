/** Client of CPython `multiprocessing.managers` servers: proxies, tokens and remote errors. */
export {
  connectManager,
  ManagerClient,
  type ManagerClientOptions,
  type ManagerConnection,
  type ManagerConnector,
} from './client.js';
export {
  canonicalExceptionName,
  ManagerClosedError,
  ManagerProtocolError,
  RemoteError,
  type RemoteErrorKind,
  RemoteException,
  RemoteTracebackError,
  RemoteUnserializableError,
} from './errors.js';
export type { ManagerReply, PythonKwargs } from './messages.js';
export {
  DictProxy,
  ListProxy,
  ManagerProxy,
  type ProxyCallOptions,
  type ProxyClass,
  QueueProxy,
  type QueueWaitOptions,
} from './proxy.js';
export { type ManagerAddress, type ManagerToken, type ReceivedToken, rewriteTokenAddress } from './token.js';
