import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A CDN refused or did not answer a purge request; the keys named may still be cached at the edge. */
export class CdnPurgeFailedError extends TenantCacheError {
  /** HTTP status the CDN answered, when it answered. */
  readonly status: number | undefined;

  constructor(
    readonly backend: string,
    /** The surrogate keys of the failed request. */
    readonly keys: readonly string[],
    problem: string,
    context: { tenant?: string; status?: number; cause?: unknown } = {},
  ) {
    super(
      TenantCacheErrorCode.CdnPurgeFailed,
      `${backend} purge of ${keys.length} surrogate key(s)${context.tenant === undefined ? '' : ` for tenant "${context.tenant}"`} failed: ${problem}. ` +
        'Check the backend credentials and base URL; the entries expire at the edge by their max-age meanwhile.',
      { tenant: context.tenant, cause: context.cause },
    );
    this.status = context.status;
  }
}
