import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A cache key is not a non-empty string, or a key constructor could not encode an argument. */
export class InvalidCacheKeyError extends TenantCacheError {
  constructor(reason: string, key?: unknown) {
    super(TenantCacheErrorCode.InvalidCacheKey, `Invalid cache key: ${reason}`, {
      key: typeof key === 'string' ? key.slice(0, 200) : undefined,
    });
  }
}
