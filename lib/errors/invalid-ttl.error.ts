import { TenantCacheError } from './tenant-cache.error.js';

/** A TTL is negative, NaN or not a number. TTLs are milliseconds. */
export class InvalidTtlError extends TenantCacheError {
  constructor(ttl: unknown) {
    super(
      'E_TTL_INVALID',
      `Invalid TTL ${String(ttl)}: pass a number of milliseconds >= 0 (0 or Infinity = no expiry), or omit it for the default.`,
    );
  }
}
