import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A tenant-scoped operation ran with no tenant in context. Never falls back to a shared space. */
export class TenantContextMissingError extends TenantCacheError {
  constructor(operation: string) {
    super(
      TenantCacheErrorCode.TenantContextMissing,
      `No tenant in context for "${operation}". Run it inside TenantContext.run(tenantId, fn), ` +
        'behind TenantGuard, through cache.forTenant(id), or use cache.shared() for data that belongs to no tenant.',
    );
  }
}
