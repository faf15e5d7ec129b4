import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/**
 * The tenant of a request was used synchronously while the check of its user (`tenant.authorize`,
 * which returned a promise) was still running. This happens only when `TenantGuard` ran before the
 * guard that authenticates, and nothing awaited the check before the first cache call.
 */
export class TenantAuthorizationPendingError extends TenantCacheError {
  constructor(tenant: string) {
    super(
      TenantCacheErrorCode.TenantAuthorizationPending,
      `The tenant ${JSON.stringify(tenant)} of this request is not authorized yet: TenantGuard ran before the guard that ` +
        'sets request.user, so tenant.authorize runs at the first use of the tenant, and it returned a promise that a ' +
        'synchronous read cannot wait for. Potential solutions: register the auth guard before TenantGuard ' +
        '(APP_GUARD order, or @UseGuards(AuthGuard, TenantGuard)); or bind TenantCacheInterceptor globally (APP_INTERCEPTOR) ' +
        'or on the route, take the tenant with @CurrentTenant(), or `await TenantContext.authorized()` before the first ' +
        'cache call; or make tenant.authorize synchronous.',
      { tenant },
    );
  }
}
