/** Log texts of the response cache. */

export const noTenant = (route: string): string =>
  `${route} has @CacheResponse but the request has no tenant: served uncached (X-Cache: BYPASS). ` +
  'Resolve the tenant (TenantGuard) or declare scope: "shared" when the response is the same for every tenant.';

export const notCached = (route: string, reason: string): string => `Not caching the response of ${route}: ${reason}.`;

export const keyFailed = (route: string, error: Error): string => `${route}: the response key could not be built (${error.message}); served uncached.`;

export const purgeFailed = (backend: string, error: Error): string =>
  `CDN purge through "${backend}" failed: ${error instanceof AggregateError ? error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join(' | ') : error.message}`;

export const streamTooLarge = (limit: number): string => `the streamed body exceeds http.maxBodyBytes (${limit} bytes)`;

export const ownsResponse = (route: string): string =>
  `${route} has @CacheResponse but sends its response itself (@Res() or @Next() without passthrough, @Sse, @Render or @Redirect): it is never cached. ` +
  'Use @Res({ passthrough: true }) and return the body, or drop @CacheResponse from this route.';
