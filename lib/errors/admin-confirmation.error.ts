import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/**
 * A destructive admin command (a flush) was not confirmed: its `confirm` must repeat the tenant id it
 * acts on. A dry run needs no confirmation.
 */
export class AdminConfirmationError extends TenantCacheError {
  constructor(tenantId: string, command: string) {
    super(
      TenantCacheErrorCode.AdminConfirmation,
      `The admin command "${command}" on tenant "${tenantId.slice(0, 200)}" deletes entries: repeat the tenant id as its confirmation (confirm: "${tenantId.slice(0, 200)}"), or run it as a dry run first.`,
      { tenant: tenantId },
    );
  }
}
