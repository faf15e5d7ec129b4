import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Query, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResponse, TenantCacheInterceptor, TenantCacheModule, TenantGuard, memoryStore, redisStore, tieredStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { ADAPTERS, type RunningApp, startApp } from './http-app.js';

/** The data source behind the routes: down (throws) while `down` is set; counts calls per tenant and key. */
@Injectable()
class Origin {
  down = false;
  readonly calls = new Map<string, number[]>();
  async load(tenant: string, key: string): Promise<{ tenant: string; key: string; at: number }> {
    const id = `${tenant}/${key}`;
    const list = this.calls.get(id) ?? [];
    list.push(Date.now());
    this.calls.set(id, list);
    if (this.down) throw new Error('origin down');
    return { tenant, key, at: Date.now() };
  }
}

const TTL = 300;
const BACKOFF = 1_000;
const OUTAGE_MS = 10_000;
const TENANTS = ['acme', 'acme2', 'globex', 'initech'];

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class CatalogController {
  constructor(private readonly origin: Origin) {}

  @CacheResponse({ ttl: TTL, grace: 60_000, graceBackoff: BACKOFF, scope: 'tenant' })
  @Get('item')
  item(@Query('k') k: string, @Query('t') t: string) {
    return this.origin.load(t, k);
  }
}

/**
 * A data source failing for 10 s under concurrent load from 4 tenants, on a tieredStore over a real Redis:
 * every expired response is replayed STALE (never a 5xx, never another tenant's body), and the handler runs
 * at most once per key per graceBackoff.
 */
describe.each(ADAPTERS)('origin down for 10 s, grace on a tieredStore (%s)', (adapter) => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  let origin: Origin;

  beforeAll(async () => {
    redis = await startRedisServer();
    @Module({
      imports: [
        TenantCacheModule.forRoot({
          keyPrefix: 'grace-outage:',
          stores: { default: tieredStore({ l1: memoryStore(), l2: redisStore({ url: redis.url }) }) },
          tenant: { authorize: () => true },
        }),
      ],
      controllers: [CatalogController],
      providers: [Origin, { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class OutageApp {}
    app = await startApp(adapter, OutageApp);
    origin = app.app.get(Origin);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('serves STALE for every expired key, 0 5xx, 0 cross-tenant bodies, and runs the handler at most once per key per graceBackoff', async () => {
    const keys = ['a', 'b', 'c'];
    const get = (tenant: string, k: string) => app.call(`/item?k=${k}&t=${tenant}`, { headers: { 'x-tenant-id': tenant } });
    for (const tenant of TENANTS) for (const k of keys) expect((await get(tenant, k)).status).toBe(200);
    await new Promise((r) => setTimeout(r, TTL + 50));
    origin.down = true;
    origin.calls.clear();
    const statuses = new Map<string, number>();
    let foreign = 0;
    const started = Date.now();
    // 4 tenants x 3 keys, requested again and again for 10 s.
    await Promise.all(
      TENANTS.flatMap((tenant) =>
        keys.map(async (k) => {
          while (Date.now() - started < OUTAGE_MS) {
            const res = await get(tenant, k);
            statuses.set(`${res.status} ${res.headers['x-cache']}`, (statuses.get(`${res.status} ${res.headers['x-cache']}`) ?? 0) + 1);
            if (res.body?.tenant !== tenant || res.body?.key !== k) foreign++;
            await new Promise((r) => setTimeout(r, 5));
          }
        }),
      ),
    );
    origin.down = false;
    const served = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(`[grace-outage] ${adapter}: ${served} requests in ${OUTAGE_MS} ms: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(served).toBeGreaterThan(100);
    expect([...statuses.keys()]).toEqual(['200 STALE']);
    expect(foreign).toBe(0);
    // At most once per key per graceBackoff (the first try, then one per backoff window), per tenant.
    const allowed = Math.ceil(OUTAGE_MS / BACKOFF) + 1;
    for (const tenant of TENANTS) {
      for (const k of keys) {
        const calls = origin.calls.get(`${tenant}/${k}`) ?? [];
        expect(calls.length).toBeGreaterThanOrEqual(1);
        expect(calls.length).toBeLessThanOrEqual(allowed);
        for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(BACKOFF - 50);
      }
    }
    // Back up: the next request after the backoff refreshes.
    await new Promise((r) => setTimeout(r, BACKOFF + 50));
    const fresh = await get('acme', 'a');
    expect(fresh.status).toBe(200);
    expect(fresh.headers['x-cache']).toBe('MISS');
  }, 40_000);
});
