/** Texts of the cache-manager interop's logs and start-up errors, kept in one place. */
export const InteropMessages = {
  asyncFlagMissing: 'is true inside the forRootAsync factory, but the CACHE_MANAGER provider is decided before the factory runs',
  asyncFlagFix: 'Write it next to useFactory: TenantCacheModule.forRootAsync({ provideCacheManager: true, useFactory, inject }).',
  conflict: (count: number) =>
    `Another CACHE_MANAGER provider is registered (${count} besides TenantCacheModule's), most likely CacheModule of ` +
    '@nestjs/cache-manager. Code that resolves that one gets a cache shared by every tenant. Remove CacheModule: ' +
    'TenantCacheModule.forRoot({ provideCacheManager: true }) provides CACHE_MANAGER, tenant-isolated.',
};
