import { type DynamicModule, Module, type OnApplicationBootstrap, UseGuards, applyDecorators, Controller } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { SkipTenant } from '../context/public-tenant.decorator.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { optionKeys, unknownKeys } from '../tenant-cache.option-keys.js';
import { AdminRoutes } from './admin.controller.js';
import type { TenantCacheAdminModuleOptions } from './tenant-cache-admin.options.js';

const ADMIN_KEYS = optionKeys<TenantCacheAdminModuleOptions>({ guards: true, path: true, exposeValues: true });

/**
 * Opt-in REST routes to inspect and flush one tenant's cached data: its footprint per store, one entry,
 * dry-run counts, and flushes by tenant, tag, method, HTTP responses or key prefix (a flush repeats the
 * tenant id as `confirm`). Behind the guards you give; it refuses to start without one. Import it beside
 * `TenantCacheModule`.
 *
 * @example
 * TenantCacheAdminModule.forRoot({ guards: [AdminOnlyGuard] })
 */
@Module({})
export class TenantCacheAdminModule {
  static forRoot(options: TenantCacheAdminModuleOptions): DynamicModule {
    const problems = unknownKeys(options, ADMIN_KEYS, '');
    if (problems.length > 0) throw new InvalidOptionsError(problems.map((p) => ({ ...p, option: `TenantCacheAdminModule.forRoot(${p.option})` })));
    if (!Array.isArray(options?.guards) || options.guards.length === 0 || options.guards.some((g) => g === undefined || g === null)) {
      throw new InvalidOptionsError(
        'TenantCacheAdminModule.forRoot(guards)',
        'is missing or empty',
        "Give the guard(s) that allow only your operators: guards: [AdminGuard]. The admin routes read and delete any tenant's entries.",
      );
    }
    const path = options.path ?? 'tenant-cache-admin';
    if (typeof path !== 'string' || path.length === 0)
      throw new InvalidOptionsError('TenantCacheAdminModule.forRoot(path)', 'is not a non-empty string', "Write path: 'tenant-cache-admin'.");
    const exposeValues = options.exposeValues === true;

    // A class per module instance: its path and guards are this forRoot's.
    class TenantCacheAdminController extends AdminRoutes implements OnApplicationBootstrap {
      constructor(modules: ModuleRef) {
        super(modules, exposeValues);
      }

      onApplicationBootstrap(): void {
        try {
          this.resolve();
        } catch {
          throw new InvalidOptionsError(
            'TenantCacheAdminModule',
            'finds no TenantCacheModule in the application',
            'Import TenantCacheModule.forRoot(...) in the same application.',
          );
        }
      }
    }
    applyDecorators(Controller(path), UseGuards(...options.guards), SkipTenant())(TenantCacheAdminController);
    Reflect.defineMetadata('design:paramtypes', [ModuleRef], TenantCacheAdminController);
    return { module: TenantCacheAdminModule, controllers: [TenantCacheAdminController] };
  }
}
