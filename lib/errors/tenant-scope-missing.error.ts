import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** `TenantGuard` found a tenant but there is no per-request scope (middleware or nestjs-cls) to put it in. */
export class TenantScopeMissingError extends TenantCacheError {
  constructor(message: string, tenant?: string) {
    super(TenantCacheErrorCode.TenantScopeMissing, message, { tenant });
  }
}
