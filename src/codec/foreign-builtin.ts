/** Built-in objects of another realm (a `vm` context, an iframe), which `instanceof` does not recognise. Pure. */

/**
 * Which built-in an object of another realm (a `vm` context, an iframe) is, where `instanceof` and
 * prototype identity cannot tell: Maps, Sets and Dates by their internal slots (the brand checks of their
 * own methods), plain objects by a prototype that is a realm's `Object.prototype`.
 */
export function foreignBuiltinKind(value: object): 'Object' | 'Map' | 'Set' | 'Date' | undefined {
  const hasSlot = (method: (this: never) => unknown): boolean => {
    try {
      method.call(value as never);
      return true;
    } catch {
      return false;
    }
  };
  if (hasSlot(Map.prototype.has as (this: never) => unknown)) return 'Map';
  if (hasSlot(Set.prototype.has as (this: never) => unknown)) return 'Set';
  if (hasSlot(Date.prototype.getTime as (this: never) => unknown)) return 'Date';
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === null || typeof proto !== 'object' || Object.getPrototypeOf(proto) !== null) return undefined;
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  return typeof ctor === 'function' &&
    ctor.name === 'Object' &&
    Function.prototype.toString.call(ctor).endsWith('{ [native code] }')
    ? 'Object'
    : undefined;
}
