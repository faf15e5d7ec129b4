import type { CacheEngine } from '../engine/cache-engine.js';
import { isFresh } from '../engine/fail-safe.js';
import { type PackedResponse, type StoredResponse, packResponse, unpackResponse } from './cached-response.js';
import type { Exchange } from './exchange.js';
import type { Outcome } from './response-capture.js';

/** What the engine's single flight hands every caller instead of an entry: "run your own handler". */
export const UNCACHEABLE = Object.freeze({ uncacheable: true as const });

/**
 * What a read-through found, for the interceptor to answer with: an entry to replay (`HIT`, or `STALE`
 * when the handler failed), or a miss: this request's own outcome when it ran the handler, else the
 * entry another request's load stored (`undefined`: run the handler).
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
 * younger than the route's ttl (an entry kept for its `grace` past it is not a hit here).
 */
export function hitNow(engine: CacheEngine, x: Exchange): HitResult | undefined {
  if (x.tags.versioned.length > 0) return undefined;
  const found = engine.lookupNow<PackedResponse>(x.scope, x.key, x.plan.options.store);
  if (found === undefined || !found.hit || !isFresh(found.cachedAt, x.plan.ttl)) return undefined;
  const entry = unpackResponse(found.value);
  return entry === undefined ? undefined : { kind: 'hit', entry, cachedAt: found.cachedAt ?? Date.now(), status: 'HIT' };
}

/**
 * The plain read-through: the engine's `fetch` (one load per key at a time), the entry stored for the
 * route's ttl when the response may be stored.
 */
export async function readThrough(engine: CacheEngine, x: Exchange, load: Load): Promise<ReadResult> {
  const { plan, scope, key, tags } = x;
  let own: Outcome | undefined;
  const found = await engine.fetch<PackedResponse | typeof UNCACHEABLE>(
    scope,
    key,
    async () => {
      own = await load();
      return own.kind === 'stored' ? packResponse(own.entry) : UNCACHEABLE;
    },
    { ttl: plan.ttl, store: plan.options.store, tags, shouldCache: (v) => v !== UNCACHEABLE },
  );
  if (found.hit) {
    const entry = unpackResponse(found.value);
    if (entry !== undefined) return { kind: 'hit', entry, cachedAt: found.cachedAt ?? Date.now(), status: 'HIT' };
    return { kind: 'miss', own: undefined, shared: undefined };
  }
  return { kind: 'miss', own, shared: found.value === UNCACHEABLE ? undefined : unpackResponse(found.value) };
}
