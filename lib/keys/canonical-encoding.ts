import { InvalidCacheKeyError } from '../errors/invalid-cache-key.error.js';
import { sha256 } from './sha256.js';

/** How one value is turned into a key slice. */
export interface CanonicalOptions {
  /** Encode arrays (at any depth) in a canonical order, for lists whose order does not matter. */
  sortLists?: boolean;
}

const MAX_DEPTH = 32;

/**
 * Encodes a value as a string that is equal for equal values and distinct for distinct ones: every
 * value carries its type (`1` vs `'1'`, `null` vs `'null'` vs `undefined`), strings are length-prefixed
 * (`['a,b']` vs `['a','b']`), object keys are sorted, Dates are ISO strings. Values that cannot be
 * encoded from their content (functions, symbols, promises, weak collections, errors, cycles, invalid
 * dates) throw `InvalidCacheKeyError`; nothing is ever keyed by identity or a default `toString()`.
 *
 * Object properties whose value is `undefined` are skipped (`{ a: undefined }` keys like `{}`), as
 * JSON would. Class instances are encoded by class name and own enumerable properties, or by
 * `toJSON()` when they have one.
 *
 * @example
 * canonicalEncode({ b: 1, a: [1, '1', null] }) === canonicalEncode({ a: [1, '1', null], b: 1 })
 */
export function canonicalEncode(value: unknown, options: CanonicalOptions = {}): string {
  return encode(value, options, [], '');
}

/** `<length>:<text>`: a self-delimiting slice (no value can run into the next one). */
export function lengthPrefixed(text: string): string {
  return `${text.length}:${text}`;
}

/** A short, fixed-length digest of a slice (128 bits of SHA-256, hex). */
export function sliceHash(text: string): string {
  return sha256(text).slice(0, 32);
}

function encode(value: unknown, options: CanonicalOptions, seen: object[], path: string): string {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 'T' : 'F';
    case 'number':
      // NOTE: -0 === 0, so they key alike; NaN keys like NaN.
      return `n${Object.is(value, -0) ? '0' : String(value)}`;
    case 'bigint':
      return `i${value.toString()}`;
    case 'string':
      return `s${lengthPrefixed(value)}`;
    case 'symbol':
      throw unencodable(path, 'a symbol');
    case 'function':
      throw unencodable(path, 'a function');
  }
  if (value === null) return 'N';
  const obj = value as object;
  if (seen.includes(obj)) throw unencodable(path, 'a circular reference');
  if (seen.length >= MAX_DEPTH) throw unencodable(path, `nested deeper than ${MAX_DEPTH} levels`);
  seen.push(obj);
  try {
    return encodeObject(obj, options, seen, path);
  } finally {
    seen.pop();
  }
}

function encodeObject(obj: object, options: CanonicalOptions, seen: object[], path: string): string {
  if (Array.isArray(obj)) {
    const items = obj.map((item, i) => encode(item, options, seen, `${path}[${i}]`));
    if (options.sortLists) items.sort();
    return `a${items.length}[${items.join(',')}]`;
  }
  if (obj instanceof Date) {
    if (Number.isNaN(obj.getTime())) throw unencodable(path, 'an invalid Date');
    return `d${obj.toISOString()}`;
  }
  if (obj instanceof Map) {
    const items = [...obj].map(([k, v]) => `${encode(k, options, seen, `${path}<key>`)}=${encode(v, options, seen, `${path}<value>`)}`);
    return `m${items.length}{${items.sort().join(',')}}`;
  }
  if (obj instanceof Set) {
    const items = [...obj].map((v) => encode(v, options, seen, `${path}<item>`));
    return `S${items.length}{${items.sort().join(',')}}`;
  }
  if (ArrayBuffer.isView(obj)) {
    const bytes = Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength);
    return `x${lengthPrefixed(obj.constructor.name)}${bytes.toString('hex')};`;
  }
  if (obj instanceof ArrayBuffer) return `x${lengthPrefixed('ArrayBuffer')}${Buffer.from(obj).toString('hex')};`;
  if (obj instanceof RegExp) return `r${lengthPrefixed(obj.source)}${obj.flags};`;
  if (obj instanceof URL) return `U${lengthPrefixed(obj.href)}`;
  if (
    obj instanceof Promise ||
    obj instanceof WeakMap ||
    obj instanceof WeakSet ||
    obj instanceof WeakRef ||
    obj instanceof Error ||
    typeof (obj as { then?: unknown }).then === 'function'
  ) {
    throw unencodable(path, `a ${obj.constructor?.name ?? 'value'}, which has no content a key can be built from`);
  }
  const proto = Object.getPrototypeOf(obj) as object | null;
  const plain = proto === null || proto === Object.prototype;
  const className = plain ? '' : (obj.constructor?.name ?? '');
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (!plain && typeof toJSON === 'function') {
    return `J${lengthPrefixed(className)}${encode(toJSON.call(obj), options, seen, `${path}.toJSON()`)}`;
  }
  if (Object.getOwnPropertySymbols(obj).some((s) => Object.prototype.propertyIsEnumerable.call(obj, s))) {
    throw unencodable(path, 'an object with symbol-keyed properties');
  }
  const keys = Object.keys(obj).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = (obj as Record<string, unknown>)[k];
    if (v === undefined) continue;
    parts.push(`${lengthPrefixed(k)}=${encode(v, options, seen, `${path}.${k}`)}`);
  }
  return `${plain ? 'o' : `c${lengthPrefixed(className)}`}${parts.length}{${parts.join(',')}}`;
}

function unencodable(path: string, what: string): InvalidCacheKeyError {
  return new InvalidCacheKeyError(`the argument${path ? ` at ${path}` : ''} is ${what}; key it by a path to its content or a custom field`);
}
