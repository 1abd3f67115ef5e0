/**
 * The challenge/response handshake of `multiprocessing.connection` (protocol.md §2), over any channel that can
 * send and receive whole messages. Both generations are spoken, and told apart by length exactly as CPython
 * 3.12+ does: a 20-byte challenge or a 16-byte response means the legacy HMAC-MD5 scheme of 2.7 and 3.0–3.11;
 * anything else must carry a `{digest}` prefix.
 */
import { createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';
import { AuthenticationError } from './errors.js';

/** The digests CPython 3.12+ accepts in a `{name}` prefix, spelled as on the wire. */
export type DigestName = 'md5' | 'sha256' | 'sha384' | 'sha3_256' | 'sha3_384';

const NODE_DIGEST: Readonly<Record<DigestName, string>> = {
  md5: 'md5',
  sha256: 'sha256',
  sha384: 'sha384',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
};

const ENCODER = new TextEncoder();
const LATIN1 = new TextDecoder('latin1');

/** Random bytes are drawn from the CSPRNG this many at a time: one call per challenge costs more than the rest. */
const RANDOM_POOL_SIZE = 4096;
const randomPool = new Uint8Array(RANDOM_POOL_SIZE);
let randomPoolUsed = RANDOM_POOL_SIZE;

/** `length` fresh random bytes; every pooled byte is handed out once and copied, never shared. */
function secureRandomBytes(length: number): Uint8Array {
  if (length > RANDOM_POOL_SIZE) return randomFillSync(new Uint8Array(length));
  if (randomPoolUsed + length > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolUsed = 0;
  }
  const bytes = randomPool.slice(randomPoolUsed, randomPoolUsed + length);
  randomPoolUsed += length;
  return bytes;
}
const CHALLENGE = ENCODER.encode('#CHALLENGE#');

/** Whether a message is a handshake challenge: what a keyless client receives from a Listener with a key. */
export function isChallengeMessage(message: Uint8Array): boolean {
  return message.byteLength >= CHALLENGE.length && CHALLENGE.every((byte, i) => message[i] === byte);
}
const WELCOME = ENCODER.encode('#WELCOME#');
const FAILURE = ENCODER.encode('#FAILURE#');

/** Random bytes in a modern challenge (CPython's `MESSAGE_LENGTH`). */
export const CHALLENGE_RANDOM_LENGTH = 40;
/** Every handshake read is capped here, as in CPython's `recv_bytes(256)`. */
export const HANDSHAKE_MAX_MESSAGE = 256;
/** A challenge of exactly this many bytes comes from a legacy (≤3.11) peer. */
const LEGACY_CHALLENGE_LENGTH = 20;
const MD5_DIGEST_LENGTH = 16;
/** The `}` is searched in `[1, 10)`: digest names have at most 8 characters. */
const DIGEST_PREFIX_SEARCH_END = 10;

/** Both sides of the handshake need only these two calls; a `Connection` provides them. */
export interface HandshakeChannel {
  sendBytes(data: Uint8Array): Promise<void>;
  recvBytes(maxlength: number): Promise<Uint8Array>;
}

/** An authentication key: bytes, or a string taken as its UTF-8 encoding. */
export type Authkey = Uint8Array | string;

/** A UTF-16 surrogate that is not half of a pair: such a string has no UTF-8 encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A copy of the key as bytes. A string is encoded as UTF-8 (Python insists on `bytes`; a JS string is the
 * natural spelling).
 * @throws TypeError for a string with a lone surrogate, and for anything else, with Listener/Client's text.
 */

export function authkeyBytes(authkey: Authkey): Uint8Array {
  if (typeof authkey === 'string') {
    // TextEncoder would make every lone surrogate U+FFFD, so different keys would authenticate each other.
    if (LONE_SURROGATE.test(authkey))
      throw new TypeError('authkey string has a lone surrogate and no UTF-8 encoding; pass the key as bytes');
    return ENCODER.encode(authkey);
  }
  // A copy: the caller may reuse its buffer, and Python's keys are immutable bytes.
  if (authkey instanceof Uint8Array) return new Uint8Array(authkey);
  throw new TypeError('authkey should be a byte string');
}

function isDigestName(name: string): name is DigestName {
  return Object.hasOwn(NODE_DIGEST, name);
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.byteLength < prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && startsWith(a, b);
}

/** Python's `repr()` of a bytes object, so error texts read like CPython's. */
export function pythonBytesRepr(data: Uint8Array): string {
  const hasSingle = data.includes(0x27);
  const quote = hasSingle && !data.includes(0x22) ? '"' : "'";
  let out = `b${quote}`;
  for (const byte of data) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte === 0x09) out += '\\t';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else if (byte === quote.charCodeAt(0)) out += `\\${quote}`;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `${out}${quote}`;
}

/** The result of {@link parseDigestPrefix}: an empty name means the legacy, unprefixed HMAC-MD5 form. */
export interface DigestAndPayload {
  readonly digestName: DigestName | '';
  readonly payload: Uint8Array;
}

/**
 * Splits a challenge body or a response into its digest name and the rest (CPython's
 * `_get_digest_name_and_payload`). Lengths 16 and 20 are legacy and unprefixed.
 * @throws AuthenticationError when the prefix is missing, malformed or names an unknown digest.
 */
export function parseDigestPrefix(message: Uint8Array): DigestAndPayload {
  if (message.byteLength === LEGACY_CHALLENGE_LENGTH || message.byteLength === MD5_DIGEST_LENGTH) {
    return { digestName: '', payload: message };
  }
  if (message[0] === 0x7b) {
    const end = Math.min(DIGEST_PREFIX_SEARCH_END, message.byteLength);
    for (let i = 1; i < end; i++) {
      if (message[i] !== 0x7d) continue;
      const name = LATIN1.decode(message.subarray(1, i));
      if (isDigestName(name)) return { digestName: name, payload: message.subarray(i + 1) };
      break;
    }
  }
  throw new AuthenticationError(
    `unsupported message length, missing digest prefix, or unsupported digest: message=${pythonBytesRepr(message)}`,
  );
}

function hmac(digest: DigestName, key: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(NODE_DIGEST[digest], key).update(message).digest());
}

/**
 * The response to a challenge body (the bytes after `#CHALLENGE#`): raw HMAC-MD5 for a legacy 20-byte
 * challenge, otherwise `{name}` + HMAC-name over the whole body, prefix included (CPython's `_create_response`).
 */
export function createResponse(authkey: Uint8Array, message: Uint8Array): Uint8Array {
  const { digestName } = parseDigestPrefix(message);
  if (digestName === '') return hmac('md5', authkey, message);
  const prefix = ENCODER.encode(`{${digestName}}`);
  const mac = hmac(digestName, authkey, message);
  const response = new Uint8Array(prefix.byteLength + mac.byteLength);
  response.set(prefix, 0);
  response.set(mac, prefix.byteLength);
  return response;
}

/**
 * Checks a peer's response to our challenge body (CPython's `_verify_challenge`). Any allowed digest is
 * accepted, and a raw 16-byte HMAC-MD5 too, so legacy peers can connect. Comparison is constant-time.
 * @throws AuthenticationError with CPython's texts.
 */
export function verifyResponse(authkey: Uint8Array, message: Uint8Array, response: Uint8Array): void {
  const parsed = parseDigestPrefix(response);
  const digestName: DigestName = parsed.digestName === '' ? 'md5' : parsed.digestName;
  const expected = hmac(digestName, authkey, message);
  if (expected.byteLength !== parsed.payload.byteLength) {
    throw new AuthenticationError(
      `expected '${digestName}' of length ${expected.byteLength} got ${parsed.payload.byteLength}`,
    );
  }
  if (!timingSafeEqual(expected, parsed.payload)) {
    throw new AuthenticationError('digest received was wrong');
  }
}

/** Options of {@link deliverChallenge}. */
export interface DeliverChallengeOptions {
  /** Digest named in our challenge. Default `'sha256'`, as CPython 3.12+. */
  readonly digestName?: DigestName;
  /** Source of the 40 random bytes; replaceable only to reproduce captured vectors in tests. */
  readonly randomBytes?: (length: number) => Uint8Array;
}

/**
 * Challenges the peer and checks its answer (the serving side's first round; the connecting side's second).
 * Sends `#CHALLENGE#{sha256}` + 40 random bytes, reads at most 256 bytes, and replies `#WELCOME#` or
 * `#FAILURE#`. Legacy peers answer with raw HMAC-MD5 over the whole body, which is accepted.
 * @throws AuthenticationError after sending `#FAILURE#` when the answer is wrong.
 */
export async function deliverChallenge(
  channel: HandshakeChannel,
  authkey: Authkey,
  options: DeliverChallengeOptions = {},
): Promise<void> {
  const key = authkeyBytes(authkey);
  const digestName = options.digestName ?? 'sha256';
  if (!isDigestName(digestName)) throw new RangeError(`unsupported digest name ${String(digestName)}`);
  const random = (options.randomBytes ?? secureRandomBytes)(CHALLENGE_RANDOM_LENGTH);
  const prefix = ENCODER.encode(`{${digestName}}`);
  const message = new Uint8Array(prefix.byteLength + random.byteLength);
  message.set(prefix, 0);
  message.set(random, prefix.byteLength);
  const frame = new Uint8Array(CHALLENGE.byteLength + message.byteLength);
  frame.set(CHALLENGE, 0);
  frame.set(message, CHALLENGE.byteLength);
  await channel.sendBytes(frame);
  const response = await channel.recvBytes(HANDSHAKE_MAX_MESSAGE);
  try {
    verifyResponse(key, message, response);
  } catch (error) {
    if (error instanceof AuthenticationError) await channel.sendBytes(FAILURE);
    throw error;
  }
  await channel.sendBytes(WELCOME);
}

/**
 * Answers the peer's challenge (the connecting side's first round; the serving side's second): reads at most
 * 256 bytes, replies with the MAC its generation expects, and requires `#WELCOME#` back.
 * @throws AuthenticationError with CPython 3.12+'s texts.
 */
export async function answerChallenge(channel: HandshakeChannel, authkey: Authkey): Promise<void> {
  const key = authkeyBytes(authkey);
  const challenge = await channel.recvBytes(HANDSHAKE_MAX_MESSAGE);
  if (!startsWith(challenge, CHALLENGE)) {
    throw new AuthenticationError(
      `Protocol error, expected challenge: message=${pythonBytesRepr(challenge)}`,
    );
  }
  const message = challenge.subarray(CHALLENGE.byteLength);
  if (message.byteLength < LEGACY_CHALLENGE_LENGTH) {
    throw new AuthenticationError(`challenge too short: ${message.byteLength} bytes`);
  }
  await channel.sendBytes(createResponse(key, message));
  const verdict = await channel.recvBytes(HANDSHAKE_MAX_MESSAGE);
  if (!bytesEqual(verdict, WELCOME)) throw new AuthenticationError('digest sent was rejected');
}
