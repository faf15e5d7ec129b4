/** Bytes a value holds; a string counts two per UTF-16 unit (never less than V8 keeps). */
export function sizeOf(value: Buffer | string): number {
  return typeof value === 'string' ? value.length * 2 : value.length;
}

/** The bytes of a held value: a text entry's UTF-8, built on demand. */
export function bytesOf(value: Buffer | string | undefined): Buffer | undefined {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** The absolute expiry of a TTL in ms from now; 0 = none (`undefined`, 0 or `Infinity`). */
export function expiry(ttl: number | undefined): number {
  return ttl === undefined || ttl === 0 || ttl === Infinity ? 0 : Date.now() + ttl;
}
