/**
 * The marks that start internal logical keys. A caller's key may never start with `INTERNAL_KEY_MARK`
 * (the service refuses it), so no key given to `set()` can address a decorated method's entry, a cached
 * response or a key under tag versions.
 */
export const INTERNAL_KEY_MARK = '\u0000';
/** Keys of `@CacheResult` methods: `\0m@<namespace>v<version>s<shape>;...`. */
export const METHOD_KEY_MARK = `${INTERNAL_KEY_MARK}m@`;
/** Keys of cached HTTP responses: `\0r@...`. */
export const RESPONSE_KEY_MARK = `${INTERNAL_KEY_MARK}r@`;
/** A caller's key under the versions of its versioned tags: `\0v<len>:<key>~...`. */
export const VERSIONED_KEY_MARK = `${INTERNAL_KEY_MARK}v`;

/** Whether a logical key is one the library built (a method, a response, a versioned key). */
export function isInternalKey(key: string): boolean {
  return key.startsWith(INTERNAL_KEY_MARK);
}

/** A logical key as a log line shows it: control characters (the internal marks among them) as `?`, at most 200 characters. */
export function printableKey(key: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it replaces
  return key.replace(/[\u0000-\u001f]/g, '?').slice(0, 200);
}
