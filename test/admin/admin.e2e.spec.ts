import 'reflect-metadata';
import { type CanActivate, Controller, type ExecutionContext, Get, Injectable, Module, Query, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResponse,
  CacheResult,
  InvalidOptionsError,
  TenantCacheAdminModule,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  TenantGuard,
} from '../../lib/index.js';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, type RunningApp, startApp } from '../http/http-app.js';

/** The operator check a user would write: here, a shared secret header. */
@Injectable()
class OperatorGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-operator'] === 'yes';
  }
}

@Injectable()
class Catalog {
  calls = 0;
  @CacheResult({ ttl: 60_000, tags: ['catalog'] })
  async product(id: string) {
    this.calls++;
    return { id, name: `product ${id}` };
  }
}

@Controller('pages')
@UseInterceptors(TenantCacheInterceptor)
class Pages {
  @CacheResponse({ ttl: 60_000, scope: 'tenant' })
  @Get()
  page(@Query('p') p: string) {
    return { p };
  }
}

/** Tenant ids that look like each other's prefixes or key segments. */
const TENANT = 'acme';
const LOOKALIKES = ['acme.', 'acm', 'acme2', 't4-acme', 'ACME'];
const OPERATOR = { 'x-operator': 'yes' };

const STORES = storeCases().filter((s) => s.name === 'memory' || s.name.startsWith('redis (node-redis'));

describe.each(STORES.flatMap((store) => ADAPTERS.map((adapter) => [adapter, store] as [AdapterKind, StoreCase])))('TenantCacheAdminModule (%s, %s)', (adapter, store) => {
  let app: RunningApp;
  let cache: TenantCacheService;
  const prefix = `admin:${process.pid}:${Date.now().toString(36)}:${adapter}:`;

  beforeAll(async () => {
    @Module({
      imports: [
        TenantCacheModule.forRoot({ keyPrefix: prefix, stores: { default: store.definition() }, tenant: { authorize: () => true } }),
        TenantCacheAdminModule.forRoot({ guards: [OperatorGuard], exposeValues: true }),
      ],
      controllers: [Pages],
      providers: [Catalog, { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class AdminApp {}
    app = await startApp(adapter, AdminApp);
    cache = app.app.get(TenantCacheService);
  });
  afterAll(async () => {
    await (await app.app.get(StoreRegistry).get('default')).store.deleteByPrefix(prefix).catch(() => undefined);
    await app.close();
  });

  const seed = async () => {
    for (const tenant of [TENANT, ...LOOKALIKES]) {
      const view = cache.forTenant(tenant);
      for (let i = 0; i < 5; i++) await view.set(`user:${i}`, { tenant, i }, 60_000);
      await view.set('other', 'x', { ttl: 60_000, tags: ['t1'] });
    }
  };
  const counts = async () => Promise.all([TENANT, ...LOOKALIKES].map(async (t) => (await cache.forTenant(t).keys('')).length));

  it('refuses every route without the operator guard (403), even with a valid tenant header', async () => {
    for (const path of ['/tenant-cache-admin', `/tenant-cache-admin/${TENANT}/footprint`, `/tenant-cache-admin/${TENANT}/keys`]) {
      expect((await app.call(path, { headers: { 'x-tenant-id': TENANT } })).status).toBe(403);
    }
    const flush = await app.call(`/tenant-cache-admin/${TENANT}/flush`, { json: { target: { kind: 'tenant' }, confirm: TENANT } });
    expect(flush.status).toBe(403);
  });

  it('lists the stores and cached methods, without a tenant header (the global TenantGuard lets the admin routes through)', async () => {
    const res = await app.call('/tenant-cache-admin', { headers: OPERATOR });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ stores: ['default'], methods: ['Catalog.product'] });
  });

  it("reports a tenant's footprint: its entries only (look-alike tenants are not counted), then its unreachable entries after invalidateAll", async () => {
    await seed();
    const before = await app.call(`/tenant-cache-admin/${encodeURIComponent(TENANT)}/footprint`, { headers: OPERATOR });
    expect(before.status).toBe(200);
    const s = before.body.stores[0];
    expect(s.store).toBe('default');
    expect(s.entries).toBe(6);
    expect(s.unreachable).toBe(0);
    expect(s.keys).toBeGreaterThanOrEqual(7); // + its generation counter and tag index
    expect(s.bytes).toBeGreaterThan(0);
    for (const t of LOOKALIKES) {
      const other = await app.call(`/tenant-cache-admin/${encodeURIComponent(t)}/footprint`, { headers: OPERATOR });
      expect(other.body.stores[0].entries).toBe(6);
    }
    await cache.forTenant(TENANT).invalidateAll();
    const after = (await app.call(`/tenant-cache-admin/${TENANT}/footprint`, { headers: OPERATOR })).body.stores[0];
    expect(after.entries).toBe(0);
    // A memory store may drop unreachable entries itself; Redis keeps them until they expire.
    if (store.name !== 'memory') expect(after.unreachable).toBe(6);
  });

  it("reports the tenant's hit ratio as this process counted it, never another tenant's", async () => {
    const mine = cache.forTenant(TENANT);
    for (let i = 0; i < 3; i++) await mine.getOrSet(`ratio-${i}`, () => i); // 3 misses
    for (let i = 0; i < 9; i++) await mine.getOrSet('ratio-0', () => -1); // 9 hits
    await cache.forTenant(LOOKALIKES[0]!).getOrSet('ratio-0', () => 'x');
    const res = await app.call(`/tenant-cache-admin/${encodeURIComponent(TENANT)}/footprint`, { headers: OPERATOR });
    expect(res.status).toBe(200);
    expect(res.body.stats).toMatchObject({ tenant: TENANT, tracked: true, requests: { hit: 9, miss: 3, hitRatio: 0.75 } });
    const other = await app.call(`/tenant-cache-admin/${encodeURIComponent(LOOKALIKES[1]!)}/footprint`, { headers: OPERATOR });
    expect(other.body.stats).toMatchObject({ tracked: false, requests: { hit: 0, miss: 0 } });
  });

  it('inspects one entry: physical key with the tenant segment, TTL, and the decoded value only on request', async () => {
    await cache.forTenant(TENANT).set('profile', { name: 'Ada' }, 30_000);
    const plain = await app.call(`/tenant-cache-admin/${TENANT}/entries/profile`, { headers: OPERATOR });
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ tenant: TENANT, key: 'profile', store: 'default', exists: true });
    expect(plain.body.value).toBeUndefined();
    expect(plain.body.physicalKey.startsWith(prefix)).toBe(true);
    expect(plain.body.physicalKey).toContain(TENANT);
    expect(plain.body.ttlMs).toBeGreaterThan(25_000);
    expect(plain.body.ttlMs).toBeLessThanOrEqual(30_000);
    const withValue = await app.call(`/tenant-cache-admin/${TENANT}/entries/profile?value=true`, { headers: OPERATOR });
    expect(withValue.body.value).toEqual({ name: 'Ada' });
    // The same key of a look-alike tenant is its own (absent) entry.
    const other = await app.call(`/tenant-cache-admin/${encodeURIComponent('acme.')}/entries/profile?value=true`, { headers: OPERATOR });
    expect(other.body).toMatchObject({ exists: false });
    expect(other.body.value).toBeUndefined();
  });

  it('refuses a flush without the tenant id as confirmation (400, E_ADMIN_CONFIRMATION) and deletes nothing; a dry run counts', async () => {
    await seed();
    const start = await counts();
    const refused = await app.call(`/tenant-cache-admin/${TENANT}/flush`, { headers: OPERATOR, json: { target: { kind: 'prefix', prefix: 'user:' } } });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('E_ADMIN_CONFIRMATION');
    const wrong = await app.call(`/tenant-cache-admin/${TENANT}/flush`, { headers: OPERATOR, json: { target: { kind: 'prefix', prefix: 'user:' }, confirm: 'acme.' } });
    expect(wrong.status).toBe(400);
    const dry = await app.call(`/tenant-cache-admin/${TENANT}/flush`, { headers: OPERATOR, json: { target: { kind: 'prefix', prefix: 'user:' }, dryRun: true } });
    expect(dry.status).toBe(201);
    expect(dry.body).toMatchObject({ tenant: TENANT, dryRun: true, count: 5 });
    expect(await counts()).toEqual(start);
  });

  it('flushes by prefix, tag, method, responses and tenant, in the named tenant only', async () => {
    await seed();
    const others = async () => (await counts()).slice(1);
    const othersBefore = await others();
    const flush = async (target: object) => {
      const res = await app.call(`/tenant-cache-admin/${encodeURIComponent(TENANT)}/flush`, { headers: OPERATOR, json: { target, confirm: TENANT } });
      expect(res.status).toBe(201);
      return res.body.count as number | null;
    };
    expect(await flush({ kind: 'prefix', prefix: 'user:' })).toBe(5);
    expect(await cache.forTenant(TENANT).get('user:1')).toBeUndefined();

    // A @CacheResult method's entries, then its tag.
    const catalog = app.app.get(Catalog);
    await TenantContext.run(TENANT, () => catalog.product('1'));
    await TenantContext.run(TENANT, () => catalog.product('2'));
    await TenantContext.run('acme.', () => catalog.product('1'));
    expect(
      await app.call(`/tenant-cache-admin/${TENANT}/flush`, { headers: OPERATOR, json: { target: { kind: 'method', method: 'Catalog.product' }, dryRun: true } }),
    ).toMatchObject({
      body: { count: 2 },
    });
    expect(await flush({ kind: 'method', method: 'Catalog.product' })).toBe(2);
    const calls = catalog.calls;
    await TenantContext.run(TENANT, () => catalog.product('1'));
    await TenantContext.run('acme.', () => catalog.product('1'));
    expect(catalog.calls).toBe(calls + 1); // acme reloaded; acme: still cached
    expect(await flush({ kind: 'tag', tag: 'catalog' })).toBe(1);
    expect(await flush({ kind: 'tag', tag: 'catalog', versioned: true })).toBeNull();
    const unknown = await app.call(`/tenant-cache-admin/${TENANT}/flush`, {
      headers: OPERATOR,
      json: { target: { kind: 'method', method: 'Catalog.nope' }, confirm: TENANT },
    });
    expect(unknown.status).toBe(404);

    // Cached HTTP responses.
    for (const p of ['1', '2']) expect((await app.call(`/pages?p=${p}`, { headers: { 'x-tenant-id': TENANT } })).headers['x-cache']).toBe('MISS');
    expect((await app.call('/pages?p=1', { headers: { 'x-tenant-id': 'acme.' } })).headers['x-cache']).toBe('MISS');
    expect(await flush({ kind: 'responses' })).toBe(2);
    expect((await app.call('/pages?p=1', { headers: { 'x-tenant-id': TENANT } })).headers['x-cache']).toBe('MISS');
    expect((await app.call('/pages?p=1', { headers: { 'x-tenant-id': 'acme.' } })).headers['x-cache']).toBe('HIT');

    // The whole tenant.
    await seed();
    expect(await flush({ kind: 'tenant' })).toBeGreaterThanOrEqual(6);
    expect((await cache.forTenant(TENANT).keys('')).length).toBe(0);
    expect((await others()).every((n, i) => n >= othersBefore[i]!)).toBe(true);
    expect(await cache.forTenant('acme.').get('user:1')).toEqual({ tenant: 'acme.', i: 1 });
  });

  it('answers 400 for an invalid tenant id and an unknown flush kind, naming them', async () => {
    const bad = await app.call(`/tenant-cache-admin/${encodeURIComponent('bad*id')}/footprint`, { headers: OPERATOR });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('E_TENANT_INVALID');
    const kind = await app.call(`/tenant-cache-admin/${TENANT}/flush`, { headers: OPERATOR, json: { target: { kind: 'everything' }, confirm: TENANT } });
    expect(kind.status).toBe(400);
    expect(kind.body.message).toMatch(/everything/);
  });
});

describe('TenantCacheAdminModule start-up', () => {
  it('refuses to start without guards, naming the option', () => {
    expect(() => TenantCacheAdminModule.forRoot({ guards: [] })).toThrow(InvalidOptionsError);
    expect(() => TenantCacheAdminModule.forRoot({} as never)).toThrow(/guards/);
  });

  it('refuses a typo in its options', () => {
    expect(() => TenantCacheAdminModule.forRoot({ guards: [OperatorGuard], exposeValue: true } as never)).toThrow(/exposeValue/);
  });

  it('does not expose values unless asked (400 for ?value=true)', async () => {
    @Module({
      imports: [TenantCacheModule.forRoot({ tenant: { authorize: () => true } }), TenantCacheAdminModule.forRoot({ guards: [OperatorGuard], path: 'ops/cache' })],
    })
    class Hidden {}
    const app = await startApp('express', Hidden);
    try {
      await app.app.get(TenantCacheService).forTenant('acme').set('k', 1);
      expect((await app.call('/ops/cache/acme/entries/k', { headers: OPERATOR })).body).toMatchObject({ exists: true });
      expect((await app.call('/ops/cache/acme/entries/k?value=true', { headers: OPERATOR })).status).toBe(400);
    } finally {
      await app.close();
    }
  });

  it('fails start-up when the application has no TenantCacheModule', async () => {
    @Module({ imports: [TenantCacheAdminModule.forRoot({ guards: [OperatorGuard] })] })
    class NoCache {}
    await expect(startApp('express', NoCache)).rejects.toThrow(/TenantCacheModule/);
  });
});
