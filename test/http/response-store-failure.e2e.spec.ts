import 'reflect-metadata';
import { Controller, Get, Module, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResponse, TenantCacheInterceptor, TenantCacheModule, TenantContext, TenantGuard, redisStore, versioned } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { ADAPTERS, CapturingLogger, type RunningApp, startApp } from './http-app.js';

let runs = 0;

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class ReportController {
  @CacheResponse({ ttl: 60_000, tags: ['reports', versioned('reports-v')] })
  @Get('report')
  report() {
    return { run: ++runs, tenant: TenantContext.current() };
  }
}

function appFor(url: string): Type {
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        keyPrefix: 'resp-fail:',
        stores: { default: redisStore({ url, commandTimeout: 300 }) },
        versionCacheTtl: 0,
      }),
    ],
    controllers: [ReportController],
    providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
  })
  class FailApp {}
  return FailApp;
}

describe.each(ADAPTERS)('cached responses when Redis stops answering (%s)', (adapter) => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  const logger = new CapturingLogger();

  beforeAll(async () => {
    redis = await startRedisServer();
    app = await startApp(adapter, appFor(redis.url), { logger });
  });
  afterAll(async () => {
    redis.resume();
    await app.close();
    await redis.stop();
  });

  it('serves every request from the handler (200, never a 500) while the store is frozen, logged; hits again once it is back', async () => {
    const get = () => app.call('/report', { headers: { 'x-tenant-id': 'acme' } });
    expect((await get()).headers['x-cache']).toBe('MISS');
    expect((await get()).headers['x-cache']).toBe('HIT');
    redis.pause();
    logger.lines.length = 0;
    const before = runs;
    const during = await Promise.all([get(), get(), get()]);
    for (const r of during) {
      expect(r.status).toBe(200);
      expect(r.body.tenant).toBe('acme');
    }
    expect(runs).toBeGreaterThan(before);
    expect(logger.lines.some((l) => l.level === 'warn' && /Cache store "default" failed/.test(l.message))).toBe(true);
    redis.resume();
    let back = await get();
    for (let i = 0; i < 20 && back.headers['x-cache'] !== 'HIT'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      back = await get();
    }
    expect(back.status).toBe(200);
    expect(back.headers['x-cache']).toBe('HIT');
  });
});
