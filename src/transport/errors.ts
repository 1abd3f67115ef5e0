/**
 * Error classes of the transport. Python raises `OSError` with a short text for most connection failures;
 * mpwire raises {@link TransportError} with the same text and a stable `code` to branch on. A failure of the
 * operating system itself (a refused connect, a reset) stays Node's system error with its `errno` code
 * (`ECONNREFUSED`, `EPIPE`), as Python's `ConnectionRefusedError` and `BrokenPipeError` are its own. Argument errors
 * that are `ValueError` in Python are `RangeError` here (`TypeError` stays `TypeError`), with CPython's texts.
 */

/** Why a transport operation failed. Stable strings, safe to branch on. */
export type TransportErrorCode =
  /** The connection was closed by this side (`OSError("handle is closed")`). */
  | 'HANDLE_CLOSED'
  /** A read on a connection that cannot read (`OSError("connection is write-only")`). */
  | 'WRITE_ONLY'
  /** A write on a connection that cannot write (`OSError("connection is read-only")`). */
  | 'READ_ONLY'
  /** A frame longer than the `maxlength` of the receive (`OSError("bad message length")`). */
  | 'BAD_MESSAGE_LENGTH'
  /** The stream ended inside a header or payload (`OSError("got end of file during message")`). */
  | 'TRUNCATED_MESSAGE'
  /** A negative length header other than the −1 escape; CPython would silently desynchronise. */
  | 'BAD_HEADER'
  /**
   * A length header announced a message no buffer can be made for (longer than this runtime's largest
   * buffer, or more memory than there is). CPython would wait for it, growing as bytes come.
   */
  | 'MESSAGE_TOO_LARGE'
  /** `accept()` on a closed listener (`OSError("listener is closed")`). */
  | 'LISTENER_CLOSED'
  /** A connect, handshake or wait did not finish within its timeout. */
  | 'TIMEOUT';

/** A transport failure that CPython reports as `OSError`. */
export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  readonly code: TransportErrorCode;

  constructor(code: TransportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Use of a connection after `close()`: CPython's `OSError("handle is closed")`. */
export class ConnectionClosedError extends TransportError {
  override readonly name: string = 'ConnectionClosedError';

  constructor(message = 'handle is closed', options?: { cause?: unknown }) {
    super('HANDLE_CLOSED', message, options);
  }
}

/** The byte stream broke the framing rules: a bad header, an oversized frame, or a message cut short. */
export class ProtocolError extends TransportError {
  override readonly name: string = 'ProtocolError';
}

/**
 * The peer closed the stream at a message boundary, so there is nothing more to receive. Python's
 * `EOFError()` has no text; this one says what happened.
 */
export class EOFError extends Error {
  override readonly name = 'EOFError';

  constructor(message = 'the peer closed the connection') {
    super(message);
  }
}

/** The authentication handshake failed: `multiprocessing.AuthenticationError`, with CPython's texts. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

/**
 * `recvBytesInto` got a message longer than the room in the buffer. As in CPython the message is consumed,
 * the connection stays usable, the buffer is untouched, and the whole message is in {@link payload}.
 */
export class BufferTooShort extends Error {
  override readonly name = 'BufferTooShort';
  /** The whole message that did not fit (Python's `e.args[0]`). */
  readonly payload: Uint8Array;

  constructor(payload: Uint8Array) {
    super(`buffer too short for a message of ${payload.byteLength} bytes`);
    this.payload = payload;
  }
}
