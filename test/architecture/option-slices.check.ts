// Compiled by `npm run typecheck` (never run): each folder reads its own slice of the module options,
// injected with TENANT_CACHE_OPTIONS; the normalized options the module provides must fit every slice.
import type { TenantGuardOptions } from '../../lib/context/tenant.options.js';
import type { CacheManagerProviderOptions } from '../../lib/interop/cache-manager.provider.js';
import type { InvalidationRegistryOptions } from '../../lib/invalidation/invalidation.registry.js';
import type { NormalizedTenantCacheOptions } from '../../lib/tenant-cache.options.js';

declare const options: NormalizedTenantCacheOptions;
export const tenantGuard: TenantGuardOptions = options;
export const cacheManagerProvider: CacheManagerProviderOptions = options;
export const invalidationRegistry: InvalidationRegistryOptions = options;
