import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EncodedEntry } from '../codec/chunked-io.js';
import type { CodecCallOptions } from '../codec/codec.options.js';
import { type DecodeResult, EntryCodec } from '../codec/entry-codec.js';
import type { Encoded } from '../codec/entry-pipeline.js';
import type { TagStamp } from '../codec/tag-stamp.js';
import { type MemoizeIterableOptions, memoizeIterable } from '../codec/memoize-iterable.js';
import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';
import { InvalidTtlError } from '../errors/invalid-ttl.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { TenantCacheError } from '../errors/tenant-cache.error.js';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import { type CacheScope, HASHED_ENTRY, SHARED_SCOPE, assertKey } from '../keys/key-builder.js';
import type { PartitionSelector } from '../keys/key-constructor.compiler.js';
import { isMetaKeyOf, withTagVersions } from '../keys/key-layout.js';
import { type ResolvedStore, StoreRegistry } from '../stores/store-registry.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { NormalizedTenantCacheOptions } from '../tenant-cache.options.js';
import { CachedMethodRegistry } from './cached-method.registry.js';
import { SingleFlight } from './single-flight.js';
import { TagIndex } from './tag-index.js';
import { type ResolvedTags, type TagInput, NO_TAGS, isVersionedTag, resolveTags } from './tags.js';
import { TenantCacheEvents } from './tenant-cache.events.js';
import { VersionCounters } from './version-counters.js';
import { type FailurePolicy, StoreFailures, Unresolved, asError, isInputError, unavailable } from './store-failures.js';
import { InvalidationHooks } from './invalidation-hooks.js';

/** What a synchronous write resolves to: one settled promise, shared (it carries no value). */
const WRITTEN: Promise<void> = Promise.resolve();

/** Options of one read-through call. */
export interface GetOrSetOptions<T> {
  /** TTL in ms; default the module's `defaultTtl`. */
  ttl?: number;
  /** Store alias; default the tenant's route. */
  store?: string;
  /** Return false to keep a computed value out of the cache. */
  shouldCache?: (value: T) => boolean;
  /**
   * Tags of the entry: plain names are recorded in the tag index; `versioned(name)` tags put the tag's
   * version in the key, so the same tags must be given to read the entry again.
   */
  tags?: readonly TagInput[];
  /** Compression, encryption or chunk size for this entry, over the store's codec. */
  codec?: CodecCallOptions;
}

/** Options of `fetch`, the read-through call with metadata used by decorators. */
export interface FetchOptions<T> extends Omit<GetOrSetOptions<T>, 'tags'> {
  tags?: ResolvedTags;
  /** Skip the read: recompute and store (refresh). */
  force?: boolean;
  /**
   * The caller's own read of this key just failed (the failure was emitted): nothing more is read from
   * the store (no counter either), and the value is written back in the background.
   */
  readFailed?: boolean;
  /** The TTL of a loaded value, from the value (cache-manager's `wrap` with a TTL function); wins over `ttl`. */
  ttlOf?: (value: T) => number | undefined;
}

/** An entry read with its metadata. */
export interface CacheLookup<T> {
  hit: boolean;
  value: T | undefined;
  /** When the entry was written (ms since epoch); `undefined` on a miss. */
  cachedAt?: number;
  /** Set on a miss because the store failed (the failure was logged and emitted as `store:error`). */
  error?: Error;
}

/** Where one logical key lives: the store, the physical key and the scope it was built for. */
interface Target {
  resolved: ResolvedStore;
  key: string;
  scope: CacheScope;
}

/** A load in flight; `invalidated` turns true when its key, a tag or a partition of it is invalidated meanwhile. */
interface LoadMark {
  invalidated: boolean;
  /** The single-flight key of the load, released when the load is invalidated while its write-back is in flight. */
  flight?: string;
  /** Store alias + scope prefix: marks only match loads of the same key space. */
  space: string;
  logicalKey: string;
  plain: readonly string[];
  versioned: readonly string[];
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
  private readonly failures: StoreFailures;
  /** Loads in flight, by physical key; marked when the key is invalidated meanwhile. */
  private readonly loading = new Map<string, LoadMark>();
  readonly tagIndex: TagIndex;
  /** Methods wrapped by `@CacheResult` in this application (filled by the explorer at start-up). */
  readonly methods = new CachedMethodRegistry();
  /** Told of every invalidation after the store was updated (CDN purges, the cross-instance bus). */
  readonly hooks = new InvalidationHooks((error, event) =>
    this.logger.warn(`An invalidation listener failed on ${event.kind} (store "${event.store}"): ${error.message}`),
  );

  constructor(
    @Inject(TENANT_CACHE_OPTIONS) readonly options: NormalizedTenantCacheOptions,
    readonly registry: StoreRegistry,
  ) {
    this.counters = new VersionCounters(options.versionCacheTtl);
    this.failures = new StoreFailures(this.events, registry.outages, options.onWriteError);
    this.tagIndex = new TagIndex(options.tagIndex ?? 'store', (message) => this.logger.warn(message));
  }

  /**
   * Resolves the store and physical key of `key` in `scope`. With versioned tags, the logical key
   * carries each tag's current version.
   */
  async target(scope: CacheScope, key: string, alias?: string, versionedTags: readonly string[] = []): Promise<Target> {
    assertKey(key);
    const resolved = await this.store(scope, alias);
    const generation = await this.generation(resolved, scope);
    const logical = versionedTags.length === 0 ? key : await this.withVersions(resolved, scope, key, versionedTags);
    return { resolved, key: resolved.keys.entryKey(scope, generation, logical), scope };
  }

  /**
   * Runs the part of an operation that finds where its entries live (the store's creation, the scope's
   * generation counter, tag versions); a store failure there is answered by the operation's policy
   * (see `StoreFailures.resolve`): a read gets `Unresolved` and answers a miss.
   */
  private resolve<X>(policy: FailurePolicy, operation: string, scope: CacheScope, alias: string | undefined, run: () => Promise<X>): Promise<X | Unresolved> {
    return this.failures.resolve(policy, operation, scope, () => this.safeAlias(scope, alias), run);
  }

  /**
   * `target` without an await, when the store is created and the scope's generation is cached (the
   * common case); `undefined` otherwise (the caller then awaits `target`). No versioned tags.
   */
  private targetNow(scope: CacheScope, key: string, alias?: string): Target | undefined {
    assertKey(key);
    const resolved = this.registry.getNow(this.registry.aliasFor(scope, alias));
    if (resolved === undefined) return undefined;
    const generation = this.counters.peek(resolved.store, resolved.keys.generationKey(scope));
    if (generation === undefined) return undefined;
    return { resolved, key: resolved.keys.entryKey(scope, generation, key), scope };
  }

  async store(scope: CacheScope, alias?: string): Promise<ResolvedStore> {
    return this.registry.get(this.registry.aliasFor(scope, alias));
  }

  async generation(resolved: ResolvedStore, scope: CacheScope): Promise<number> {
    return this.counters.read(resolved.store, resolved.keys.generationKey(scope));
  }

  async lookup<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<CacheLookup<T>> {
    const versioned = versionedOf(tags);
    const t =
      (versioned.length === 0 ? this.targetNow(scope, key, alias) : undefined) ??
      (await this.resolve('read', 'get', scope, alias, () => this.target(scope, key, alias, versioned)));
    return t instanceof Unresolved ? miss<T>(t.error) : this.read<T>(t);
  }

  // NOTE: read, readValue and get chain on the store's promise instead of being async: these run on every
  // hit, and each async layer costs a promise (and the AsyncLocalStorage hooks on it).
  private read<T>(t: Target): Promise<CacheLookup<T>> {
    return this.readAs<T, CacheLookup<T>>(t, (found) => found, miss<T>);
  }

  /** `read`, resolving to the value alone (one promise less for `get`). */
  private readValue<T>(t: Target): Promise<T | undefined> {
    return this.readAs<T, T | undefined>(t, valueOf, () => undefined);
  }

  /** Reads and decodes an entry, mapping the lookup; a store failure is logged and is `none(error)`. */
  private readAs<T, R>(t: Target, map: (found: CacheLookup<T>) => R, none: (error?: Error) => R): Promise<R> {
    const { store, traits } = t.resolved;
    if (traits.inProcess) return this.readSync(t, map, none);
    const onValue = (raw: Buffer | undefined): R | Promise<R> => this.mapRead(t, raw, map, none);
    const onError = (error: unknown): R => this.readFailed(t, error, none);
    let pending: Promise<R | Promise<R>>;
    try {
      pending = traits.mapsReads ? store.getThen!(t.key, onValue, onError) : store.get(t.key).then(onValue, onError);
    } catch (error) {
      return Promise.resolve(onError(error));
    }
    return pending as Promise<R>;
  }

  /** `readAs` on an in-process store: a plain hit is one resolved promise. */
  private readSync<T, R>(t: Target, map: (found: CacheLookup<T>) => R, none: (error?: Error) => R): Promise<R> {
    let raw: Buffer | string | undefined;
    try {
      raw = t.resolved.store.getSync!(t.key);
    } catch (error) {
      return Promise.resolve(this.readFailed(t, error, none));
    }
    return Promise.resolve(this.mapRead(t, raw, map, none));
  }

  /** A read the store failed: logged and emitted, then a miss. */
  private readFailed<R>(t: Target, error: unknown, none: (error?: Error) => R): R {
    this.storeFailed(t, 'get', error);
    return none(asError(error));
  }

  /** What a read resolves to: `none()` for a miss, else the decoded lookup mapped (later, for a chunked entry). */
  private mapRead<T, R>(t: Target, raw: Buffer | string | undefined, map: (found: CacheLookup<T>) => R, none: () => R): R | Promise<R> {
    if (raw === undefined) return none();
    const found = this.decoded<T>(t, raw);
    // A corrupt entry, or one a tag invalidated, is a miss like an absent one (a read-through loads it).
    if (found instanceof Promise) return found.then((f) => (f.hit ? map(f) : none()));
    return found.hit ? map(found) : none();
  }

  /** The lookup of bytes read from the store: synchronous unless the entry is chunked or unreadable. */
  private decoded<T>(t: Target, raw: Buffer | string): CacheLookup<T> | Promise<CacheLookup<T>> {
    const decoded = t.resolved.codec.decode<T>(raw, t.key, t.scope);
    if (decoded instanceof Promise) {
      // Chunked: the chunks are read now; a rejection is the store failing.
      return decoded.then(
        (d) => this.found(t, d, raw as Buffer), // a manifest: always bytes
        (error: unknown) => {
          this.storeFailed(t, 'get', error);
          return miss<T>(asError(error));
        },
      );
    }
    return this.found(t, decoded);
  }

  /** `raw` is given for chunked entries, whose chunks a concurrent overwrite may have removed. */
  private found<T>(t: Target, decoded: DecodeResult<T>, raw?: Buffer): CacheLookup<T> | Promise<CacheLookup<T>> {
    if (!decoded.ok) return this.dropCorrupt(t, decoded.reason, raw).then(() => miss<T>());
    const hit: CacheLookup<T> = { hit: true, value: decoded.entry.value, cachedAt: decoded.entry.createdAt };
    if (decoded.entry.tags === undefined) return hit;
    const current = this.tagsCurrent(t, decoded.entry.tags);
    if (typeof current === 'boolean') return current ? hit : miss<T>();
    return current.then((ok) => (ok ? hit : miss<T>()));
  }

  /**
   * Whether every plain tag of an entry still has the version the entry was written with (none was
   * invalidated since). Synchronous when the versions are cached; a store failure is logged and is false.
   */
  private tagsCurrent(t: Target, tags: readonly TagStamp[]): boolean | Promise<boolean> {
    const store = t.resolved.store;
    for (const tag of tags) {
      // NOTE: kept on the stamp: an in-process store hands back the same parsed stamp on every hit.
      const version = this.counters.peekDirect(store, (tag.versionKey ??= t.resolved.keys.tagVersionKey(t.scope, tag.id)), t.resolved.traits);
      if (version === undefined) {
        return Promise.all(tags.map((g) => this.counters.read(store, (g.versionKey ??= t.resolved.keys.tagVersionKey(t.scope, g.id)), true))).then(
          (versions) => versions.every((v, i) => v === tags[i]!.version),
          (error: unknown) => {
            this.storeFailed(t, 'get', error);
            return false;
          },
        );
      }
      if (version !== tag.version) return false;
    }
    return true;
  }

  /**
   * The current versions of an entry's plain tags, to stamp it with (none with `tagIndex: 'none'`, nor on
   * a store without sets, where plain tags cannot be invalidated). Synchronous when they are cached.
   * Versions are created (at a random value) on first use.
   */
  private tagStamps(t: Target, plain: readonly string[]): readonly TagStamp[] | Promise<readonly TagStamp[]> | undefined {
    if (plain.length === 0 || this.tagIndex.mode === 'none' || !t.resolved.traits.hasSets) return undefined;
    const { store, keys } = t.resolved;
    const ids = plain.map((tag) => keys.tagId(tag));
    const cached = ids.map((id) => this.counters.peekDirect(store, keys.tagVersionKey(t.scope, id), t.resolved.traits));
    if (cached.every((v) => v !== undefined)) return ids.map((id, i) => ({ id, version: cached[i]! }));
    return Promise.all(ids.map((id) => this.counters.read(store, keys.tagVersionKey(t.scope, id), true))).then((versions) =>
      ids.map((id, i) => ({ id, version: versions[i]! })),
    );
  }

  get<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<T | undefined> {
    let t: Target | undefined;
    try {
      t = tags === undefined ? this.targetNow(scope, key, alias) : undefined;
    } catch (error) {
      return Promise.reject(error);
    }
    return t === undefined ? this.lookup<T>(scope, key, alias, tags).then(valueOf) : this.readValue<T>(t);
  }

  set(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string, tags?: readonly TagInput[]): Promise<void> {
    // Fast path (no tags, store created, generation known): one promise chain on the store's write.
    let t: Target | undefined;
    let bytes: Encoded | Promise<Encoded>;
    let expires: number | undefined;
    try {
      if (tags !== undefined) return this.setSlow(scope, key, value, ttl, alias, tags);
      expires = this.ttl(ttl);
      t = this.targetNow(scope, key, alias);
      if (t === undefined) return this.setSlow(scope, key, value, ttl, alias, tags);
      bytes = this.encode(t, key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.writeEntry(t, bytes, expires);
  }

  /** Writes one encoded entry (no tag index): a failure goes through `writeFailed`. */
  private writeEntry(t: Target, bytes: Encoded | Promise<Encoded>, expires: number | undefined): Promise<void> {
    const { store, traits } = t.resolved;
    if (traits.writesSync && (bytes instanceof Buffer || typeof bytes === 'string')) {
      try {
        store.setSync!(t.key, bytes, expires);
        return WRITTEN;
      } catch (error) {
        return Promise.reject(error).catch((e: unknown) => this.writeFailed(t, 'set', e));
      }
    }
    if (traits.mapsWrites && (typeof bytes === 'string' || bytes instanceof Buffer)) {
      return store.setThen!(t.key, bytes, expires, (error) => this.writeFailed(t, 'set', error));
    }
    let pending: Promise<void>;
    try {
      pending = t.resolved.codec.set(t.key, t.scope, bytes, expires);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.catch((error: unknown) => this.writeFailed(t, 'set', error));
  }

  private async setSlow(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string, tags?: readonly TagInput[]): Promise<void> {
    const resolvedTags = tags === undefined ? NO_TAGS : resolveTags(tags, []);
    const expires = this.ttl(ttl);
    const t =
      (resolvedTags.versioned.length === 0 ? this.targetNow(scope, key, alias) : undefined) ??
      (await this.resolve('write', 'set', scope, alias, () => this.target(scope, key, alias, resolvedTags.versioned)));
    if (t instanceof Unresolved) return;
    // NOTE: no tag index to record: one store call, without the closure and extra awaits of `write`.
    if (resolvedTags.plain.length === 0 || this.tagIndex.mode === 'none') return this.writeEntry(t, this.encode(t, key, value), expires);
    await this.write(t, 'set', async () => {
      const bytes = this.encode(t, key, value, undefined, await this.tagStamps(t, resolvedTags.plain));
      await this.tagIndex.record(t.resolved, scope, t.key, resolvedTags.plain, expires);
      await t.resolved.codec.set(t.key, scope, bytes, expires);
    });
  }

  async add(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string): Promise<boolean> {
    const t = await this.resolve('write', 'add', scope, alias, () => this.target(scope, key, alias));
    if (t instanceof Unresolved) return false;
    const expires = this.ttl(ttl);
    const bytes = this.encode(t, key, value);
    return (await this.write(t, 'add', () => t.resolved.codec.add(t.key, t.scope, bytes, expires))) ?? false;
  }

  async delete(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    const versionedTags = versionedOf(tags);
    const t = await this.resolve('write', 'delete', scope, alias, () => this.target(scope, key, alias, versionedTags));
    if (t instanceof Unresolved) return false;
    this.markInvalidated((k) => k === t.key);
    const existed = (await this.write(t, 'delete', () => t.resolved.codec.delete(t.key, t.scope))) ?? false;
    await this.hooks.notify({ kind: 'keys', scope, store: t.resolved.alias, keys: [key], ...(versionedTags.length > 0 ? { versionedTags } : {}) });
    return existed;
  }

  async has(scope: CacheScope, key: string, alias?: string): Promise<boolean> {
    const t = await this.resolve('read', 'has', scope, alias, () => this.target(scope, key, alias));
    if (t instanceof Unresolved) return false;
    try {
      return await t.resolved.store.has(t.key);
    } catch (error) {
      this.storeFailed(t, 'has', error);
      return false;
    }
  }

  async incr(scope: CacheScope, key: string, by: number, alias?: string): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new InvalidCacheValueError(`incr/decr take a safe integer step, got ${String(by)}`, key);
    // NOTE: incr/decr resolve to the new count, which a failed store cannot give: a store failure always
    // throws StoreUnavailableError (logged and emitted), whatever onWriteError says.
    const t = await this.resolve('read', 'incr', scope, alias, () => this.target(scope, key, alias));
    if (t instanceof Unresolved) throw unavailable(this.safeAlias(scope, alias), 'incr', t.error);
    try {
      return await t.resolved.store.incr(t.key, by, this.ttl(undefined));
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        this.storeFailed(t, 'incr', error);
        throw error;
      }
      if (error instanceof TenantCacheError) throw error;
      // The store refused: the value there is not an integer.
      throw new InvalidCacheValueError(`the value is not an integer counter (${(error as Error).message})`, key, error);
    }
  }

  async touch(scope: CacheScope, key: string, ttl?: number, alias?: string): Promise<boolean> {
    const t = await this.resolve('write', 'touch', scope, alias, () => this.target(scope, key, alias));
    if (t instanceof Unresolved) return false;
    const expires = this.ttl(ttl);
    return (await this.write(t, 'touch', () => t.resolved.codec.touch(t.key, t.scope, expires))) ?? false;
  }

  async ttlOf(scope: CacheScope, key: string, alias?: string): Promise<number | undefined> {
    const t = await this.resolve('read', 'ttl', scope, alias, () => this.target(scope, key, alias));
    if (t instanceof Unresolved) return undefined;
    try {
      return await t.resolved.store.ttl(t.key);
    } catch (error) {
      this.storeFailed(t, 'ttl', error);
      return undefined;
    }
  }

  getOrSet<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: GetOrSetOptions<T> = {}): Promise<T> {
    let fetchOptions: FetchOptions<T>;
    try {
      const tags = opts.tags === undefined ? NO_TAGS : resolveTags(opts.tags, []);
      // NOTE: a literal of one shape rather than a spread: keeps `fetch`'s property reads monomorphic.
      fetchOptions = { ttl: opts.ttl, store: opts.store, shouldCache: opts.shouldCache, tags, codec: opts.codec };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.readThrough(scope, key, loader, fetchOptions, valueOf) as Promise<T>;
  }

  /**
   * Read-through with metadata: the cached entry (a hit), or the loader's result stored (a miss).
   * Concurrent misses of one key in this process share one load. A store that is down makes it a
   * miss: the loader runs, uncached, and the failure is logged and emitted. A value loaded while its
   * key, one of its tags or its partition was invalidated is not stored.
   */
  fetch<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: FetchOptions<T> = {}): Promise<CacheLookup<T>> {
    return this.readThrough(scope, key, loader, opts, (found: CacheLookup<T>) => found);
  }

  /**
   * `fetch`, resolving to `map(lookup)`. Fast path (store created, generation known, no versioned tags,
   * no refresh): a hit is the store's read and nothing more; `map` runs inside it.
   */
  private readThrough<T, R>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: FetchOptions<T>, map: (found: CacheLookup<T>) => R): Promise<R> {
    let t: Target | undefined;
    let ttl: number | undefined;
    const tags = opts.tags ?? NO_TAGS;
    try {
      ttl = this.ttl(opts.ttl);
      if (!opts.force && tags.versioned.length === 0) t = this.targetNow(scope, key, opts.store);
      // A bad per-call codec is the caller's error, raised before the loader runs (not a "not cached" warning).
      if (t !== undefined && opts.codec !== undefined) t.resolved.codec.pipeline.settings(opts.codec);
    } catch (error) {
      return Promise.reject(error);
    }
    if (t === undefined) return this.fetchSlow(scope, key, loader, opts).then(map);
    const target = t;
    // NOTE: only while a write-back after a failed read holds a flight open; a hit builds no flight key.
    if (this.flights.holding) {
      const held = this.flights.held<CacheLookup<T>>(`l${target.resolved.alias}\u0000${target.key}`);
      if (held !== undefined) return held.then(map);
    }
    return this.readAs<T, R | Promise<R>>(target, map, (error) => this.load(target, scope, key, loader, opts, ttl, tags, error !== undefined).then(map)) as Promise<R>;
  }

  private async fetchSlow<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: FetchOptions<T>): Promise<CacheLookup<T>> {
    const ttl = this.ttl(opts.ttl);
    const tags = opts.tags ?? NO_TAGS;
    const now = tags.versioned.length === 0 ? this.targetNow(scope, key, opts.store) : undefined;
    const t =
      now ??
      (opts.readFailed
        ? new Unresolved(new Error('the read failed')) // already emitted by the caller's read
        : await this.resolve('read', 'get', scope, opts.store, () => this.target(scope, key, opts.store, tags.versioned)));
    if (t instanceof Unresolved) {
      // NOTE: the store is down (its generation or a tag version cannot be read): fail open, uncached.
      const alias = this.safeAlias(scope, opts.store);
      return this.flights.run(`!${alias}\u0000${scopeTag(scope)}\u0000${key}`, async () => ({ hit: false, value: await loader() }));
    }
    // A bad per-call codec is the caller's error, raised before the loader runs (not a "not cached" warning).
    if (opts.codec !== undefined) t.resolved.codec.pipeline.settings(opts.codec);
    let failed = opts.readFailed === true;
    if (!opts.force && !failed) {
      // A value loaded here whose write-back is in flight: shared without asking the store.
      const held = this.flights.held<CacheLookup<T>>(`l${t.resolved.alias}\u0000${t.key}`);
      if (held !== undefined) return held;
      const found = await this.read<T>(t);
      if (found.hit) return found;
      failed = found.error !== undefined;
    }
    return this.load(t, scope, key, loader, opts, ttl, tags, failed);
  }

  /**
   * The miss of a read-through: one load per key in this process, stored unless invalidated meanwhile.
   *
   * The caller waits on the store for at most one `commandTimeout`: after a read the store failed
   * (`failed`), the load runs at once (no second read) and the loaded value is written in the background
   * (a failure is logged and emitted). Until that write settles, the flight stays open, so concurrent
   * callers of the key share the loaded value instead of loading again, and the load stays marked, so an
   * invalidation meanwhile still removes what it wrote (and releases the flight). After a read the store
   * answered, the caller waits for the write-back: a read right after `getOrSet` finds the entry.
   */
  private load<T>(
    t: Target,
    scope: CacheScope,
    key: string,
    loader: () => T | Promise<T>,
    opts: FetchOptions<T>,
    ttl: number | undefined,
    tags: ResolvedTags,
    failed = false,
  ): Promise<CacheLookup<T>> {
    const flight = `${opts.force ? 'r' : 'l'}${t.resolved.alias}\u0000${t.key}`;
    return this.flights.run(flight, async (hold): Promise<CacheLookup<T>> => {
      // NOTE: a caller whose read missed just before another load stored the entry finds it here.
      if (!opts.force && !failed) {
        const again = await this.read<T>(t);
        if (again.hit) return again;
        failed = again.error !== undefined;
      }
      const mark: LoadMark = {
        invalidated: false,
        flight,
        space: `${t.resolved.alias}\u0000${t.resolved.keys.scopePrefix(scope)}`,
        logicalKey: key,
        plain: tags.plain,
        versioned: tags.versioned,
      };
      this.loading.set(t.key, mark);
      // NOTE: tag versions read before the loader runs: a value loaded across an invalidation (here or on
      // another instance) carries the version before it, so it is a miss.
      const stamps = this.tagStamps(t, tags.plain);
      if (stamps instanceof Promise) stamps.catch(() => undefined);
      const done = () => {
        if (this.loading.get(t.key) === mark) this.loading.delete(t.key);
      };
      let background = false;
      try {
        const value = await loader();
        // NOTE: a value loaded while its key was invalidated may predate the invalidation: not stored.
        if (value !== undefined && !mark.invalidated && (opts.shouldCache?.(value) ?? true)) {
          const writing = this.storeLoaded(t, key, value, opts.ttlOf ? this.ttl(opts.ttlOf(value)) : ttl, tags.plain, mark, opts.codec, stamps);
          if (failed) {
            background = true;
            hold(writing.then(done, done));
          } else await writing;
        }
        return { hit: false, value };
      } finally {
        if (!background) done();
      }
    });
  }

  private async storeLoaded(
    t: Target,
    key: string,
    value: unknown,
    ttl: number | undefined,
    plainTags: readonly string[],
    mark: LoadMark,
    codec?: CodecCallOptions,
    stamps?: readonly TagStamp[] | Promise<readonly TagStamp[]>,
  ): Promise<void> {
    let tags: readonly TagStamp[] | undefined;
    try {
      tags = stamps instanceof Promise ? await stamps : stamps;
    } catch (error) {
      // The tag versions could not be read: an entry without them would escape its tags' invalidation.
      this.storeFailed(t, 'set', error);
      return;
    }
    let bytes: Encoded;
    try {
      // NOTE: encoded before the first await when it can be: a background write-back keeps the caller's order.
      const encoded = this.encode(t, key, value, codec, tags);
      bytes = encoded instanceof Promise ? await encoded : encoded;
    } catch (error) {
      this.logger.warn(`Not caching "${printable(key)}": ${(error as Error).message}`);
      return;
    }
    try {
      // The index is written first: an entry is never reachable without its tag being able to find it.
      await this.tagIndex.record(t.resolved, t.scope, t.key, plainTags, ttl);
      await t.resolved.codec.set(t.key, t.scope, bytes, ttl);
      // An invalidation that landed while the write was in flight wins: the entry goes again.
      if (mark.invalidated) await t.resolved.codec.delete(t.key, t.scope);
    } catch (error) {
      this.storeFailed(t, 'set', error);
    }
  }

  /**
   * Yields the items of `loader()` while storing them, or streams them back from the store on a hit.
   * See `TenantScopedCache.memoizeIterable`. A store that is down makes it a miss: items come from the loader.
   */
  async *memoizeIterable<T>(
    scope: CacheScope,
    key: string,
    loader: () => AsyncIterable<T> | Iterable<T>,
    opts: MemoizeIterableOptions = {},
  ): AsyncGenerator<T, void, undefined> {
    const ttl = this.ttl(opts.ttl);
    const t = await this.resolve('read', 'get', scope, opts.store, () => this.target(scope, key, opts.store));
    if (t instanceof Unresolved) {
      yield* loader();
      return;
    }
    const target = t;
    yield* memoizeIterable<T>(t.resolved.codec, t.key, key, scope, loader, ttl, opts, {
      failed: (operation, error) => this.storeFailed(target, operation, error),
      corrupt: (reason) => this.dropCorrupt(target, reason),
      skipped: (reason) => this.logger.warn(`Not caching "${printable(key)}": ${reason}`),
      track: () => {
        const mark: LoadMark = {
          invalidated: false,
          space: `${target.resolved.alias}\u0000${target.resolved.keys.scopePrefix(scope)}`,
          logicalKey: key,
          plain: [],
          versioned: [],
        };
        this.loading.set(target.key, mark);
        return {
          invalidated: () => mark.invalidated,
          done: () => {
            if (this.loading.get(target.key) === mark) this.loading.delete(target.key);
          },
        };
      },
    });
  }

  async mget<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<(T | undefined)[]> {
    return (await this.mlookup<T>(scope, keys, alias)).values;
  }

  /** `mget` with the store's failure, when the read failed (every value is then a miss). */
  async mlookup<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<{ values: (T | undefined)[]; error?: Error }> {
    if (keys.length === 0) return { values: [] };
    const found = await this.resolve('read', 'mget', scope, alias, async () => {
      const resolved = await this.store(scope, alias);
      const generation = await this.generation(resolved, scope);
      return { resolved, physical: keys.map((k) => resolved.keys.entryKey(scope, generation, k)) };
    });
    if (found instanceof Unresolved) return { values: keys.map(() => undefined), error: found.error };
    const { resolved, physical } = found;
    let raws: (Buffer | undefined)[];
    try {
      raws = await resolved.store.mget(physical);
    } catch (error) {
      this.storeFailed({ resolved, key: physical[0]!, scope }, 'mget', error);
      return { values: keys.map(() => undefined), error: asError(error) };
    }
    const out: (T | undefined)[] = [];
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i];
      if (raw === undefined) {
        out.push(undefined);
        continue;
      }
      let decoded = resolved.codec.decode<T>(raw, physical[i]!, scope);
      const chunked = decoded instanceof Promise;
      if (decoded instanceof Promise) {
        try {
          decoded = await decoded;
        } catch (error) {
          this.storeFailed({ resolved, key: physical[i]!, scope }, 'mget', error);
          out.push(undefined);
          continue;
        }
      }
      if (decoded.ok) {
        const tags = decoded.entry.tags;
        const current = tags === undefined || (await this.tagsCurrent({ resolved, key: physical[i]!, scope }, tags));
        out.push(current ? decoded.entry.value : undefined);
      } else {
        await this.dropCorrupt({ resolved, key: physical[i]!, scope }, decoded.reason, chunked ? raw : undefined);
        out.push(undefined);
      }
    }
    return { values: out };
  }

  async mset(scope: CacheScope, entries: readonly { key: string; value: unknown; ttl?: number }[], ttl?: number, alias?: string): Promise<void> {
    if (entries.length === 0) return;
    const found = await this.resolve('write', 'mset', scope, alias, async () => {
      const resolved = await this.store(scope, alias);
      return { resolved, generation: await this.generation(resolved, scope) };
    });
    if (found instanceof Unresolved) return;
    const { resolved, generation } = found;
    // Encode everything first: one bad value fails the batch before anything is written.
    const batch: EncodedEntry[] = entries.map((e) => {
      const key = resolved.keys.entryKey(scope, generation, e.key);
      return { key, value: this.encode({ resolved, key, scope }, e.key, e.value), ttl: this.ttl(e.ttl ?? ttl) };
    });
    await this.write({ resolved, key: batch[0]!.key, scope }, 'mset', () => resolved.codec.mset(scope, batch));
  }

  async mdel(scope: CacheScope, keys: readonly string[], alias?: string): Promise<number> {
    if (keys.length === 0) return 0;
    const resolved = await this.resolve('write', 'mdel', scope, alias, () => this.store(scope, alias));
    if (resolved instanceof Unresolved) return 0;
    const n = await this.deleteKeys(resolved, scope, keys);
    await this.hooks.notify({ kind: 'keys', scope, store: resolved.alias, keys });
    return n;
  }

  private async deleteKeys(resolved: ResolvedStore, scope: CacheScope, keys: readonly string[]): Promise<number> {
    const generation = await this.resolve('write', 'mdel', scope, resolved.alias, () => this.generation(resolved, scope));
    if (generation instanceof Unresolved) return 0;
    const physical = new Set(keys.map((k) => resolved.keys.entryKey(scope, generation, k)));
    this.markInvalidated((k) => physical.has(k));
    return (await this.write({ resolved, key: [...physical][0]!, scope }, 'mdel', () => resolved.codec.mdel(scope, [...physical]))) ?? 0;
  }

  /** Logical keys of the scope's current generation that start with `prefix`, page by page. */
  /**
   * Logical keys of the scope's current generation that start with `prefix`, page by page. A store that
   * fails ends the listing early (logged and emitted): the keys listed so far are all it yields.
   */
  async *keys(scope: CacheScope, prefix = '', alias?: string): AsyncGenerator<string[]> {
    const found = await this.resolve('read', 'keys', scope, alias, async () => {
      const resolved = await this.store(scope, alias);
      this.requireScan(resolved, 'keys()');
      return { resolved, entryPrefix: resolved.keys.entryPrefix(scope, await this.generation(resolved, scope)) };
    });
    if (found instanceof Unresolved) return;
    const { resolved, entryPrefix } = found;
    try {
      yield* this.listKeys(resolved, scope, entryPrefix, prefix);
    } catch (error) {
      if (isInputError(error)) throw error;
      this.storeFailed({ resolved, key: entryPrefix, scope }, 'keys', error);
    }
  }

  /**
   * `keys`, for a write that deletes what it lists: a store failure follows `onWriteError` (throws
   * `StoreUnavailableError`, or ends the listing with `'ignore'`), instead of ending it as a read does.
   */
  async *keysToDelete(scope: CacheScope, prefix: string, operation: string, alias?: string): AsyncGenerator<string[]> {
    const found = await this.resolve('write', operation, scope, alias, async () => {
      const resolved = await this.store(scope, alias);
      this.requireScan(resolved, `${operation}()`);
      return { resolved, entryPrefix: resolved.keys.entryPrefix(scope, await this.generation(resolved, scope)) };
    });
    if (found instanceof Unresolved) return;
    try {
      yield* this.listKeys(found.resolved, scope, found.entryPrefix, prefix);
    } catch (error) {
      this.writeFailed({ resolved: found.resolved, key: found.entryPrefix, scope }, operation, error);
    }
  }

  /** The listing of `keys`, failures included (for writes that list what they delete). */
  private async *listKeys(resolved: ResolvedStore, scope: CacheScope, entryPrefix: string, prefix: string): AsyncGenerator<string[]> {
    for await (const page of resolved.store.scan(entryPrefix + resolved.keys.literalPrefix(prefix))) {
      const out = page.map((k) => resolved.keys.literalKeyOf(k.slice(entryPrefix.length))).filter((k) => k !== undefined);
      if (out.length > 0) yield out;
    }
    // Long keys are stored hashed; their logical key is inside the entry.
    for await (const page of resolved.store.scan(entryPrefix + HASHED_ENTRY)) {
      const out: string[] = [];
      for (const physical of page) {
        const logical = await this.logicalKeyOf(resolved, physical, scope);
        if (logical !== undefined && logical.startsWith(prefix)) out.push(logical);
      }
      if (out.length > 0) yield out;
    }
  }

  async deleteByPrefix(scope: CacheScope, prefix: string, alias?: string): Promise<number> {
    if (typeof prefix !== 'string') throw new InvalidCacheValueError('deleteByPrefix takes a string prefix');
    const found = await this.resolve('write', 'deleteByPrefix', scope, alias, async () => {
      const resolved = await this.store(scope, alias);
      this.requireScan(resolved, 'deleteByPrefix()');
      return { resolved, entryPrefix: resolved.keys.entryPrefix(scope, await this.generation(resolved, scope)) };
    });
    if (found instanceof Unresolved) return 0;
    const { resolved, entryPrefix } = found;
    const literal = entryPrefix + resolved.keys.literalPrefix(prefix);
    this.markInvalidated((k) => k.startsWith(literal) || k.startsWith(entryPrefix + HASHED_ENTRY));
    const n =
      (await this.write({ resolved, key: literal, scope }, 'deleteByPrefix', async () => {
        let deleted = await resolved.store.deleteByPrefix(literal);
        const hashed: string[] = [];
        for await (const page of resolved.store.scan(entryPrefix + HASHED_ENTRY)) {
          for (const physical of page) {
            const logical = await this.logicalKeyOf(resolved, physical, scope);
            if (logical !== undefined && logical.startsWith(prefix)) hashed.push(physical);
          }
        }
        if (hashed.length > 0) deleted += await resolved.store.mdel(hashed);
        return deleted;
      })) ?? 0;
    await this.hooks.notify({ kind: 'prefix', scope, store: resolved.alias, prefix });
    return n;
  }

  /** Makes every entry of the scope unreachable at once (O(1)): the scope's generation moves on. */
  async invalidateAll(scope: CacheScope, alias?: string): Promise<void> {
    await this.moveGeneration(scope, alias);
  }

  /** `invalidateAll`; resolves to the store, or `undefined` when the store failed and the write was dropped. */
  private async moveGeneration(scope: CacheScope, alias?: string): Promise<ResolvedStore | undefined> {
    const resolved = await this.resolve('write', 'invalidateAll', scope, alias, () => this.store(scope, alias));
    if (resolved instanceof Unresolved) return undefined;
    const prefix = resolved.keys.scopePrefix(scope);
    this.markInvalidated((k) => k.startsWith(prefix));
    const moved = await this.write({ resolved, key: prefix, scope }, 'invalidateAll', () => this.counters.bump(resolved.store, resolved.keys.generationKey(scope)));
    await this.hooks.notify({ kind: 'all', scope, store: resolved.alias });
    return moved === undefined ? undefined : resolved;
  }

  /** `invalidateAll`, then deletes the scope's physical entries where the store can list them. */
  async clear(scope: CacheScope, alias?: string): Promise<void> {
    // NOTE: when the store failed to move the generation on (and onWriteError is 'ignore'), the listing is
    // not attempted: it would wait on the failing store a second time.
    const resolved = await this.moveGeneration(scope, alias);
    if (resolved === undefined || !resolved.store.capabilities.scan) return;
    const scopePrefix = resolved.keys.scopePrefix(scope);
    await this.write({ resolved, key: scopePrefix, scope }, 'clear', async () => {
      const generation = await this.generation(resolved, scope);
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
    });
  }

  /**
   * Invalidates a tag in one scope. A plain tag deletes the entries its index lists and resolves to how
   * many existed; a versioned tag moves its version on (one atomic increment) and resolves to the new
   * version.
   */
  async invalidateTag(scope: CacheScope, tag: TagInput, alias?: string): Promise<number> {
    const { plain, versioned } = resolveTags([tag], []);
    const resolved = await this.resolve('write', 'invalidateTag', scope, alias, () => this.store(scope, alias));
    if (resolved instanceof Unresolved) return 0;
    const space = `${resolved.alias}\u0000${resolved.keys.scopePrefix(scope)}`;
    const t: Target = { resolved, key: resolved.keys.scopePrefix(scope), scope };
    if (versioned.length > 0) {
      const name = versioned[0]!;
      this.markInvalidated((_k, m) => m.space === space && m.versioned.includes(name));
      // NOTE: 0 (never a version: versions start at 1 or more) when the store failed and onWriteError is 'ignore'.
      const version = (await this.write(t, 'invalidateTag', () => this.counters.bump(resolved.store, resolved.keys.metaKey(scope, 'tv', name)))) ?? 0;
      await this.hooks.notify({ kind: 'tag', scope, store: resolved.alias, tag: name, versioned: true });
      return version;
    }
    const name = plain[0]!;
    this.markInvalidated((_k, m) => m.space === space && m.plain.includes(name));
    const n =
      (await this.write(t, 'invalidateTag', async () => {
        // The version first: every entry stamped with the tag is a miss from here on, whether or not the index
        // (only the cleanup now) still lists it.
        if (this.tagIndex.mode === 'store' && resolved.traits.hasSets) {
          await this.counters.bump(resolved.store, resolved.keys.tagVersionKey(scope, resolved.keys.tagId(name)), true);
        }
        return this.tagIndex.invalidate(resolved, scope, name);
      })) ?? 0;
    await this.hooks.notify({ kind: 'tag', scope, store: resolved.alias, tag: name, versioned: false });
    return n;
  }

  /**
   * Invalidates a tag in every scope (all tenants and the shared namespace) of one store, or of every
   * store. Admin only: it lists the store's keys to find each tenant's index or counter. Resolves to
   * the number of entries deleted (plain) or of counters moved on (versioned).
   */
  async invalidateTagInAllScopes(tag: TagInput, alias?: string): Promise<number> {
    const { plain, versioned } = resolveTags([tag], []);
    const isVersioned = versioned.length > 0;
    const name = isVersioned ? versioned[0]! : plain[0]!;
    this.markInvalidated((_k, m) => (isVersioned ? m.versioned : m.plain).includes(name));
    let n = 0;
    for (const a of alias === undefined ? this.registry.aliases : [alias]) {
      const resolved = await this.resolve('write', 'invalidateTagInAllTenants', SHARED_SCOPE, a, () => this.registry.get(a));
      if (resolved instanceof Unresolved) continue;
      this.requireScan(resolved, 'invalidateTagInAllTenants()');
      n +=
        (await this.write({ resolved, key: resolved.keys.prefix, scope: SHARED_SCOPE }, 'invalidateTagInAllTenants', async () => {
          const suffix = `m:${isVersioned ? 'tv' : 'ti'}:${resolved.keys.encode(name)}`;
          // A plain tag's version (see `tagVersionKey`), found in every scope like the index.
          const versionSuffix = resolved.keys.tagVersionKey(SHARED_SCOPE, resolved.keys.tagId(name)).slice(resolved.keys.scopePrefix(SHARED_SCOPE).length);
          const found: string[] = [];
          const versions: string[] = [];
          for await (const page of resolved.store.scan(resolved.keys.prefix)) {
            for (const k of page) {
              if (isMetaKeyOf(k, resolved.keys.prefix, suffix)) found.push(k);
              else if (!isVersioned && isMetaKeyOf(k, resolved.keys.prefix, versionSuffix)) versions.push(k);
            }
          }
          if (this.tagIndex.mode === 'store') for (const key of versions) await this.counters.bump(resolved.store, key, true);
          let moved = 0;
          for (const key of found) {
            if (isVersioned) {
              await this.counters.bump(resolved.store, key);
              moved++;
            } else if (resolved.traits.hasSets) {
              moved += await this.tagIndex.drain(resolved, key);
            }
          }
          return moved;
        })) ?? 0;
    }
    return n;
  }

  /**
   * Deletes the entries of a partition: a literal prefix, filtered when the selector has `matches`.
   * Loads in flight in the partition are not stored. Resolves to how many entries existed.
   */
  async invalidatePartition(scope: CacheScope, selector: PartitionSelector, alias?: string): Promise<number> {
    const resolved = await this.resolve('write', 'invalidatePartition', scope, alias, () => this.store(scope, alias));
    if (resolved instanceof Unresolved) return 0;
    const space = `${resolved.alias}\u0000${resolved.keys.scopePrefix(scope)}`;
    const matches = selector.matches ?? ((k: string) => k.startsWith(selector.prefix));
    this.markInvalidated((_k, m) => m.space === space && matches(m.logicalKey));
    if (!selector.matches) return this.deleteByPrefix(scope, selector.prefix, alias);
    this.requireScan(resolved, 'invalidatePartition()');
    const selected = selector.matches;
    const n =
      (await this.write({ resolved, key: resolved.keys.scopePrefix(scope), scope }, 'invalidatePartition', async () => {
        const entryPrefix = resolved.keys.entryPrefix(scope, await this.generation(resolved, scope));
        let deleted = 0;
        const batch: string[] = [];
        for await (const page of this.listKeys(resolved, scope, entryPrefix, selector.prefix)) {
          for (const k of page) if (selected(k)) batch.push(k);
          if (batch.length >= 500) deleted += await this.deleteKeys(resolved, scope, batch.splice(0));
        }
        if (batch.length > 0) deleted += await this.deleteKeys(resolved, scope, batch);
        return deleted;
      })) ?? 0;
    await this.hooks.notify({ kind: 'partition', scope, store: resolved.alias, prefix: selector.prefix, matches: selector.matches });
    return n;
  }

  /** The current version of a versioned tag in a scope (created at a random value on first use). */
  async tagVersion(scope: CacheScope, name: string, alias?: string): Promise<number> {
    const resolved = await this.store(scope, alias);
    return this.counters.read(resolved.store, resolved.keys.metaKey(scope, 'tv', name));
  }

  /** Empties whole stores, every tenant. Admin only. */
  async flushAllTenants(alias?: string): Promise<void> {
    const aliases = alias === undefined ? this.registry.aliases : [alias];
    for (const a of aliases) {
      const resolved = await this.resolve('write', 'flushAllTenants', SHARED_SCOPE, a, () => this.registry.get(a));
      if (resolved instanceof Unresolved) continue;
      await this.write({ resolved, key: resolved.keys.prefix, scope: SHARED_SCOPE }, 'flushAllTenants', () => resolved.store.flush());
    }
  }

  /** Validates a TTL and applies the default: `undefined` = default, 0/Infinity = none. */
  ttl(ttl: number | undefined): number | undefined {
    if (ttl === undefined) return this.options.defaultTtl || undefined;
    if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) throw new InvalidTtlError(ttl);
    return ttl === 0 || ttl === Infinity ? undefined : Math.max(1, Math.round(ttl));
  }

  /** Serialize -> compress -> encrypt -> chunk (see lib/codec); a Promise only when compressing on the thread pool. */
  private encode(t: Target, key: string, value: unknown, codec?: CodecCallOptions, tags?: readonly TagStamp[]): Encoded | Promise<Encoded> {
    if (value === undefined) throw new InvalidCacheValueError('undefined means "no entry"; delete the key instead', key);
    return t.resolved.codec.encode(value, t.key, key, t.scope, codec, tags);
  }

  private async write<R>(t: Target, operation: string, run: () => Promise<R>): Promise<R | undefined> {
    try {
      return await run();
    } catch (error) {
      return this.writeFailed(t, operation, error);
    }
  }

  /** A write that failed: see `StoreFailures.writeFailed`. */
  private writeFailed(t: Target, operation: string, error: unknown): undefined {
    return this.failures.writeFailed(t.resolved.alias, t.scope, operation, error);
  }

  /** A store failure: logged once per outage (OutageLog), always emitted as `store:error`. */
  private storeFailed(t: Target, operation: string, error: unknown): void {
    this.failures.report(t.resolved.alias, t.scope, operation, error);
  }

  /**
   * Removes an unreadable entry. With `read` (the manifest of a chunked entry), only while the key still
   * holds those bytes: a writer that replaced the entry meanwhile (and removed its chunks) left a newer
   * entry there, which must not be deleted for the old one's missing chunks.
   */
  private async dropCorrupt(t: Target, reason: string, read?: Buffer): Promise<void> {
    if (read !== undefined) {
      try {
        const current = await t.resolved.store.get(t.key);
        if (current === undefined || !current.equals(read)) return;
      } catch (error) {
        this.storeFailed(t, 'get', error);
        return;
      }
    }
    const tenant = t.scope.kind === 'tenant' ? t.scope.tenantId : undefined;
    this.logger.warn(`Removed an unreadable cache entry in "${t.resolved.alias}": ${reason}`);
    this.events.emit('entry:corrupt', { store: t.resolved.alias, key: t.key, reason, tenant });
    try {
      await t.resolved.store.delete(t.key);
    } catch (error) {
      this.storeFailed(t, 'delete', error);
    }
  }

  private markInvalidated(matches: (physicalKey: string, mark: LoadMark) => boolean): void {
    for (const [key, mark] of this.loading) {
      if (!matches(key, mark)) continue;
      mark.invalidated = true;
      // A load whose value is being written in the background no longer answers new callers.
      if (mark.flight !== undefined) this.flights.release(mark.flight);
    }
  }

  /** `<key>~<tag>=<version>;...`: the key of an entry under the current versions of its versioned tags. */
  private async withVersions(resolved: ResolvedStore, scope: CacheScope, key: string, names: readonly string[]): Promise<string> {
    // NOTE: read together: on a store that stops answering, one commandTimeout rather than one per tag.
    const versions =
      names.length === 1
        ? [await this.counters.read(resolved.store, resolved.keys.metaKey(scope, 'tv', names[0]!))]
        : await Promise.all(names.map((name) => this.counters.read(resolved.store, resolved.keys.metaKey(scope, 'tv', name))));
    return withTagVersions(key, names, versions);
  }

  private safeAlias(scope: CacheScope, alias?: string): string {
    try {
      return this.registry.aliasFor(scope, alias);
    } catch {
      return alias ?? 'default';
    }
  }

  private requireScan(resolved: ResolvedStore, operation: string): void {
    if (!resolved.store.capabilities.scan) {
      throw new UnsupportedOperationError(resolved.alias, operation, 'Use a memory or Redis store, or invalidateAll() which needs no listing.');
    }
  }

  private async logicalKeyOf(resolved: ResolvedStore, physical: string, scope: CacheScope): Promise<string | undefined> {
    const raw = await resolved.store.get(physical);
    if (raw === undefined) return undefined;
    return resolved.codec.keyOf(raw, physical, scope);
  }
}

function miss<T>(error?: Error): CacheLookup<T> {
  return error === undefined ? { hit: false, value: undefined } : { hit: false, value: undefined, error };
}

function valueOf<T>(lookup: CacheLookup<T>): T | undefined {
  return lookup.value;
}

function versionedOf(tags: readonly TagInput[] | undefined): readonly string[] {
  if (tags === undefined || !tags.some(isVersionedTag)) return [];
  return resolveTags(tags, []).versioned;
}

function scopeTag(scope: CacheScope): string {
  return scope.kind === 'tenant' ? `t${scope.tenantId}` : 's';
}

function printable(key: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it replaces
  return key.replace(/[\u0000-\u001f]/g, '?').slice(0, 200);
}
