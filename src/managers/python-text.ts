/**
 * Python 2 servers send `str` as byte strings; depending on the decoder's string policy they arrive as
 * `string` or as bytes. Manager idents, typeids and method names are ASCII either way.
 */

/** `value` as text when it is a Python str (or a Python 2 byte string), else undefined. */
export function pythonText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    let text = '';
    for (const byte of value) text += String.fromCharCode(byte);
    return text;
  }
  return undefined;
}
