/**
 * Freezes plain objects and arrays all the way down (and the Map, Set and Date objects themselves, whose
 * contents JavaScript cannot freeze). Typed arrays are left as they are: they cannot be frozen.
 */
export function deepFreeze(value: unknown, seen = new Set<object>()): void {
  if (typeof value !== 'object' || value === null || seen.has(value) || ArrayBuffer.isView(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k, seen);
      deepFreeze(v, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) deepFreeze(v, seen);
  } else {
    for (const v of Object.values(value)) deepFreeze(v, seen);
  }
  Object.freeze(value);
}
