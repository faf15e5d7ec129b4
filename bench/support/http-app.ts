/**
 * The Nest application the HTTP bench loads: one route per case, all behind `TenantGuard` (tenant from
 * the `x-tenant-id` header), all returning the same ~1 KB JSON body with no data wait, on Express or
 * Fastify. Used in the bench process (bench/http.bench.ts) and as a child process of its own for the
 * profile (bench/support/http-server.ts).
 *
 * Routes: `/ceiling` (no cache: the framework's limit for this body), `/nest-memory` and `/nest-redis`
 * (`@nestjs/cache-manager`'s `CacheInterceptor` on cache-manager 7 over Keyv memory / `@keyv/redis`),
 * `/ours-memory` and `/ours-redis` (`TenantCacheInterceptor` + `@CacheResponse` on `memoryStore()` /
 * `redisStore({ url })`), and the two-tier pair: `/nest-tiered` (Nest's interceptor on cache-manager 7
 * with two stores, Keyv memory in front of `@keyv/redis`: its `get` answers from the first store that
 * holds the key) and `/ours-tiered` (`tieredStore({ l1: memoryStore(), l2: redisStore({ url }) })`, its
 * coherence channel on). The Redis and tiered routes exist only when a Redis URL is given.
 */
import 'reflect-metadata';
import KeyvRedis from '@keyv/redis';
import { CACHE_MANAGER, CacheInterceptor, CacheModule, CacheTTL } from '@nestjs/cache-manager';
import { Controller, Get, Inject, Injectable, type INestApplication, Module, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD, NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { type Cache, createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import { CacheResponse, TenantCacheInterceptor, TenantCacheModule, TenantGuard, memoryStore, redisStore, type StoreDefinition, tieredStore } from '../../lib/index.js';

export type Platform = 'express' | 'fastify';

/** The header every request carries; TenantGuard reads the tenant from it (its default source). */
export const TENANT_HEADER = { 'x-tenant-id': 'acme' };

/** A catalogue page of 8 products: 1,018 bytes of JSON. */
export const BODY = {
  page: 1,
  total: 8,
  items: Array.from({ length: 8 }, (_, i) => ({
    id: `prod-${1000 + i}`,
    name: `Product number ${i}`,
    price: 19.99 + i,
    currency: 'EUR',
    tags: ['catalogue', 'featured'],
    inStock: i % 2 === 0,
  })),
};

const TTL = 600_000;
const NEST_REDIS_CACHE = Symbol('NEST_REDIS_CACHE');
const NEST_TIERED_CACHE = Symbol('NEST_TIERED_CACHE');

/** Nest's own interceptor, unchanged, on a second cache-manager (the `@keyv/redis` one). */
@Injectable()
class NestRedisCacheInterceptor extends CacheInterceptor {
  constructor(@Inject(NEST_REDIS_CACHE) cache: Cache, reflector: Reflector) {
    super(cache, reflector);
  }
}

/** Nest's own interceptor, unchanged, on a third cache-manager (Keyv memory + `@keyv/redis`). */
@Injectable()
class NestTieredCacheInterceptor extends CacheInterceptor {
  constructor(@Inject(NEST_TIERED_CACHE) cache: Cache, reflector: Reflector) {
    super(cache, reflector);
  }
}

@Controller()
class MemoryRoutes {
  @Get('ceiling')
  ceiling() {
    return BODY;
  }

  @UseInterceptors(CacheInterceptor)
  @CacheTTL(TTL)
  @Get('nest-memory')
  nestMemory() {
    return BODY;
  }

  @UseInterceptors(TenantCacheInterceptor)
  @CacheResponse({ ttl: TTL, scope: 'tenant' })
  @Get('ours-memory')
  oursMemory() {
    return BODY;
  }
}

@Controller()
class RedisRoutes {
  @UseInterceptors(NestRedisCacheInterceptor)
  @CacheTTL(TTL)
  @Get('nest-redis')
  nestRedis() {
    return BODY;
  }

  @UseInterceptors(TenantCacheInterceptor)
  @CacheResponse({ ttl: TTL, scope: 'tenant', store: 'redis' })
  @Get('ours-redis')
  oursRedis() {
    return BODY;
  }

  @UseInterceptors(NestTieredCacheInterceptor)
  @CacheTTL(TTL)
  @Get('nest-tiered')
  nestTiered() {
    return BODY;
  }

  @UseInterceptors(TenantCacheInterceptor)
  @CacheResponse({ ttl: TTL, scope: 'tenant', store: 'tiered' })
  @Get('ours-tiered')
  oursTiered() {
    return BODY;
  }
}

/** A running bench server. */
export interface HttpBenchServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the app on `platform` on a free loopback port. With `redisUrl`, the Redis and tiered routes are
 * added; every cache writes under `prefix` there (the tier's coherence channel is named after it too).
 */
export async function startHttpApp(platform: Platform, redisUrl: string | undefined, prefix: string): Promise<HttpBenchServer> {
  const keyvRedis = (namespace: string) => new Keyv({ store: new KeyvRedis(redisUrl!, { namespace: `${prefix}${namespace}` }) });
  const nestRedis = redisUrl ? createCache({ stores: [keyvRedis('keyv')] }) : undefined;
  const nestTiered = redisUrl ? createCache({ stores: [new Keyv(), keyvRedis('keyv-tiered')] }) : undefined;
  const controllers: Type[] = redisUrl ? [MemoryRoutes, RedisRoutes] : [MemoryRoutes];
  const redisStores: Record<string, StoreDefinition> = redisUrl
    ? {
        redis: redisStore({ url: redisUrl }),
        tiered: tieredStore({ l1: memoryStore({ maxEntries: 10_000 }), l2: redisStore({ url: redisUrl }), channel: `${prefix}l1` }),
      }
    : {};
  class HttpBenchModule {}
  Module({
    imports: [
      TenantCacheModule.forRoot({
        stores: { default: memoryStore({ maxEntries: 10_000 }), ...redisStores },
        keyPrefix: `${prefix}tc:`,
      }),
      CacheModule.register({ ttl: TTL }),
    ],
    controllers,
    providers: [
      { provide: APP_GUARD, useClass: TenantGuard },
      ...(redisUrl
        ? [
            { provide: NEST_REDIS_CACHE, useValue: nestRedis },
            NestRedisCacheInterceptor,
            { provide: NEST_TIERED_CACHE, useValue: nestTiered },
            NestTieredCacheInterceptor,
          ]
        : []),
    ],
  })(HttpBenchModule);
  const app: INestApplication =
    platform === 'fastify'
      ? await NestFactory.create(HttpBenchModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(HttpBenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    url,
    async close() {
      const nestMemory = app.get<Cache>(CACHE_MANAGER);
      await app.close();
      await nestMemory.disconnect();
      await nestRedis?.disconnect();
      await nestTiered?.disconnect();
    },
  };
}
