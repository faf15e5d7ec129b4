import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { UnknownResponseBackendError } from '../errors/unknown-response-backend.error.js';
import type { ResponseCacheBackend, SurrogateHeader } from './response-cache-backend.interface.js';
import { type UserIdResolver, defaultUserId } from './response-key.js';

/** Which of the cache headers responses carry. All on by default. */
export interface ResponseHeaderOptions {
  /** `X-Cache: HIT | MISS | BYPASS | STALE`. */
  xCache?: boolean;
  /** `Age` (seconds since the entry was stored) and `X-Cached-At` (HTTP date). */
  age?: boolean;
  /** A strong `ETag` on cached responses, and `304 Not Modified` for a matching `If-None-Match`. */
  etag?: boolean;
}

/** The `http` option group of `TenantCacheModule.forRoot`: response caching and CDNs. */
export interface HttpCacheOptions {
  /**
   * Named CDN backends (`fastlyBackend()`, `cloudflareBackend()`, `compositeBackend()`, or your own).
   * The built-in backend `store` (our stores) needs no entry.
   */
  backends?: Record<string, ResponseCacheBackend>;
  /**
   * The backends that tag and tenant invalidations purge, by name (`store` or a `backends` key); an
   * unknown name fails start-up. Default: every backend defined.
   */
  purge?: readonly string[];
  /** Send the purged backends' surrogate headers (`Surrogate-Key`, `Cache-Tag`) on cached responses. Default true. */
  surrogateHeaders?: boolean;
  /** Prefix of every surrogate key (letters, digits, `-_`). Default `tc-`. */
  surrogateKeyPrefix?: string;
  /** Finds the authenticated user's id (per-user entries). Default: `req.user.id`/`sub`/`userId`/`_id`, else the Authorization header. */
  userId?: UserIdResolver;
  /** TTL of cached responses, ms, when a route gives none. Default: the module's `defaultTtl`. */
  ttl?: number;
  /** Which cache headers responses carry. */
  headers?: ResponseHeaderOptions;
  /** Largest body stored, bytes (bigger responses are served, not cached). Default 5 MiB. */
  maxBodyBytes?: number;
  /**
   * Request headers that carry the tenant, added to `Vary` whenever a response is made cacheable by
   * shared caches (`Cache-Control: public`), so that a CDN keyed by URL cannot serve one tenant's body
   * to another. Default `['x-tenant-id']`; `[]` when the tenant is in the host or path.
   */
  tenantHeaders?: readonly string[];
}

/** `http` options after defaults and validation. */
export interface NormalizedHttpOptions {
  backends: Readonly<Record<string, ResponseCacheBackend>>;
  /** Backends purged on invalidation (never `store`, which the engine already handles). */
  purged: readonly { name: string; backend: ResponseCacheBackend }[];
  surrogateHeaders: readonly SurrogateHeader[];
  surrogateKeyPrefix: string;
  userId: UserIdResolver;
  ttl: number | undefined;
  headers: Required<ResponseHeaderOptions>;
  maxBodyBytes: number;
  tenantHeaders: readonly string[];
}

/** Validates the `http` option group at start-up. */
export function normalizeHttpOptions(options: HttpCacheOptions | undefined): NormalizedHttpOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new InvalidOptionsError('http', 'must be an object', 'Write http: { backends: { ... } }.');
  const backends = o.backends ?? {};
  if (typeof backends !== 'object' || backends === null)
    throw new InvalidOptionsError('http.backends', 'must be an object of named backends', 'Write backends: { fastly: fastlyBackend({ ... }) }.');
  for (const [name, b] of Object.entries(backends)) {
    if (name === 'store') throw new InvalidOptionsError(`http.backends.${name}`, 'uses the reserved name "store"', 'Pick another name: "store" is our own stores.');
    if (!b || typeof b.purge !== 'function' || !Array.isArray(b.surrogateHeaders)) {
      throw new InvalidOptionsError(
        `http.backends.${name}`,
        'is not a response-cache backend',
        'Use fastlyBackend(), cloudflareBackend(), compositeBackend() or { kind, surrogateHeaders, purge }.',
      );
    }
  }
  const names = o.purge ?? Object.keys(backends);
  if (!Array.isArray(names)) throw new InvalidOptionsError('http.purge', 'must be a list of backend names', 'Write purge: ["fastly"].');
  const purged: { name: string; backend: ResponseCacheBackend }[] = [];
  for (const name of names) {
    if (name === 'store') continue;
    const backend = Object.prototype.hasOwnProperty.call(backends, name) ? backends[name] : undefined;
    if (backend === undefined) throw new UnknownResponseBackendError(String(name), Object.keys(backends));
    purged.push({ name, backend });
  }
  const headerMap = new Map<string, SurrogateHeader>();
  if (o.surrogateHeaders !== false) for (const { backend } of purged) for (const h of backend.surrogateHeaders) headerMap.set(h.name.toLowerCase(), h);
  const surrogateKeyPrefix = o.surrogateKeyPrefix ?? 'tc-';
  if (typeof surrogateKeyPrefix !== 'string' || !/^[A-Za-z0-9_-]{0,32}$/.test(surrogateKeyPrefix)) {
    throw new InvalidOptionsError('http.surrogateKeyPrefix', `is ${JSON.stringify(surrogateKeyPrefix)}`, 'Use up to 32 letters, digits, "-" or "_".');
  }
  if (o.userId !== undefined && typeof o.userId !== 'function')
    throw new InvalidOptionsError('http.userId', 'must be a function', 'Write userId: (req) => req.user?.id.');
  if (o.ttl !== undefined && (typeof o.ttl !== 'number' || !(o.ttl >= 0))) throw new InvalidOptionsError('http.ttl', `is ${String(o.ttl)}`, 'Give milliseconds >= 0.');
  const maxBodyBytes = o.maxBodyBytes ?? 5 * 1024 * 1024;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1)
    throw new InvalidOptionsError('http.maxBodyBytes', `is ${String(maxBodyBytes)}`, 'Give a positive number of bytes.');
  const tenantHeaders = o.tenantHeaders ?? ['x-tenant-id'];
  if (!Array.isArray(tenantHeaders) || tenantHeaders.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) {
    throw new InvalidOptionsError('http.tenantHeaders', 'must be a list of header names', 'Write tenantHeaders: ["x-tenant-id"] (or [] when the tenant is in the host).');
  }
  const h = o.headers ?? {};
  return {
    backends,
    purged,
    surrogateHeaders: [...headerMap.values()],
    surrogateKeyPrefix,
    userId: o.userId ?? defaultUserId,
    ttl: o.ttl,
    headers: { xCache: h.xCache ?? true, age: h.age ?? true, etag: h.etag ?? true },
    maxBodyBytes,
    tenantHeaders: tenantHeaders.map((x) => x.toLowerCase()),
  };
}

/** What the interceptor and the response cache set-up read of the module options (`TENANT_CACHE_OPTIONS`). */
export interface HttpModuleOptions {
  readonly http?: NormalizedHttpOptions;
}
