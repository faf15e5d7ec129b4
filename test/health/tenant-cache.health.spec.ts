import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantCacheModule, TenantContext, memoryStore, redisStore } from '../../lib/index.js';
import { TenantCacheHealthIndicator } from '../../lib/health/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { type TestHttpModule, bootModule } from '../support/test-module.js';

// TenantCacheHealthIndicator (issue 15, item 5) for @nestjs/terminus, against a redis-server this test
// starts and freezes (SIGSTOP): down within commandTimeout + 500 ms, up again at the first probe after
// it answers.

const COMMAND_TIMEOUT = 300;

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: TenantCacheHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy('cache')]);
  }
}

describe('TenantCacheHealthIndicator', () => {
  let redis: RedisServerHandle;
  let app: TestHttpModule;
  let indicator: TenantCacheHealthIndicator;

  beforeAll(async () => {
    redis = await startRedisServer();
    app = await bootModule({
      http: 'express',
      imports: [
        TerminusModule,
        TenantCacheModule.forRoot({
          keyPrefix: `health-${randomUUID().slice(0, 8)}:`,
          stores: { default: memoryStore(), redis: redisStore({ url: redis.url, commandTimeout: COMMAND_TIMEOUT }) },
          storeFor: () => 'redis',
        }),
      ],
      controllers: [HealthController],
      providers: [TenantCacheHealthIndicator],
    });
    indicator = app.get(TenantCacheHealthIndicator);
  }, 30_000);
  afterAll(async () => {
    redis?.resume();
    await app?.close();
    await redis?.stop();
  });

  it('is up with every store answering, through the terminus endpoint', async () => {
    // The Redis store connects in the background: up once it did.
    let result = await indicator.isHealthy('cache');
    for (let i = 0; i < 50 && result.cache.status !== 'up'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = await indicator.isHealthy('cache');
    }
    expect(result.cache).toMatchObject({
      status: 'up',
      stores: { default: { status: 'up', tier: 'memory' }, redis: { status: 'up', tier: 'redis', breaker: 'closed' } },
    });
    const response = await fetch(`${app.url}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', info: { cache: { status: 'up' } } });
  });

  it(`is down within commandTimeout + 500 ms of a frozen redis-server, and up at the first probe after it answers`, async () => {
    redis.pause();
    try {
      const started = performance.now();
      const down = await indicator.isHealthy('cache');
      const elapsed = performance.now() - started;
      expect(down.cache.status).toBe('down');
      expect(down.cache.stores.redis).toMatchObject({ status: 'down', tier: 'redis' });
      expect(down.cache.stores.redis!.error).toMatch(/timed out|timeout|did not answer/i);
      expect(down.cache.stores.default!.status).toBe('up');
      expect(elapsed).toBeLessThan(COMMAND_TIMEOUT + 500);
      const response = await fetch(`${app.url}/health`);
      expect(response.status).toBe(503);
      // A tenant's read meanwhile is a miss, and its failure is the store's last error.
      expect(await TenantContext.run('acme', () => app.cache.get('k'))).toBeUndefined();
      expect(await response.json()).toMatchObject({ status: 'error', error: { cache: { status: 'down' } } });
    } finally {
      redis.resume();
    }
    const up = await indicator.isHealthy('cache');
    expect(up.cache.status).toBe('up');
    expect(up.cache.stores.redis).toMatchObject({ status: 'up', breaker: 'closed' });
    expect(up.cache.stores.redis!.lastError?.message).toMatch(/timed out|timeout/i); // the outage is remembered
    // The cache itself works again too.
    await TenantContext.run('acme', () => app.cache.set('k', 1));
    expect(await TenantContext.run('acme', () => app.cache.get('k'))).toBe(1);
  });

  it('probes only the stores asked for; an unknown alias is down with the reason', async () => {
    const result = await indicator.isHealthy('cache', { stores: ['default', 'nope'] });
    expect(Object.keys(result.cache.stores)).toEqual(['default', 'nope']);
    expect(result.cache.stores.nope).toMatchObject({ status: 'down' });
    expect(result.cache.stores.nope!.error).toMatch(/nope/);
  });
});
