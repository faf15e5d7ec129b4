/** Log texts of the decorators' explorer. */

export const notStaticProvider = (method: string): string =>
  `${method} carries a cache decorator but its provider is request-scoped or transient (or depends on one): it is NOT cached. ` +
  'Move the cached method to a singleton provider.';

export const onController = (method: string): string =>
  `${method} carries a cache decorator but is a controller method: controllers are not wrapped. ` + 'Cache the service method it calls, or use the HTTP response cache.';

export const evictionFailed = (method: string, what: string, error: Error): string =>
  `@CacheEvict of ${method} could not invalidate ${what}: ${error.message}. The method's result stands; the entries may be stale until they expire.`;

export const alreadyWrapped = (method: string): string =>
  `${method} is already wrapped by another TenantCacheModule instance: import TenantCacheModule.forRoot() once (isGlobal: true) ` +
  'so that one cache serves every module.';
