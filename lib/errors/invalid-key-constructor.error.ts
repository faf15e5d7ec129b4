import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A key constructor or `@CacheResult`/`@CacheEvict` declaration is wrong; raised at start-up, naming the method. */
export class InvalidKeyConstructorError extends TenantCacheError {
  constructor(where: string, problem: string, cause?: unknown) {
    super(TenantCacheErrorCode.InvalidKeyConstructor, `${where}: ${problem}${/[.?!]$/.test(problem) ? '' : '.'}`, { cause });
  }
}
