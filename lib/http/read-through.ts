import type { CacheEngine } from '../engine/cache-engine.js';
import { isFresh } from '../engine/fail-safe.js';
import { LoaderTimeoutError } from '../errors/loader-timeout.error.js';
import { type PackedResponse, type StoredResponse, packResponse, unpackResponse } from './cached-response.js';
import type { Exchange } from './exchange.js';
import type { Outcome } from './response-capture.js';

/** What the engine's single flight hands every caller instead of an entry: "run your own handler". */
export const UNCACHEABLE = Object.freeze({ uncacheable: true as const });

/**
 * What a read-through found, for the interceptor to answer with: an entry to replay (`HIT`, or `STALE`
 * when the handler failed or timed out), or a miss: this request's own outcome when it ran the handler,
 * else the entry another request's load stored (`undefined`: run the handler).
 */
export type ReadResult =
  | { readonly kind: 'hit'; readonly entry: StoredResponse; readonly cachedAt: number; readonly status: 'HIT' | 'STALE' }
  | { readonly kind: 'miss'; readonly own: Outcome | undefined; readonly shared: StoredResponse | undefined };

/** A fresh hit, found without a promise. */
export type HitResult = ReadResult & { readonly kind: 'hit' };

/** Runs the handler and captures its response (never throws). */
export type Load = () => Promise<Outcome>;

/**
 * A fresh hit read without a promise (`CacheEngine.lookupNow`: an in-process store, counters cached),
 * else `undefined`: the caller takes the read-through, which applies the same checks. Fresh means
 * younger than the route's ttl (an entry kept for its `grace` past it is not a hit here). Not on a route
 * with `refreshAhead` or `ttlJitter` (its own or the module's): the read-through applies those.
 */
export function hitNow(engine: CacheEngine, x: Exchange): HitResult | undefined {
  if (x.tags.versioned.length > 0 || !x.plan.syncHit || x.plan.options.l1 === false) return undefined;
  const found = engine.lookupNow<PackedResponse>(x.scope, x.key, x.plan.options.store);
  if (found === undefined || !found.hit || !isFresh(found.cachedAt, x.plan.ttl)) return undefined;
  const entry = unpackResponse(found.value);
  if (entry === undefined) return undefined;
  engine.servedNow(x.scope, x.key, x.plan.options.store, 'CacheResponse');
  return { kind: 'hit', entry, cachedAt: found.cachedAt ?? Date.now(), status: 'HIT' };
}

/**
 * The plain read-through: the engine's `fetch` (one load per key at a time), the entry stored for the
 * route's ttl when the response may be stored, with the route's fail-safe (`grace`, `graceBackoff`,
 * `timeout`; the module's `grace` by default): an expired entry within grace is served `STALE` when the
 * handler throws or times out, never after an invalidation (the engine's rule).
 */
export async function readThrough(engine: CacheEngine, x: Exchange, load: Load): Promise<ReadResult> {
  const { plan, scope, key, tags } = x;
  let own: Outcome | undefined;
  let found;
  try {
    found = await engine.fetch<PackedResponse | typeof UNCACHEABLE>(
      scope,
      key,
      async () => {
        own = await load();
        // NOTE: thrown so that the engine's fail-safe can answer with the stale entry; caught below.
        if (own.kind === 'error') throw own.error;
        return own.kind === 'stored' ? packResponse(own.entry) : UNCACHEABLE;
      },
      {
        ttl: plan.ttl,
        store: plan.options.store,
        tags,
        shouldCache: (v) => v !== UNCACHEABLE,
        l1: plan.options.l1,
        operation: 'CacheResponse',
        grace: plan.failSafe.grace,
        graceBackoff: plan.failSafe.graceBackoff,
        timeout: plan.failSafe.timeout,
        refreshAhead: plan.failSafe.refreshAhead,
        ttlJitter: plan.failSafe.ttlJitter,
        singleFlight: plan.options.singleFlight,
      },
    );
  } catch (error) {
    // This request's handler failed (no stale copy): its own error. A follower of a failed load runs its
    // own handler, as before. Anything else (`LoaderTimeoutError`) is the request's error.
    if (own !== undefined && own.kind === 'error' && own.error === error) return { kind: 'miss', own, shared: undefined };
    if (own === undefined && !(error instanceof LoaderTimeoutError)) return { kind: 'miss', own: undefined, shared: undefined };
    throw error;
  }
  if (found.hit || found.stale === true) {
    const entry = unpackResponse(found.value);
    if (entry !== undefined) return { kind: 'hit', entry, cachedAt: found.cachedAt ?? Date.now(), status: found.hit ? 'HIT' : 'STALE' };
    return { kind: 'miss', own: undefined, shared: undefined };
  }
  return { kind: 'miss', own, shared: found.value === UNCACHEABLE ? undefined : unpackResponse(found.value) };
}
