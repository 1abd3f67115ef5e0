// Internal: not exported from the package.

/** What an argument of the wrong type is, for its error message: `null`, `string`, `Array`, `Connection`... */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as { constructor?: { name?: string } }).constructor?.name || 'object';
}
