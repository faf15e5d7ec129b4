import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/**
 * A read-through with `singleFlight: { scope: 'cluster', onWaitTimeout: 'throw' }` waited `waitTimeout` ms for
 * the load of another instance, and neither a value nor the lease came in that time.
 */
export class SingleFlightTimeoutError extends TenantCacheError {
  /** The wait that passed (ms). */
  readonly waitTimeout: number;

  /** @param key the logical key of the call. */
  constructor(key: string, waitTimeout: number) {
    super(
      TenantCacheErrorCode.SingleFlightTimeout,
      `Waited ${waitTimeout} ms (singleFlight.waitTimeout) for another instance's load of "${key.slice(0, 200)}"; no value came in that time.`,
      { key },
    );
    this.waitTimeout = waitTimeout;
  }
}
