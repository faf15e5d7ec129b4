import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Injectable, Module, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import {
  CacheEvict,
  CacheResponse,
  CacheResult,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantGuard,
  redisInvalidationBus,
  memoryStore,
  redisStore,
  tieredStore,
  versioned,
} from '../../lib/index.js';

/** The intervals of the application under fault: every internal cache interval is small, so a fault outlives each several times. */
/** The store the application runs on: Redis, or a memory L1 in front of it (tieredStore). */
export type StoreTier = 'redis' | 'tiered';

export const FAULT_TIMINGS = {
  commandTimeout: 200,
  connectTimeout: 200,
  versionCacheTtl: 100,
  breakerResetAfter: 200,
  breakerFailureThreshold: 3,
  /** The Redis store's reconnect back-off cap (lib/stores/redis/redis-connection.ts RECONNECT_CAP_MS). */
  reconnectCap: 1000,
} as const;

/** A provider with a cached method and a method that evicts it. */
@Injectable()
export class FaultCatalog {
  runs = 0;

  @CacheResult({ ttl: 60_000 })
  async product(id: string): Promise<string> {
    return `${id}#${++this.runs}`;
  }

  @CacheResult({ ttl: 60_000, grace: 60_000, staleWhileRevalidate: 30_000, refreshAhead: 0.8, ttlJitter: 0.1, timeout: { soft: 50, hard: 5000 } })
  async resilientProduct(id: string): Promise<string> {
    return `${id}#${++this.runs}`;
  }

  @CacheResult({ ttl: 60_000, l1: false })
  async remoteProduct(id: string): Promise<string> {
    return `${id}#${++this.runs}`;
  }

  @CacheEvict({ method: 'product' })
  async update(id: string): Promise<string> {
    return `updated ${id}`;
  }

  @CacheEvict({ method: 'product', tags: ['t', versioned('v')] })
  async retag(id: string): Promise<string> {
    return `retagged ${id}`;
  }
}

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class ReportController {
  runs = 0;

  @CacheResponse({ ttl: 60_000 })
  @Get('report')
  report() {
    return { run: ++this.runs };
  }

  @CacheResponse({ ttl: 60_000, l1: false })
  @Get('remote-report')
  remoteReport() {
    return { run: ++this.runs };
  }

  @CacheResponse({ ttl: 60_000, grace: 60_000, timeout: { soft: 50, hard: 5000 } })
  @Get('grace-report')
  graceReport() {
    return { run: ++this.runs };
  }

  @CacheResponse({ ttl: 60_000, cacheControl: { staleWhileRevalidate: 60 } })
  @Get('swr-report')
  swrReport() {
    return { run: ++this.runs };
  }

  @CacheResponse({ ttl: 60_000, staleIfError: 60_000, tags: ['reports', versioned('reports-v')] })
  @Get('stale-report')
  staleReport() {
    return { run: ++this.runs };
  }
}

/**
 * The root module of one application under fault: a real Redis store, the drop-in CACHE_MANAGER, a guard, a
 * cached route, and the cross-instance invalidation bus on the same Redis (its connections live through the
 * fault and are closed with the app; nothing travels on it, the Redis store being shared).
 */
export function faultAppModule(
  url: string,
  onWriteError: 'throw' | 'ignore',
  failureThreshold: number = FAULT_TIMINGS.breakerFailureThreshold,
  tier: StoreTier = 'redis',
): Type {
  const redis = redisStore({
    url,
    commandTimeout: FAULT_TIMINGS.commandTimeout,
    connectTimeout: FAULT_TIMINGS.connectTimeout,
    breaker: { failureThreshold, resetAfter: FAULT_TIMINGS.breakerResetAfter },
    // Every write also goes through a tenant budget (never reached): its counts must fail like the rest.
    perTenant: { maxEntries: 1_000_000_000 },
  });
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        stores: {
          default: tier === 'tiered' ? tieredStore({ l1: memoryStore(), l2: redis, channel: `fault-l1:${randomUUID()}` }) : redis,
        },
        keyPrefix: `fault-${randomUUID().slice(0, 8)}:`,
        versionCacheTtl: FAULT_TIMINGS.versionCacheTtl,
        onWriteError,
        provideCacheManager: true,
        invalidation: { bus: redisInvalidationBus({ url }) },
      }),
    ],
    controllers: [ReportController],
    providers: [FaultCatalog, { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class FaultAppModule {}
  return FaultAppModule;
}
