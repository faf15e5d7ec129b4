import type { CacheScope } from '../keys/key-builder.js';
import type { CacheEngine, CacheLookup, GetOrSetOptions } from './cache-engine.js';
import { KeyListing } from './key-listing.js';

/** One entry of `mset`. `ttl` in ms overrides the batch TTL. */
export interface CacheEntryInput<T = unknown> {
  key: string;
  value: T;
  ttl?: number;
}

/**
 * The cache operations of one scope: a tenant or the shared namespace. `TenantCacheService` is the
 * view of the tenant in context; `forTenant(id)` and `shared()` return explicit views.
 * TTLs are ms; `undefined` = the module default; `0` or `Infinity` = no expiry.
 */
export class TenantScopedCache {
  /** @internal */
  constructor(
    protected readonly engine: CacheEngine,
    private readonly scopeOf: (operation: string) => CacheScope,
  ) {}

  /** The value, or `undefined` on a miss. `null`, `0`, `false` and `''` are values. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    return this.engine.get<T>(this.scopeOf('get'), key);
  }

  /** The entry with whether it was a hit and when it was cached. */
  async lookup<T = unknown>(key: string): Promise<CacheLookup<T>> {
    return this.engine.lookup<T>(this.scopeOf('lookup'), key);
  }

  async set(key: string, value: unknown, ttl?: number): Promise<void> {
    return this.engine.set(this.scopeOf('set'), key, value, ttl);
  }

  /** Writes only when the key is absent (atomic on Redis); true when it wrote. */
  async add(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.engine.add(this.scopeOf('add'), key, value, ttl);
  }

  /** True when the key existed. */
  async delete(key: string): Promise<boolean> {
    return this.engine.delete(this.scopeOf('delete'), key);
  }

  async has(key: string): Promise<boolean> {
    return this.engine.has(this.scopeOf('has'), key);
  }

  /** Atomically adds `by` (default 1) to an integer counter (missing = 0) and returns it. */
  async incr(key: string, by = 1): Promise<number> {
    return this.engine.incr(this.scopeOf('incr'), key, by);
  }

  async decr(key: string, by = 1): Promise<number> {
    return this.engine.incr(this.scopeOf('decr'), key, -by);
  }

  /** Gives an existing entry a new TTL; false when missing. */
  async touch(key: string, ttl?: number): Promise<boolean> {
    return this.engine.touch(this.scopeOf('touch'), key, ttl);
  }

  /** Remaining ms, `Infinity` without expiry, `undefined` when missing. */
  async ttl(key: string): Promise<number | undefined> {
    return this.engine.ttlOf(this.scopeOf('ttl'), key);
  }

  /**
   * The cached value, or the loader's result stored and returned. Concurrent misses of one key in this
   * process run the loader once. `undefined` results are returned but not stored.
   */
  async getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions<T>): Promise<T> {
    return this.engine.getOrSet(this.scopeOf('getOrSet'), key, loader, options);
  }

  async mget<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return this.engine.mget<T>(this.scopeOf('mget'), keys);
  }

  /** Writes several entries; `entries` is a list of `{ key, value, ttl? }` or an object of key -> value. */
  async mset(entries: readonly CacheEntryInput[] | Readonly<Record<string, unknown>>, ttl?: number): Promise<void> {
    const list = Array.isArray(entries)
      ? (entries as readonly CacheEntryInput[])
      : Object.entries(entries).map(([key, value]) => ({ key, value }));
    return this.engine.mset(this.scopeOf('mset'), list, ttl);
  }

  /** Deletes several keys; resolves to how many existed. */
  async mdel(keys: readonly string[]): Promise<number> {
    return this.engine.mdel(this.scopeOf('mdel'), keys);
  }

  /** This scope's keys starting with `prefix` (taken literally), as given to `set`. Streamed, never KEYS. */
  keys(prefix = ''): KeyListing {
    const scope = this.scopeOf('keys');
    return new KeyListing(() => this.engine.keys(scope, prefix));
  }

  /** Deletes this scope's keys starting with `prefix`, taken literally (`4*` never matches `42`). */
  async deleteByPrefix(prefix: string): Promise<number> {
    return this.engine.deleteByPrefix(this.scopeOf('deleteByPrefix'), prefix);
  }

  /** Removes every entry of this scope (only this tenant's). */
  async clear(): Promise<void> {
    return this.engine.clear(this.scopeOf('clear'));
  }

  /** Makes every entry of this scope unreachable in O(1), by moving the scope's generation on. */
  async invalidateAll(): Promise<void> {
    return this.engine.invalidateAll(this.scopeOf('invalidateAll'));
  }
}
