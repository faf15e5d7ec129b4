import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A change given to `EntityChangeBus.publish()` is malformed (no entity, an unknown event, ...); nothing was published. */
export class InvalidEntityChangeError extends TenantCacheError {
  constructor(problem: string) {
    super(TenantCacheErrorCode.InvalidEntityChange, `Cannot publish an entity change: ${problem}.`);
  }
}
