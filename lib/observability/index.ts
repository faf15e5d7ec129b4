export type { CacheStats, ScopeStats, StoreStats, RequestStats } from './cache-stats.js';
export type { CacheRequestResult, InvalidationKind } from './scope-counters.js';
export type { MetricsOptions, TenantLabel } from './observability.options.js';
