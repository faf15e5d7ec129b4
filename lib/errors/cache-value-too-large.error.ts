import { InvalidCacheValueError } from './invalid-cache-value.error.js';

/**
 * A value is larger than the configured maximum (`codec.maxValueBytes`, or the store's item limit when
 * chunking is off). Nothing was written.
 *
 * @example
 * try { await cache.set('export', rows); } catch (e) { if (e instanceof CacheValueTooLargeError) log(e.bytes, e.limit); }
 */
export class CacheValueTooLargeError extends InvalidCacheValueError {
  constructor(
    key: string | undefined,
    /** Size of the value in bytes (serialized, or encoded for a store limit). */
    readonly bytes: number,
    /** The limit it exceeds. */
    readonly limit: number,
    /** Which setting sets the limit. */
    readonly setting: string,
  ) {
    super(`it is ${bytes} bytes and ${setting} allows at most ${limit}; raise ${setting}, or cache less`, key);
  }
}
