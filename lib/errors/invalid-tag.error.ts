import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A tag is not a non-empty string, or a tag function threw or returned something else. */
export class InvalidTagError extends TenantCacheError {
  constructor(problem: string, cause?: unknown) {
    super(TenantCacheErrorCode.InvalidTag, `Invalid cache tag: ${problem}`, { cause });
  }
}
