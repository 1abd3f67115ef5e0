/**
 * Runs the two-round handshake on a fresh connection under a deadline, in the order CPython uses:
 * the serving side challenges first (Listener.accept), the connecting side answers first (Client).
 */
import { type Authkey, answerChallenge, deliverChallenge, HANDSHAKE_MAX_MESSAGE } from './auth.js';
import { type Connection, handshakeLimitHook } from './connection.js';
import { TransportError } from './errors.js';

/**
 * Settles with `work`, or gives up after `milliseconds` or on `signal`: `onGiveUp` releases the resources
 * and the promise rejects with a `TIMEOUT` TransportError or the signal's reason.
 */
export function withDeadline<T>(
  work: Promise<T>,
  milliseconds: number | undefined,
  signal: AbortSignal | undefined,
  what: string,
  onGiveUp: () => void,
): Promise<T> {
  if (milliseconds === undefined && signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      action();
    };
    const giveUp = (error: unknown): void =>
      settle(() => {
        onGiveUp();
        reject(error);
      });
    const onAbort = (): void => giveUp(signal?.reason);
    const timer =
      milliseconds === undefined
        ? undefined
        : setTimeout(
            () => giveUp(new TransportError('TIMEOUT', `${what} timed out after ${milliseconds / 1000} s`)),
            milliseconds,
          );
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

/** Authenticates `connection` as the serving side (`'listener'`) or the connecting side (`'client'`). */
export async function authenticate(
  connection: Connection,
  authkey: Authkey,
  role: 'listener' | 'client',
): Promise<void> {
  // An unauthenticated peer must not make us allocate more than a handshake message.
  connection[handshakeLimitHook](HANDSHAKE_MAX_MESSAGE);
  if (role === 'listener') {
    await deliverChallenge(connection, authkey);
    await answerChallenge(connection, authkey);
  } else {
    await answerChallenge(connection, authkey);
    await deliverChallenge(connection, authkey);
  }
  connection[handshakeLimitHook](undefined);
}
