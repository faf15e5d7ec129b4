import type { Logger } from '@nestjs/common';
import type { CacheScope } from '../keys/key-builder.js';
import { type CacheLookup, type EntryReader, valueOf } from './entry-reader.js';
import { type FailSafeDefaults, type FailSafePolicy, failSafePolicy } from './fail-safe.js';
import { type Expiry, FailSafeLoads } from './fail-safe-loads.js';
import type { FlightLoad, LoadRequest, Loaded } from './load-request.js';
import type { ClusterFlight } from './cluster-flight.js';
import type { Lease } from './single-flight.options.js';
import type { LoadMark, LoadMarks } from './load-marks.js';
import type { SingleFlight } from './single-flight.js';
import { type StoreFailures, Unresolved } from './store-failures.js';
import type { TagIndex } from './tag-index.js';
import type { TagStamps } from './tag-stamps.js';
import { type ResolvedTags, NO_TAGS, resolveTags } from './tags.js';
import type { Target } from './target.js';
import type { TargetResolver } from './target-resolver.js';
import type { TenantCacheEvents } from './tenant-cache.events.js';
import type { FetchOptions, GetOrSetOptions } from './read-through.options.js';
import { LoadedWriter } from './loaded-writer.js';
import type { ResultCounters, ScopeCounters } from '../observability/scope-counters.js';
import type { StatsRecorder } from '../observability/stats-recorder.js';

export type { FetchOptions, GetOrSetOptions } from './read-through.options.js';

/**
 * Read-through: the cached entry (a hit), or the loader's result stored (a miss). Concurrent misses of
 * one key in this process share one load (single-flight). A store that is down makes it a miss: the
 * loader runs, uncached, and the failure is logged and emitted. A value loaded while its key, one of
 * its tags or its partition was invalidated is not stored (see `LoadMarks`).
 */
export class ReadThrough {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly reader: EntryReader,
    failures: StoreFailures,
    private readonly marks: LoadMarks,
    private readonly flights: SingleFlight,
    tagIndex: TagIndex,
    private readonly stamps: TagStamps,
    logger: Logger,
    events: TenantCacheEvents,
    /** The module's `grace`, `staleWhileRevalidate`, `refreshAhead`, `ttlJitter`: 0 = none unless a call asks. */
    private readonly defaults: FailSafeDefaults = {},
    /** The in-process counters (`cache.stats()`): results, loads, single-flight joins. */
    private readonly stats: StatsRecorder,
    /** Single-flight across processes (`singleFlight: 'cluster'`); absent: per process only. */
    private readonly cluster?: ClusterFlight,
  ) {
    this.anyDefault = !!(defaults.grace || defaults.staleWhileRevalidate || defaults.refreshAhead || defaults.ttlJitter);
    this.clusterByDefault = cluster?.defaults.scope === 'cluster';
    this.writer = new LoadedWriter(failures, tagIndex, logger);
    this.safe = new FailSafeLoads(resolver, marks, events, flights, logger, (r, mark, keep) => this.loadValue(r, mark, keep));
  }

  /** Writes loaded values back. */
  private readonly writer: LoadedWriter;
  /** The fail-safe loads (grace, backoff, timeouts, background refreshes). */
  private readonly safe: FailSafeLoads;
  /** Whether a module default makes every read-through a fail-safe one. */
  private readonly anyDefault: boolean;
  /** Whether the module's single-flight scope is `cluster`. */
  private readonly clusterByDefault: boolean;

  getOrSet<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: GetOrSetOptions<T> = {}): Promise<T> {
    return this.getOrSetAs(scope, key, loader, opts, valueOf) as Promise<T>;
  }

  /** `getOrSet` resolving to the lookup (hit, stale): for spans. */
  getOrSetLookup<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: GetOrSetOptions<T> = {}): Promise<CacheLookup<T>> {
    return this.getOrSetAs(scope, key, loader, opts, (found: CacheLookup<T>) => found);
  }

  private getOrSetAs<T, R>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: GetOrSetOptions<T>, map: (found: CacheLookup<T>) => R): Promise<R> {
    let fetchOptions: FetchOptions<T>;
    try {
      const tags = opts.tags === undefined ? NO_TAGS : resolveTags(opts.tags, []);
      // NOTE: a literal of one shape rather than a spread: keeps `fetch`'s property reads monomorphic.
      fetchOptions = {
        ttl: opts.ttl,
        store: opts.store,
        shouldCache: opts.shouldCache,
        tags,
        codec: opts.codec,
        grace: opts.grace,
        graceBackoff: opts.graceBackoff,
        timeout: opts.timeout,
        staleWhileRevalidate: opts.staleWhileRevalidate,
        refreshAhead: opts.refreshAhead,
        ttlJitter: opts.ttlJitter,
        singleFlight: opts.singleFlight,
        l1: opts.l1,
      };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.readThrough(scope, key, loader, fetchOptions, map, 'getOrSet');
  }

  /** Read-through with metadata (see the class). */
  fetch<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: FetchOptions<T> = {}): Promise<CacheLookup<T>> {
    return this.readThrough(scope, key, loader, opts, (found: CacheLookup<T>) => found, 'fetch');
  }

  /**
   * `fetch`, resolving to `map(lookup)`. Fast path (store created, generation known, no versioned tags,
   * no refresh): a hit is the store's read and nothing more; `map` runs inside it.
   */
  private readThrough<T, R>(
    scope: CacheScope,
    key: string,
    loader: () => T | Promise<T>,
    opts: FetchOptions<T>,
    mapped: (found: CacheLookup<T>) => R,
    operation: 'getOrSet' | 'fetch',
  ): Promise<R> {
    let t: Target | undefined;
    let ttl: number | undefined;
    let safe: FailSafePolicy | undefined;
    const tags = opts.tags ?? NO_TAGS;
    try {
      ttl = this.resolver.ttl(opts.ttl);
      // NOTE: no fail-safe option here or in the module: not even the policy is built (inline: no fail-safe file runs).
      const o = opts;
      const given = o.grace !== undefined || o.timeout !== undefined || o.graceBackoff !== undefined || o.staleWhileRevalidate !== undefined;
      if (this.anyDefault || given || o.refreshAhead !== undefined || o.ttlJitter !== undefined) safe = failSafePolicy(opts, this.defaults);
      if (!opts.force && tags.versioned.length === 0) t = this.resolver.targetNow(scope, key, opts.store);
      if (t !== undefined && opts.l1 === false) t = this.resolver.withoutL1(t);
      // A bad per-call codec is the caller's error, raised before the loader runs (not a "not cached" warning).
      if (t !== undefined && opts.codec !== undefined) t.resolved.codec.pipeline.settings(opts.codec);
    } catch (error) {
      return Promise.reject(error);
    }
    // Every answer is counted by its result (stats and metrics): `map` counts, then maps.
    const counts = (t === undefined ? this.countersAt(this.resolver.safeAlias(scope, opts.store), scope) : this.countersOf(t))[operation];
    const force = opts.force === true;
    const map = (found: CacheLookup<T>): R => {
      countResult(counts, found, force);
      return mapped(found);
    };
    const failed = (error: unknown): never => {
      counts.error++;
      throw error;
    };
    if (t === undefined) return this.fetchSlow(scope, key, loader, opts, safe).then(map, failed);
    const target = t;
    // NOTE: only while a write-back after a failed read holds a flight open; a hit builds no flight key.
    if (this.flights.holding) {
      const held = this.flights.held<CacheLookup<T>>(flightKey(target, false));
      if (held !== undefined) return held.then(map, failed);
    }
    if (safe !== undefined) return this.readSafely(target, key, loader, opts, ttl, tags, safe, map, failed);
    return this.reader.readAs<T, R | Promise<R>>(target, map, (error) =>
      this.load({ t: target, key, loader, opts, ttl, tags }, error !== undefined).then(map, failed),
    ) as Promise<R>;
  }

  /** The fast path of a fail-safe call: a fresh hit is mapped inside the read; an expired one is stale or loads. */
  private readSafely<T, R>(
    t: Target,
    key: string,
    loader: () => T | Promise<T>,
    opts: FetchOptions<T>,
    ttl: number | undefined,
    tags: ResolvedTags,
    safe: FailSafePolicy,
    map: (found: CacheLookup<T>) => R,
    failed: (error: unknown) => never,
  ): Promise<R> {
    const found = (lookup: CacheLookup<T>): R | Promise<R> => {
      let state: Expiry;
      try {
        state = this.safe.expiry(t, lookup, ttl, opts, safe); // a bad `ttlOf` throws: the call rejects
      } catch (error) {
        return Promise.reject(error);
      }
      if (state === 'fresh') return map(lookup);
      const backoff = flightKey(t, false);
      const now = this.safe.answer(t, lookup, state, backoff, () => this.refresh({ t, key, loader, opts, ttl, tags }, safe, backoff));
      return now !== undefined ? map(now) : this.load({ t, key, loader, opts, ttl, tags }, false, safe, state === 'stale' ? lookup : undefined).then(map, failed);
    };
    // An entry expired early (expire(key), a soft tag invalidation) comes back too: `expiry` says it is not fresh.
    return this.reader.readAs<T, R | Promise<R>>(
      t,
      found,
      (error) => this.load({ t, key, loader, opts, ttl, tags }, error !== undefined, safe).then(map, failed),
      true,
    ) as Promise<R>;
  }

  private async fetchSlow<T>(scope: CacheScope, key: string, loader: () => T | Promise<T>, opts: FetchOptions<T>, safe?: FailSafePolicy): Promise<CacheLookup<T>> {
    const ttl = this.resolver.ttl(opts.ttl);
    const tags = opts.tags ?? NO_TAGS;
    const now = tags.versioned.length === 0 ? this.resolver.targetNow(scope, key, opts.store) : undefined;
    const found =
      now ??
      (opts.readFailed
        ? new Unresolved(new Error('the read failed')) // already emitted by the caller's read
        : await this.resolver.resolve('read', 'get', scope, opts.store, () => this.resolver.target(scope, key, opts.store, tags.versioned)));
    const t = found instanceof Unresolved || opts.l1 !== false ? found : this.resolver.withoutL1(found);
    if (t instanceof Unresolved) {
      // NOTE: the store is down (its generation or a tag version cannot be read): fail open, uncached.
      const alias = this.resolver.safeAlias(scope, opts.store);
      const flight = `!${alias}\u0000${scopeTag(scope)}\u0000${key}`;
      const c = this.countersAt(alias, scope);
      if (this.flights.has(flight)) c.joined++;
      const load = this.counted(c, alias, scope, loader);
      return this.flights.run(flight, async () => ({ hit: false, value: await load() }));
    }
    // A bad per-call codec is the caller's error, raised before the loader runs (not a "not cached" warning).
    if (opts.codec !== undefined) t.resolved.codec.pipeline.settings(opts.codec);
    let failed = opts.readFailed === true;
    if (!opts.force && !failed) {
      // A value loaded here whose write-back is in flight: shared without asking the store.
      const held = this.flights.held<CacheLookup<T>>(flightKey(t, false));
      if (held !== undefined) return held;
      const found = await this.reader.read<T>(t, safe !== undefined);
      if (found.hit) {
        if (safe === undefined) return found;
        const state = this.safe.expiry(t, found, ttl, opts, safe);
        if (state === 'fresh') return found;
        const backoff = flightKey(t, false);
        const now = this.safe.answer(t, found, state, backoff, () => this.refresh({ t, key, loader, opts, ttl, tags }, safe, backoff));
        return now ?? this.load({ t, key, loader, opts, ttl, tags }, false, safe, state === 'stale' ? found : undefined);
      }
      failed = found.error !== undefined;
    }
    return this.load({ t, key, loader, opts, ttl, tags }, failed, safe);
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
   *
   * `mine`: the fail-safe caller's own expired entry within its grace. A caller that joins a load (or a
   * background refresh) of the key gets it, not the load's error, unless the key was invalidated since.
   */
  private load<T>(r: ReadLoad<T>, failed = false, safe?: FailSafePolicy, mine?: CacheLookup<T>): Promise<CacheLookup<T>> {
    const { t, opts } = r;
    const flight = flightKey(t, opts.force === true);
    const joined = this.flights.has(flight);
    if (joined) this.countersOf(t).joined++;
    else r = { t, key: r.key, loader: this.counted(this.countersOf(t), t.resolved.alias, t.scope, r.loader), opts, ttl: r.ttl, tags: r.tags };
    // NOTE: marked at once (the caller's read just ended): an invalidation from now on makes `mine` unservable.
    const join = joined && mine !== undefined ? this.marks.start(t, r.key, r.tags) : undefined;
    const running = this.flights.run(flight, async (hold): Promise<CacheLookup<T>> => {
      let stale: CacheLookup<T> | undefined;
      // NOTE: a caller whose read missed just before another load stored the entry finds it here.
      if (!opts.force && !failed) {
        const again = await this.reader.read<T>(t, safe !== undefined);
        if (again.hit) {
          // NOTE: the stale value is the one read inside the flight: an entry invalidated since the caller's read is gone.
          const state = safe === undefined ? 'fresh' : this.safe.expiry(t, again, r.ttl, opts, safe);
          if (state === 'fresh' || state === 'ahead') return again;
          if (state === 'stale' || state === 'swr') stale = again;
        }
        failed = again.error !== undefined;
      }
      // NOTE: after a failed read the store is not asked for a lease: this process loads (the write-back is in the background).
      // NOTE: process scope (the module's, no call option): cluster-flight.ts does not run at all. A stale value
      // within grace keeps the fail-safe's own rules (served past the soft timeout): no cross-instance wait then.
      const asked = opts.singleFlight !== undefined || this.clusterByDefault;
      const s = !asked || this.cluster === undefined || opts.force || failed || stale !== undefined ? undefined : this.cluster.settings(opts.singleFlight, t.resolved);
      const here = (fence?: Lease): Promise<CacheLookup<T>> =>
        safe !== undefined
          ? this.safe.load(r, { failed, safe, stale, hold, flight, backoff: flightKey(t, false), fence })
          : this.loadHere(r, { failed, hold, flight, fence });
      if (s === undefined) return here();
      return this.cluster!.run(t, s, r.key, () => this.reader.read<T>(t), here);
    });
    return join === undefined ? running : this.safe.joined(t, running, join, mine!);
  }

  /** The load of `load` without a fail-safe, in this process (holding the cluster lease `run.fence` when there is one). */
  private async loadHere<T>(r: LoadRequest<T>, run: FlightLoad): Promise<CacheLookup<T>> {
    const mark = this.marks.start(r.t, r.key, r.tags, run.flight, run.fence);
    const done = () => this.marks.end(r.t, mark);
    let background = false;
    try {
      const { value, writing } = await this.loadValue(r, mark);
      if (writing !== undefined && run.failed) {
        background = true;
        run.hold(writing.then(done, done));
      } else await writing;
      return { hit: false, value };
    } finally {
      if (!background) done();
    }
  }

  /**
   * Runs `r`'s loader and starts the write-back of its value, unless it is `undefined`, `shouldCache`
   * refuses it or `mark` was invalidated meanwhile (a value loaded then may predate the invalidation).
   * The store TTL is `keep(ttl)` when given (`ttlOf` wins over the call's TTL).
   */
  private async loadValue<T>(r: LoadRequest<T>, mark: LoadMark, keep?: (ttl: number | undefined) => number | undefined): Promise<Loaded<T>> {
    const { t, key, opts } = r;
    const plainTags = r.tags.plain;
    // NOTE: tag versions read before the loader runs: a value loaded across an invalidation (here or on
    // another instance) carries the version before it, so it is a miss.
    const stamps = plainTags.length === 0 ? undefined : this.stamps.of(t, plainTags);
    if (stamps instanceof Promise) stamps.catch(() => undefined);
    const value = await r.loader();
    if (value === undefined || mark.invalidated || !(opts.shouldCache?.(value) ?? true)) return { value, writing: undefined };
    const logical = opts.ttlOf ? this.resolver.ttl(opts.ttlOf(value)) : r.ttl;
    const ttl = keep === undefined ? logical : keep(logical);
    return { value, writing: this.writer.write({ t, key, value, ttl, plainTags, mark, codec: opts.codec, stamps }) };
  }

  /** A background refresh of `r` (`FailSafeLoads.refresh`), its loads counted. */
  private refresh<T>(r: ReadLoad<T>, safe: FailSafePolicy, flight: string): void {
    const { t } = r;
    this.safe.refresh(
      { t, key: r.key, loader: this.counted(this.countersOf(t), t.resolved.alias, t.scope, r.loader), opts: r.opts, ttl: r.ttl, tags: r.tags },
      safe,
      flight,
    );
  }

  /**
   * The counters of `t`'s scope in its store: `StatsRecorder.of`, inlined, so that a hit or a miss of a
   * tenant with counters runs nothing of lib/observability.
   */
  private countersOf(t: Target): ScopeCounters {
    const { scope } = t;
    const store = this.stats.stores.get(t.resolved.alias);
    const own = store === undefined ? undefined : scope.kind === 'tenant' ? (store.tenants.get(scope.tenantId) ?? store.candidates.get(scope.tenantId)) : store.shared;
    return own ?? this.countersAt(t.resolved.alias, scope);
  }

  private countersAt(alias: string, scope: CacheScope): ScopeCounters {
    return this.stats.counters(alias, scope);
  }

  /** `loader`, counting its calls by outcome and their duration in `c` (the counters of `scope` in `alias`). */
  private counted<T>(c: ScopeCounters, alias: string, scope: CacheScope, loader: () => T | Promise<T>): () => Promise<T> {
    return async () => {
      const started = performance.now();
      let ok = false;
      try {
        const value = await loader();
        ok = true;
        return value;
      } finally {
        const seconds = (performance.now() - started) / 1000;
        c.loadSeconds += seconds;
        if (ok) c.loadOk++;
        else c.loadError++;
        this.stats.onLoad?.(alias, scope, seconds, ok);
      }
    };
  }
}

/** A load of a read-through: its options are the call's. */
type ReadLoad<T> = LoadRequest<T, FetchOptions<T>>;

/** Counts one answer: a stale value served is `stale`, never a hit; a refresh (`force`) that loads is `bypass`. */
function countResult(counts: ResultCounters, found: CacheLookup<unknown>, force: boolean): void {
  if (found.stale === true) counts.stale++;
  else if (found.hit) counts.hit++;
  else if (force) counts.bypass++;
  else counts.miss++;
}

/** The single-flight key of a load of `t` (`force`: a refresh, which never shares a plain load). */
function flightKey(t: Target, force: boolean): string {
  return `${force ? 'r' : 'l'}${t.resolved.alias}\u0000${t.key}`;
}

function scopeTag(scope: CacheScope): string {
  return scope.kind === 'tenant' ? `t${scope.tenantId}` : 's';
}
