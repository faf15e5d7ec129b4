import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule, type Provider } from '@nestjs/common';
import { TenantContextMiddleware } from './context/tenant-context.middleware.js';
import { TenantGuard } from './context/tenant.guard.js';
import { DiscoveryModule } from '@nestjs/core';
import { TenantCacheExplorer } from './decorators/tenant-cache.explorer.js';
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
];
const exported = [TENANT_CACHE_OPTIONS, TenantCacheService, CacheEngine, TenantGuard];

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
    return extend(super.forRoot(options));
  }

  static forRootAsync(options: typeof TENANT_CACHE_ASYNC_OPTIONS_TYPE): DynamicModule {
    return extend(super.forRootAsync(options));
  }
}

function extend(base: DynamicModule): DynamicModule {
  return {
    ...base,
    imports: [...(base.imports ?? []), DiscoveryModule],
    providers: [...(base.providers ?? []), ...providers],
    exports: [...(base.exports ?? []), ...exported],
  };
}
