import { Inject, Injectable, Logger } from '@nestjs/common';
import { EntryCodec } from '../codec/entry-codec.js';
import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';
import { InvalidTtlError } from '../errors/invalid-ttl.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { TenantCacheError } from '../errors/tenant-cache.error.js';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import { type CacheScope, assertKey } from '../keys/key-builder.js';
import type { StoreEntry } from '../stores/cache-store.interface.js';
import { type ResolvedStore, StoreRegistry } from '../stores/store-registry.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { NormalizedTenantCacheOptions } from '../tenant-cache.options.js';
import { SingleFlight } from './single-flight.js';
import { TenantCacheEvents } from './tenant-cache.events.js';
import { VersionCounters } from './version-counters.js';

/** Options of one read-through call. */
export interface GetOrSetOptions<T> {
  /** TTL in ms; default the module's `defaultTtl`. */
  ttl?: number;
  /** Store alias; default the tenant's route. */
  store?: string;
  /** Return false to keep a computed value out of the cache. */
  shouldCache?: (value: T) => boolean;
}

/** An entry read with its metadata. */
export interface CacheLookup<T> {
  hit: boolean;
  value: T | undefined;
  /** When the entry was written (ms since epoch); `undefined` on a miss. */
  cachedAt?: number;
}

/** Where one logical key lives: the store, the physical key and the scope it was built for. */
interface Target {
  resolved: ResolvedStore;
  key: string;
  scope: CacheScope;
}

/**
 * Every cache operation, for an explicit scope. `TenantCacheService` and the views of `forTenant()` /
 * `shared()` call into it; decorators and the interceptor use it too. Internal: not exported.
 */
@Injectable()
export class CacheEngine {
  readonly events = new TenantCacheEvents();
  readonly codec = new EntryCodec();
  private readonly logger = new Logger('TenantCache');
  private readonly flights = new SingleFlight();
  private readonly counters: VersionCounters;
  /** Loads in flight, by physical key; set to true when the key is invalidated meanwhile. */
  private readonly loading = new Map<string, { invalidated: boolean }>();

  constructor(
    @Inject(TENANT_CACHE_OPTIONS) readonly options: NormalizedTenantCacheOptions,
    readonly registry: StoreRegistry,
  ) {
    this.counters = new VersionCounters(options.versionCacheTtl);
  }

  /** Resolves the store and physical key of `key` in `scope`. */
  async target(scope: CacheScope, key: string, alias?: string): Promise<Target> {
    assertKey(key);
    const resolved = await this.store(scope, alias);
    const generation = await this.generation(resolved, scope);
    return { resolved, key: resolved.keys.entryKey(scope, generation, key), scope };
  }

  async store(scope: CacheScope, alias?: string): Promise<ResolvedStore> {
    return this.registry.get(this.registry.aliasFor(scope, alias));
  }

  async generation(resolved: ResolvedStore, scope: CacheScope): Promise<number> {
    return this.counters.read(resolved.store, resolved.keys.generationKey(scope));
  }

  async lookup<T>(scope: CacheScope, key: string, alias?: string): Promise<CacheLookup<T>> {
    const t = await this.target(scope, key, alias);
    let raw: Buffer | undefined;
    try {
      raw = await t.resolved.store.get(t.key);
    } catch (error) {
      this.storeFailed(t, 'get', error);
      return { hit: false, value: undefined };
    }
    if (raw === undefined) return { hit: false, value: undefined };
    const decoded = this.codec.decode<T>(raw);
    if (!decoded.ok) {
      await this.dropCorrupt(t, decoded.reason);
      return { hit: false, value: undefined };
    }
    return { hit: true, value: decoded.entry.value, cachedAt: decoded.entry.createdAt };
  }

  async get<T>(scope: CacheScope, key: string, alias?: string): Promise<T | undefined> {
    return (await this.lookup<T>(scope, key, alias)).value;
  }

  async set(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string): Promise<void> {
    const t = await this.target(scope, key, alias);
    const expires = this.ttl(ttl);
    const bytes = this.encode(t, key, value);
    await this.write(t, 'set', () => t.resolved.store.set(t.key, bytes, expires));
  }

  async add(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string): Promise<boolean> {
    const t = await this.target(scope, key, alias);
    const expires = this.ttl(ttl);
    const bytes = this.encode(t, key, value);
    return (await this.write(t, 'add', () => t.resolved.store.add(t.key, bytes, expires))) ?? false;
  }

  async delete(scope: CacheScope, key: string, alias?: string): Promise<boolean> {
    const t = await this.target(scope, key, alias);
    this.markInvalidated((k) => k === t.key);
    return (await this.write(t, 'delete', () => t.resolved.store.delete(t.key))) ?? false;
  }

  async has(scope: CacheScope, key: string, alias?: string): Promise<boolean> {
    const t = await this.target(scope, key, alias);
    try {
      return await t.resolved.store.has(t.key);
    } catch (error) {
      this.storeFailed(t, 'has', error);
      return false;
    }
  }

  async incr(scope: CacheScope, key: string, by: number, alias?: string): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new InvalidCacheValueError(`incr/decr take a safe integer step, got ${String(by)}`, key);
    const t = await this.target(scope, key, alias);
    try {
      return await t.resolved.store.incr(t.key, by, this.ttl(undefined));
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      if (error instanceof TenantCacheError) throw error;
      // The store refused: the value there is not an integer.
      throw new InvalidCacheValueError(`the value is not an integer counter (${(error as Error).message})`, key, error);
    }
  }

  async touch(scope: CacheScope, key: string, ttl?: number, alias?: string): Promise<boolean> {
    const t = await this.target(scope, key, alias);
    const expires = this.ttl(ttl);
    return (await this.write(t, 'touch', () => t.resolved.store.touch(t.key, expires))) ?? false;
  }

  async ttlOf(scope: CacheScope, key: string, alias?: string): Promise<number | undefined> {
    const t = await this.target(scope, key, alias);
    try {
      return await t.resolved.store.ttl(t.key);
    } catch (error) {
      this.storeFailed(t, 'ttl', error);
      return undefined;
    }
  }

  async getOrSet<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: GetOrSetOptions<T> = {}): Promise<T> {
    const ttl = this.ttl(opts.ttl);
    const found = await this.lookup<T>(scope, key, opts.store);
    if (found.hit) return found.value as T;
    const t = await this.target(scope, key, opts.store);
    return this.flights.run(`${t.resolved.alias}\u0000${t.key}`, async () => {
      const mark = { invalidated: false };
      this.loading.set(t.key, mark);
      let value: T;
      try {
        value = await loader();
      } finally {
        if (this.loading.get(t.key) === mark) this.loading.delete(t.key);
      }
      // NOTE: a value loaded while its key was invalidated may predate the invalidation: not stored.
      if (value !== undefined && !mark.invalidated && (opts.shouldCache?.(value) ?? true)) {
        let bytes: Buffer | undefined;
        try {
          bytes = this.encode(t, key, value);
        } catch (error) {
          this.logger.warn(`Not caching "${key}": ${(error as Error).message}`);
        }
        if (bytes) {
          const b = bytes;
          try {
            await t.resolved.store.set(t.key, b, ttl);
          } catch (error) {
            this.storeFailed(t, 'set', error);
          }
        }
      }
      return value;
    });
  }

  async mget<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<(T | undefined)[]> {
    if (keys.length === 0) return [];
    const resolved = await this.store(scope, alias);
    const generation = await this.generation(resolved, scope);
    const physical = keys.map((k) => resolved.keys.entryKey(scope, generation, k));
    let raws: (Buffer | undefined)[];
    try {
      raws = await resolved.store.mget(physical);
    } catch (error) {
      this.storeFailed({ resolved, key: physical[0]!, scope }, 'mget', error);
      return keys.map(() => undefined);
    }
    const out: (T | undefined)[] = [];
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i];
      if (raw === undefined) {
        out.push(undefined);
        continue;
      }
      const decoded = this.codec.decode<T>(raw);
      if (decoded.ok) out.push(decoded.entry.value);
      else {
        await this.dropCorrupt({ resolved, key: physical[i]!, scope }, decoded.reason);
        out.push(undefined);
      }
    }
    return out;
  }

  async mset(scope: CacheScope, entries: readonly { key: string; value: unknown; ttl?: number }[], ttl?: number, alias?: string): Promise<void> {
    if (entries.length === 0) return;
    const resolved = await this.store(scope, alias);
    const generation = await this.generation(resolved, scope);
    // Encode everything first: one bad value fails the batch before anything is written.
    const batch: StoreEntry[] = entries.map((e) => {
      const key = resolved.keys.entryKey(scope, generation, e.key);
      return { key, value: this.encode({ resolved, key, scope }, e.key, e.value), ttl: this.ttl(e.ttl ?? ttl) };
    });
    await this.write({ resolved, key: batch[0]!.key, scope }, 'mset', () => resolved.store.mset(batch));
  }

  async mdel(scope: CacheScope, keys: readonly string[], alias?: string): Promise<number> {
    if (keys.length === 0) return 0;
    const resolved = await this.store(scope, alias);
    const generation = await this.generation(resolved, scope);
    const physical = new Set(keys.map((k) => resolved.keys.entryKey(scope, generation, k)));
    this.markInvalidated((k) => physical.has(k));
    return (await this.write({ resolved, key: [...physical][0]!, scope }, 'mdel', () => resolved.store.mdel([...physical]))) ?? 0;
  }

  /** Logical keys of the scope's current generation that start with `prefix`, page by page. */
  async *keys(scope: CacheScope, prefix = '', alias?: string): AsyncGenerator<string[]> {
    const resolved = await this.store(scope, alias);
    this.requireScan(resolved, 'keys()');
    const entryPrefix = resolved.keys.entryPrefix(scope, await this.generation(resolved, scope));
    for await (const page of resolved.store.scan(entryPrefix + 'k:' + prefix)) {
      const out = page.map((k) => k.slice(entryPrefix.length + 2));
      if (out.length > 0) yield out;
    }
    // Long keys are stored hashed; their logical key is inside the entry.
    for await (const page of resolved.store.scan(entryPrefix + 'h:')) {
      const out: string[] = [];
      for (const physical of page) {
        const logical = await this.logicalKeyOf(resolved, physical);
        if (logical !== undefined && logical.startsWith(prefix)) out.push(logical);
      }
      if (out.length > 0) yield out;
    }
  }

  async deleteByPrefix(scope: CacheScope, prefix: string, alias?: string): Promise<number> {
    if (typeof prefix !== 'string') throw new InvalidCacheValueError('deleteByPrefix takes a string prefix');
    const resolved = await this.store(scope, alias);
    this.requireScan(resolved, 'deleteByPrefix()');
    const entryPrefix = resolved.keys.entryPrefix(scope, await this.generation(resolved, scope));
    const literal = entryPrefix + 'k:' + prefix;
    this.markInvalidated((k) => k.startsWith(literal) || k.startsWith(entryPrefix + 'h:'));
    let n = await resolved.store.deleteByPrefix(literal);
    const hashed: string[] = [];
    for await (const page of resolved.store.scan(entryPrefix + 'h:')) {
      for (const physical of page) {
        const logical = await this.logicalKeyOf(resolved, physical);
        if (logical !== undefined && logical.startsWith(prefix)) hashed.push(physical);
      }
    }
    if (hashed.length > 0) n += await resolved.store.mdel(hashed);
    return n;
  }

  /** Makes every entry of the scope unreachable at once (O(1)): the scope's generation moves on. */
  async invalidateAll(scope: CacheScope, alias?: string): Promise<void> {
    const resolved = await this.store(scope, alias);
    const prefix = resolved.keys.scopePrefix(scope);
    this.markInvalidated((k) => k.startsWith(prefix));
    await this.write({ resolved, key: prefix, scope }, 'invalidateAll', () =>
      this.counters.bump(resolved.store, resolved.keys.generationKey(scope)),
    );
  }

  /** `invalidateAll`, then deletes the scope's physical entries where the store can list them. */
  async clear(scope: CacheScope, alias?: string): Promise<void> {
    await this.invalidateAll(scope, alias);
    const resolved = await this.store(scope, alias);
    if (!resolved.store.capabilities.scan) return;
    const generation = await this.generation(resolved, scope);
    const scopePrefix = resolved.keys.scopePrefix(scope);
    const keep = resolved.keys.generationKey(scope);
    const doomed: string[] = [];
    for await (const page of resolved.store.scan(scopePrefix)) {
      for (const k of page) {
        // Keep the generation counter: removing it could let it restart at a value old entries carry.
        if (k !== keep && !k.startsWith(resolved.keys.entryPrefix(scope, generation))) doomed.push(k);
      }
      if (doomed.length >= 500) await resolved.store.mdel(doomed.splice(0));
    }
    if (doomed.length > 0) await resolved.store.mdel(doomed);
  }

  /** Empties whole stores, every tenant. Admin only. */
  async flushAllTenants(alias?: string): Promise<void> {
    const aliases = alias === undefined ? this.registry.aliases : [alias];
    for (const a of aliases) await (await this.registry.get(a)).store.flush();
  }

  /** Validates a TTL and applies the default: `undefined` = default, 0/Infinity = none. */
  ttl(ttl: number | undefined): number | undefined {
    if (ttl === undefined) return this.options.defaultTtl || undefined;
    if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) throw new InvalidTtlError(ttl);
    return ttl === 0 || ttl === Infinity ? undefined : Math.max(1, Math.round(ttl));
  }

  private encode(t: Target, key: string, value: unknown): Buffer {
    if (value === undefined) throw new InvalidCacheValueError('undefined means "no entry"; delete the key instead', key);
    const bytes = this.codec.encode(value, key, !t.resolved.keys.isLiteral(key));
    if (bytes.length > t.resolved.store.capabilities.maxValueBytes) {
      throw new InvalidCacheValueError(
        `it is ${bytes.length} bytes encoded; store "${t.resolved.alias}" takes at most ${t.resolved.store.capabilities.maxValueBytes}`,
        key,
      );
    }
    return bytes;
  }

  private async write<R>(t: Target, operation: string, run: () => Promise<R>): Promise<R | undefined> {
    try {
      return await run();
    } catch (error) {
      // Our own typed errors (bad input) are the caller's to see, not a store failure.
      if (error instanceof TenantCacheError && !(error instanceof StoreUnavailableError)) throw error;
      this.storeFailed(t, operation, error);
      if (this.options.onWriteError === 'ignore') return undefined;
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(t.resolved.alias, `${operation} failed: ${(error as Error).message}`, error);
    }
  }

  private storeFailed(t: Target, operation: string, error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error));
    const tenant = t.scope.kind === 'tenant' ? t.scope.tenantId : undefined;
    this.logger.warn(`Cache store "${t.resolved.alias}" failed on ${operation}${tenant ? ` (tenant ${tenant})` : ''}: ${err.message}`);
    this.events.emit('store:error', { store: t.resolved.alias, operation, error: err, tenant });
  }

  private async dropCorrupt(t: Target, reason: string): Promise<void> {
    const tenant = t.scope.kind === 'tenant' ? t.scope.tenantId : undefined;
    this.logger.warn(`Removed an unreadable cache entry in "${t.resolved.alias}": ${reason}`);
    this.events.emit('entry:corrupt', { store: t.resolved.alias, key: t.key, reason, tenant });
    try {
      await t.resolved.store.delete(t.key);
    } catch (error) {
      this.storeFailed(t, 'delete', error);
    }
  }

  private markInvalidated(matches: (physicalKey: string) => boolean): void {
    for (const [key, mark] of this.loading) if (matches(key)) mark.invalidated = true;
  }

  private requireScan(resolved: ResolvedStore, operation: string): void {
    if (!resolved.store.capabilities.scan) {
      throw new UnsupportedOperationError(resolved.alias, operation, 'Use a memory or Redis store, or invalidateAll() which needs no listing.');
    }
  }

  private async logicalKeyOf(resolved: ResolvedStore, physical: string): Promise<string | undefined> {
    const raw = await resolved.store.get(physical);
    if (raw === undefined) return undefined;
    return this.codec.keyOf(raw);
  }
}
