import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { EntryCodec } from '../codec/entry-codec.js';
import type { MemoizeIterableOptions } from '../codec/memoize-iterable.js';
import { CachedMethodRegistry } from './cached-method.registry.js';
import type { CacheLookup } from './entry-reader.js';
import { type EngineParts, wireEngine } from './engine-wiring.js';
import type { InvalidationHooks, PurgeReceipt } from './invalidation-hooks.js';
import type { StorePurgeResult } from './scope-purge.js';
import type { FetchOptions, GetOrSetOptions } from './read-through.js';
import { type ResolvedStore, StoreRegistry } from './store-registry.js';
import type { TagIndex } from './tag-index.js';
import type { TagInput } from './tags.js';
import { TenantCacheEvents } from './tenant-cache.events.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { PartitionSelector } from '../keys/key-constructor.compiler.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { EngineOptions } from './engine.options.js';
import { REQUEST_CHANNEL } from '../observability/diagnostics.js';
import type { StatsRecorder, StoreInfo } from '../observability/stats-recorder.js';

export type { CacheLookup } from './entry-reader.js';
export type { FetchOptions, GetOrSetOptions } from './read-through.js';

/**
 * Every cache operation, for an explicit scope. `TenantCacheService` and the views of `forTenant()` /
 * `shared()` call into it; decorators and the interceptor use it too. Internal: not exported.
 *
 * A facade over lib/engine, one file per idea, built once by `wireEngine`: `TargetResolver` (store,
 * generation, tag versions -> physical key), `EntryReader`, `EntryWriter`, `ReadThrough` (single-flight,
 * `LoadMarks`), `BatchOps`, `KeyScan`, `Invalidator` (with the `InvalidationHooks`), `ScopePurge` and
 * `EngineTelemetry`. Its delegates are grouped by the part they call.
 */
@Injectable()
export class CacheEngine implements OnApplicationShutdown {
  readonly events = new TenantCacheEvents();
  readonly codec = new EntryCodec();
  /** Methods wrapped by `@CacheResult` in this application (filled by the explorer at start-up). */
  readonly methods = new CachedMethodRegistry();
  /** Told of every invalidation after the store was updated (CDN purges, the cross-instance bus). */
  readonly hooks: InvalidationHooks;
  readonly tagIndex: TagIndex;
  /** In-process counters by store and scope (`cache.stats()`), read by metrics too. */
  readonly stats: StatsRecorder;
  /** The parts this facade delegates to (`engine-wiring.ts`). */
  private readonly p: EngineParts;

  constructor(
    @Inject(TENANT_CACHE_OPTIONS) readonly options: EngineOptions,
    readonly registry: StoreRegistry,
  ) {
    this.p = wireEngine(options, registry, this.events);
    this.hooks = this.p.hooks;
    this.tagIndex = this.p.tagIndex;
    this.stats = this.p.telemetry.stats;
  }

  /** What a created store tells of itself (tier, entries, breaker), for health checks; `undefined` before it is created. */
  storeInfo(alias: string): StoreInfo | undefined {
    return this.p.telemetry.storeInfo(alias);
  }

  onApplicationShutdown(): void {
    this.p.telemetry.close();
  }

  store(scope: CacheScope, alias?: string): Promise<ResolvedStore> {
    return this.p.resolver.store(scope, alias);
  }
  generation(resolved: ResolvedStore, scope: CacheScope): Promise<number> {
    return this.p.resolver.generation(resolved, scope);
  }
  /** Validates a TTL and applies the default: `undefined` = default, 0/Infinity = none. */
  ttl(ttl: number | undefined): number | undefined {
    return this.p.resolver.ttl(ttl);
  }

  lookup<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<CacheLookup<T>> {
    return this.p.reader.lookup(scope, key, alias, tags);
  }
  /** `lookup` without a promise when the entry can be read so (an in-process store), else `undefined` (see `EntryReader.lookupNow`). */
  lookupNow<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): CacheLookup<T> | undefined {
    return this.p.reader.lookupNow(scope, key, alias, tags);
  }

  /** A hit read with `lookupNow` and served as the answer of a read-through (the interceptor's): counted in stats, spans, diagnostics. */
  servedNow(scope: CacheScope, key: string, alias: string | undefined, operation: string): void {
    this.p.telemetry.servedNow(scope, key, alias, operation);
  }

  get<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<T | undefined> {
    return this.p.reader.get(scope, key, alias, tags);
  }
  has(scope: CacheScope, key: string, alias?: string): Promise<boolean> {
    return this.p.reader.has(scope, key, alias);
  }
  ttlOf(scope: CacheScope, key: string, alias?: string): Promise<number | undefined> {
    return this.p.reader.ttlOf(scope, key, alias);
  }

  set(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string, tags?: readonly TagInput[]): Promise<void> {
    return this.p.writer.set(scope, key, value, ttl, alias, tags);
  }
  add(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string): Promise<boolean> {
    return this.p.writer.add(scope, key, value, ttl, alias);
  }
  delete(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    return this.p.writer.delete(scope, key, alias, tags);
  }
  /** Marks an entry expired now: stale within a grace, a miss to plain reads (see `EntryWriter.expire`). */
  expire(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    return this.p.writer.expire(scope, key, alias, tags);
  }
  incr(scope: CacheScope, key: string, by: number, alias?: string): Promise<number> {
    return this.p.writer.incr(scope, key, by, alias);
  }
  touch(scope: CacheScope, key: string, ttl?: number, alias?: string): Promise<boolean> {
    return this.p.writer.touch(scope, key, ttl, alias);
  }

  getOrSet<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts?: GetOrSetOptions<T>): Promise<T> {
    // NOTE: spans and diagnostics_channel messages only while someone listens (a field and a getter read otherwise).
    if (this.p.telemetry.tracing || REQUEST_CHANNEL.hasSubscribers) return this.p.telemetry.getOrSet(this.p.readThrough, scope, key, loader, opts);
    return this.p.readThrough.getOrSet(scope, key, loader, opts);
  }

  /** Read-through with metadata (see `ReadThrough`). */
  fetch<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts?: FetchOptions<T>): Promise<CacheLookup<T>> {
    if (this.p.telemetry.tracing || REQUEST_CHANNEL.hasSubscribers) return this.p.telemetry.fetch(this.p.readThrough, scope, key, loader, opts);
    return this.p.readThrough.fetch(scope, key, loader, opts);
  }

  memoizeIterable<T>(scope: CacheScope, key: string, loader: () => AsyncIterable<T> | Iterable<T>, opts?: MemoizeIterableOptions): AsyncGenerator<T, void, undefined> {
    return this.p.iterables.memoizeIterable(scope, key, loader, opts);
  }

  async mget<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<(T | undefined)[]> {
    return (await this.p.batch.mlookup<T>(scope, keys, alias)).values;
  }
  /** `mget` with the store's failure, when the read failed (every value is then a miss). */
  mlookup<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<{ values: (T | undefined)[]; error?: Error }> {
    return this.p.batch.mlookup(scope, keys, alias);
  }
  mset(scope: CacheScope, entries: readonly { key: string; value: unknown; ttl?: number }[], ttl?: number, alias?: string): Promise<void> {
    return this.p.batch.mset(scope, entries, ttl, alias);
  }
  mdel(scope: CacheScope, keys: readonly string[], alias?: string): Promise<number> {
    return this.p.batch.mdel(scope, keys, alias);
  }

  /** Logical keys of the scope's current generation that start with `prefix`, page by page (see `KeyScan`). */
  keys(scope: CacheScope, prefix?: string, alias?: string): AsyncGenerator<string[]> {
    return this.p.scan.keys(scope, prefix, alias);
  }
  /** `keys` for admin tools: a store failure throws `StoreUnavailableError` instead of ending the listing early. */
  completeKeys(scope: CacheScope, prefix?: string, alias?: string): AsyncGenerator<string[]> {
    return this.p.scan.completeKeys(scope, prefix, alias);
  }
  /** `keys`, for a write that deletes what it lists: a store failure follows `onWriteError`. */
  keysToDelete(scope: CacheScope, prefix: string, operation: string, alias?: string): AsyncGenerator<string[]> {
    return this.p.scan.keysToDelete(scope, prefix, operation, alias);
  }
  deleteByPrefix(scope: CacheScope, prefix: string, alias?: string): Promise<number> {
    return this.p.scan.deleteByPrefix(scope, prefix, alias);
  }

  /** Makes every entry of the scope unreachable at once (O(1)): the scope's generation moves on. */
  invalidateAll(scope: CacheScope, alias?: string): Promise<void> {
    return this.p.invalidator.invalidateAll(scope, alias);
  }
  /** `invalidateAll`, then deletes the scope's physical entries where the store can list them. */
  clear(scope: CacheScope, alias?: string): Promise<void> {
    return this.p.invalidator.clear(scope, alias);
  }
  /** `soft`: the tag's entries become expired instead of invalid (see `Invalidator.invalidateTag`). */
  invalidateTag(scope: CacheScope, tag: TagInput, alias?: string, soft?: boolean): Promise<number> {
    return this.p.invalidator.invalidateTag(scope, tag, alias, soft);
  }
  invalidateTagInAllScopes(tag: TagInput, alias?: string, soft?: boolean): Promise<number> {
    return this.p.invalidator.invalidateTagInAllScopes(tag, alias, soft);
  }
  invalidatePartition(scope: CacheScope, selector: PartitionSelector, alias?: string): Promise<number> {
    return this.p.invalidator.invalidatePartition(scope, selector, alias);
  }

  /** Deletes every key of the scope (all generations, counters, tag sets, leases) from one store. Admin only. */
  purgeScope(scope: CacheScope, alias: string, receipt?: PurgeReceipt): Promise<StorePurgeResult> {
    return this.p.purger.purge(scope, alias, receipt);
  }
  /** Throws `UnsupportedOperationError` when the store cannot list keys, so a purge would miss them. */
  assertPurgeable(alias: string): Promise<void> {
    return this.p.purger.assertPurgeable(alias);
  }
  /** Destroys a tenant's data key in one store (`ScopePurge.shred`); false on a store without wrapped data keys. Admin only. */
  shred(scope: CacheScope & { kind: 'tenant' }, alias: string): Promise<boolean> {
    return this.p.purger.shred(scope, alias);
  }

  /** Empties whole stores, every tenant. Admin only. */
  flushAllTenants(alias?: string): Promise<void> {
    return this.p.invalidator.flushAllTenants(alias);
  }
}
