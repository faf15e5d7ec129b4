import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A partition invalidation names fields or values the method's key cannot address; nothing was invalidated. */
export class InvalidPartitionError extends TenantCacheError {
  constructor(method: string, problem: string) {
    super(TenantCacheErrorCode.InvalidPartition, `Cannot invalidate a partition of ${method}: ${problem}.`);
  }
}
