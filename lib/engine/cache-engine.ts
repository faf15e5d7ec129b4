import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { EntryCodec } from '../codec/entry-codec.js';
import type { MemoizeIterableOptions } from '../codec/memoize-iterable.js';
import { BatchOps } from './batch-ops.js';
import { CachedMethodRegistry } from './cached-method.registry.js';
import { ClusterFlight } from './cluster-flight.js';
import { type CacheLookup, EntryReader } from './entry-reader.js';
import { EntryWriter } from './entry-writer.js';
import { InvalidationHooks, type PurgeReceipt } from './invalidation-hooks.js';
import { Invalidator } from './invalidator.js';
import { KeyScan } from './key-scan.js';
import { ScopePurge, type StorePurgeResult, shredScope } from './scope-purge.js';
import { LoadMarks } from './load-marks.js';
import { type FetchOptions, type GetOrSetOptions, ReadThrough } from './read-through.js';
import { SingleFlight } from './single-flight.js';
import { type ResolvedStore, StoreRegistry } from './store-registry.js';
import { StoreFailures } from './store-failures.js';
import { TagIndex } from './tag-index.js';
import { TagStamps } from './tag-stamps.js';
import type { TagInput } from './tags.js';
import { TargetResolver } from './target-resolver.js';
import { TenantCacheEvents } from './tenant-cache.events.js';
import { VersionCounters } from './version-counters.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { PartitionSelector } from '../keys/key-constructor.compiler.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { EngineOptions } from './engine.options.js';
import { EngineTelemetry } from './engine-telemetry.js';
import { REQUEST_CHANNEL } from '../observability/diagnostics.js';
import type { StatsRecorder, StoreInfo } from '../observability/stats-recorder.js';

export type { CacheLookup } from './entry-reader.js';
export type { FetchOptions, GetOrSetOptions } from './read-through.js';

/**
 * Every cache operation, for an explicit scope. `TenantCacheService` and the views of `forTenant()` /
 * `shared()` call into it; decorators and the interceptor use it too. Internal: not exported.
 *
 * A facade over lib/engine, one file per idea: `TargetResolver` (store, generation, tag versions ->
 * physical key), `EntryReader`, `EntryWriter`, `ReadThrough` (single-flight, `LoadMarks`), `BatchOps`,
 * `KeyScan` and `Invalidator` (with the `InvalidationHooks`).
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
  private readonly telemetry: EngineTelemetry;
  private readonly counters: VersionCounters;
  private readonly resolver: TargetResolver;
  private readonly reader: EntryReader;
  private readonly writer: EntryWriter;
  private readonly readThrough: ReadThrough;
  private readonly batch: BatchOps;
  private readonly scan: KeyScan;
  private readonly invalidator: Invalidator;
  private readonly purger: ScopePurge;
  /** Destroys a tenant's data key in one store (`shredScope`); false on a store without wrapped data keys. Admin only. */
  readonly shred: (scope: CacheScope & { kind: 'tenant' }, alias: string) => Promise<boolean>;

  constructor(
    @Inject(TENANT_CACHE_OPTIONS) readonly options: EngineOptions,
    readonly registry: StoreRegistry,
  ) {
    const logger = new Logger('TenantCache');
    this.hooks = new InvalidationHooks((error, event) => logger.warn(`An invalidation listener failed on ${event.kind} (store "${event.store}"): ${error.message}`));
    this.tagIndex = new TagIndex(options.tagIndex ?? 'store', (message) => logger.warn(message));
    this.counters = new VersionCounters(options.versionCacheTtl);
    registry.onQuotaExceeded = (event) => this.events.emit('quota:exceeded', event);
    this.telemetry = new EngineTelemetry(options, registry, this.events, this.hooks);
    this.stats = this.telemetry.stats;
    const failures = new StoreFailures(this.events, registry.outages, options.onWriteError);
    const flights = new SingleFlight();
    const marks = new LoadMarks(flights);
    const stamps = new TagStamps(this.counters, failures, this.tagIndex.mode);
    const cluster = new ClusterFlight(options.singleFlight, (message) => logger.warn(message));
    const fence = cluster.fencing ? cluster : undefined;
    this.resolver = new TargetResolver(registry, this.counters, failures, options.defaultTtl);
    this.reader = new EntryReader(this.resolver, failures, stamps, this.events, logger);
    this.writer = new EntryWriter(this.resolver, failures, marks, this.hooks, this.tagIndex, stamps, fence);
    this.readThrough = new ReadThrough(this.resolver, this.reader, failures, marks, flights, this.tagIndex, stamps, logger, this.events, options, this.stats, cluster);
    this.batch = new BatchOps(this.resolver, this.reader, failures, marks, this.hooks, fence);
    this.scan = new KeyScan(this.resolver, failures, marks, this.hooks, fence);
    this.invalidator = new Invalidator(this.resolver, failures, marks, this.hooks, this.tagIndex, this.scan, this.batch, stamps);
    this.purger = new ScopePurge(this.resolver, marks, this.hooks, failures);
    this.shred = (scope, alias) => shredScope(this.resolver, marks, this.hooks, failures, scope, alias);
  }

  /** What a created store tells of itself (tier, entries, breaker), for health checks; `undefined` before it is created. */
  storeInfo(alias: string): StoreInfo | undefined {
    return this.stats.storeInfo().get(alias);
  }

  onApplicationShutdown(): void {
    this.telemetry.close();
  }

  store(scope: CacheScope, alias?: string): Promise<ResolvedStore> {
    return this.resolver.store(scope, alias);
  }

  generation(resolved: ResolvedStore, scope: CacheScope): Promise<number> {
    return this.resolver.generation(resolved, scope);
  }

  /** Validates a TTL and applies the default: `undefined` = default, 0/Infinity = none. */
  ttl(ttl: number | undefined): number | undefined {
    return this.resolver.ttl(ttl);
  }

  lookup<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<CacheLookup<T>> {
    return this.reader.lookup(scope, key, alias, tags);
  }

  /** `lookup` without a promise when the entry can be read so (an in-process store), else `undefined` (see `EntryReader.lookupNow`). */
  lookupNow<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): CacheLookup<T> | undefined {
    return this.reader.lookupNow(scope, key, alias, tags);
  }

  /** A hit read with `lookupNow` and served as the answer of a read-through (the interceptor's): counted in stats, spans, diagnostics. */
  servedNow(scope: CacheScope, key: string, alias: string | undefined, operation: string): void {
    this.telemetry.servedNow(scope, key, alias, operation);
  }

  get<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<T | undefined> {
    return this.reader.get(scope, key, alias, tags);
  }

  has(scope: CacheScope, key: string, alias?: string): Promise<boolean> {
    return this.reader.has(scope, key, alias);
  }

  ttlOf(scope: CacheScope, key: string, alias?: string): Promise<number | undefined> {
    return this.reader.ttlOf(scope, key, alias);
  }

  set(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string, tags?: readonly TagInput[]): Promise<void> {
    return this.writer.set(scope, key, value, ttl, alias, tags);
  }

  add(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string): Promise<boolean> {
    return this.writer.add(scope, key, value, ttl, alias);
  }

  delete(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    return this.writer.delete(scope, key, alias, tags);
  }

  /** Marks an entry expired now: stale within a grace, a miss to plain reads (see `EntryWriter.expire`). */
  expire(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    return this.writer.expire(scope, key, alias, tags);
  }

  incr(scope: CacheScope, key: string, by: number, alias?: string): Promise<number> {
    return this.writer.incr(scope, key, by, alias);
  }

  touch(scope: CacheScope, key: string, ttl?: number, alias?: string): Promise<boolean> {
    return this.writer.touch(scope, key, ttl, alias);
  }

  getOrSet<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts?: GetOrSetOptions<T>): Promise<T> {
    // NOTE: spans and diagnostics_channel messages only while someone listens (a field and a getter read otherwise).
    if (this.telemetry.tracing || REQUEST_CHANNEL.hasSubscribers) {
      const call = (l: () => T | Promise<T>) => this.readThrough.getOrSetLookup(scope, key, l, opts);
      return this.telemetry.calls.run('getOrSet', scope, key, opts?.store, false, loader, call).then((found) => found.value as T);
    }
    return this.readThrough.getOrSet(scope, key, loader, opts);
  }

  /** Read-through with metadata (see `ReadThrough`). */
  fetch<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts?: FetchOptions<T>): Promise<CacheLookup<T>> {
    if (this.telemetry.tracing || REQUEST_CHANNEL.hasSubscribers) {
      const call = (l: () => T | Promise<T>) => this.readThrough.fetch(scope, key, l, opts);
      return this.telemetry.calls.run(opts?.operation ?? 'fetch', scope, key, opts?.store, opts?.force === true, loader, call);
    }
    return this.readThrough.fetch(scope, key, loader, opts);
  }

  memoizeIterable<T>(scope: CacheScope, key: string, loader: () => AsyncIterable<T> | Iterable<T>, opts?: MemoizeIterableOptions): AsyncGenerator<T, void, undefined> {
    return this.readThrough.memoizeIterable(scope, key, loader, opts);
  }

  async mget<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<(T | undefined)[]> {
    return (await this.batch.mlookup<T>(scope, keys, alias)).values;
  }

  /** `mget` with the store's failure, when the read failed (every value is then a miss). */
  mlookup<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<{ values: (T | undefined)[]; error?: Error }> {
    return this.batch.mlookup(scope, keys, alias);
  }

  mset(scope: CacheScope, entries: readonly { key: string; value: unknown; ttl?: number }[], ttl?: number, alias?: string): Promise<void> {
    return this.batch.mset(scope, entries, ttl, alias);
  }

  mdel(scope: CacheScope, keys: readonly string[], alias?: string): Promise<number> {
    return this.batch.mdel(scope, keys, alias);
  }

  /** Logical keys of the scope's current generation that start with `prefix`, page by page (see `KeyScan`). */
  keys(scope: CacheScope, prefix?: string, alias?: string): AsyncGenerator<string[]> {
    return this.scan.keys(scope, prefix, alias);
  }

  /** `keys`, for a write that deletes what it lists: a store failure follows `onWriteError`. */
  keysToDelete(scope: CacheScope, prefix: string, operation: string, alias?: string): AsyncGenerator<string[]> {
    return this.scan.keysToDelete(scope, prefix, operation, alias);
  }

  deleteByPrefix(scope: CacheScope, prefix: string, alias?: string): Promise<number> {
    return this.scan.deleteByPrefix(scope, prefix, alias);
  }

  /** Makes every entry of the scope unreachable at once (O(1)): the scope's generation moves on. */
  invalidateAll(scope: CacheScope, alias?: string): Promise<void> {
    return this.invalidator.invalidateAll(scope, alias);
  }

  /** `invalidateAll`, then deletes the scope's physical entries where the store can list them. */
  clear(scope: CacheScope, alias?: string): Promise<void> {
    return this.invalidator.clear(scope, alias);
  }

  /** `soft`: the tag's entries become expired instead of invalid (see `Invalidator.invalidateTag`). */
  invalidateTag(scope: CacheScope, tag: TagInput, alias?: string, soft?: boolean): Promise<number> {
    return this.invalidator.invalidateTag(scope, tag, alias, soft);
  }

  invalidateTagInAllScopes(tag: TagInput, alias?: string, soft?: boolean): Promise<number> {
    return this.invalidator.invalidateTagInAllScopes(tag, alias, soft);
  }

  invalidatePartition(scope: CacheScope, selector: PartitionSelector, alias?: string): Promise<number> {
    return this.invalidator.invalidatePartition(scope, selector, alias);
  }

  /** Deletes every key of the scope (all generations, counters, tag sets, leases) from one store. Admin only. */
  purgeScope(scope: CacheScope, alias: string, receipt?: PurgeReceipt): Promise<StorePurgeResult> {
    return this.purger.purge(scope, alias, receipt);
  }

  /** Throws `UnsupportedOperationError` when the store cannot list keys, so a purge would miss them. */
  assertPurgeable(alias: string): Promise<void> {
    return this.purger.assertPurgeable(alias);
  }

  /** Empties whole stores, every tenant. Admin only. */
  flushAllTenants(alias?: string): Promise<void> {
    return this.invalidator.flushAllTenants(alias);
  }
}
