import { describe, expect, it } from 'vitest';
import {
  encodeFrameHeader,
  encodeJoinedFrame,
  FrameReader,
  type FrameReadResult,
  MAX_SHORT_FRAME_LENGTH,
} from '../src/transport/framing.js';

const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

function frame(payload: Uint8Array): Uint8Array {
  return encodeJoinedFrame(payload);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function drain(reader: FrameReader, maxLength?: number): FrameReadResult[] {
  const out: FrameReadResult[] = [];
  for (let r = reader.readFrame(maxLength); r !== undefined; r = reader.readFrame(maxLength)) out.push(r);
  return out;
}

function payloads(results: FrameReadResult[]): string[] {
  return results.map((r) => (r.kind === 'message' ? hex(r.payload) : r.kind));
}

describe('encodeFrameHeader', () => {
  it('writes a signed big-endian 4-byte length below 2^31', () => {
    expect(hex(encodeFrameHeader(0))).toBe('00000000');
    expect(hex(encodeFrameHeader(0x1f))).toBe('0000001f');
    expect(hex(encodeFrameHeader(16385))).toBe('00004001');
    expect(hex(encodeFrameHeader(MAX_SHORT_FRAME_LENGTH))).toBe('7fffffff');
  });

  it('switches to the -1 escape plus an unsigned 8-byte length at exactly 2^31', () => {
    expect(hex(encodeFrameHeader(2 ** 31))).toBe('ffffffff0000000080000000');
    expect(hex(encodeFrameHeader(2 ** 40 + 5))).toBe('ffffffff0000010000000005');
  });

  it('rejects lengths that are not non-negative safe integers', () => {
    expect(() => encodeFrameHeader(-1)).toThrow(RangeError);
    expect(() => encodeFrameHeader(1.5)).toThrow(RangeError);
    expect(() => encodeFrameHeader(2 ** 53)).toThrow(RangeError);
  });

  it('joins header and payload for small frames', () => {
    expect(hex(encodeJoinedFrame(new TextEncoder().encode('hi')))).toBe('000000026869');
    expect(hex(encodeJoinedFrame(new Uint8Array(0)))).toBe('00000000');
  });
});

describe('FrameReader', () => {
  it('reads back-to-back frames merged into one chunk as separate messages, empty ones included', () => {
    const reader = new FrameReader();
    reader.push(concat(frame(fromHex('01')), frame(new Uint8Array(0)), frame(fromHex('0203'))));
    expect(payloads(drain(reader))).toEqual(['01', '', '0203']);
    expect(reader.insideFrame).toBe(false);
  });

  it('reassembles a stream split at every possible byte boundary', () => {
    const messages = [fromHex('aa'), new Uint8Array(0), fromHex('bbccdd'), new Uint8Array(300).fill(7)];
    const stream = concat(...messages.map(frame));
    for (let size = 1; size <= 7; size++) {
      const reader = new FrameReader();
      const got: FrameReadResult[] = [];
      for (let at = 0; at < stream.byteLength; at += size) {
        reader.push(stream.subarray(at, at + size));
        got.push(...drain(reader));
      }
      expect(payloads(got)).toEqual(messages.map(hex));
    }
  });

  it('reads the same messages whichever single byte boundary splits the stream in two', () => {
    // Sizes around the byte-by-byte copy limit, an escape header between short ones, and an empty message.
    const messages = [31, 32, 33, 0, 100].map((n, k) => new Uint8Array(n).map((_, i) => (i * 7 + k) & 0xff));
    const escaped = concat(fromHex('ffffffff 0000000000000002'), fromHex('abcd'));
    const stream = concat(frame(messages[0]!), frame(messages[1]!), escaped, ...messages.slice(2).map(frame));
    const expected = [...messages.slice(0, 2), fromHex('abcd'), ...messages.slice(2)].map(hex);
    for (let split = 0; split <= stream.byteLength; split++) {
      const reader = new FrameReader();
      reader.push(stream.subarray(0, split));
      const got = drain(reader);
      reader.push(stream.subarray(split));
      got.push(...drain(reader));
      expect(payloads(got), `split at ${split}`).toEqual(expected);
      expect(reader.insideFrame).toBe(false);
    }
  });

  it('offers the unfilled tail of a large payload for direct reads, only when nothing is buffered', () => {
    const reader = new FrameReader();
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
    const stream = frame(payload);
    reader.push(stream.subarray(0, 104));
    expect(reader.directReadTarget(1)).toBeUndefined();
    expect(reader.readFrame()).toBeUndefined();
    expect(reader.directReadTarget(901)).toBeUndefined();
    const target = reader.directReadTarget(900);
    expect(target?.byteLength).toBe(900);
    target?.set(stream.subarray(104, 604));
    reader.commitDirectRead(500);
    expect(() => reader.commitDirectRead(401)).toThrow(RangeError);
    reader.push(stream.subarray(604));
    expect(reader.directReadTarget(1)).toBeUndefined();
    expect(payloads(drain(reader))).toEqual([hex(payload)]);
    expect(reader.directReadTarget(1)).toBeUndefined();
  });

  it('copies unconsumed bytes on request, so the pushed chunk may be reused', () => {
    const reader = new FrameReader();
    const chunk = concat(frame(fromHex('0102')), frame(fromHex('030405')));
    reader.push(chunk);
    expect(payloads([reader.readFrame()!])).toEqual(['0102']);
    reader.copyBufferedChunks();
    chunk.fill(0);
    expect(payloads(drain(reader))).toEqual(['030405']);
  });

  it('never returns a partial message and reports being inside a frame', () => {
    const reader = new FrameReader();
    reader.push(fromHex('00000005 0102'));
    expect(reader.readFrame()).toBeUndefined();
    expect(reader.insideFrame).toBe(true);
    expect(reader.pendingFrameLength).toBe(5);
    reader.push(fromHex('030405'));
    expect(payloads(drain(reader))).toEqual(['0102030405']);
  });

  it('half a header counts as inside a frame', () => {
    const reader = new FrameReader();
    reader.push(fromHex('0000'));
    expect(reader.readFrame()).toBeUndefined();
    expect(reader.insideFrame).toBe(true);
  });

  it('copies a large payload once into a buffer allocated from the header', () => {
    const allocations: number[] = [];
    const reader = new FrameReader({
      allocate: (n) => {
        allocations.push(n);
        return new Uint8Array(n);
      },
    });
    const payload = new Uint8Array(100_000).map((_, i) => i & 0xff);
    const stream = frame(payload);
    for (let at = 0; at < stream.byteLength; at += 4096) reader.push(stream.subarray(at, at + 4096));
    const [result] = drain(reader);
    expect(allocations).toEqual([100_000]);
    expect(result?.kind === 'message' && Buffer.compare(result.payload, payload)).toBe(0);
  });

  it('reads the -1 escape followed by an 8-byte unsigned length', () => {
    const reader = new FrameReader();
    reader.push(fromHex('ffffffff 0000000000000003 626967 00000001 21'));
    expect(payloads(drain(reader))).toEqual(['626967', '21']);
  });

  it('reads the escape split inside its 8-byte length', () => {
    const reader = new FrameReader();
    const bytes = fromHex('ffffffff 0000000000000002 6869');
    for (const b of bytes) reader.push(Uint8Array.of(b));
    expect(payloads(drain(reader))).toEqual(['6869']);
  });

  it('refuses a negative header other than -1 and stops', () => {
    for (const header of ['80000000', 'fffffffe', 'c0000000']) {
      const reader = new FrameReader();
      reader.push(fromHex(`${header} 00000001 21`));
      const result = reader.readFrame();
      expect(result).toEqual({ kind: 'bad-header', header: Buffer.from(header, 'hex').readInt32BE(0) });
      expect(reader.stopped).toBe(true);
      expect(reader.readFrame()).toBeUndefined();
    }
  });

  it('checks the limit before allocating and accepts a length equal to it', () => {
    let allocated = 0;
    const reader = new FrameReader({
      allocate: (n) => {
        allocated += n;
        return new Uint8Array(n);
      },
    });
    reader.push(fromHex('00000004 01020304 7fffffff'));
    expect(payloads([reader.readFrame(4)!])).toEqual(['01020304']);
    expect(reader.readFrame(256)).toEqual({ kind: 'too-long', length: 0x7fffffff });
    expect(allocated).toBe(4);
    expect(reader.stopped).toBe(true);
  });

  it('applies the limit to escaped lengths too, including ones beyond 2^53', () => {
    const reader = new FrameReader();
    reader.push(fromHex('ffffffff 0000000080000000'));
    expect(reader.readFrame(256)).toEqual({ kind: 'too-long', length: 2 ** 31 });
    const huge = new FrameReader();
    huge.push(fromHex('ffffffff ffffffffffffffff'));
    expect(huge.readFrame(2 ** 40)?.kind).toBe('too-long');
  });

  it('a length beyond 2^53 - 1 with no limit is unallocatable, with its exact value, and stops the reader', () => {
    const reader = new FrameReader();
    reader.push(fromHex('ffffffff ffffffffffffffff 00'));
    const result = reader.readFrame();
    expect(result).toMatchObject({ kind: 'unallocatable', length: 2n ** 64n - 1n });
    expect((result as { cause: unknown }).cause).toBeInstanceOf(RangeError);
    expect(reader.stopped).toBe(true);
    expect(reader.readFrame()).toBeUndefined();
  });

  it('an allocator that throws gives unallocatable with its error, and the reader stops', () => {
    const failure = new RangeError('Array buffer allocation failed');
    const reader = new FrameReader({
      allocate: (n) => {
        if (n > 4) throw failure;
        return new Uint8Array(n);
      },
    });
    reader.push(fromHex('00000002 0102 00000010 00'));
    expect(payloads([reader.readFrame()!])).toEqual(['0102']);
    expect(reader.readFrame()).toEqual({ kind: 'unallocatable', length: 16, cause: failure });
    expect(reader.stopped).toBe(true);
    expect(reader.insideFrame).toBe(false);
  });

  it('a zero-length message needs no payload bytes', () => {
    const reader = new FrameReader();
    reader.push(fromHex('00000000'));
    expect(payloads(drain(reader, 0))).toEqual(['']);
  });
});
