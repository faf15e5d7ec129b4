import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule, type Provider } from '@nestjs/common';
import { TenantContextMiddleware } from './context/tenant-context.middleware.js';
import { TenantGuard } from './context/tenant.guard.js';
import { DiscoveryModule } from '@nestjs/core';
import { TenantCacheExplorer } from './decorators/tenant-cache.explorer.js';
import { ResponseCacheSetup } from './http/response-cache.setup.js';
import { TenantCacheMetadataAccessor } from './decorators/tenant-cache-metadata.accessor.js';
import { CacheEngine } from './service/cache-engine.js';
import { TenantCacheService } from './service/tenant-cache.service.js';
import { StoreRegistry } from './stores/store-registry.js';
import { TENANT_CACHE_OPTIONS } from './tenant-cache.constants.js';
import {
  ConfigurableTenantCacheModule,
  RAW_TENANT_CACHE_OPTIONS,
  type TENANT_CACHE_ASYNC_OPTIONS_TYPE,
  type TENANT_CACHE_OPTIONS_TYPE,
} from './tenant-cache.module-definition.js';
import type { NormalizedTenantCacheOptions, TenantCacheModuleOptions } from './tenant-cache.options.js';
import { normalizeOptions } from './tenant-cache.options-validator.js';
import { cacheManagerProviders } from './interop/cache-manager.provider.js';
import { EntityChangeBus } from './invalidation/entity-change.bus.js';
import { InvalidationBusHost } from './invalidation/invalidation-bus.host.js';
import { InvalidationRegistry } from './invalidation/invalidation.registry.js';
import { InvalidationRunner } from './invalidation/invalidation.runner.js';

const providers: Provider[] = [
  {
    provide: TENANT_CACHE_OPTIONS,
    useFactory: (raw: TenantCacheModuleOptions) => normalizeOptions(raw),
    inject: [RAW_TENANT_CACHE_OPTIONS],
  },
  StoreRegistry,
  CacheEngine,
  TenantCacheService,
  TenantGuard,
  TenantCacheMetadataAccessor,
  TenantCacheExplorer,
  InvalidationRegistry,
  InvalidationRunner,
  EntityChangeBus,
  InvalidationBusHost,
  ResponseCacheSetup,
];
const exported = [TENANT_CACHE_OPTIONS, TenantCacheService, CacheEngine, TenantGuard, EntityChangeBus];

/**
 * Tenant-isolated caching for a Nest application. Import once, in the root module.
 *
 * @example
 * TenantCacheModule.forRoot({ isGlobal: true, stores: { default: redisStore({ url: process.env.REDIS_URL }) } })
 */
@Module({})
export class TenantCacheModule extends ConfigurableTenantCacheModule implements NestModule {
  constructor(@Inject(TENANT_CACHE_OPTIONS) private readonly options: NormalizedTenantCacheOptions) {
    super();
  }

  /** Opens a tenant scope for every HTTP request (Express and Fastify) unless `tenant.middleware: false`. */
  configure(consumer: MiddlewareConsumer): void {
    if (this.options.tenant.middleware) consumer.apply(TenantContextMiddleware).forRoutes('{*splat}');
  }

  static forRoot(options: typeof TENANT_CACHE_OPTIONS_TYPE = {}): DynamicModule {
    return extend(super.forRoot(options), options.provideCacheManager === true);
  }

  /**
   * Options from a factory. `provideCacheManager` goes next to `useFactory` (not in its result): the
   * `CACHE_MANAGER` provider is decided before the factory runs.
   */
  static forRootAsync(options: typeof TENANT_CACHE_ASYNC_OPTIONS_TYPE & { provideCacheManager?: boolean }): DynamicModule {
    const { provideCacheManager, ...rest } = options;
    return extend(super.forRootAsync(rest), provideCacheManager === true);
  }
}

function extend(base: DynamicModule, provideCacheManager: boolean): DynamicModule {
  const interop = cacheManagerProviders(provideCacheManager);
  return {
    ...base,
    imports: [...(base.imports ?? []), DiscoveryModule],
    providers: [...(base.providers ?? []), ...providers, ...interop.providers],
    exports: [...(base.exports ?? []), ...exported, ...interop.exports],
  };
}
