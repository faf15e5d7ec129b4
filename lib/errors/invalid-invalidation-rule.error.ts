import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/**
 * An `InvalidationRule` is wrong (a field the key does not have, a column the entity does not have,
 * a duplicate name, ...); raised at start-up, naming the rule and what to change.
 */
export class InvalidInvalidationRuleError extends TenantCacheError {
  constructor(rule: string, problem: string, cause?: unknown) {
    super(TenantCacheErrorCode.InvalidInvalidationRule, `Invalidation rule "${rule}": ${problem}.`, { cause });
  }
}
