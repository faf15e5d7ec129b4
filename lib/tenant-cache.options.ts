import type { HttpCacheOptions, NormalizedHttpOptions } from './http/http.options.js';
import type { CodecOptions, NormalizedCodecOptions } from './codec/codec.options.js';
import type { TenantOptions } from './context/tenant.options.js';
import type { StoreDefinition } from './stores/cache-store.interface.js';
import type { InvalidationModuleOptions, NormalizedInvalidationOptions } from './invalidation/invalidation.options.js';
import type { SingleFlightOptions, SingleFlightSettings } from './engine/single-flight.options.js';
import type { MetricsOptions, NormalizedMetricsOptions } from './observability/observability.options.js';

/** Options of `TenantCacheModule.forRoot`. `TUser`: the type of `request.user`, see `TenantOptions`. */
export interface TenantCacheModuleOptions<TUser = unknown> {
  /** Named stores; `default` is required when given. Default: `{ default: memoryStore() }`. */
  stores?: Record<string, StoreDefinition>;
  /** TTL in ms when a call gives none. Default 0 = no expiry. */
  defaultTtl?: number;
  /** Prefix of every physical key (letters, digits, `_-.:`). Default `tc:`. */
  keyPrefix?: string;
  tenant?: TenantOptions<TUser>;
  /** Routes a tenant to a store alias; `undefined` = `default`. */
  storeFor?: (tenantId: string) => string | undefined;
  /** What a failed write does: `throw` a `StoreUnavailableError` (default) or `ignore` it (logged). */
  onWriteError?: 'throw' | 'ignore';
  /**
   * How long a process trusts its copy of a tenant's generation or a tag version read from a shared
   * store (ms). Another instance's `invalidateAll` is seen after at most this long. Default 1000.
   */
  versionCacheTtl?: number;
  /**
   * Fail-safe grace of every read-through (`getOrSet`, `@CacheResult`) that gives none (ms): an entry is
   * kept that long past its TTL and served stale when the loader fails or times out. Default 0 = none.
   * See docs/decorators.md, "Fail-safe: grace and timeouts".
   */
  grace?: number;
  /**
   * Defaults of every read-through that gives none: `staleWhileRevalidate` (ms an expired entry is served
   * while one background refresh runs), `refreshAhead` (a fraction of the TTL in (0, 1): a hit past it
   * starts one background refresh), `ttlJitter` (a fraction in [0, 1): each key's TTL moves by up to +/-
   * that much). Default 0 = none. See docs/decorators.md, "Stale-while-revalidate, refresh-ahead and TTL jitter".
   */
  staleWhileRevalidate?: number;
  refreshAhead?: number;
  ttlJitter?: number;
  /**
   * Where concurrent misses of one key share one load: `scope: 'process'` (default) or `'cluster'` (one load
   * across every instance sharing the store, the others wait for its value; needs a shared store with
   * leases such as Redis), with `leaseTtl`, `waitTimeout` and `onWaitTimeout`. A call or decorator may give
   * its own. See docs/decorators.md, "Stampedes".
   */
  singleFlight?: SingleFlightOptions;
  /** Provide `CACHE_MANAGER` (of `@nestjs/cache-manager`) as a tenant-isolated cache. Default false. */
  provideCacheManager?: boolean;
  /**
   * Where plain (non-versioned) tags are indexed: `store` keeps a tag -> keys set in the store so that
   * `invalidateTag` can find the entries (default); `none` records nothing, for tags used only as CDN
   * surrogate keys (invalidate cached entries with versioned tags then).
   */
  tagIndex?: 'store' | 'none';
  /**
   * Compression, encryption, chunking and key hashing of entries (a store's own `codec` wins over it).
   * Default: none of them, and values above 1 MiB chunked.
   */
  codec?: CodecOptions;
  /**
   * Invalidation on entity changes: sources (TypeORM, your own), dispatchers (inline, background,
   * BullMQ), the failure policy, tag rules, and the cross-instance bus. See docs/invalidation.md.
   */
  invalidation?: InvalidationModuleOptions;
  /** HTTP response caching: CDN backends and purges, surrogate keys, per-user ids, headers. See docs/http.md. */
  http?: HttpCacheOptions;
  /**
   * OpenTelemetry metrics and spans, `node:diagnostics_channel` messages and per-tenant stats; `false`
   * turns metrics and spans off. Nothing is loaded or measured unless `@opentelemetry/api` is installed and
   * a meter (tracer) provider is registered before the module starts. See docs/observability.md.
   */
  metrics?: MetricsOptions | false;
}

/** Options after defaults are merged and validation passed. */
export interface NormalizedTenantCacheOptions {
  stores: Record<string, StoreDefinition>;
  defaultTtl: number;
  keyPrefix: string;
  tenant: TenantOptions & { middleware: boolean };
  storeFor?: (tenantId: string) => string | undefined;
  onWriteError: 'throw' | 'ignore';
  versionCacheTtl: number;
  grace: number;
  staleWhileRevalidate: number;
  refreshAhead: number;
  ttlJitter: number;
  singleFlight: SingleFlightSettings;
  provideCacheManager: boolean;
  tagIndex: 'store' | 'none';
  /** Codec of each store alias (module options merged with the store's). Missing = plain. */
  codec?: Readonly<Record<string, NormalizedCodecOptions>>;
  /** The `invalidation` group (missing = defaults: inline and background dispatchers, `log`). */
  invalidation?: NormalizedInvalidationOptions;
  /** The `http` group (missing = defaults: no CDN backend). */
  http?: NormalizedHttpOptions;
  metrics: NormalizedMetricsOptions;
}
