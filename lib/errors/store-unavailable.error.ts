import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A store is down, timed out, or its circuit breaker is open. Reads degrade to misses; writes raise this. */
export class StoreUnavailableError extends TenantCacheError {
  constructor(store: string, reason: string, cause?: unknown) {
    super(TenantCacheErrorCode.StoreUnavailable, `Cache store "${store}" is unavailable: ${reason}`, { store, cause });
  }
}
