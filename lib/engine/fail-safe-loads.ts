import type { Logger } from '@nestjs/common';
import { printableKey } from '../keys/logical-key-marks.js';
import { LoaderTimeoutError } from '../errors/loader-timeout.error.js';
import type { CacheLookup, EntryLookup } from './entry-reader.js';
import { type FailSafePolicy, GraceBackoffs, JitteredTtls, raceTimeouts, settledOrAfter } from './fail-safe.js';
import type { FlightLoad, LoadOptions, LoadRequest, LoadValue } from './load-request.js';
import type { LoadMark, LoadMarks } from './load-marks.js';
import type { SingleFlight } from './single-flight.js';
import { asError } from './store-failures.js';
import type { Target } from './target.js';
import type { TargetResolver } from './target-resolver.js';
import type { StaleReason, TenantCacheEvents } from './tenant-cache.events.js';

/** One fail-safe load: its policy, the stale value read inside its flight, and the flight it runs in. */
export interface SafeLoad<T> extends FlightLoad {
  readonly safe: FailSafePolicy;
  /** The expired entry within grace, read inside the flight; `undefined` when there is none. */
  readonly stale: CacheLookup<T> | undefined;
  /** The key of the load's `graceBackoff`. */
  readonly backoff: string;
}

/**
 * How old an entry is for a fail-safe call: `fresh`; `ahead` (fresh, past `refreshAhead`); `swr`
 * (expired, within `staleWhileRevalidate`); `stale` (expired, within `grace`); `gone`.
 */
export type Expiry = 'fresh' | 'ahead' | 'swr' | 'stale' | 'gone';

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
  /** Keys whose background refresh failed and was logged; forgotten when one succeeds. */
  private readonly failing = new Set<string>();
  /** The jittered TTL of each key (`ttlJitter`). */
  private readonly jitter = new JitteredTtls();

  constructor(
    private readonly resolver: TargetResolver,
    private readonly marks: LoadMarks,
    private readonly events: TenantCacheEvents,
    private readonly flights: SingleFlight,
    private readonly logger: Logger,
    private readonly loadValue: LoadValue,
  ) {}

  /**
   * The load of a fail-safe call: the entry is stored for `ttl + grace`; a failing loader, or one past a
   * timeout, gives the stale value unless an invalidation marked the load meanwhile. A load past a
   * timeout goes on in the background and stores its value; while a stale value is served for it, its
   * flight stays open (for at most `grace`), so it stays the one load of the key.
   */
  async load<T>(r: LoadRequest<T>, run: SafeLoad<T>): Promise<CacheLookup<T>> {
    const { t } = r;
    const { safe, stale, failed } = run;
    const mark = this.marks.start(t, r.key, r.tags, run.flight, run.fence);
    let writing: Promise<void> | undefined;
    const work = (async (): Promise<CacheLookup<T>> => {
      const loaded = await this.loadValue(r, mark, (ttl) => this.keepFor(t, ttl, safe));
      writing = loaded.writing;
      if (!failed) await writing;
      this.backoffs.end(run.backoff);
      return { hit: false, value: loaded.value };
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
    if (!servable()) throw new LoaderTimeoutError(r.key, safe.hard ?? 0);
    run.hold(settledOrAfter(background, safe.grace));
    return this.serveStale(t, stale!, raced.kind === 'soft' ? 'timeout-soft' : 'timeout-hard');
  }

  /**
   * A fail-safe caller that joined `load` (a load or background refresh of its key started by another
   * call) with its own expired entry `stale` within grace: the load's answer, or `stale` when the load
   * fails or times out, unless `mark` (started when the caller joined) was invalidated meanwhile.
   */
  async joined<T>(t: Target, load: Promise<CacheLookup<T>>, mark: LoadMark, stale: CacheLookup<T>): Promise<CacheLookup<T>> {
    try {
      return await load;
    } catch (error) {
      if (mark.invalidated) throw error;
      return this.serveStale(t, stale, error instanceof LoaderTimeoutError ? 'timeout-hard' : 'loader-error', asError(error));
    } finally {
      this.marks.end(t, mark);
    }
  }

  /**
   * How old a hit of a fail-safe call is. Its TTL is the call's (or `ttlOf`'s), jittered by the key
   * (`JitteredTtls`): fresh until `cachedAt + ttl`, then `swr` and `stale` until `+ staleWhileRevalidate`
   * and `+ grace`, then gone (a miss).
   */
  expiry<T>(t: Target, found: EntryLookup<T>, ttl: number | undefined, opts: LoadOptions<T>, safe: FailSafePolicy): Expiry {
    const base = opts.ttlOf && found.value !== undefined ? this.resolver.ttl(opts.ttlOf(found.value)) : ttl;
    if (found.expiredAt !== undefined) return this.expiredEarly(t, found, found.expiredAt, base, safe);
    if (base === undefined || found.cachedAt === undefined) return 'fresh';
    const logical = this.jitter.ttl(base, safe.jitter, t.key);
    const age = Date.now() - found.cachedAt;
    if (age < logical) return safe.ahead !== 0 && age >= safe.ahead * logical ? 'ahead' : 'fresh';
    if (age < logical + safe.swr) return 'swr';
    return age < logical + safe.grace ? 'stale' : 'gone';
  }

  /**
   * `expiry` of an entry expired early (`expire(key)`, a soft tag invalidation) at `expiredAt`, or at its
   * TTL when that came first: `swr`, `stale` or `gone`, counted from then like any expiry.
   */
  private expiredEarly<T>(t: Target, found: EntryLookup<T>, expiredAt: number, base: number | undefined, safe: FailSafePolicy): Expiry {
    const ttlEnd = base === undefined || found.cachedAt === undefined ? expiredAt : found.cachedAt + this.jitter.ttl(base, safe.jitter, t.key);
    const since = Date.now() - Math.min(expiredAt, ttlEnd);
    if (since < safe.swr) return 'swr';
    return since < safe.grace ? 'stale' : 'gone';
  }

  /**
   * The answer to a hit that is not fresh, without a load: `ahead` is the hit (a refresh starts); `swr`
   * is the stale value (a refresh starts); `stale` in its `graceBackoff` is the stale value. No refresh
   * starts during the key's backoff. `undefined`: the caller loads.
   */
  answer<T>(t: Target, found: CacheLookup<T>, state: Expiry, backoff: string, refresh: () => void): CacheLookup<T> | undefined {
    if (state === 'ahead' || state === 'swr') {
      if (!this.backoffs.active(backoff)) refresh();
      return state === 'ahead' ? found : this.serveStale(t, found, 'swr');
    }
    if (state === 'stale' && this.backoffs.active(backoff)) return this.serveStale(t, found, 'backoff');
    return undefined;
  }

  /**
   * Starts one background refresh of `key` (stale-while-revalidate, refresh-ahead). It is the key's
   * single-flight load (`flight`): while a load or refresh of the key runs, nothing starts. Its value is
   * stored unless the key was invalidated meanwhile (its load mark). A failure is logged once until a
   * refresh of the key succeeds, and starts the key's `graceBackoff` (no refresh before it ends).
   */
  refresh<T>(r: LoadRequest<T>, safe: FailSafePolicy, flight: string): void {
    if (this.flights.has(flight)) return;
    const { t, key } = r;
    const run = this.flights.run(flight, async (): Promise<CacheLookup<T>> => {
      const mark = this.marks.start(t, key, r.tags, flight);
      try {
        const loaded = await this.loadValue(r, mark, (ttl) => this.keepFor(t, ttl, safe));
        await loaded.writing;
        this.backoffs.end(flight);
        this.failing.delete(flight);
        return { hit: false, value: loaded.value };
      } finally {
        this.marks.end(t, mark);
      }
    });
    run.catch((error: unknown) => {
      this.backoffs.start(flight, safe.backoff);
      if (this.failing.has(flight)) return;
      if (this.failing.size >= 10_000) this.failing.clear();
      this.failing.add(flight);
      const message = `Background refresh of "${printableKey(key)}" failed (the stale value is served; next try after ${safe.backoff} ms): ${asError(error).message}`;
      this.logger.warn(message);
    });
  }

  /** The store TTL of an entry of a fail-safe call: its jittered TTL + max(grace, staleWhileRevalidate). */
  private keepFor(t: Target, logical: number | undefined, safe: FailSafePolicy): number | undefined {
    return logical === undefined ? undefined : this.jitter.ttl(logical, safe.jitter, t.key) + safe.keep;
  }

  /** The stale lookup served instead of a load, emitted as `entry:stale`. */
  serveStale<T>(t: Target, stale: CacheLookup<T>, reason: StaleReason, error?: Error): CacheLookup<T> {
    const tenant = t.scope.kind === 'tenant' ? t.scope.tenantId : undefined;
    this.events.emit('entry:stale', { store: t.resolved.alias, key: t.key, reason, tenant, error });
    return { hit: false, stale: true, value: stale.value, cachedAt: stale.cachedAt };
  }
}
