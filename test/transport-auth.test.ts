import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  answerChallenge,
  authkeyBytes,
  createResponse,
  deliverChallenge,
  type HandshakeChannel,
  parseDigestPrefix,
  pythonBytesRepr,
  verifyResponse,
} from '../src/transport/auth.js';
import { AuthenticationError } from '../src/transport/errors.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex');
const range = (start: number, count: number): Uint8Array =>
  Uint8Array.from({ length: count }, (_, i) => start + i);
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const KEY = ascii('secret');

/** Replays scripted incoming messages and records what was sent and which maxlength every read used. */
class ScriptedChannel implements HandshakeChannel {
  readonly sent: Uint8Array[] = [];
  readonly readLimits: number[] = [];
  constructor(private readonly incoming: Uint8Array[]) {}
  async sendBytes(data: Uint8Array): Promise<void> {
    this.sent.push(new Uint8Array(data));
  }
  async recvBytes(maxlength: number): Promise<Uint8Array> {
    this.readLimits.push(maxlength);
    const next = this.incoming.shift();
    if (next === undefined) throw new Error('script exhausted');
    return next;
  }
}

describe('protocol.md §2.7 captured vectors', () => {
  it('modern round: challenge bytes and the {sha256} answer match the capture', async () => {
    const server = new ScriptedChannel([
      fromHex('7b7368613235367dfc57fbe650d6124b98215e7b5d197d5807ad69982d275a9735ea2d56f1fa6989'),
    ]);
    await deliverChallenge(server, KEY, { randomBytes: () => range(0, 40) });
    expect(hex(server.sent[0]!)).toBe(hex(concat(ascii('#CHALLENGE#{sha256}'), range(0, 40))));
    expect(server.sent[0]!.byteLength).toBe(0x3b);
    expect(new TextDecoder().decode(server.sent[1])).toBe('#WELCOME#');
    expect(server.readLimits).toEqual([256]);
  });

  it('modern answer to the client challenge 64..8b is the captured MAC', () => {
    const response = createResponse(KEY, concat(ascii('{sha256}'), range(0x64, 40)));
    expect(hex(response)).toBe(
      `${hex(ascii('{sha256}'))}ae0e87a78d52303bf1858025a924cf0bbdd4d462272cff778bea41045078e86a`,
    );
  });

  it('legacy: a 20-byte challenge is answered with raw HMAC-MD5', async () => {
    const client = new ScriptedChannel([concat(ascii('#CHALLENGE#'), range(0, 20)), ascii('#WELCOME#')]);
    await answerChallenge(client, KEY);
    expect(hex(client.sent[0]!)).toBe('7defa9cc46abc3583325d17ccda75190');
    expect(hex(createResponse(KEY, range(0x64, 20)))).toBe('5f9f891a641f27a6cbc56977af884b59');
    expect(client.readLimits).toEqual([256, 256]);
  });

  it('mixed: a legacy peer MD5s our whole {sha256} body and we accept the 16 raw bytes', async () => {
    const server = new ScriptedChannel([fromHex('8e48d2bb349b4b72b9382999ed5b62eb')]);
    await deliverChallenge(server, KEY, { randomBytes: () => range(0, 40) });
    expect(new TextDecoder().decode(server.sent[1])).toBe('#WELCOME#');
    expect(() =>
      verifyResponse(
        KEY,
        concat(ascii('{sha256}'), range(0x64, 40)),
        fromHex('8151cd4c7af4d387ed2d53bddc335275'),
      ),
    ).not.toThrow();
  });
});

describe('verifyResponse', () => {
  const message = concat(ascii('{sha256}'), range(0, 40));
  it('accepts any allowed digest, not only the one we asked for', () => {
    const mac = createHmac('sha3-384', KEY).update(message).digest();
    expect(() => verifyResponse(KEY, message, concat(ascii('{sha3_384}'), mac))).not.toThrow();
  });
  it('refuses a wrong MAC with CPython text', () => {
    const bad = concat(ascii('{sha256}'), new Uint8Array(32));
    expect(() => verifyResponse(KEY, message, bad)).toThrow(
      new AuthenticationError('digest received was wrong'),
    );
  });
  it('refuses a 20-byte response as md5 of the wrong length', () => {
    expect(() => verifyResponse(KEY, message, new Uint8Array(20))).toThrow(
      new AuthenticationError("expected 'md5' of length 16 got 20"),
    );
  });
  it('refuses a truncated sha256 MAC by length', () => {
    expect(() => verifyResponse(KEY, message, concat(ascii('{sha256}'), new Uint8Array(31)))).toThrow(
      "expected 'sha256' of length 32 got 31",
    );
  });
  it('refuses an unknown or over-long digest name', () => {
    expect(() => verifyResponse(KEY, message, concat(ascii('{sha1}'), new Uint8Array(20)))).toThrow(
      /unsupported message length, missing digest prefix, or unsupported digest: message=b'\{sha1\}/,
    );
    expect(() => parseDigestPrefix(concat(ascii('{sha3_2566}'), new Uint8Array(30)))).toThrow(
      AuthenticationError,
    );
  });
});

describe('parseDigestPrefix', () => {
  it('treats lengths 16 and 20 as legacy whatever they contain', () => {
    expect(parseDigestPrefix(concat(ascii('{sha256}'), new Uint8Array(8))).digestName).toBe('');
    expect(parseDigestPrefix(new Uint8Array(16)).digestName).toBe('');
  });
  it('finds the closing brace within the first ten bytes only', () => {
    expect(parseDigestPrefix(concat(ascii('{sha3_384}'), new Uint8Array(48))).digestName).toBe('sha3_384');
  });
});

describe('deliverChallenge failures', () => {
  it('sends #FAILURE# and raises on a wrong answer', async () => {
    const server = new ScriptedChannel([concat(ascii('{sha256}'), new Uint8Array(32))]);
    await expect(deliverChallenge(server, KEY)).rejects.toThrow(
      new AuthenticationError('digest received was wrong'),
    );
    expect(new TextDecoder().decode(server.sent.at(-1))).toBe('#FAILURE#');
  });
  it('sends #FAILURE# for a bogus response (OtherTest.test_deliver_challenge_auth_failure)', async () => {
    const server = new ScriptedChannel([ascii('something bogus')]);
    await expect(deliverChallenge(server, KEY)).rejects.toBeInstanceOf(AuthenticationError);
    expect(new TextDecoder().decode(server.sent.at(-1))).toBe('#FAILURE#');
  });
  it('never sends a challenge body of 16 or 20 bytes, whatever the digest name', async () => {
    for (const digestName of ['md5', 'sha256', 'sha384', 'sha3_256', 'sha3_384'] as const) {
      const server = new ScriptedChannel([new Uint8Array(16)]);
      await deliverChallenge(server, KEY, { digestName }).catch(() => undefined);
      const body = server.sent[0]!.byteLength - 11;
      expect(body === 16 || body === 20).toBe(false);
    }
  });
  it('uses fresh random bytes every time', async () => {
    const a = new ScriptedChannel([new Uint8Array(16)]);
    const b = new ScriptedChannel([new Uint8Array(16)]);
    await deliverChallenge(a, KEY).catch(() => undefined);
    await deliverChallenge(b, KEY).catch(() => undefined);
    expect(hex(a.sent[0]!)).not.toBe(hex(b.sent[0]!));
  });
});

describe('challenge randomness', () => {
  it('every challenge of hundreds, across refills of the random pool, carries 40 random bytes never seen before', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const channel = new ScriptedChannel([new Uint8Array(16)]);
      await deliverChallenge(channel, KEY).catch(() => undefined);
      const random = channel.sent[0]!.subarray('#CHALLENGE#{sha256}'.length);
      expect(random.byteLength).toBe(40);
      seen.add(hex(random));
    }
    expect(seen.size).toBe(300);
  });
});

describe('answerChallenge failures', () => {
  it('an empty challenge frame is refused (OtherTest.test_answer_challenge_auth_failure)', async () => {
    await expect(answerChallenge(new ScriptedChannel([new Uint8Array(0)]), KEY)).rejects.toThrow(
      new AuthenticationError("Protocol error, expected challenge: message=b''"),
    );
  });
  it('a short challenge is refused with its length', async () => {
    const channel = new ScriptedChannel([concat(ascii('#CHALLENGE#'), new Uint8Array(19))]);
    await expect(answerChallenge(channel, KEY)).rejects.toThrow('challenge too short: 19 bytes');
    expect(channel.sent).toEqual([]);
  });
  it('#FAILURE# gives "digest sent was rejected"', async () => {
    const channel = new ScriptedChannel([concat(ascii('#CHALLENGE#'), range(0, 20)), ascii('#FAILURE#')]);
    await expect(answerChallenge(channel, KEY)).rejects.toThrow(
      new AuthenticationError('digest sent was rejected'),
    );
  });
  it('an unknown digest prefix in the challenge is refused before answering', async () => {
    const channel = new ScriptedChannel([concat(ascii('#CHALLENGE#{sha1}'), range(0, 40))]);
    await expect(answerChallenge(channel, KEY)).rejects.toBeInstanceOf(AuthenticationError);
    expect(channel.sent).toEqual([]);
  });
});

describe('keys and reprs', () => {
  it('takes strings as UTF-8 and refuses other types', () => {
    expect(hex(authkeyBytes('é'))).toBe('c3a9');
    expect(() => authkeyBytes(42 as unknown as string)).toThrow(
      new TypeError('authkey should be a byte string'),
    );
  });
  it('refuses a string with a lone surrogate, which would encode like other keys', () => {
    for (const key of ['a\uD800', 'a\uDFFF', '\uDC80b', '\uD800\uD800'])
      expect(() => authkeyBytes(key), JSON.stringify(key)).toThrow(/lone surrogate/);
    expect(hex(authkeyBytes('\uD83D\uDE00'))).toBe('f09f9880');
  });
  it('copies a key given as bytes, so changing the buffer later changes nothing', () => {
    const given = Buffer.from('secret');
    const key = authkeyBytes(given);
    given.fill(0);
    expect(hex(key)).toBe(hex(ascii('secret')));
  });
  it("renders bytes like Python's repr", () => {
    expect(pythonBytesRepr(Uint8Array.of(0x61, 0x27, 0x00, 0x5c, 0x0a, 0xff))).toBe(`b"a'\\x00\\\\\\n\\xff"`);
    expect(pythonBytesRepr(ascii('#CH'))).toBe("b'#CH'");
  });
});
