/** The transport: `multiprocessing.connection` framing, authentication, Client/Listener, Pipe and wait. */
export {
  type Address,
  addressType,
  arbitraryAddress,
  defaultFamily,
  type Family,
  families,
  type InetAddress,
  paddedAbstractAddress,
} from './address.js';
export {
  type Authkey,
  answerChallenge,
  createResponse,
  type DeliverChallengeOptions,
  type DigestName,
  deliverChallenge,
  type HandshakeChannel,
  verifyResponse,
} from './auth.js';
export { Client, type ClientOptions } from './client.js';
export {
  type BytesLike,
  type CallOptions,
  Connection,
  type ConnectionModes,
  type ConnectionOptions,
} from './connection.js';
export {
  AuthenticationError,
  BufferTooShort,
  ConnectionClosedError,
  EOFError,
  ProtocolError,
  TransportError,
  type TransportErrorCode,
} from './errors.js';
export { encodeFrameHeader, FrameReader, type FrameReaderOptions, type FrameReadResult } from './framing.js';
export { Listener, type ListenerOptions } from './listener.js';
export {
  Pipe,
  type SpawnedWithPipe,
  type SpawnWithPipeOptions,
  spawnWithPipe,
  WORKER_FD_ENV,
} from './pipe.js';
export { type Waitable, wait } from './wait.js';
