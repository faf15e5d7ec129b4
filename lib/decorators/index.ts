export { CacheResult, type CacheResultOptions, type CacheResultDecorator } from './cache-result.decorator.js';
export { CacheEvict, type CacheEvictOptions, type CacheEvictDecorator } from './cache-evict.decorator.js';
export { TenantCacheExplorer } from './tenant-cache.explorer.js';
export { TenantCacheMetadataAccessor } from './tenant-cache-metadata.accessor.js';
export { CACHE_RESULT_METADATA, CACHE_EVICT_METADATA } from './tenant-cache-decorators.constants.js';
