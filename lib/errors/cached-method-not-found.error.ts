import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** `cache.method(Type, name)` named a method that no provider of this application caches. */
export class CachedMethodNotFoundError extends TenantCacheError {
  constructor(method: string, reason: string) {
    super(TenantCacheErrorCode.CachedMethodNotFound, `${method} is not a cached method of this application: ${reason}`);
  }
}
