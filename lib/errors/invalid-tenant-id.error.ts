import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A tenant id failed validation (type, length or characters) before it reached a key. */
export class InvalidTenantIdError extends TenantCacheError {
  constructor(reason: string, tenant?: unknown) {
    super(TenantCacheErrorCode.InvalidTenantId, `Invalid tenant id${tenant === undefined ? '' : ` ${describe(tenant)}`}: ${reason}`, {
      tenant: typeof tenant === 'string' ? tenant.slice(0, 100) : undefined,
    });
  }
}

function describe(value: unknown): string {
  if (typeof value !== 'string') return `(${value === null ? 'null' : typeof value})`;
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}
