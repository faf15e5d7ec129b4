import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Module, UseInterceptors } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CacheStore,
  CacheResponse,
  type StoreDefinition,
  TenantCacheInterceptor,
  TenantCacheModule,
  memoryStore,
  redisStore,
  tieredStore,
} from '../../lib/index.js';
import { ADAPTERS, type RunningApp, startApp } from '../http/http-app.js';
import { sharedRedisUrl } from '../support/redis-server.js';

/** `@CacheResponse` on a tieredStore: a route hit is an L1 hit; with `l1: false` every hit reads Redis. */
const count = { reads: 0 };
let runs = 0;

function counted(def: StoreDefinition): StoreDefinition {
  return {
    ...def,
    create: async (alias, context) => {
      const store = (await def.create(alias, context)) as CacheStore;
      const get = store.get.bind(store);
      (store as { get: CacheStore['get'] }).get = (key) => (count.reads++, get(key));
      return store;
    },
  };
}

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class TieredController {
  @CacheResponse({ ttl: 60_000, scope: 'shared' })
  @Get('local')
  local() {
    return { run: ++runs };
  }

  @CacheResponse({ ttl: 60_000, scope: 'shared', l1: false })
  @Get('remote')
  remote() {
    return { run: ++runs };
  }
}

@Module({
  imports: [
    TenantCacheModule.forRoot({
      stores: {
        default: tieredStore({ l1: memoryStore(), l2: counted(redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 })), channel: `tiered-http:${randomUUID()}` }),
      },
      keyPrefix: `tiered-http-${randomUUID().slice(0, 8)}:`,
    }),
  ],
  controllers: [TieredController],
})
class TieredHttpApp {}

describe.each(ADAPTERS)('@CacheResponse on a tieredStore (%s)', (adapter) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(adapter, TieredHttpApp);
  });
  afterAll(() => app?.close());

  it('a hit is served from the L1; with l1: false every hit reads Redis', async () => {
    for (const path of ['/local', '/remote']) {
      // NOTE: MISS on the first platform, a Redis hit on the second (same keys): either way then cached.
      const first = await app.call(path);
      await app.call(path); // the write's own message or fill settles
      const before = count.reads;
      for (let i = 0; i < 3; i++) {
        const r = await app.call(path);
        expect(r.headers['x-cache']).toBe('HIT');
        expect(r.body).toEqual(first.body);
      }
      expect(count.reads - before, path).toBe(path === '/local' ? 0 : 3);
    }
  });
});
