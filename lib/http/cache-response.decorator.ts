import type { FailSafeOptions } from '../engine/fail-safe.js';
import type { SingleFlightOption } from '../engine/single-flight.options.js';
import type { InvalidationRule } from '../invalidation/invalidation-rule.js';
import type { CacheRequest } from './cache-request.js';
import { CACHE_RESPONSE_METADATA } from './http.constants.js';
import type { ResponseKeySpec } from './response-key.js';
import type { ResponseTagSpec } from './surrogate-keys.js';

/** `Cache-Control` sent downstream (browsers, CDNs) on cached responses. Seconds, like the header. */
export interface ResponseCacheControl {
  /** `max-age`, seconds. */
  maxAge?: number;
  /** `s-maxage` for shared caches (CDNs), seconds. Never sent for a per-user entry. */
  sMaxAge?: number;
  /** `stale-while-revalidate`, seconds. */
  staleWhileRevalidate?: number;
  /**
   * `public` (shared caches may store it; the tenant headers are added to `Vary`) or `private` (default).
   * A per-user entry is always `private`, whatever this says.
   */
  public?: boolean;
}

/**
 * Options of `@CacheResponse`.
 *
 * The key always holds the tenant (except `scope: 'shared'`), the method and, for an authenticated
 * request, the user (except `scope: 'tenant'`). Only GET and HEAD responses with an allowed status,
 * no `Set-Cookie` and no `Cache-Control: private | no-store | no-cache` are stored.
 */
export interface CacheResponseOptions extends Pick<FailSafeOptions, 'grace' | 'graceBackoff' | 'timeout' | 'refreshAhead' | 'ttlJitter'> {
  /** TTL in ms. Default: `http.ttl`, else the module's `defaultTtl`. */
  ttl?: number;
  /**
   * Where concurrent misses of the route share one handler run: `'process'` or `'cluster'` (one run across the
   * instances; the others wait and replay its stored response), over the module's `singleFlight`.
   */
  singleFlight?: SingleFlightOption;
  /**
   * What identifies a response within the tenant: `ResponseKey.*()` parts, a function of the request,
   * or a `KeyConstructor.params('req')` subclass. Default: path + canonical query.
   */
  key?: ResponseKeySpec;
  /** Tags (surrogate keys on a CDN): names, `versioned(name)`, `Surrogate.*()` or functions of the request. */
  tags?: readonly ResponseTagSpec[];
  /** Return false to bypass the cache for this request (no read, no write). */
  onlyIf?: (req: CacheRequest) => boolean;
  /** Store alias. Default: the tenant's route. */
  store?: string;
  /** `false`: on a `tieredStore`, the response is read and written in Redis only (see `GetOrSetOptions.l1`). */
  l1?: boolean;
  /**
   * Who shares an entry: `user` (default: the authenticated user's id is in the key; anonymous requests
   * share the tenant's anonymous entry), `tenant` (every user of the tenant gets the same response:
   * declare it only when the body does not depend on the user), `shared` (every tenant: no tenant needed).
   */
  scope?: 'user' | 'tenant' | 'shared';
  /** Statuses that may be stored. Default: 200-299. */
  statuses?: readonly number[];
  /** `Cache-Control` for downstream caches; none by default. */
  cacheControl?: ResponseCacheControl;
  /** Response headers stored and replayed besides the safe default set (never cookies or auth). */
  storeHeaders?: readonly string[];
  /**
   * Cache `StreamableFile` bodies: read whole (up to `http.maxBodyBytes`) and stored. Default false:
   * streamed bodies are served, never cached.
   */
  streams?: boolean;
  /**
   * Keep serving an expired entry for this long (ms) when the handler throws: the response says
   * `X-Cache: STALE`. Default 0 (an error is an error). The older, narrower form of `grace` (which adds
   * `graceBackoff` and `timeout`): give one or the other. See docs/http.md, "Fail-safe".
   */
  staleIfError?: number;
  /**
   * Entity changes that make this route's responses stale: rules with `tags` (functions of the changed
   * row, e.g. `(row) => \`product:${row.id}\``) matching this route's tags, acted on after commit for the
   * row's tenant. Named `Controller.handler<-Entity` unless given a `name`. See docs/invalidation.md.
   */
  invalidatesOn?: readonly InvalidationRule[];
}

/**
 * Caches the response of a route (or of every GET route of a controller) per tenant. Only records
 * metadata: `TenantCacheInterceptor` (global via `APP_INTERCEPTOR`, or `@UseInterceptors`) does the work.
 *
 * @example
 * @UseInterceptors(TenantCacheInterceptor)
 * @CacheResponse({ ttl: 60_000, tags: [versioned('catalog'), Surrogate.entity('product')] })
 * @Get(':id') get(@Param('id') id: string) { ... }
 */
export function CacheResponse(options: CacheResponseOptions = {}): ClassDecorator & MethodDecorator {
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    Reflect.defineMetadata(CACHE_RESPONSE_METADATA, Object.freeze({ ...options }), descriptor?.value ?? target);
    return descriptor as never;
  };
}
