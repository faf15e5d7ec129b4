import { EventEmitter } from 'node:events';
import type { QuotaExceededEvent } from '../stores/quota/tenant-quota.js';

/** Payloads of the events the cache emits. Store failures are always logged and emitted, never swallowed. */
export interface TenantCacheEventMap {
  /** A store operation failed; reads degraded to a miss, writes threw or were dropped. */
  'store:error': [{ store: string; operation: string; error: Error; tenant?: string }];
  /** An entry could not be decoded (corrupt, old format, wrong key) and was removed. */
  'entry:corrupt': [{ store: string; key: string; reason: string; tenant?: string }];
  /**
   * A read-through served an expired entry within its `grace`: the loader failed (`error`), is in its
   * `graceBackoff`, or ran past a timeout; or within its `staleWhileRevalidate` (`swr`: a background
   * refresh runs). `key` is the physical key.
   */
  'entry:stale': [{ store: string; key: string; reason: StaleReason; tenant?: string; error?: Error }];
  /**
   * A tenant went over its `perTenant` bound in a store (memoryStore, redisStore): its own entries were
   * evicted, or the write was dropped (`overQuota: 'reject'`). At most one a second per tenant and store.
   */
  'quota:exceeded': [QuotaExceededEvent];
}

/** Why a stale value was served: see `entry:stale`. */
export type StaleReason = 'loader-error' | 'backoff' | 'timeout-soft' | 'timeout-hard' | 'swr';

/** Typed event emitter of one module instance (`TenantCacheService.events`). */
export class TenantCacheEvents extends EventEmitter<TenantCacheEventMap> {}
