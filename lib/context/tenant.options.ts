import type { TenantClsStore } from './tenant-cls.js';
import type { TenantIdRules } from './tenant-id.validator.js';
import type { TenantRequest, TenantResolver } from './tenant-resolver.interface.js';

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

/** What `TenantGuard` and `TenantCacheService` read of the module options (`TENANT_CACHE_OPTIONS`): the `tenant` group. */
export interface TenantGuardOptions {
  readonly tenant: TenantOptions;
}
