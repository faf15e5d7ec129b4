import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule, type Provider, type Type } from '@nestjs/common';
import { InvalidOptionsError } from './errors/invalid-options.error.js';
import { optionKeys, unknownKeys } from './tenant-cache.option-keys.js';
import { TenantContextMiddleware } from './context/tenant-context.middleware.js';
import { TenantGuard } from './context/tenant.guard.js';
import { DiscoveryModule } from '@nestjs/core';
import { TenantCacheExplorer } from './decorators/tenant-cache.explorer.js';
import { ResponseCacheSetup } from './http/response-cache.setup.js';
import { TenantCacheMetadataAccessor } from './decorators/tenant-cache-metadata.accessor.js';
import { CacheEngine } from './engine/cache-engine.js';
import { TenantCacheService } from './service/tenant-cache.service.js';
import { StoreRegistry } from './engine/store-registry.js';
import { TENANT_CACHE_OPTIONS } from './tenant-cache.constants.js';
import {
  ConfigurableTenantCacheModule,
  RAW_TENANT_CACHE_OPTIONS,
  type TENANT_CACHE_ASYNC_OPTIONS_TYPE,
  type TENANT_CACHE_OPTIONS_TYPE,
} from './tenant-cache.module-definition.js';
import type { NormalizedTenantCacheOptions, TenantCacheModuleOptions } from './tenant-cache.options.js';
import { MODULE_OPTION_KEYS, normalizeOptions } from './tenant-cache.options-validator.js';
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
   * Options from a factory (`useFactory` + `inject`), or from a class: `useClass` / `useExisting` naming a
   * provider with `createTenantCacheOptions()` (or cache-manager's `createCacheOptions()`).
   * `provideCacheManager` and `isGlobal` go next to `useFactory` (not in its result): the module's
   * providers are decided before the factory runs. `extraProviders` are registered in the module, so the
   * factory (or the options class) can inject them, as with `@nestjs/cache-manager`'s `registerAsync`.
   */
  static forRootAsync(options: TenantCacheAsyncOptions): DynamicModule {
    const problems = unknownKeys(options, ASYNC_OPTION_KEYS, '', asyncHints());
    if (problems.length > 0) throw new InvalidOptionsError(problems);
    const { provideCacheManager, extraProviders = [], ...rest } = options;
    if (!Array.isArray(extraProviders)) throw new InvalidOptionsError('extraProviders', 'must be a list of providers', 'Write extraProviders: [ConfigService].');
    const { useClass, useExisting, ...plain } = rest;
    const factoryClass = useClass ?? useExisting;
    const base =
      factoryClass === undefined || plain.useFactory !== undefined
        ? super.forRootAsync(plain)
        : super.forRootAsync({
            imports: plain.imports,
            isGlobal: plain.isGlobal,
            inject: [factoryClass],
            useFactory: (factory: object) => optionsFrom(factory, useClass !== undefined ? 'useClass' : 'useExisting'),
          });
    const own: Provider[] = useClass !== undefined && plain.useFactory === undefined ? [{ provide: useClass, useClass }] : [];
    return extend({ ...base, providers: [...(base.providers ?? []), ...own, ...extraProviders] }, provideCacheManager === true);
  }
}

/** Options of `TenantCacheModule.forRootAsync`. */
export type TenantCacheAsyncOptions = Omit<typeof TENANT_CACHE_ASYNC_OPTIONS_TYPE, 'useClass' | 'useExisting'> & {
  /** A class (made a provider of the module) with `createTenantCacheOptions()` or `createCacheOptions()`. */
  useClass?: Type<TenantCacheOptionsFactory>;
  /** An existing provider with `createTenantCacheOptions()` or `createCacheOptions()`. */
  useExisting?: Type<TenantCacheOptionsFactory>;
  /** Provide `CACHE_MANAGER` (decided before the factory runs). */
  provideCacheManager?: boolean;
  /** Providers registered in the module, which `useFactory`'s `inject` (or the options class) can use. */
  extraProviders?: Provider[];
};

/** A class giving the module options: `createTenantCacheOptions()`, or cache-manager's `createCacheOptions()`. */
export type TenantCacheOptionsFactory =
  | { createTenantCacheOptions(): TenantCacheModuleOptions | Promise<TenantCacheModuleOptions> }
  | { createCacheOptions(): TenantCacheModuleOptions | Promise<TenantCacheModuleOptions> };

const ASYNC_OPTION_KEYS = optionKeys<TenantCacheAsyncOptions>({
  imports: true,
  inject: true,
  useFactory: true,
  useClass: true,
  useExisting: true,
  provideInjectionTokensFrom: true,
  isGlobal: true,
  provideCacheManager: true,
  extraProviders: true,
});

function asyncHints(): Record<string, string> {
  const inside = (name: string) => `It is a module option: put it inside what useFactory returns: useFactory: () => ({ ${name}: ... }).`;
  return Object.fromEntries(MODULE_OPTION_KEYS.filter((k) => k !== 'provideCacheManager').map((k) => [k, inside(k)]));
}

/** Calls the options method of a `useClass` / `useExisting` provider, under either name. */
async function optionsFrom(factory: object, option: 'useClass' | 'useExisting'): Promise<TenantCacheModuleOptions> {
  const f = factory as Partial<Record<'createTenantCacheOptions' | 'createCacheOptions', () => TenantCacheModuleOptions | Promise<TenantCacheModuleOptions>>>;
  if (typeof f.createTenantCacheOptions === 'function') return f.createTenantCacheOptions();
  if (typeof f.createCacheOptions === 'function') return f.createCacheOptions();
  throw new InvalidOptionsError(
    option,
    `names ${factory.constructor.name}, and ${factory.constructor.name} has no createTenantCacheOptions() (nor cache-manager's createCacheOptions())`,
    `Add the method: createTenantCacheOptions(): TenantCacheModuleOptions { return { stores, defaultTtl }; }.`,
  );
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
