import type { HttpCacheOptions, NormalizedHttpOptions } from './http/http.options.js';
import type { CodecOptions, NormalizedCodecOptions } from './codec/codec.options.js';
import type { TenantRequest, TenantResolver } from './context/tenant-resolver.interface.js';
import type { TenantClsStore } from './context/tenant-cls.js';
import type { TenantIdRules } from './context/tenant-id.validator.js';
import type { StoreDefinition } from './stores/cache-store.interface.js';
import type { InvalidationModuleOptions, NormalizedInvalidationOptions } from './invalidation/invalidation.options.js';

/**
 * How tenants are found on a request, checked and authorized. `TUser` is the type of `request.user`
 * your auth guard sets, given to `authorize` (default `unknown`).
 *
 * @example
 * const tenant: TenantOptions<JwtUser> = { authorize: (user, tenantId) => user.orgs.includes(tenantId) };
 */
export interface TenantOptions<TUser = unknown> extends TenantIdRules {
  /** Where the tenant comes from; several are tried in order. Default: the `x-tenant-id` header. */
  resolver?: TenantResolver | readonly TenantResolver[];
  /** Rejects unknown tenants (403) even when the id is well-formed. */
  isKnownTenant?: (tenantId: string) => boolean | Promise<boolean>;
  /**
   * Called once per request when it carries an authenticated user (`request.user`), whatever the
   * order of the guards: return false to refuse (403). Required to trust a client-controlled source
   * (header, subdomain, param) on authenticated routes. Prefer a synchronous answer (memberships on
   * the user) when TenantGuard may run before the auth guard; see docs/tenancy.md.
   */
  // NOTE: a method signature, so that TenantOptions<JwtUser> stays assignable to TenantOptions (forRoot's parameter).
  authorize?(user: TUser, tenantId: string, request: TenantRequest): boolean | Promise<boolean>;
  /** Open a tenant scope for every HTTP request with a middleware. Default true. */
  middleware?: boolean;
  /**
   * An existing nestjs-cls context (`{ store: clsService, key: 'tenantId' }`): the service reads the
   * tenant there when no TenantContext scope is open, and TenantGuard writes the tenant it checked.
   */
  cls?: { store: TenantClsStore; key?: string };
}

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
  provideCacheManager: boolean;
  tagIndex: 'store' | 'none';
  /** Codec of each store alias (module options merged with the store's). Missing = plain. */
  codec?: Readonly<Record<string, NormalizedCodecOptions>>;
  /** The `invalidation` group (missing = defaults: inline and background dispatchers, `log`). */
  invalidation?: NormalizedInvalidationOptions;
  /** The `http` group (missing = defaults: no CDN backend). */
  http?: NormalizedHttpOptions;
}
