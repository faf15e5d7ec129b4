export type { CacheStats, ScopeStats, StoreStats, RequestStats } from './cache-stats.js';
export type { CacheRequestResult, InvalidationKind } from './scope-counters.js';
export type { MetricsOptions, TenantLabel } from './observability.options.js';
export { TENANT_CACHE_CHANNELS, type RequestMessage as TenantRequestMessage } from './diagnostics.js';
