import type { CodecCallOptions } from '../codec/codec.options.js';
import type { TagStamp } from '../codec/tag-stamp.js';
import { LoaderTimeoutError } from '../errors/loader-timeout.error.js';
import type { CacheLookup } from './entry-reader.js';
import { type FailSafePolicy, GraceBackoffs, isFresh, raceTimeouts, settledOrAfter } from './fail-safe.js';
import type { LoadMark, LoadMarks } from './load-marks.js';
import { asError } from './store-failures.js';
import type { TagStamps } from './tag-stamps.js';
import type { ResolvedTags } from './tags.js';
import type { Target } from './target.js';
import type { TargetResolver } from './target-resolver.js';
import type { StaleReason, TenantCacheEvents } from './tenant-cache.events.js';

/** The options of a read-through a fail-safe load reads (`FetchOptions` is assignable to it). */
export interface SafeLoadOptions<T> {
  shouldCache?: (value: T) => boolean;
  ttlOf?: (value: T) => number | undefined;
  codec?: CodecCallOptions;
}

/** One fail-safe load: its policy, the stale value read inside its flight, and the flight it runs in. */
export interface SafeLoad<T> {
  /** The caller's read of the store failed: the write-back runs in the background. */
  readonly failed: boolean;
  readonly safe: FailSafePolicy;
  /** The expired entry within grace, read inside the flight; `undefined` when there is none. */
  readonly stale: CacheLookup<T> | undefined;
  /** Keeps the flight open until the promise settles (see `SingleFlight.run`). */
  readonly hold: (until: Promise<unknown>) => void;
  /** The flight key of the load (released by an invalidation that marks it). */
  readonly flight: string;
  /** The key of the load's `graceBackoff`. */
  readonly backoff: string;
}

/** How a loaded value is written back (`ReadThrough.storeLoaded`). */
export type StoreLoaded = (
  t: Target,
  key: string,
  value: unknown,
  ttl: number | undefined,
  plainTags: readonly string[],
  mark: LoadMark,
  codec?: CodecCallOptions,
  stamps?: readonly TagStamp[] | Promise<readonly TagStamp[]>,
) => Promise<void>;

/**
 * The read-through's fail-safe (grace, backoff, soft and hard loader timeouts): only calls with a grace
 * or a timeout come here; the others keep the plain load. An entry is fresh until `cachedAt + ttl` (the
 * call's TTL: nothing new is recorded in the entry), kept in the store until `ttl + grace`, and served
 * stale only after an expiry, never after an invalidation: the stale value is read inside the load's
 * flight, and a load an invalidation marked meanwhile never serves it.
 */
export class FailSafeLoads {
  /** Keys whose loader failed while their stale value was served (see `graceBackoff`). */
  readonly backoffs = new GraceBackoffs();

  constructor(
    private readonly resolver: TargetResolver,
    private readonly marks: LoadMarks,
    private readonly stamps: TagStamps,
    private readonly events: TenantCacheEvents,
    private readonly storeLoaded: StoreLoaded,
  ) {}

  /**
   * The load of a fail-safe call: the entry is stored for `ttl + grace`; a failing loader, or one past a
   * timeout, gives the stale value unless an invalidation marked the load meanwhile. A load past a
   * timeout goes on in the background and stores its value; while a stale value is served for it, its
   * flight stays open (for at most `grace`), so it stays the one load of the key.
   */
  async load<T>(
    t: Target,
    key: string,
    loader: () => T | Promise<T>,
    opts: SafeLoadOptions<T>,
    ttl: number | undefined,
    tags: ResolvedTags,
    run: SafeLoad<T>,
  ): Promise<CacheLookup<T>> {
    const { safe, stale, failed } = run;
    const mark = this.marks.start(t, key, tags, run.flight);
    const stamps = tags.plain.length === 0 ? undefined : this.stamps.of(t, tags.plain);
    if (stamps instanceof Promise) stamps.catch(() => undefined);
    let writing: Promise<void> | undefined;
    const work = (async (): Promise<CacheLookup<T>> => {
      const value = await loader();
      if (value !== undefined && !mark.invalidated && (opts.shouldCache?.(value) ?? true)) {
        const logical = opts.ttlOf ? this.resolver.ttl(opts.ttlOf(value)) : ttl;
        writing = this.storeLoaded(t, key, value, logical === undefined ? undefined : logical + safe.grace, tags.plain, mark, opts.codec, stamps);
        if (!failed) await writing;
      }
      this.backoffs.end(run.backoff);
      return { hit: false, value };
    })();
    // Everything of the load over: the loader and the write-back (whose failures are already reported).
    const settled = work.then(
      () => writing,
      () => undefined,
    );
    const done = () => this.marks.end(t, mark);
    const servable = () => stale !== undefined && !mark.invalidated;
    let raced = await raceTimeouts(work, servable() ? safe.soft : undefined, safe.hard);
    if (raced.kind === 'soft' && !servable()) {
      // Invalidated since the soft timer was set: nothing to serve; wait for the hard timeout.
      raced = await raceTimeouts(work, undefined, safe.hard === undefined ? undefined : safe.hard - (safe.soft ?? 0));
    }
    if (raced.kind === 'done') {
      if (failed && writing !== undefined) run.hold(settled.then(done, done));
      else done();
      return raced.value;
    }
    if (raced.kind === 'failed') {
      done();
      if (!servable()) throw raced.error;
      this.backoffs.start(run.backoff, safe.backoff);
      return this.serveStale(t, stale!, 'loader-error', asError(raced.error));
    }
    // A timeout passed: the load goes on in the background.
    const background = settled.then(done, done);
    if (!servable()) throw new LoaderTimeoutError(key, safe.hard ?? 0);
    run.hold(settledOrAfter(background, safe.grace));
    return this.serveStale(t, stale!, raced.kind === 'soft' ? 'timeout-soft' : 'timeout-hard');
  }

  /** A hit of a fail-safe call: fresh until `ttl`, then stale until `ttl + grace`, then gone (a miss). */
  expiry<T>(found: CacheLookup<T>, ttl: number | undefined, opts: SafeLoadOptions<T>, safe: FailSafePolicy): 'fresh' | 'stale' | 'gone' {
    const logical = opts.ttlOf && found.value !== undefined ? this.resolver.ttl(opts.ttlOf(found.value)) : ttl;
    const now = Date.now();
    if (isFresh(found.cachedAt, logical, now)) return 'fresh';
    return isFresh(found.cachedAt, logical! + safe.grace, now) ? 'stale' : 'gone';
  }

  /** The stale lookup served instead of a load, emitted as `entry:stale`. */
  serveStale<T>(t: Target, stale: CacheLookup<T>, reason: StaleReason, error?: Error): CacheLookup<T> {
    const tenant = t.scope.kind === 'tenant' ? t.scope.tenantId : undefined;
    this.events.emit('entry:stale', { store: t.resolved.alias, key: t.key, reason, tenant, error });
    return { hit: false, stale: true, value: stale.value, cachedAt: stale.cachedAt };
  }
}
