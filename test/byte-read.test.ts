import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFloat64BE, readInt32LE, readUint16LE, readUint32LE } from '../src/codec/byte-read.js';

// Every reader against DataView, at every offset of random bytes (so unaligned reads are covered too).
describe('byte readers', () => {
  it('agree with DataView on random bytes at every offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 40 }), (bytes) => {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let p = 0; p + 8 <= bytes.length; p++) {
          expect(readUint16LE(bytes, p)).toBe(view.getUint16(p, true));
          expect(readInt32LE(bytes, p)).toBe(view.getInt32(p, true));
          expect(readUint32LE(bytes, p)).toBe(view.getUint32(p, true));
          expect(Object.is(readFloat64BE(bytes, p), view.getFloat64(p, false))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reads the extremes and the special doubles', () => {
    const u32 = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
    expect(readUint32LE(u32, 0)).toBe(0xffffffff);
    expect(readInt32LE(u32, 0)).toBe(-1);
    expect(readInt32LE(new Uint8Array([0, 0, 0, 0x80]), 0)).toBe(-(2 ** 31));
    const doubles = [0, -0, 1.5, -2.25, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, Number.NaN];
    for (const d of doubles) {
      const b = new Uint8Array(9);
      new DataView(b.buffer).setFloat64(1, d, false);
      expect(Object.is(readFloat64BE(b, 1), d)).toBe(true);
    }
  });
});
