import type { CacheEngine } from '../engine/cache-engine.js';
import { versioned } from '../engine/tags.js';
import { type PackedResponse, packResponse, unpackResponse } from './cached-response.js';
import type { Exchange } from './exchange.js';
import { type HitResult, type Load, type ReadResult, UNCACHEABLE } from './read-through.js';
import type { Outcome } from './response-capture.js';

/** Stored alongside an entry when `staleIfError` is set: the entry outlives its freshness. */
interface StaleEnvelope {
  readonly r: PackedResponse;
  /** Fresh until (ms since epoch). */
  readonly f: number;
}

/** `readThroughWithStale`'s fresh hit, read without a promise when it can be (see `hitNow`), else `undefined`. */
export function freshNow(engine: CacheEngine, x: Exchange): HitResult | undefined {
  if (x.tags.versioned.length > 0 || x.plan.options.l1 === false) return undefined;
  const found = engine.lookupNow<StaleEnvelope>(x.scope, x.key, x.plan.options.store);
  if (found === undefined || !found.hit || !((found.value?.f ?? 0) > Date.now())) return undefined;
  const entry = unpackResponse(found.value!.r);
  if (entry === undefined) return undefined;
  engine.servedNow(x.scope, x.key, x.plan.options.store, 'CacheResponse');
  return { kind: 'hit', entry, cachedAt: found.cachedAt ?? Date.now(), status: 'HIT' };
}

/**
 * The read-through of a route with `staleIfError`: the entry is stored for ttl + staleIfError; past its
 * freshness the handler runs, and its error serves the stale copy (`X-Cache: STALE`).
 */
export async function readThroughWithStale(engine: CacheEngine, x: Exchange, load: Load): Promise<ReadResult> {
  const { plan, scope, key, tags } = x;
  const ttl = plan.ttl ?? engine.ttl(undefined);
  const found = await engine.lookup<StaleEnvelope>(scope, key, plan.options.store, [...tags.plain, ...tags.versioned.map(versioned)]);
  const now = Date.now();
  const stale = found.hit ? unpackResponse(found.value?.r) : undefined;
  if (stale !== undefined && found.value!.f > now) return { kind: 'hit', entry: stale, cachedAt: found.cachedAt ?? now, status: 'HIT' };
  let own: Outcome | undefined;
  const loaded = await engine.fetch<StaleEnvelope | typeof UNCACHEABLE>(
    scope,
    key,
    async () => {
      own = await load();
      return own.kind === 'stored' ? { r: packResponse(own.entry), f: Date.now() + (ttl ?? Number.MAX_SAFE_INTEGER / 2) } : UNCACHEABLE;
    },
    {
      ttl: ttl === undefined ? undefined : ttl + plan.staleIfError,
      store: plan.options.store,
      tags,
      force: true,
      l1: plan.options.l1,
      operation: 'CacheResponse',
      // NOTE: a store that just failed the lookup is not asked again: one commandTimeout per request.
      readFailed: found.error !== undefined,
      shouldCache: (v) => v !== UNCACHEABLE,
    },
  );
  if (own?.kind === 'error' && stale !== undefined) return { kind: 'hit', entry: stale, cachedAt: found.cachedAt ?? now, status: 'STALE' };
  const value = loaded.value;
  return { kind: 'miss', own, shared: value !== undefined && 'r' in value ? unpackResponse(value.r) : undefined };
}
