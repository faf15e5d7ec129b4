export {
  TenantCacheManager,
  type TenantCacheManagerEvents,
  type TenantCacheManagerWrapOptions,
  type TenantCacheManagerRawWrapOptions,
  type TenantCacheManagerRawEntry,
} from './tenant-cache-manager.js';
export { CACHE_MANAGER_TOKEN, CacheManagerConflictCheck, cacheManagerProviders } from './cache-manager.provider.js';
