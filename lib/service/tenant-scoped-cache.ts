import type { Type } from '@nestjs/common';
import type { MemoizeIterableOptions } from '../codec/memoize-iterable.js';
import { CachedMethodNotFoundError } from '../errors/cached-method-not-found.error.js';
import { InvalidCacheKeyError } from '../errors/invalid-cache-key.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import { INTERNAL_KEY_MARK } from '../keys/logical-key-marks.js';
import type { PartitionValues } from '../keys/key-constructor.js';
import type { CacheEngine, CacheLookup, FetchOptions, GetOrSetOptions } from '../engine/cache-engine.js';
import { CachedMethod, type MethodName, cachedMethodOf } from './cached-method.handle.js';
import { KeyListing } from './key-listing.js';
import { type TagInput, isVersionedTag } from '../engine/tags.js';
import type { ScopeStats } from '../observability/cache-stats.js';

/** One entry of `mset`. `ttl` in ms overrides the batch TTL. */
export interface CacheEntryInput<T = unknown> {
  key: string;
  value: T;
  ttl?: number;
}

/** Options of `set`. */
export interface SetOptions {
  /** TTL in ms; default the module's `defaultTtl`; `0`/`Infinity` = no expiry. */
  ttl?: number;
  /** Tags of the entry; see `GetOrSetOptions.tags`. */
  tags?: readonly TagInput[];
}

/** Options of reads and deletes of an entry written with versioned tags: the same tags address it. */
export interface AddressOptions {
  tags?: readonly TagInput[];
}

/** Options of `invalidateTag(s)`. */
export interface InvalidateTagOptions {
  /**
   * Expire the tag's entries instead of removing them: a read-through with a `grace` (or
   * `staleWhileRevalidate`) serves one stale while a single load refreshes it; every other read is a
   * miss. Plain tags only (a versioned tag throws `UnsupportedOperationError`). CDN backends that can
   * (Fastly) soft-purge. Default false.
   */
  soft?: boolean;
}

/** The `CachedMethod` handle type of `Type.prototype[name]`. */
export type CachedMethodOf<T, K extends keyof T, P extends object = Readonly<Record<string, unknown>>> = T[K] extends (...args: infer A) => infer R
  ? CachedMethod<A, Awaited<R>, P>
  : never;

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

  /**
   * This scope's in-process counters since start-up: read-throughs by result (a stale value served is
   * `stale`, never a hit), loads, single-flight joins, invalidations, store failures. A `forTenant(id)`
   * view shows that tenant's numbers only. See docs/observability.md.
   */
  stats(): ScopeStats {
    return this.engine.stats.scopeStats(this.scopeOf('stats'));
  }

  /** The value, or `undefined` on a miss. `null`, `0`, `false` and `''` are values. */
  get<T = unknown>(key: string, options?: AddressOptions): Promise<T | undefined> {
    // NOTE: not `async`: one promise less per call on the hot path; a synchronous throw still rejects.
    try {
      return this.engine.get<T>(this.scopeOf('get'), userKey(key), undefined, options?.tags);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The entry with whether it was a hit and when it was cached. */
  async lookup<T = unknown>(key: string, options?: AddressOptions): Promise<CacheLookup<T>> {
    return this.engine.lookup<T>(this.scopeOf('lookup'), userKey(key), undefined, options?.tags);
  }

  /** Writes an entry; the third argument is a TTL in ms or `{ ttl, tags }`. */
  set(key: string, value: unknown, ttlOrOptions?: number | SetOptions): Promise<void> {
    try {
      if (typeof ttlOrOptions === 'object' && ttlOrOptions !== null) {
        return this.engine.set(this.scopeOf('set'), userKey(key), value, ttlOrOptions.ttl, undefined, ttlOrOptions.tags);
      }
      return this.engine.set(this.scopeOf('set'), userKey(key), value, ttlOrOptions);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes only when the key is absent (atomic on Redis); true when it wrote. */
  async add(key: string, value: unknown, ttl?: number): Promise<boolean> {
    return this.engine.add(this.scopeOf('add'), userKey(key), value, ttl);
  }

  /** True when the key existed. */
  async delete(key: string, options?: AddressOptions): Promise<boolean> {
    return this.engine.delete(this.scopeOf('delete'), userKey(key), undefined, options?.tags);
  }

  async has(key: string): Promise<boolean> {
    return this.engine.has(this.scopeOf('has'), userKey(key));
  }

  /**
   * Atomically adds `by` (default 1) to an integer counter (missing = 0) and returns it. A store that
   * fails rejects with `StoreUnavailableError` whatever `onWriteError` says: only the store knows the count.
   */
  async incr(key: string, by = 1): Promise<number> {
    return this.engine.incr(this.scopeOf('incr'), userKey(key), by);
  }

  async decr(key: string, by = 1): Promise<number> {
    return this.engine.incr(this.scopeOf('decr'), userKey(key), -by);
  }

  /** Gives an existing entry a new TTL; false when missing. */
  async touch(key: string, ttl?: number): Promise<boolean> {
    return this.engine.touch(this.scopeOf('touch'), userKey(key), ttl);
  }

  /**
   * Marks an entry expired now, without removing it: a read-through (`getOrSet`, `@CacheResult`,
   * `@CacheResponse`) with a `grace` or `staleWhileRevalidate` serves it stale while one load refreshes
   * it; `get` and read-throughs without them see a miss. True when the key held an entry. Entries of
   * versioned tags are addressed with the same `{ tags }` as `get`.
   */
  async expire(key: string, options?: AddressOptions): Promise<boolean> {
    return this.engine.expire(this.scopeOf('expire'), userKey(key), undefined, options?.tags);
  }

  /** Remaining ms, `Infinity` without expiry, `undefined` when missing. */
  async ttl(key: string): Promise<number | undefined> {
    return this.engine.ttlOf(this.scopeOf('ttl'), userKey(key));
  }

  /**
   * The cached value, or the loader's result stored and returned. Concurrent misses of one key in this
   * process run the loader once. `undefined` results are returned but not stored. With
   * `{ ttl, tags }`, the entry is tagged (see `invalidateTag`).
   *
   * A store that fails makes it a miss (logged, emitted as `store:error`), never an error, and costs the
   * caller at most one `commandTimeout`: after a failed read the loader runs at once and its value is
   * written back in the background.
   *
   * With `grace` (or the module's), an expired entry is served stale when the loader throws or runs past
   * `timeout`; an invalidated one never is (see docs/decorators.md, "Fail-safe: grace and timeouts").
   * With `staleWhileRevalidate` or `refreshAhead`, an expired (or ageing) entry is returned at once while
   * one background refresh runs; `ttlJitter` spreads TTLs per key.
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: GetOrSetOptions<T>): Promise<T> {
    try {
      return this.engine.getOrSet(this.scopeOf('getOrSet'), userKey(key), loader, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal Read-through with metadata and the engine's options (the drop-in CACHE_MANAGER's `wrap`). */
  fetch<T>(key: string, loader: () => T | Promise<T>, options: FetchOptions<T>): Promise<CacheLookup<T>> {
    try {
      return this.engine.fetch(this.scopeOf('wrap'), userKey(key), loader, { operation: 'wrap', ...options });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Memoizes an async (or sync) iterable: on a miss, yields the loader's items as they come while
   * storing them page by page; the entry becomes visible only once the iteration completed. Stopping
   * early (`break`) or a loader error stores nothing (the error reaches the caller). On a hit, the
   * items stream back from the store one page at a time, never all in memory.
   *
   * @example
   * for await (const row of cache.memoizeIterable('report:2026', () => db.streamRows(), { ttl: 600_000 })) res.write(row);
   */
  memoizeIterable<T>(key: string, loader: () => AsyncIterable<T> | Iterable<T>, options?: MemoizeIterableOptions): AsyncGenerator<T, void, undefined> {
    return this.engine.memoizeIterable(this.scopeOf('memoizeIterable'), userKey(key), loader, options);
  }

  async mget<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return this.engine.mget<T>(this.scopeOf('mget'), keys.map(userKey));
  }

  /** @internal `mget` with the store's failure when the read failed (the drop-in CACHE_MANAGER reports it in its events). */
  async mlookup<T = unknown>(keys: readonly string[]): Promise<{ values: (T | undefined)[]; error?: Error }> {
    return this.engine.mlookup<T>(this.scopeOf('mget'), keys.map(userKey));
  }

  /** Writes several entries; `entries` is a list of `{ key, value, ttl? }` or an object of key -> value. */
  async mset(entries: readonly CacheEntryInput[] | Readonly<Record<string, unknown>>, ttl?: number): Promise<void> {
    const list = Array.isArray(entries) ? (entries as readonly CacheEntryInput[]) : Object.entries(entries).map(([key, value]) => ({ key, value }));
    for (const e of list) userKey(e.key);
    return this.engine.mset(this.scopeOf('mset'), list, ttl);
  }

  /** Deletes several keys; resolves to how many existed. */
  async mdel(keys: readonly string[]): Promise<number> {
    return this.engine.mdel(this.scopeOf('mdel'), keys.map(userKey));
  }

  /** This scope's keys starting with `prefix` (taken literally), as given to `set`. Streamed, never KEYS. */
  keys(prefix = ''): KeyListing {
    const scope = this.scopeOf('keys');
    const engine = this.engine;
    // Entries of decorated methods and of versioned tags have internal keys: listed only when asked for.
    const internal = typeof prefix === 'string' && prefix.startsWith(INTERNAL_KEY_MARK);
    return new KeyListing(async function* () {
      for await (const page of engine.keys(scope, prefix)) {
        const out = internal ? page : page.filter((k) => !k.startsWith(INTERNAL_KEY_MARK));
        if (out.length > 0) yield out;
      }
    });
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

  /**
   * Invalidates a tag in this scope only. A plain tag deletes the entries tagged with it and resolves to
   * how many existed; `versioned(name)` moves the tag's version on (one atomic increment, whatever
   * the number of entries) and resolves to the new version. A name is plain or versioned in the whole
   * application: a plain name that decorators declare as `versioned(name)` is that versioned tag.
   *
   * @example
   * await cache.invalidateTag('products');            // e.g. 42 entries
   * await cache.invalidateTag(versioned('catalog'));  // the new version
   * await cache.invalidateTag('catalog');             // the same, when @CacheResult declares versioned('catalog')
   * await cache.invalidateTag('products', { soft: true }); // stale within grace while refreshed; resolves to 0
   */
  async invalidateTag(tag: TagInput, options?: InvalidateTagOptions): Promise<number> {
    return this.engine.invalidateTag(this.scopeOf('invalidateTag'), this.engine.methods.tags.resolve(tag), undefined, options?.soft);
  }

  /**
   * `invalidateTag` for each tag, all at once (a store that stops answering costs one timeout, not one
   * per tag); resolves to each one's count (or new version), in the order given.
   */
  async invalidateTags(tags: readonly TagInput[], options?: InvalidateTagOptions): Promise<number[]> {
    const scope = this.scopeOf('invalidateTags');
    const resolved = tags.map((tag) => this.engine.methods.tags.resolve(tag));
    // NOTE: a versioned tag refuses { soft: true } before any tag of the batch is touched.
    const refused = options?.soft ? resolved.find(isVersionedTag) : undefined;
    if (refused !== undefined) await this.engine.invalidateTag(scope, refused, undefined, true);
    return Promise.all(resolved.map((tag) => this.engine.invalidateTag(scope, tag, undefined, options?.soft)));
  }

  /**
   * The entries of a `@CacheResult` method of a provider, typed by its parameters. Pass the method's
   * key constructor as third argument to type `invalidatePartition` by its partition fields.
   * Throws `CachedMethodNotFoundError` when no provider of the application caches that method.
   *
   * @example
   * await cache.method(ProductService, 'getProduct').invalidate('p1');
   * await cache.method(ProductService, 'listProducts', ListKey).invalidatePartition({ category: 'books' });
   */
  method<T, K extends MethodName<T>, C extends object = never>(
    type: Type<T>,
    name: K,
    key?: new () => C,
  ): CachedMethodOf<T, K, [C] extends [never] ? Readonly<Record<string, unknown>> : PartitionValues<C>> {
    const definition = cachedMethodOf(this.engine.methods, type, name);
    const label = `${type?.name ?? String(type)}.${String(name)}`;
    if (!definition) {
      const fn = (type?.prototype as Record<string, unknown> | undefined)?.[name];
      const decorated = typeof fn === 'function' && this.engine.methods.isDecorated(type, name);
      throw new CachedMethodNotFoundError(
        label,
        decorated
          ? `it carries @CacheResult but ${type.name} is not a (singleton) provider of this application; only methods of providers Nest creates are wrapped`
          : typeof fn === 'function'
            ? 'it does not carry @CacheResult'
            : `${type?.name} has no method "${String(name)}"`,
      );
    }
    if (key !== undefined && definition.keyType !== key) {
      throw new CachedMethodNotFoundError(label, `it is keyed by ${definition.keyType?.name ?? 'its arguments'}, not by ${key.name}`);
    }
    return new CachedMethod(definition, this.scopeOf) as unknown as CachedMethodOf<T, K, [C] extends [never] ? Readonly<Record<string, unknown>> : PartitionValues<C>>;
  }

  /** @internal The scope this view acts in (used by the decorators' explorer). */
  resolveScope(operation: string): CacheScope {
    return this.scopeOf(operation);
  }
}

/** Refuses keys in the internal namespace, so a caller's key can never address a decorated method's entry. */
function userKey(key: string): string {
  if (typeof key === 'string' && key.startsWith(INTERNAL_KEY_MARK)) {
    throw new InvalidCacheKeyError('keys starting with U+0000 are reserved for decorated methods and versioned tags', key);
  }
  return key;
}
