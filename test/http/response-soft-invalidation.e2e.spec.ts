import 'reflect-metadata';
import { Controller, Get, Module, Query, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResponse, TenantCacheInterceptor, TenantCacheModule, TenantCacheService, TenantGuard } from '../../lib/index.js';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, type RunningApp, startApp } from './http-app.js';

// invalidateTag(tag, { soft: true }) on @CacheResponse routes: X-Cache: STALE while one run of the handler
// refreshes the response (server-side stale-while-revalidate, or grace with a failing handler); a hard
// invalidation is never answered STALE.

class Upstream {
  readonly runs = new Map<string, number>();
  failing = false;
  async run(key: string): Promise<{ key: string; run: number }> {
    const run = (this.runs.get(key) ?? 0) + 1;
    this.runs.set(key, run);
    await new Promise((resolve) => setTimeout(resolve, 30));
    if (this.failing) throw new Error(`upstream down for ${key}`);
    return { key, run };
  }
  of(key: string): number {
    return this.runs.get(key) ?? 0;
  }
}

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class SoftController {
  constructor(private readonly upstream: Upstream) {}

  @CacheResponse({ ttl: 60_000, tags: ['catalog'], cacheControl: { maxAge: 0, staleWhileRevalidate: 60, public: true } })
  @Get('swr')
  swr(@Query('k') k: string) {
    return this.upstream.run(`swr:${k}`);
  }

  @CacheResponse({ ttl: 60_000, grace: 60_000, tags: ['catalog'] })
  @Get('grace')
  grace(@Query('k') k: string) {
    return this.upstream.run(`grace:${k}`);
  }
}

function appFor(store: StoreCase, prefix: string): Type {
  @Module({
    imports: [TenantCacheModule.forRoot({ keyPrefix: prefix, stores: { default: store.definition() }, tenant: { authorize: () => true } })],
    controllers: [SoftController],
    providers: [Upstream, { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class SoftApp {}
  return SoftApp;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STORES = storeCases().filter((s) => s.name === 'memory' || s.name.startsWith('redis (node-redis'));

describe.each(STORES.flatMap((store) => ADAPTERS.map((adapter) => [adapter, store] as [AdapterKind, StoreCase])))(
  '@CacheResponse after a soft tag invalidation (%s, %s)',
  (adapter, store) => {
    let app: RunningApp;
    let upstream: Upstream;
    let cache: TenantCacheService;
    const prefix = `resp-soft:${process.pid}:${Date.now().toString(36)}:${adapter}:`;
    const get = (path: string, tenant = 'acme') => app.call(path, { headers: { 'x-tenant-id': tenant } });

    beforeAll(async () => {
      app = await startApp(adapter, appFor(store, prefix));
      upstream = app.app.get(Upstream);
      cache = app.app.get(TenantCacheService);
    });
    afterAll(async () => {
      await (await app.app.get(StoreRegistry).get('default')).store.deleteByPrefix(prefix).catch(() => undefined);
      await app.close();
    });

    it('staleWhileRevalidate: STALE at once for concurrent requests, one handler run, then HIT; other tenants stay HIT', async () => {
      expect((await get('/swr?k=a')).headers['x-cache']).toBe('MISS');
      // (The upstream counts runs per query, whatever the tenant: this is run 2.)
      expect((await get('/swr?k=a', 'globex')).headers['x-cache']).toBe('MISS');
      expect((await get('/swr?k=a')).headers['x-cache']).toBe('HIT');
      await cache.forTenant('acme').invalidateTag('catalog', { soft: true });
      const answers = await Promise.all(Array.from({ length: 8 }, () => get('/swr?k=a')));
      // Requests that arrive before the one refresh (30 ms) lands are STALE; later ones are its HIT.
      const seen = answers.map((r) => `${r.status} ${r.headers['x-cache']} ${(r.body as { run: number }).run}`);
      expect(seen[0]).toBe('200 STALE 1');
      expect(seen.filter((a) => a !== '200 STALE 1' && a !== '200 HIT 3')).toEqual([]);
      const deadline = Date.now() + 5000;
      let last = await get('/swr?k=a');
      while (last.headers['x-cache'] !== 'HIT' && Date.now() < deadline) {
        await sleep(20);
        last = await get('/swr?k=a');
      }
      expect(last.headers['x-cache']).toBe('HIT');
      expect((last.body as { run: number }).run).toBe(3);
      expect(upstream.of('swr:a')).toBe(3);
      // The other tenant's response was not touched.
      const other = await get('/swr?k=a', 'globex');
      expect([other.headers['x-cache'], (other.body as { run: number }).run]).toEqual(['HIT', 2]);
    });

    it('grace: STALE when the handler fails after a soft invalidation; a hard invalidation is never STALE', async () => {
      upstream.failing = false;
      expect((await get('/grace?k=b')).headers['x-cache']).toBe('MISS');
      await cache.forTenant('acme').invalidateTag('catalog', { soft: true });
      upstream.failing = true;
      const stale = await get('/grace?k=b');
      expect([stale.status, stale.headers['x-cache'], (stale.body as { run: number }).run]).toEqual([200, 'STALE', 1]);
      upstream.failing = false;
      await sleep(10);
      await cache.forTenant('acme').invalidateTag('catalog');
      upstream.failing = true;
      const hard = await get('/grace?k=b');
      expect(hard.status).toBe(500);
      expect(hard.headers['x-cache']).not.toBe('STALE');
      upstream.failing = false;
    });
  },
);
