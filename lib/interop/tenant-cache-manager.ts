import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { TenantCacheService } from '../service/tenant-cache.service.js';

/** Options of `wrap`, as in cache-manager v7. */
export interface TenantCacheManagerWrapOptions<T> {
  /** TTL in ms, or a function of the loaded value; default the module's `defaultTtl`. */
  ttl?: number | ((value: T) => number);
  /** On a hit with less than this many ms left, the value is reloaded in the background. */
  refreshThreshold?: number | ((value: T) => number);
}

/** `wrap` options asking for the entry with its expiry (`{ value, expires }`). */
export interface TenantCacheManagerRawWrapOptions<T> extends TenantCacheManagerWrapOptions<T> {
  raw: true;
}

/** An entry with its expiry time (ms since epoch; `undefined` = none), as `wrap(..., { raw: true })` returns. */
export interface TenantCacheManagerRawEntry<T> {
  value: T;
  expires?: number | null;
}

/** Events of the cache, as cache-manager v7 types them (payloads with `error` on failure; `mdel` is emitted too, untyped as there). */
export interface TenantCacheManagerEvents {
  get: <T>(data: { key: string; value?: T; error?: unknown }) => void;
  mget: <T>(data: { keys: string[]; value?: T[]; error?: unknown }) => void;
  set: <T>(data: { key: string; value: T; error?: unknown }) => void;
  mset: <T>(data: { list: Array<{ key: string; value: T; ttl?: number }>; error?: unknown }) => void;
  del: (data: { key: string; error?: unknown }) => void;
  clear: (error?: unknown) => void;
  refresh: <T>(data: { key: string; value: T; error?: unknown }) => void;
}

/**
 * A cache-manager v7 `Cache` (the object `@nestjs/cache-manager` provides as `CACHE_MANAGER`) whose
 * every call acts for the tenant in context, through `TenantCacheService`: per-tenant entries, `clear()`
 * of this tenant only, and `TenantContextMissingError` when there is no tenant (never a shared
 * fallback). Provided as `CACHE_MANAGER` by `TenantCacheModule.forRoot({ provideCacheManager: true })`.
 *
 * Differences from cache-manager: `stores` is empty (the raw stores would bypass the isolation),
 * `disconnect()` does nothing (the module closes its stores on shutdown), `set(key, undefined)` deletes
 * the key, and values keep their types (Date, Map, BigInt, ...) instead of going through JSON.
 *
 * @example
 * constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}   // unchanged service code
 * await this.cache.set('profile', profile, 60_000);                       // stored for the current tenant
 */
export class TenantCacheManager {
  /** Always empty: the stores hold every tenant's entries and are reached through this object only. */
  readonly stores: never[] = [];
  private readonly emitter = new EventEmitter();
  private readonly id = `nestjs-tenant-cache:${randomUUID()}`;
  /** Background refreshes in flight, by tenant and key. */
  private readonly refreshing = new Set<string>();

  constructor(private readonly cache: TenantCacheService) {}

  /**
   * The current tenant's value, or `undefined`. A store that fails makes it a miss, as in cache-manager v7:
   * the `get` event then carries `error` (and the failure reaches `store:error` on `cache.events`).
   */
  async get<T>(key: string): Promise<T | undefined> {
    return this.observe('get', { key }, async () => {
      const found = await this.cache.lookup<T>(key);
      this.emitter.emit('get', found.error === undefined ? { key, value: found.value } : { key, error: found.error });
      return found.value;
    });
  }

  /** Values of several keys (`undefined` for a miss); a failing store makes them misses and the `mget` event carries `error`. */
  async mget<T>(keys: string[]): Promise<Array<T | undefined>> {
    return this.observe('mget', { keys }, async () => {
      const { values, error } = await this.cache.mlookup<T>(keys);
      if (error !== undefined) this.emitter.emit('mget', { keys, error });
      this.emitter.emit('mget', { keys, values });
      return values;
    });
  }

  /** The expiry time of the entry in ms since epoch, as cache-manager v7 returns it; `undefined` when missing or without expiry. */
  async ttl(key: string): Promise<number | undefined> {
    const left = await this.cache.ttl(key);
    return left === undefined || left === Infinity ? undefined : Date.now() + left;
  }

  /** Stores the value for the current tenant (TTL in ms; `undefined` = module default, 0 = none) and returns it. */
  async set<T>(key: string, value: T, ttl?: number): Promise<T> {
    return this.observe('set', { key, value }, async () => {
      if (value === undefined) await this.cache.delete(key);
      else await this.cache.set(key, value, ttl);
      this.emitter.emit('set', { key, value });
      return value;
    });
  }

  async mset<T>(list: Array<{ key: string; value: T; ttl?: number }>): Promise<Array<{ key: string; value: T; ttl?: number }>> {
    return this.observe('mset', { list }, async () => {
      await this.cache.mset(list.filter((e) => e.value !== undefined));
      const unset = list.filter((e) => e.value === undefined).map((e) => e.key);
      if (unset.length > 0) await this.cache.mdel(unset);
      this.emitter.emit('mset', { list });
      return list;
    });
  }

  /** Deletes the current tenant's entry. Resolves to true, as cache-manager does. */
  async del(key: string): Promise<boolean> {
    return this.observe('del', { key }, async () => {
      await this.cache.delete(key);
      this.emitter.emit('del', { key });
      return true;
    });
  }

  async mdel(keys: string[]): Promise<boolean> {
    return this.observe('mdel', { keys }, async () => {
      await this.cache.mdel(keys);
      this.emitter.emit('mdel', { keys });
      return true;
    });
  }

  /** Removes the current tenant's entries only (never another tenant's). */
  async clear(): Promise<boolean> {
    try {
      await this.cache.clear();
    } catch (error) {
      this.emitter.emit('clear', error);
      throw error;
    }
    this.emitter.emit('clear');
    return true;
  }

  /**
   * The cached value, or `fnc()` stored and returned (concurrent misses share one load). The TTL may be
   * a function of the value; with `refreshThreshold`, a hit with less time left reloads in the background.
   */
  wrap<T>(key: string, fnc: () => T | Promise<T>, ttl?: number | ((value: T) => number), refreshThreshold?: number | ((value: T) => number)): Promise<T>;
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: TenantCacheManagerWrapOptions<T>): Promise<T>;
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: TenantCacheManagerRawWrapOptions<T>): Promise<TenantCacheManagerRawEntry<T>>;
  async wrap<T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttlOrOptions?: number | ((value: T) => number) | TenantCacheManagerWrapOptions<T> | TenantCacheManagerRawWrapOptions<T>,
    refreshThreshold?: number | ((value: T) => number),
  ): Promise<T | TenantCacheManagerRawEntry<T>> {
    const options: Partial<TenantCacheManagerRawWrapOptions<T>> =
      typeof ttlOrOptions === 'object' && ttlOrOptions !== null ? ttlOrOptions : { ttl: ttlOrOptions, refreshThreshold };
    const ttlOf = (value: T) => (typeof options.ttl === 'function' ? options.ttl(value) : options.ttl);
    let loaded = false;
    // NOTE: one read-through, the TTL from the value included: a store that fails costs one commandTimeout.
    const { value } = await this.cache.fetch<T>(
      key,
      async () => {
        loaded = true;
        return fnc();
      },
      typeof options.ttl === 'function' ? { ttlOf: options.ttl } : { ttl: options.ttl },
    );
    if (!loaded && options.refreshThreshold !== undefined) await this.maybeRefresh(key, value as T, fnc, ttlOf, options.refreshThreshold);
    if (!options.raw) return value as T;
    const ttl = loaded ? ttlOf(value as T) : undefined;
    // A loaded value's expiry is known without asking the store (which may be the one failing).
    const left = ttl !== undefined ? ttl : await this.cache.ttl(key);
    return { value: value as T, expires: left === undefined || left === Infinity || left === 0 ? undefined : Date.now() + left };
  }

  on<E extends keyof TenantCacheManagerEvents>(event: E, listener: TenantCacheManagerEvents[E]): EventEmitter {
    return this.emitter.addListener(event, listener);
  }

  off<E extends keyof TenantCacheManagerEvents>(event: E, listener: TenantCacheManagerEvents[E]): EventEmitter {
    return this.emitter.removeListener(event, listener);
  }

  /** Does nothing: the stores belong to TenantCacheModule, which closes them on application shutdown. */
  async disconnect(): Promise<undefined> {
    return undefined;
  }

  cacheId(): string {
    return this.id;
  }

  private async observe<R>(event: string, payload: object, run: () => Promise<R>): Promise<R> {
    try {
      return await run();
    } catch (error) {
      // NOTE: emitted only when someone listens: an 'error'-less EventEmitter never throws for other names.
      this.emitter.emit(event, { ...payload, error });
      throw error;
    }
  }

  private async maybeRefresh<T>(
    key: string,
    value: T,
    fnc: () => T | Promise<T>,
    ttlOf: (value: T) => number | undefined,
    threshold: number | ((value: T) => number),
  ): Promise<void> {
    const left = await this.cache.ttl(key);
    const limit = typeof threshold === 'function' ? threshold(value) : threshold;
    if (left === undefined || left === Infinity || left >= limit) return;
    const tenant = this.cache.currentTenant();
    const flight = `${tenant ?? ''}\u0000${key}`;
    if (this.refreshing.has(flight)) return;
    this.refreshing.add(flight);
    // The background load runs in the same tenant scope (AsyncLocalStorage follows the promise).
    void (async () => {
      try {
        const fresh = await fnc();
        if (fresh !== undefined) await this.cache.set(key, fresh, ttlOf(fresh));
        this.emitter.emit('refresh', { key, value: fresh });
      } catch (error) {
        this.emitter.emit('refresh', { key, value, error });
      } finally {
        this.refreshing.delete(flight);
      }
    })();
  }
}
