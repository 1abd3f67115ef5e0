/**
 * Bytes-like values, as Python's buffer protocol takes them: any typed array or DataView (its bytes), an
 * ArrayBuffer or SharedArrayBuffer (whole). Typed arrays made in another realm (a `vm` context, a test
 * runner's outer realm) fail `instanceof` and are recognised by their tag instead.
 */
import { UnpicklingError } from './errors.js';
import { kindOf } from './kind-of.js';

/** A Uint8Array of this realm or another (not a Buffer subclass check: a Buffer is a Uint8Array too). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return (
    value instanceof Uint8Array ||
    (ArrayBuffer.isView(value) &&
      (value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Uint8Array')
  );
}

/** The bytes of a bytes-like value: a Uint8Array itself, a view of any other; undefined for anything else. */
export function byteViewOf(value: unknown): Uint8Array | undefined {
  if (isUint8Array(value)) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)
    return new Uint8Array(value);
  // Another realm's ArrayBuffer or SharedArrayBuffer.
  const tag = Object.prototype.toString.call(value);
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]')
    return new Uint8Array(value as ArrayBuffer);
  return undefined;
}

/**
 * The bytes of a pickle given to `loads`, `dis` or `genops`: bytes, bytearray or a memoryview in Python, any
 * bytes-like value here. @throws UnpicklingError BAD_ARGUMENT for anything else.
 */
export function pickleBytes(input: unknown): Uint8Array {
  const bytes = byteViewOf(input);
  if (bytes !== undefined) return bytes;
  throw new UnpicklingError(
    'BAD_ARGUMENT',
    `pickle data must be bytes (a Uint8Array, another ArrayBufferView or an ArrayBuffer), not ${kindOf(input)}`,
    0,
  );
}
