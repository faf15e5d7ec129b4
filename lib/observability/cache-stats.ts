import type { CacheRequestResult, InvalidationKind } from './scope-counters.js';

/** Requests by result. `hitRatio` = hit / (hit + miss + stale + bypass + error); 0 when there was none. */
export interface RequestStats extends Record<CacheRequestResult, number> {
  readonly hitRatio: number;
}

/**
 * The in-process counters of one scope (a tenant, the shared namespace) or of the whole cache, since the
 * module started. `requests` is every read: the read-throughs (`getOrSet`, `@CacheResult`, `@CacheResponse`,
 * the `CACHE_MANAGER` drop-in's `wrap`) and the plain reads (`get`, each key of `mget`); `byOperation`
 * splits it into `getOrSet`, `fetch` (the other read-throughs) and `get` (the plain reads).
 */
export interface ScopeStats {
  readonly requests: RequestStats;
  readonly byOperation: Readonly<Record<'getOrSet' | 'fetch' | 'get', RequestStats>>;
  /** Loader calls: resolved (`ok`), threw (`error`), and their mean duration in ms. */
  readonly loads: { readonly ok: number; readonly error: number; readonly meanMs: number };
  /** Callers that shared another caller's load in this process instead of running the loader. */
  readonly singleFlightJoined: number;
  readonly invalidations: Readonly<Record<InvalidationKind, number>>;
  /** Store failures (each also emitted as `store:error`). */
  readonly storeErrors: number;
  /** `forTenant(id).stats()`: the tenant. */
  readonly tenant?: string;
  /**
   * `forTenant(id).stats()`: whether the tenant is counted on its own. Only the `metrics.topTenants` busiest
   * tenants are (memory stays bounded; a tenant gets its slot when the counters are read and it stands out,
   * and keeps it); for another tenant every count is 0 and its requests count in `CacheStats.otherTenants`.
   */
  readonly tracked?: boolean;
}

/** What a store holds, where it can tell (memory stores). */
export interface StoreStats extends ScopeStats {
  /** `memory`, `redis`, or the store's class name. */
  readonly tier: string;
  readonly entries?: number;
  readonly bytes?: number;
  /** Entries evicted to stay within `maxEntries` / `maxBytes`. */
  readonly evictions?: number;
  /** The circuit breaker of a remote store. */
  readonly breaker?: 'closed' | 'open' | 'half-open';
  /** How often the breaker moved to each state. */
  readonly breakerChanges?: Readonly<Record<'closed' | 'open' | 'half-open', number>>;
  /** The store's last failure (ISO time). */
  readonly lastError?: { readonly message: string; readonly at: string };
}

/**
 * `TenantCacheService.stats()`: totals, then the same counters by tenant (the tracked ones), for the
 * other tenants together, for the shared namespace, and by store.
 *
 * @example
 * const { requests } = cache.stats();
 * console.log(`hit ratio ${requests.hitRatio}, stale ${requests.stale}`);
 */
export interface CacheStats extends ScopeStats {
  readonly tenants: Readonly<Record<string, ScopeStats>>;
  /** The tenants without counters of their own (beyond the `metrics.topTenants` busiest), together. */
  readonly otherTenants: ScopeStats;
  readonly shared: ScopeStats;
  readonly stores: Readonly<Record<string, StoreStats>>;
}
