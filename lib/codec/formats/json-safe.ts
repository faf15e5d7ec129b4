/** Deeper values take the structured-clone path (JSON.stringify and JSON.parse recurse). */
const MAX_DEPTH = 64;

/**
 * Whether `JSON.parse(JSON.stringify(value))` gives back what a structured clone would: strings, finite
 * numbers (not -0), booleans, null, and arrays and plain objects of those, each object reached once
 * (a structured clone keeps shared references and cycles; JSON would copy or refuse them). Dates, Maps,
 * class instances, `undefined` (in an object or an array), holes and properties added to arrays are not:
 * such values take format 1, as before.
 */
export function isJsonSafe(value: unknown): boolean {
  return safe(value, 0, new Set());
}

function safe(value: unknown, depth: number, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH || seen.has(value)) return false;
  seen.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    const items = value as unknown[];
    for (let i = 0; i < items.length; i++) {
      // NOTE: a hole reads as undefined, which is refused: no `in` check needed.
      if (!safe(items[i], depth + 1, seen)) return false;
    }
    return Object.keys(items).length === items.length;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (!safe(record[key], depth + 1, seen)) return false;
  }
  return true;
}
