import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../sample/app.module.js';
import { ProductRepository } from '../../sample/catalog/product.repository.js';
import { type RunningApp, startApp } from '../http/http-app.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

/**
 * The sample with REDIS_URL, as a user runs it in production: two instances on one Redis, each with its own
 * memory L1 (`tieredStore`). A product change on one drops the other's cached copy; tenants stay apart.
 */
describe('sample app on tieredStore (REDIS_URL), two instances', () => {
  let redis: RedisServerHandle;
  let a: RunningApp;
  let b: RunningApp;
  const saved = process.env.REDIS_URL;
  const get = (app: RunningApp, path: string, tenant: string) => app.call(path, { headers: { 'x-tenant-id': tenant } });

  beforeAll(async () => {
    redis = await startRedisServer();
    process.env.REDIS_URL = redis.url;
    a = await startApp('express', AppModule);
    b = await startApp('fastify', AppModule);
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (saved === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = saved;
    await redis?.stop();
  });

  it('a product change on instance A drops the cached product and list on instance B, for that tenant only', async () => {
    const bRepo = b.app.get(ProductRepository);
    for (const tenant of ['acme', 'globex']) {
      await get(b, '/products/1', tenant);
      await get(b, '/products', tenant);
      expect((await get(b, '/products/1', tenant)).headers['x-cache']).toBe('HIT');
    }
    const patched = await a.call('/products/1', { method: 'PATCH', headers: { 'x-tenant-id': 'acme' }, json: { price: 42 } });
    expect(patched.status).toBe(200);
    // The invalidation travels through Redis and the tier's channel: B's L1 copy is gone within a moment.
    let status = 'HIT';
    for (let i = 0; i < 50 && status === 'HIT'; i++) {
      status = (await get(b, '/products/1', 'acme')).headers['x-cache']!;
      if (status === 'HIT') await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe('MISS');
    const before = bRepo.queries;
    expect((await get(b, '/products/1', 'globex')).headers['x-cache']).toBe('HIT');
    expect(bRepo.queries).toBe(before);
  });
});
