import type { TenantCacheEvents } from '../engine/tenant-cache.events.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';

/**
 * Runs an admin write (a flush) for one tenant and rejects with `StoreUnavailableError` when a store failed
 * for that tenant meanwhile. The cache's writes follow `onWriteError`: with `'ignore'` a failing store drops
 * them with nothing but a `store:error` event, and an admin flush must not report as done what was dropped.
 * Conservative: another call of the same tenant failing at the same time fails the flush too (run it again).
 */
export async function failOnStoreError<T>(events: TenantCacheEvents, tenantId: string, what: string, run: () => Promise<T>): Promise<T> {
  let failed: { store: string; error: Error } | undefined;
  const listener = (e: { store: string; error: Error; tenant?: string }) => {
    if (e.tenant === tenantId) failed ??= e;
  };
  events.on('store:error', listener);
  let result: T;
  try {
    result = await run();
  } catch (error) {
    // With onWriteError 'throw': the same answer, saying what did not happen.
    if (error instanceof StoreUnavailableError) throw incomplete(error.store ?? failed?.store ?? 'default', what, error);
    throw error;
  } finally {
    events.off('store:error', listener);
  }
  if (failed !== undefined) throw incomplete(failed.store, what, failed.error);
  return result;
}

function incomplete(store: string, what: string, cause: Error): StoreUnavailableError {
  return new StoreUnavailableError(store, `${what} did not complete (${cause.message}). Call it again once the store answers.`, cause);
}
