/** What one read-through request came to. A stale value served is `stale`, never a `hit`. */
export type CacheRequestResult = 'hit' | 'miss' | 'stale' | 'bypass' | 'error';

/** The kinds of invalidation counted (those of the engine's invalidation events). */
export type InvalidationKind = 'keys' | 'prefix' | 'partition' | 'tag' | 'all' | 'purge' | 'shred';

/**
 * Request counts by result. Plain fields: the read path increments them inline (a hit costs a field
 * increment, no call).
 */
export class ResultCounters {
  hit = 0;
  miss = 0;
  stale = 0;
  bypass = 0;
  error = 0;

  /** Adds `other`'s counts to these. */
  add(other: ResultCounters): void {
    this.hit += other.hit;
    this.miss += other.miss;
    this.stale += other.stale;
    this.bypass += other.bypass;
    this.error += other.error;
  }
}

/** The counters of one scope (a tracked tenant, the `other` tenants, or the shared namespace) in one store. */
export class ScopeCounters {
  /** `getOrSet` of the service and its views. */
  readonly getOrSet = new ResultCounters();
  /** The read-through of `@CacheResult`, `@CacheResponse` and the `CACHE_MANAGER` drop-in's `wrap`. */
  readonly fetch = new ResultCounters();
  /** Plain reads: `get`, and each key of `mget` (a read the store failed is a miss). */
  readonly get = new ResultCounters();
  /** Loader calls that resolved / threw. */
  loadOk = 0;
  loadError = 0;
  /** Loader durations summed (seconds), for the mean in `stats()`. */
  loadSeconds = 0;
  /** Callers that shared another caller's load (single-flight) instead of running their own. */
  joined = 0;
  /** Store failures (each also emitted as `store:error`). */
  storeErrors = 0;
  readonly invalidations: Record<InvalidationKind, number> = { keys: 0, prefix: 0, partition: 0, tag: 0, all: 0, purge: 0, shred: 0 };

  /** Adds `other`'s counts to these (a tenant's counts folded into `other`). */
  add(other: ScopeCounters): void {
    this.getOrSet.add(other.getOrSet);
    this.fetch.add(other.fetch);
    this.get.add(other.get);
    this.loadOk += other.loadOk;
    this.loadError += other.loadError;
    this.loadSeconds += other.loadSeconds;
    this.joined += other.joined;
    this.storeErrors += other.storeErrors;
    for (const kind of INVALIDATION_KINDS) this.invalidations[kind] += other.invalidations[kind];
  }
}

/** The operations whose requests are counted, each a field of `ScopeCounters`. */
export const COUNTED_OPERATIONS = ['getOrSet', 'fetch', 'get'] as const;
export const RESULTS: readonly CacheRequestResult[] = ['hit', 'miss', 'stale', 'bypass', 'error'];
export const INVALIDATION_KINDS: readonly InvalidationKind[] = ['keys', 'prefix', 'partition', 'tag', 'all', 'purge', 'shred'];
