import { Injectable, Logger, type OnApplicationBootstrap, type Provider } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import { InteropMessages } from './interop.messages.js';
import { TenantCacheManager } from './tenant-cache-manager.js';

/**
 * The token `@nestjs/cache-manager` injects its cache with (`CACHE_MANAGER`), as a constant so that the
 * main entry does not load that package.
 */
export const CACHE_MANAGER_TOKEN = 'CACHE_MANAGER';

/** What the interop reads of the module options (`TENANT_CACHE_OPTIONS`). */
export interface CacheManagerProviderOptions {
  /** `provideCacheManager` of `forRoot`: whether `CACHE_MANAGER` is asked for. */
  readonly provideCacheManager: boolean;
}

/** Logs once at bootstrap when another module (CacheModule) also provides `CACHE_MANAGER`. */
@Injectable()
export class CacheManagerConflictCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('TenantCache');

  constructor(private readonly discovery: DiscoveryService) {}

  onApplicationBootstrap(): void {
    const others = this.discovery
      .getProviders()
      .filter((w) => w.token === CACHE_MANAGER_TOKEN && w.instance !== undefined && !(w.instance instanceof TenantCacheManager));
    if (others.length > 0) this.logger.warn(InteropMessages.conflict(others.length));
  }
}

/**
 * Providers of the cache-manager interop. `TenantCacheManager` is always provided (inject it by class);
 * `CACHE_MANAGER` only when `wired` (`provideCacheManager: true` known when the module is built).
 */
export function cacheManagerProviders(wired: boolean): { providers: Provider[]; exports: (string | typeof TenantCacheManager)[] } {
  const manager: Provider = {
    provide: TenantCacheManager,
    useFactory: (options: CacheManagerProviderOptions, service: TenantCacheService) => {
      if (options.provideCacheManager && !wired) {
        throw new InvalidOptionsError('provideCacheManager', InteropMessages.asyncFlagMissing, InteropMessages.asyncFlagFix);
      }
      return new TenantCacheManager(service);
    },
    inject: [TENANT_CACHE_OPTIONS, TenantCacheService],
  };
  if (!wired) return { providers: [manager], exports: [TenantCacheManager] };
  return {
    providers: [manager, { provide: CACHE_MANAGER_TOKEN, useExisting: TenantCacheManager }, CacheManagerConflictCheck],
    exports: [TenantCacheManager, CACHE_MANAGER_TOKEN],
  };
}
