import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A TTL is negative, NaN or not a number. TTLs are milliseconds. */
export class InvalidTtlError extends TenantCacheError {
  /** @param where the declaration the TTL comes from (`@CacheResult on Class.method`), when it is one. */
  constructor(ttl: unknown, where?: string) {
    const fix = 'pass a number of milliseconds >= 0 (0 or Infinity = no expiry), or omit it for the default.';
    super(TenantCacheErrorCode.InvalidTtl, where ? `${where}: option "ttl" is ${String(ttl)}: ${fix}` : `Invalid TTL ${String(ttl)}: ${fix}`);
  }
}
