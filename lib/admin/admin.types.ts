import type { ScopeStats } from '../observability/cache-stats.js';

/** What one store holds of a tenant (`TenantCacheAdmin.footprint`). */
export interface StoreFootprint {
  /** The store alias. */
  readonly store: string;
  /** Every key of the tenant in the store: entries, chunks, counters and tag indexes. */
  readonly keys: number;
  /** Bytes of those keys' values (not counting Redis's own per-key overhead). */
  readonly bytes: number;
  /** Entries of the tenant's current generation: what its reads can find. */
  readonly entries: number;
  /** Entries of older generations (after `invalidateAll`): unreachable, left to expire. */
  readonly unreachable: number;
  /** Chunks of large entries. */
  readonly chunks: number;
  /** Counters (generation, tag versions) and tag indexes. */
  readonly meta: number;
  /** The tenant's current generation in the store. */
  readonly generation: number;
  /** Why the store was not counted (it cannot list keys, or it failed), when it was not. */
  readonly skipped?: string;
}

/** A tenant's footprint in every store it can use. */
export interface TenantFootprint {
  readonly tenant: string;
  readonly keys: number;
  readonly bytes: number;
  readonly stores: readonly StoreFootprint[];
  /** False when a store failed: it is listed with `skipped`, and `keys` and `bytes` leave it out. */
  readonly complete: boolean;
  /** How long the scan took, ms. */
  readonly durationMs: number;
  /**
   * The tenant's reads, loads and invalidations counted by this process since it started (its
   * `forTenant(id).stats()`: `requests.hitRatio`, `tracked`). Per process: in a cluster, see the metrics.
   * The CLI, a process of its own, leaves it out.
   */
  readonly stats?: ScopeStats;
}

/** One entry as `TenantCacheAdmin.inspect` sees it. */
export interface InspectedEntry {
  readonly tenant: string;
  /** The logical key (as given to `set`, or as listed by `keys`). */
  readonly key: string;
  readonly store: string;
  /** The key in the store (tenant segment and generation included). */
  readonly physicalKey: string;
  readonly generation: number;
  /** Whether a read finds the entry now. */
  readonly exists: boolean;
  /** When it was written (ms since epoch). */
  readonly cachedAt?: number;
  /** Remaining time to live, ms; `null` for no expiry. */
  readonly ttlMs?: number | null;
  /** The decoded value, only when asked for (`value: true`): it may hold personal data. */
  readonly value?: unknown;
}

/** What a flush acts on. Every kind acts in one tenant only. */
export type FlushTarget =
  /** Every entry of the tenant (`clear()`: generation moved on, entries deleted where the store lists keys). */
  | { readonly kind: 'tenant' }
  /** One tag; `versioned: true` for `versioned(name)` (a plain name that decorators declare versioned is that tag anyway). */
  | { readonly kind: 'tag'; readonly tag: string; readonly versioned?: boolean }
  /** Every entry of one `@CacheResult` method, by `ClassName.methodName`. */
  | { readonly kind: 'method'; readonly method: string }
  /** Every cached HTTP response of the tenant (`@CacheResponse`), in every store. */
  | { readonly kind: 'responses' }
  /** The tenant's keys starting with a literal prefix (keys as given to `set`). */
  | { readonly kind: 'prefix'; readonly prefix: string };

/** Options of a flush. */
export interface FlushOptions {
  /** Count what would be removed; remove nothing. */
  readonly dryRun?: boolean;
  /** Required unless `dryRun`: the tenant id again, so that a flush names the tenant it removes. */
  readonly confirm?: string;
}

/** What a flush did (or, on a dry run, would do). */
export interface FlushReport {
  readonly tenant: string;
  readonly target: FlushTarget;
  readonly dryRun: boolean;
  /**
   * Entries removed (or that would be); `null` when not countable in advance: a versioned tag is
   * invalidated by one counter increment, whatever the number of entries.
   */
  readonly count: number | null;
  readonly durationMs: number;
}
