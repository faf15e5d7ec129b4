export { TenantCacheHealthIndicator, type TenantCacheHealthOptions, type StoreHealth } from './tenant-cache.health.js';
