import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { type CanActivate, Controller, Get, Injectable, Module, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  CacheResponse,
  CacheResult,
  TenantCacheAdminModule,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantGuard,
  memoryStore,
  redisInvalidationBus,
  redisStore,
  tieredStore,
} from '../../lib/index.js';
import { FAULT_TIMINGS, type StoreTier } from './fault-app.js';

/** The master secret of the admin fault app (tenant data keys are wrapped under it, so `shredTenant` has something to destroy). */
export const ADMIN_FAULT_SECRET = 'admin-fault-matrix-secret-0123456789abcdef';

/** Lets every request through: the operator check of a real app, reduced to what the fault matrix needs. */
@Injectable()
export class AllowOperator implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/** A `@CacheResult` method, so the admin has a method to count and flush. */
@Injectable()
export class AdminFaultCatalog {
  runs = 0;

  @CacheResult({ ttl: 60_000, tags: ['catalog'] })
  async product(id: string): Promise<string> {
    return `${id}#${++this.runs}`;
  }
}

/** A cached route, so the admin has HTTP responses to count and flush. */
@Controller()
@UseInterceptors(TenantCacheInterceptor)
class AdminFaultPages {
  runs = 0;

  @CacheResponse({ ttl: 60_000 })
  @Get('page')
  page() {
    return { run: ++this.runs };
  }
}

/**
 * The module options of the admin fault app (the CLI's config module, in cli-fault-run.ts, gives the same Redis
 * store). `tiered`: a memory L1 in front of it, coherent across the instances of one key prefix.
 */
export function adminFaultCacheOptions(
  url: string,
  keyPrefix: string,
  onWriteError: 'throw' | 'ignore',
  failureThreshold: number = FAULT_TIMINGS.breakerFailureThreshold,
  tier: StoreTier = 'redis',
) {
  const redis = redisStore({
    url,
    commandTimeout: FAULT_TIMINGS.commandTimeout,
    connectTimeout: FAULT_TIMINGS.connectTimeout,
    breaker: { failureThreshold, resetAfter: FAULT_TIMINGS.breakerResetAfter },
  });
  return {
    stores: { default: tier === 'tiered' ? tieredStore({ l1: memoryStore(), l2: redis, channel: `${keyPrefix}l1` }) : redis },
    keyPrefix,
    versionCacheTtl: FAULT_TIMINGS.versionCacheTtl,
    onWriteError,
    codec: { encryption: { secrets: [ADMIN_FAULT_SECRET], tenantKeys: 'wrapped' as const } },
  };
}

/**
 * An application under fault with `TenantCacheAdminModule`: a real Redis store (the fault matrix's timings),
 * per-tenant wrapped data keys, a `@CacheResult` method, a `@CacheResponse` route and the invalidation bus on
 * the same Redis.
 */
export function adminFaultAppModule(
  url: string,
  onWriteError: 'throw' | 'ignore',
  failureThreshold?: number,
  keyPrefix = `afault-${randomUUID().slice(0, 8)}:`,
  tier: StoreTier = 'redis',
): Type {
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        ...adminFaultCacheOptions(url, keyPrefix, onWriteError, failureThreshold, tier),
        invalidation: { bus: redisInvalidationBus({ url }) },
      }),
      TenantCacheAdminModule.forRoot({ guards: [AllowOperator], exposeValues: true }),
    ],
    controllers: [AdminFaultPages],
    providers: [AdminFaultCatalog, { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class AdminFaultAppModule {}
  return AdminFaultAppModule;
}
