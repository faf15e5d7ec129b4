import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/**
 * A read-through's loader ran past its `timeout.hard` and no stale value (within `grace`) could be
 * served instead. The loader goes on in the background; its value is stored when it finishes.
 */
export class LoaderTimeoutError extends TenantCacheError {
  /** The hard timeout that passed (ms). */
  readonly timeout: number;

  /** @param key the logical key of the call. */
  constructor(key: string, timeout: number) {
    super(TenantCacheErrorCode.LoaderTimeout, `The loader of "${key.slice(0, 200)}" ran past its hard timeout of ${timeout} ms and no stale value was within grace.`, {
      key,
    });
    this.timeout = timeout;
  }
}
