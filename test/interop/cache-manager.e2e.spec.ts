import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { CACHE_MANAGER, CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { Body, Controller, Delete, Get, Inject, Injectable, Module, Param, Post, Put, Query, UseInterceptors, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Cache } from 'cache-manager';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, SkipTenant, TenantCacheManager, TenantCacheModule, TenantContext, TenantContextMissingError, TenantGuard } from '../../lib/index.js';
import { ADAPTERS, type AdapterKind, CapturingLogger, type RunningApp, startApp } from '../http/http-app.js';
import { sharedRedisUrl } from '../support/redis-server.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { bootModule } from '../support/test-module.js';

/** An application service written for @nestjs/cache-manager, unchanged: it knows nothing of tenants. */
@Injectable()
class ProfileService {
  loads = 0;
  constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}

  set(key: string, value: unknown, ttl?: number) {
    return this.cache.set(key, value, ttl);
  }
  async read(key: string) {
    return { value: (await this.cache.get(key)) ?? null, expires: (await this.cache.ttl(key)) ?? null };
  }
  del(key: string) {
    return this.cache.del(key);
  }
  clear() {
    return this.cache.clear();
  }
  wrap(key: string) {
    return this.cache.wrap(key, async () => `load-${++this.loads}`, 60_000);
  }
  mset(entries: Record<string, unknown>) {
    return this.cache.mset(Object.entries(entries).map(([key, value]) => ({ key, value })));
  }
  async mget(keys: string[]) {
    return (await this.cache.mget(keys)).map((v) => v ?? null);
  }
  mdel(keys: string[]) {
    return this.cache.mdel(keys);
  }
}

@Controller()
class ProfileController {
  constructor(private readonly profiles: ProfileService) {}

  @Put('entries/:key')
  async put(@Param('key') key: string, @Body() body: { value: unknown; ttl?: number }) {
    return { stored: await this.profiles.set(key, body.value, body.ttl) };
  }
  @Get('entries/:key')
  get(@Param('key') key: string) {
    return this.profiles.read(key);
  }
  @Delete('entries/:key')
  async del(@Param('key') key: string) {
    return { deleted: await this.profiles.del(key) };
  }
  @Post('clear')
  async clear() {
    return { cleared: await this.profiles.clear() };
  }
  @Get('wrap/:key')
  async wrap(@Param('key') key: string) {
    return { value: await this.profiles.wrap(key) };
  }
  @Post('batch')
  async mset(@Body() body: Record<string, unknown>) {
    await this.profiles.mset(body);
    return { ok: true };
  }
  @Get('batch')
  mget(@Query('keys') keys: string) {
    return this.profiles.mget(keys.split(','));
  }
  @Delete('batch')
  async mdel(@Query('keys') keys: string) {
    return { deleted: await this.profiles.mdel(keys.split(',')) };
  }
  @SkipTenant()
  @Get('public/:key')
  async public(@Param('key') key: string) {
    try {
      return { value: await this.profiles.cache.get(key) };
    } catch (error) {
      return { error: (error as Error).name };
    }
  }
}

/** The feature module as the app had it with CacheModule: only the cache import changed (TenantCacheModule is global). */
@Module({ controllers: [ProfileController], providers: [ProfileService] })
class ProfileModule {}

function appFor(store: StoreCase, keyPrefix: string): Type {
  @Module({
    imports: [TenantCacheModule.forRoot({ isGlobal: true, provideCacheManager: true, keyPrefix, stores: { default: store.definition() } }), ProfileModule],
    providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
  })
  class AppModule {}
  return AppModule;
}

const STORES = storeCases().filter((s) => !s.name.includes('ioredis'));
const MATRIX: { store: StoreCase; adapter: AdapterKind; name: string }[] = STORES.flatMap((store) =>
  ADAPTERS.map((adapter) => ({ store, adapter, name: `${store.name}, ${adapter}` })),
);

describe.each(MATRIX)('CACHE_MANAGER from TenantCacheModule on $name (real HTTP)', ({ store, adapter }) => {
  let app: RunningApp;
  const as = (tenant: string) => ({ headers: { 'x-tenant-id': tenant } });
  const call = (tenant: string, path: string, method = 'GET', json?: unknown) => app.call(path, { method, json, ...as(tenant) });

  const keyPrefix = `cm-${randomUUID().slice(0, 8)}:`;

  beforeAll(async () => {
    app = await startApp(adapter, appFor(store, keyPrefix));
  });
  afterAll(async () => {
    await app.close();
    // This run's keys on the shared Redis (generation counters outlive clear() by design).
    const redis = new Redis(sharedRedisUrl());
    for await (const keys of redis.scanStream({ match: `${keyPrefix}*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
    await redis.quit();
  });

  it('injects the tenant-isolated cache into the unchanged service', () => {
    expect(app.app.get(ProfileService).cache).toBeInstanceOf(TenantCacheManager);
  });

  it("keeps each tenant's entries apart: set, get, ttl, del", async () => {
    expect((await call('acme', '/entries/profile', 'PUT', { value: { name: 'Acme' }, ttl: 60_000 })).body).toEqual({ stored: { name: 'Acme' } });
    await call('globex', '/entries/profile', 'PUT', { value: { name: 'Globex' } });
    const acme = (await call('acme', '/entries/profile')).body;
    expect(acme.value).toEqual({ name: 'Acme' });
    // cache-manager v7's ttl(): the expiry time in ms since epoch.
    expect(acme.expires).toBeGreaterThan(Date.now() + 50_000);
    expect(acme.expires).toBeLessThanOrEqual(Date.now() + 60_000);
    expect((await call('globex', '/entries/profile')).body).toEqual({ value: { name: 'Globex' }, expires: null });
    expect((await call('initech', '/entries/profile')).body).toEqual({ value: null, expires: null });
    await call('globex', '/entries/profile', 'DELETE');
    expect((await call('globex', '/entries/profile')).body.value).toBeNull();
    expect((await call('acme', '/entries/profile')).body.value).toEqual({ name: 'Acme' });
  });

  it('mset, mget and mdel act for the calling tenant only', async () => {
    await call('acme', '/batch', 'POST', { a: 1, b: 'two' });
    await call('globex', '/batch', 'POST', { a: 'G', c: false });
    expect((await call('acme', '/batch?keys=a,b,c')).body).toEqual([1, 'two', null]);
    expect((await call('globex', '/batch?keys=a,b,c')).body).toEqual(['G', null, false]);
    await call('globex', '/batch?keys=a,b', 'DELETE');
    expect((await call('acme', '/batch?keys=a,b')).body).toEqual([1, 'two']);
    expect((await call('globex', '/batch?keys=a,c')).body).toEqual([null, false]);
  });

  it('wrap loads once per tenant and serves each tenant its own value', async () => {
    const first = (await call('acme', '/wrap/report')).body.value;
    expect((await call('acme', '/wrap/report')).body.value).toBe(first);
    const other = (await call('globex', '/wrap/report')).body.value;
    expect(other).not.toBe(first);
    expect((await call('globex', '/wrap/report')).body.value).toBe(other);
  });

  it('clear() empties the calling tenant only', async () => {
    await call('acme', '/entries/keep', 'PUT', { value: 'acme' });
    await call('globex', '/entries/keep', 'PUT', { value: 'globex' });
    expect((await call('globex', '/clear', 'POST')).body).toEqual({ cleared: true });
    expect((await call('globex', '/entries/keep')).body.value).toBeNull();
    expect((await call('acme', '/entries/keep')).body.value).toBe('acme');
  });

  it('never crosses tenants under 300 interleaved concurrent requests', async () => {
    const results = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const tenant = i % 2 === 0 ? 'acme' : 'globex';
        await call(tenant, `/entries/c${i % 7}`, 'PUT', { value: `${tenant}-${i}` });
        return { tenant, value: (await call(tenant, `/entries/c${i % 7}`)).body.value as string };
      }),
    );
    for (const { tenant, value } of results) expect(value.startsWith(`${tenant}-`)).toBe(true);
  });

  it('without a tenant the cache raises TenantContextMissingError, never a shared fallback', async () => {
    expect((await app.call('/public/profile')).body).toEqual({ error: 'TenantContextMissingError' });
    expect((await app.call('/entries/profile')).status).toBe(400);
    const cache = app.app.get(ProfileService).cache;
    await expect(cache.get('profile')).rejects.toBeInstanceOf(TenantContextMissingError);
    await expect(cache.set('profile', 1)).rejects.toBeInstanceOf(TenantContextMissingError);
    await expect(cache.clear()).rejects.toBeInstanceOf(TenantContextMissingError);
    expect(await TenantContext.run('acme', () => cache.get('profile'))).toEqual({ name: 'Acme' });
  });
});

describe('TenantCacheManager outside HTTP', () => {
  async function boot(imports: Type[] | ReturnType<typeof TenantCacheModule.forRoot>[], withService = true, logger = new CapturingLogger()) {
    const { moduleRef } = await bootModule({ imports, providers: withService ? [ProfileService] : [], logger });
    return { moduleRef, logger };
  }

  it('follows cache-manager semantics where they differ from the service: ttl() is an expiry time, set(undefined) deletes, wrap with raw/ttl function/refresh', async () => {
    const { moduleRef, logger } = await boot([TenantCacheModule.forRoot({ provideCacheManager: true })]);
    const cache = moduleRef.get<Cache>(CACHE_MANAGER);
    expect(logger.lines.some((l) => /Another CACHE_MANAGER/.test(l.message))).toBe(false);
    await TenantContext.run('acme', async () => {
      expect(await cache.set('d', new Date(0))).toEqual(new Date(0));
      expect(await cache.get('d')).toBeInstanceOf(Date);
      await cache.set('d', undefined);
      expect(await cache.get('d')).toBeUndefined();
      const raw = await cache.wrap('r', () => 5, { ttl: 30_000, raw: true });
      expect(raw?.value).toBe(5);
      expect(raw?.expires).toBeGreaterThan(Date.now() + 20_000);
      expect(await cache.wrap('f', () => 'x', { ttl: (v: string) => (v === 'x' ? 40_000 : 1) })).toBe('x');
      expect(await cache.ttl('f')).toBeGreaterThan(Date.now() + 30_000);
      let loads = 0;
      const load = async () => `v${++loads}`;
      expect(await cache.wrap('refresh', load, 5000, 1000)).toBe('v1');
      expect(await cache.wrap('refresh', load, 5000, 1000)).toBe('v1');
      expect(loads).toBe(1);
      // Under 4990 ms left of 5000: the cached value is served and a reload runs in the background.
      await new Promise((r) => setTimeout(r, 20));
      expect(await cache.wrap('refresh', load, 5000, 4990)).toBe('v1');
      await vi.waitFor(async () => expect(await cache.get('refresh')).toBe('v2'));
      expect(loads).toBe(2);
      expect(cache.stores).toEqual([]);
      expect(await cache.disconnect()).toBeUndefined();
      expect(await cache.get('r')).toBe(5);
    });
    await moduleRef.close();
  });

  it('forRootAsync takes provideCacheManager next to useFactory, and refuses it inside the factory with what to write', async () => {
    const ok = await boot([TenantCacheModule.forRootAsync({ provideCacheManager: true, useFactory: () => ({ provideCacheManager: true }) })]);
    expect(ok.moduleRef.get(CACHE_MANAGER)).toBeInstanceOf(TenantCacheManager);
    await ok.moduleRef.close();
    const inside = boot([TenantCacheModule.forRootAsync({ useFactory: () => ({ provideCacheManager: true }) })], false);
    await expect(inside).rejects.toThrow(InvalidOptionsError);
    await expect(inside).rejects.toThrow(/next to useFactory/);
  });

  it('without provideCacheManager, CACHE_MANAGER is not provided (nothing is taken over silently)', async () => {
    await expect(boot([TenantCacheModule.forRoot({})])).rejects.toThrow(/CACHE_MANAGER/);
  });

  it.each([
    ['CacheModule first', true],
    ['TenantCacheModule first', false],
  ])('with CacheModule of @nestjs/cache-manager also imported (%s): the first import wins, and a warning names the conflict', async (_, cacheModuleFirst) => {
    const ours = TenantCacheModule.forRoot({ provideCacheManager: true });
    const theirs = CacheModule.register();
    const { moduleRef, logger } = await boot((cacheModuleFirst ? [theirs, ours] : [ours, theirs]) as never);
    const injected = moduleRef.get(ProfileService).cache;
    // Nest resolves an imported token from the first import that exports it: order decides, silently.
    expect(injected instanceof TenantCacheManager).toBe(!cacheModuleFirst);
    expect(logger.lines.some((l) => l.level === 'warn' && /Another CACHE_MANAGER provider/.test(l.message))).toBe(true);
    await moduleRef.close();
  });
});

/** @nestjs/cache-manager's CacheInterceptor keys responses by URL only. */
@Controller()
class NewsController {
  @UseInterceptors(CacheInterceptor)
  @Get('news')
  news(@Query('who') who: string) {
    return { tenant: TenantContext.current() ?? null, who };
  }
}

describe("@nestjs/cache-manager's CacheInterceptor", () => {
  async function newsApp(imports: unknown[]) {
    @Module({ imports: imports as Type[], controllers: [NewsController], providers: [{ provide: APP_GUARD, useClass: TenantGuard }] })
    class NewsModule {}
    return startApp('express', NewsModule);
  }

  it("leaks one tenant's response to another with the plain CacheModule (the problem provideCacheManager exists for)", async () => {
    const app = await newsApp([CacheModule.register(), TenantCacheModule.forRoot({})]);
    try {
      expect((await app.call('/news', { headers: { 'x-tenant-id': 'acme' } })).body.tenant).toBe('acme');
      expect((await app.call('/news', { headers: { 'x-tenant-id': 'globex' } })).body.tenant).toBe('acme');
    } finally {
      await app.close();
    }
  });

  it('keeps responses per tenant when CACHE_MANAGER comes from TenantCacheModule', async () => {
    const app = await newsApp([TenantCacheModule.forRoot({ provideCacheManager: true })]);
    try {
      expect((await app.call('/news', { headers: { 'x-tenant-id': 'acme' } })).body.tenant).toBe('acme');
      expect((await app.call('/news', { headers: { 'x-tenant-id': 'globex' } })).body.tenant).toBe('globex');
      expect((await app.call('/news', { headers: { 'x-tenant-id': 'acme' } })).body.tenant).toBe('acme');
    } finally {
      await app.close();
    }
  });
});
