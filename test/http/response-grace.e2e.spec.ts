import 'reflect-metadata';
import { Controller, Get, Module, Query, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResponse, TenantCacheInterceptor, TenantCacheModule, TenantCacheService, TenantGuard } from '../../lib/index.js';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, type RunningApp, startApp } from './http-app.js';

/** Per key: how often the handler ran, and whether it fails or is slow now. */
class Upstream {
  readonly runs = new Map<string, number>();
  readonly failing = new Set<string>();
  readonly slow = new Map<string, number>();
  async run(key: string): Promise<{ key: string; run: number }> {
    const run = (this.runs.get(key) ?? 0) + 1;
    this.runs.set(key, run);
    const wait = this.slow.get(key);
    if (wait !== undefined) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.failing.has(key)) throw new Error(`upstream down for ${key}`);
    return { key, run };
  }
  of(key: string): number {
    return this.runs.get(key) ?? 0;
  }
}

const TTL = 60;
/** Longer than the slow handler: the response it stores in the background is still fresh when read. */
const SOFT_TTL = 400;

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class GraceController {
  constructor(private readonly upstream: Upstream) {}

  @CacheResponse({ ttl: TTL, grace: 60_000, graceBackoff: 300, tags: ['catalog'] })
  @Get('grace')
  grace(@Query('k') k: string) {
    return this.upstream.run(k);
  }

  @CacheResponse({ ttl: SOFT_TTL, grace: 60_000, timeout: { soft: 40 }, cacheControl: { maxAge: 1, public: true } })
  @Get('soft')
  soft(@Query('k') k: string) {
    return this.upstream.run(k);
  }

  @CacheResponse({ ttl: SOFT_TTL, cacheControl: { maxAge: 0, staleWhileRevalidate: 60, public: true } })
  @Get('swr')
  swr(@Query('k') k: string) {
    return this.upstream.run(k);
  }

  @CacheResponse({ ttl: TTL, timeout: { hard: 40 } })
  @Get('hard')
  hard(@Query('k') k: string) {
    return this.upstream.run(k);
  }
}

function appFor(store: StoreCase, prefix: string): Type {
  @Module({
    imports: [TenantCacheModule.forRoot({ keyPrefix: prefix, stores: { default: store.definition() }, tenant: { authorize: () => true } })],
    controllers: [GraceController],
    providers: [Upstream, { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class GraceApp {}
  return GraceApp;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STORES = storeCases().filter((s) => s.name === 'memory' || s.name.startsWith('redis (node-redis'));

describe.each(STORES.flatMap((store) => ADAPTERS.map((adapter) => [adapter, store] as [AdapterKind, StoreCase])))(
  '@CacheResponse grace and timeout (%s, %s)',
  (adapter, store) => {
    let app: RunningApp;
    let upstream: Upstream;
    const prefix = `resp-grace:${process.pid}:${Date.now().toString(36)}:${adapter}:`;
    const get = (path: string, tenant = 'acme') => app.call(path, { headers: { 'x-tenant-id': tenant } });

    beforeAll(async () => {
      app = await startApp(adapter, appFor(store, prefix));
      upstream = app.app.get(Upstream);
    });
    afterAll(async () => {
      await (await app.app.get(StoreRegistry).get('default')).store.deleteByPrefix(prefix).catch(() => undefined);
      await app.close();
    });

    it('replays the expired response with X-Cache: STALE when the handler throws, runs it no more than once per graceBackoff, and refreshes after', async () => {
      const first = await get('/grace?k=a');
      expect(first.headers['x-cache']).toBe('MISS');
      expect((await get('/grace?k=a')).headers['x-cache']).toBe('HIT');
      await sleep(TTL + 20);
      upstream.failing.add('a');
      const stale = await get('/grace?k=a');
      expect(stale.status).toBe(200);
      expect(stale.headers['x-cache']).toBe('STALE');
      expect(stale.bytes.equals(first.bytes)).toBe(true);
      expect(stale.headers.etag).toBe(first.headers.etag);
      expect(upstream.of('a')).toBe(2);
      // Within graceBackoff the handler is not run again: the stale copy answers.
      const again = await get('/grace?k=a');
      expect(again.headers['x-cache']).toBe('STALE');
      expect(upstream.of('a')).toBe(2);
      await sleep(320);
      upstream.failing.delete('a');
      const fresh = await get('/grace?k=a');
      expect(fresh.headers['x-cache']).toBe('MISS');
      expect(fresh.body).toEqual({ key: 'a', run: 3 });
      expect((await get('/grace?k=a')).headers['x-cache']).toBe('HIT');
    });

    it('never replays a response after invalidateTag: the handler error reaches the client', async () => {
      expect((await get('/grace?k=b')).headers['x-cache']).toBe('MISS');
      await sleep(TTL + 20);
      await app.app.get(TenantCacheService).forTenant('acme').invalidateTag('catalog');
      upstream.failing.add('b');
      const after = await get('/grace?k=b');
      expect(after.status).toBe(500);
      expect(after.headers['x-cache']).toBe('BYPASS');
      // Invalidated while still fresh: the same.
      upstream.failing.delete('b');
      expect((await get('/grace?k=b')).headers['x-cache']).toBe('MISS');
      await app.app.get(TenantCacheService).forTenant('acme').invalidateTag('catalog');
      upstream.failing.add('b');
      expect((await get('/grace?k=b')).status).toBe(500);
    });

    it("grace is per tenant: another tenant's expired copy is never replayed", async () => {
      expect((await get('/grace?k=c', 'acme')).status).toBe(200);
      await sleep(TTL + 20);
      upstream.failing.add('c');
      expect((await get('/grace?k=c', 'acme')).headers['x-cache']).toBe('STALE');
      const other = await get('/grace?k=c', 'globex');
      expect(other.status).toBe(500);
    });

    it('past timeout.soft, replays the expired response at once and stores the slow response when it arrives', async () => {
      const first = await get('/soft?k=d');
      expect(first.body).toEqual({ key: 'd', run: 1 });
      await sleep(SOFT_TTL + 20);
      upstream.slow.set('d', 250);
      const started = Date.now();
      const stale = await get('/soft?k=d');
      expect(Date.now() - started).toBeLessThan(200);
      expect(stale.headers['x-cache']).toBe('STALE');
      expect(stale.body).toEqual(first.body);
      upstream.slow.delete('d');
      await sleep(300); // the slow handler has finished and its response is stored
      const refreshed = await get('/soft?k=d');
      expect(refreshed.headers['x-cache']).toBe('HIT');
      expect(refreshed.body).toEqual({ key: 'd', run: 2 });
      // The replay's own Cache-Control and Vary (tenant header) did not keep the background response out.
      expect(refreshed.headers.vary).toMatch(/x-tenant-id/i);
      expect(upstream.of('d')).toBe(2);
    });

    it('staleWhileRevalidate: replays the expired response at hit latency while one background run of the handler refreshes it', async () => {
      const first = await get('/swr?k=f');
      expect(first.headers['cache-control']).toBe('public, max-age=0, stale-while-revalidate=60');
      await sleep(SOFT_TTL + 20);
      upstream.slow.set('f', 150);
      const started = Date.now();
      const stale = await Promise.all([get('/swr?k=f'), get('/swr?k=f'), get('/swr?k=f')]);
      expect(Date.now() - started).toBeLessThan(120);
      for (const r of stale) {
        expect(r.headers['x-cache']).toBe('STALE');
        expect(r.body).toEqual(first.body);
      }
      upstream.slow.delete('f');
      await sleep(200); // the background run has finished and stored its response
      expect(upstream.of('f')).toBe(2);
      const refreshed = await get('/swr?k=f');
      expect(refreshed.headers['x-cache']).toBe('HIT');
      expect(refreshed.body).toEqual({ key: 'f', run: 2 });
    });

    it('past timeout.hard with nothing stale, the request fails (LoaderTimeoutError)', async () => {
      upstream.slow.set('e', 200);
      const started = Date.now();
      const res = await get('/hard?k=e');
      expect(Date.now() - started).toBeLessThan(180);
      expect(res.status).toBe(500);
      upstream.slow.delete('e');
    });
  },
);

describe('@CacheResponse fail-safe options', () => {
  const boot = (options: object) => {
    @Controller()
    @UseInterceptors(TenantCacheInterceptor)
    class BadController {
      @CacheResponse(options)
      @Get('x')
      x() {
        return 1;
      }
    }
    @Module({
      imports: [TenantCacheModule.forRoot({ stores: { default: storeCases()[0]!.definition() }, tenant: { authorize: () => true } })],
      controllers: [BadController],
      providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
    })
    class BadApp {}
    return startApp('express', BadApp);
  };

  it('accepts grace, graceBackoff and timeout', async () => {
    const app = await boot({ ttl: 1000, grace: 5000, graceBackoff: 100, timeout: { soft: 10, hard: 20 } });
    try {
      expect((await app.call('/x', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it.each([
    [{ grace: -1 }, /@CacheResponse\(grace\) on BadController\.x/],
    [{ timeout: { soft: 10, firm: 1 } }, /@CacheResponse\(timeout\.firm\) on BadController\.x/],
    [{ timeout: { soft: 100, hard: 10 } }, /@CacheResponse\(timeout\.soft\) on BadController\.x/],
    [{ staleIfError: 1000, grace: 1000 }, /@CacheResponse\(staleIfError\) on BadController\.x/],
    [{ staleIfError: 1000, refreshAhead: 0.5 }, /@CacheResponse\(staleIfError\) on BadController\.x/],
    [{ refreshAhead: 1.5 }, /@CacheResponse\(refreshAhead\) on BadController\.x/],
    [{ ttlJitter: -0.1 }, /@CacheResponse\(ttlJitter\) on BadController\.x/],
  ] as [object, RegExp][])('refuses %j at start-up, naming the route', async (bad, message) => {
    await expect(boot(bad)).rejects.toThrow(message);
  });
});

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class AheadController {
  constructor(private readonly upstream: Upstream) {}

  @CacheResponse({ ttl: 400, refreshAhead: 0.4, ttlJitter: 0 })
  @Get('ahead')
  ahead(@Query('k') k: string) {
    return this.upstream.run(k);
  }

  @CacheResponse({ ttl: 400, grace: 60_000 })
  @Get('jittered')
  jittered(@Query('k') k: string) {
    return this.upstream.run(k);
  }
}

describe.each(ADAPTERS)('@CacheResponse refreshAhead and the module ttlJitter (%s, memory)', (adapter) => {
  let app: RunningApp;
  let upstream: Upstream;
  const get = (path: string) => app.call(path, { headers: { 'x-tenant-id': 'acme' } });

  beforeAll(async () => {
    @Module({
      imports: [TenantCacheModule.forRoot({ keyPrefix: `resp-ahead:${Date.now().toString(36)}:`, ttlJitter: 0.9, tenant: { authorize: () => true } })],
      controllers: [AheadController],
      providers: [Upstream, { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class AheadApp {}
    app = await startApp(adapter, AheadApp);
    upstream = app.app.get(Upstream);
  });
  afterAll(() => app.close());

  it('a hit past refreshAhead * ttl is answered HIT and starts one background run of the handler', async () => {
    expect((await get('/ahead?k=a')).headers['x-cache']).toBe('MISS');
    // Past 0.4 of the TTL (the route turns the module's jitter off), before the TTL.
    await sleep(200);
    const hits = await Promise.all([get('/ahead?k=a'), get('/ahead?k=a'), get('/ahead?k=a')]);
    for (const r of hits) expect(r.headers['x-cache']).toBe('HIT');
    await sleep(100);
    // One background run in all, not one per request.
    expect(upstream.of('a')).toBe(2);
    const after = await get('/ahead?k=a');
    expect(after.body).toEqual({ key: 'a', run: 2 });
  });

  it("with the module's ttlJitter, a response is not a HIT past its key's jittered TTL (the synchronous hit does not skip the jitter)", async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `j${i}`);
    for (const k of keys) expect((await get(`/jittered?k=${k}`)).headers['x-cache']).toBe('MISS');
    await sleep(250);
    const status = await Promise.all(keys.map(async (k) => (await get(`/jittered?k=${k}`)).headers['x-cache']));
    // TTLs spread over [40, 760) ms: some keys are past theirs (reloaded), some are not (hits).
    expect(status.filter((s) => s === 'MISS').length).toBeGreaterThan(0);
    expect(status.filter((s) => s === 'HIT').length).toBeGreaterThan(0);
    for (const [i, k] of keys.entries()) expect(upstream.of(k)).toBe(status[i] === 'MISS' ? 2 : 1);
  });
});
