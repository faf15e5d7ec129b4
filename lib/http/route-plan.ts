import type { Type } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { InvalidTtlError } from '../errors/invalid-ttl.error.js';
import { optionKeys, unknownKeys } from '../tenant-cache.option-keys.js';
import { type FailSafeOptions, failSafeProblems } from '../engine/fail-safe.js';
import { singleFlightProblems } from '../engine/single-flight.options.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { type ResolvedTags, type TagSpec, NO_TAGS, resolveTags } from '../engine/tags.js';
import type { CacheResponseOptions, ResponseCacheControl } from './cache-response.decorator.js';
import type { CacheRequest } from './cache-request.js';
import { NEVER_STORED_HEADERS, SAFE_HEADERS } from './http.constants.js';
import type { NormalizedHttpOptions } from './http.options.js';
import type { ResponseCacheMetadataAccessor } from './response-cache-metadata.accessor.js';
import { type CompiledResponseKey, compileResponseKey } from './response-key.js';

/** The option names of `@CacheResponse` (an unknown one fails start-up). */
export const CACHE_RESPONSE_KEYS = optionKeys<CacheResponseOptions>({
  ttl: true,
  key: true,
  tags: true,
  onlyIf: true,
  store: true,
  scope: true,
  statuses: true,
  cacheControl: true,
  storeHeaders: true,
  streams: true,
  staleIfError: true,
  grace: true,
  graceBackoff: true,
  timeout: true,
  refreshAhead: true,
  ttlJitter: true,
  singleFlight: true,
  invalidatesOn: true,
  l1: true,
});
const CACHE_CONTROL_KEYS = optionKeys<ResponseCacheControl>({ maxAge: true, sMaxAge: true, staleWhileRevalidate: true, public: true });

/** What a route's options compile to, once per handler. */
export interface RoutePlan {
  readonly where: string;
  readonly options: CacheResponseOptions;
  readonly key: CompiledResponseKey;
  readonly tags: readonly TagSpec<[CacheRequest]>[] | undefined;
  /** Tags resolved once when none is a function. */
  readonly staticTags: ResolvedTags | undefined;
  readonly ttl: number | undefined;
  readonly statuses: ReadonlySet<number> | undefined;
  readonly storeHeaders: readonly string[];
  readonly vary: string | undefined;
  /** Request headers the key holds (lower case). */
  readonly varySet: ReadonlySet<string>;
  readonly cacheControl: { perUser: string; shared: string } | undefined;
  readonly staleIfError: number;
  /**
   * The engine's fail-safe options of the route: `grace`, `graceBackoff`, `timeout` as given; with
   * `cacheControl.staleWhileRevalidate` (and no `staleIfError`), a grace of that window and a soft
   * timeout of 0 unless given: served stale while one background load refreshes.
   */
  readonly failSafe: FailSafeOptions;
  /**
   * Whether a fresh hit may be answered without a promise (`hitNow`): not when the route's (or the
   * module's) `refreshAhead` or `ttlJitter` applies, which the engine's read-through checks with the key.
   */
  readonly syncHit: boolean;
  /** `@NoCache()` on the method or the controller. */
  readonly noCache: boolean;
  /** The handler takes `@Res()` / `@Next()` without passthrough: it sends the response itself, never cached. */
  readonly ownsResponse: boolean;
}

/** Validates and compiles a route's options (throws a typed error naming the route for a bad option). */
export function compilePlan(
  options: CacheResponseOptions,
  where: string,
  engine: CacheEngine,
  http: NormalizedHttpOptions,
  noCache = false,
  ownsResponse = false,
): RoutePlan {
  const [className = '', methodName = ''] = where.split('.');
  const bad = (option: string, problem: string, fix: string) => new InvalidOptionsError(`@CacheResponse(${option}) on ${where}`, problem, fix);
  const unknown = [
    ...unknownKeys(options, CACHE_RESPONSE_KEYS, '', { maxAge: 'Write cacheControl: { maxAge } (seconds, for downstream caches); the entry lives ttl ms.' }),
    ...unknownKeys(options.cacheControl, CACHE_CONTROL_KEYS, 'cacheControl.', { private: 'Responses are private unless cacheControl: { public: true }: remove it.' }),
  ];
  unknown.push(...failSafeProblems(options, ''));
  unknown.push(...singleFlightProblems(options.singleFlight).map(([option, problem, fix]) => ({ option, problem, fix })));
  if (unknown.length > 0) throw new InvalidOptionsError(unknown.map((p) => ({ ...p, option: `@CacheResponse(${p.option}) on ${where}` })));
  if (options.scope !== undefined && !['user', 'tenant', 'shared'].includes(options.scope)) {
    throw bad('scope', `is ${JSON.stringify(options.scope)}`, 'Use "user" (default), "tenant" or "shared".');
  }
  if (options.statuses !== undefined && (!Array.isArray(options.statuses) || options.statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599))) {
    throw bad('statuses', 'must be a list of HTTP status codes', 'Write statuses: [200, 203].');
  }
  if (options.onlyIf !== undefined && typeof options.onlyIf !== 'function') throw bad('onlyIf', 'must be a function', 'Write onlyIf: (req) => boolean.');
  if (options.l1 !== undefined && typeof options.l1 !== 'boolean') throw bad('l1', `is ${JSON.stringify(options.l1)}`, 'Write l1: false (or leave it out).');
  if (options.staleIfError !== undefined && !(typeof options.staleIfError === 'number' && options.staleIfError >= 0)) {
    throw bad('staleIfError', `is ${String(options.staleIfError)}`, 'Give milliseconds >= 0.');
  }
  if (options.staleIfError !== undefined && (options.grace !== undefined || options.timeout !== undefined)) {
    throw bad('staleIfError', 'is given with grace or timeout', 'Use grace (with graceBackoff and timeout if needed) alone: it covers staleIfError. See docs/http.md.');
  }
  if (options.staleIfError !== undefined && (options.refreshAhead !== undefined || options.ttlJitter !== undefined)) {
    throw bad('staleIfError', 'is given with refreshAhead or ttlJitter', 'Use grace instead of staleIfError: refreshAhead and ttlJitter work with it. See docs/http.md.');
  }
  for (const [name, v] of Object.entries(options.cacheControl ?? {})) {
    if (name !== 'public' && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) throw bad(`cacheControl.${name}`, `is ${String(v)}`, 'Give seconds >= 0.');
  }
  if (options.store !== undefined && !engine.registry.aliases.includes(options.store)) {
    throw bad('store', `names no store "${options.store}"`, `Use one of ${engine.registry.aliases.map((a) => `"${a}"`).join(', ')}.`);
  }
  const key = compileResponseKey(options.key, { className, methodName });
  // A tag function's plain name that the application declares versioned is that versioned tag.
  const declared = options.tags as readonly TagSpec<[CacheRequest]>[] | undefined;
  const tags = declared === undefined || !Array.isArray(declared) ? declared : engine.methods.tags.adapt(declared);
  const staticTags =
    tags === undefined
      ? NO_TAGS
      : tags.some((t) => typeof t === 'function')
        ? undefined
        : resolveTags(tags, [] as unknown as [CacheRequest], `@CacheResponse(tags) on ${where}`);
  let ttl: number | undefined;
  try {
    ttl = engine.ttl(options.ttl ?? http.ttl);
  } catch (error) {
    if (error instanceof InvalidTtlError && options.ttl !== undefined) throw new InvalidTtlError(options.ttl, `@CacheResponse on ${where}`);
    throw error;
  }
  const storeHeaders = [...new Set([...SAFE_HEADERS, ...(options.storeHeaders ?? []).map((h) => h.toLowerCase())])].filter((h) => !NEVER_STORED_HEADERS.has(h));
  let cacheControl: RoutePlan['cacheControl'];
  const cc = options.cacheControl;
  if (cc !== undefined) {
    const parts = (extra: string[]) => [...extra, ...(cc.maxAge !== undefined ? [`max-age=${Math.floor(cc.maxAge)}`] : [])];
    const shared = parts([cc.public ? 'public' : 'private']);
    if (cc.public && cc.sMaxAge !== undefined) shared.push(`s-maxage=${Math.floor(cc.sMaxAge)}`);
    if (cc.staleWhileRevalidate !== undefined) shared.push(`stale-while-revalidate=${Math.floor(cc.staleWhileRevalidate)}`);
    // NOTE: a per-user entry is never advertised to shared caches: private, no s-maxage.
    cacheControl = { perUser: parts(['private']).join(', '), shared: shared.join(', ') };
  }
  const swr = options.staleIfError === undefined && cc?.staleWhileRevalidate !== undefined ? Math.floor(cc.staleWhileRevalidate) * 1000 : 0;
  const failSafe: FailSafeOptions = {
    grace: options.grace ?? (swr > 0 ? swr : undefined),
    graceBackoff: options.graceBackoff,
    timeout: options.timeout ?? (swr > 0 ? { soft: 0 } : undefined),
    refreshAhead: options.refreshAhead,
    ttlJitter: options.ttlJitter,
  };
  const syncHit = !(options.refreshAhead ?? engine.options.refreshAhead) && !(options.ttlJitter ?? engine.options.ttlJitter);
  return {
    where,
    options,
    failSafe,
    syncHit,
    key,
    tags,
    staticTags,
    ttl,
    statuses: options.statuses === undefined ? undefined : new Set(options.statuses),
    storeHeaders,
    vary: key.vary.length === 0 ? undefined : key.vary.join(', '),
    varySet: new Set(key.vary),
    cacheControl,
    staleIfError: options.staleIfError ?? 0,
    noCache,
    ownsResponse,
  };
}

/**
 * The compiled plans of the routes a request reaches, by handler, then by controller class (a handler
 * may be inherited by several); `null` = not cached (no `@CacheResponse`).
 */
export class RoutePlans {
  private readonly plans = new WeakMap<object, WeakMap<object, RoutePlan | null>>();

  constructor(
    private readonly metadata: ResponseCacheMetadataAccessor,
    private readonly engine: CacheEngine,
    private readonly http: NormalizedHttpOptions,
  ) {}

  /** The plan of a route, compiled on its first request. */
  of(handler: Function, type: Type<unknown>): RoutePlan | null {
    let byClass = this.plans.get(handler);
    const known = byClass?.get(type);
    if (known !== undefined) return known;
    const options = this.metadata.cacheResponse(handler, type);
    let plan: RoutePlan | null = null;
    if (options !== undefined) {
      const noCache = this.metadata.noCache(handler, type);
      plan = compilePlan(options, `${type.name}.${handler.name}`, this.engine, this.http, noCache, this.metadata.ownsResponse(type, handler.name));
    }
    if (byClass === undefined) this.plans.set(handler, (byClass = new WeakMap()));
    byClass.set(type, plan);
    return plan;
  }
}
