import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/**
 * Invalidating after an entity change failed (raised only with `invalidation.onError: 'raise'`, and
 * inside queue workers so the job is retried). Names the rule, the entity and the tenant.
 */
export class InvalidationFailedError extends TenantCacheError {
  readonly rule: string;
  readonly entity: string;

  constructor(rule: string, entity: string, tenant: string | undefined, problem: string, cause?: unknown) {
    super(
      TenantCacheErrorCode.InvalidationFailed,
      `Invalidation rule "${rule}" failed on a change of ${entity}${tenant === undefined ? '' : ` (tenant ${tenant})`}: ${problem}`,
      {
        cause,
        tenant,
      },
    );
    this.rule = rule;
    this.entity = entity;
  }
}
