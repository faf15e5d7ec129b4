import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A value cannot be stored: it cannot be serialized, or it is larger than the configured maximum. */
export class InvalidCacheValueError extends TenantCacheError {
  constructor(reason: string, key?: string, cause?: unknown) {
    super(TenantCacheErrorCode.InvalidCacheValue, `Cannot cache the value${key ? ` of "${key}"` : ''}: ${reason}`, { key, cause });
  }
}
