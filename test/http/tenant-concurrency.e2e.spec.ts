import 'reflect-metadata';
import { Body, Controller, Get, Module, Put, Query, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurrentTenant, fromHeader, fromRouteParam, SkipTenant, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard } from '../../lib/index.js';
import { storeCases, type StoreCase } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, type RunningApp, jitter, startApp } from './http-app.js';

@Controller()
class ProbeController {
  constructor(private readonly cache: TenantCacheService) {}

  @Put('secret')
  async seed(@Body() body: { value: string }) {
    await this.cache.set('secret', body.value);
    return { tenant: TenantContext.current() };
  }

  @Get('probe')
  probe(@CurrentTenant() tenant: string, @Query('i') i: string) {
    return this.run(tenant, i);
  }

  @Get('t/:tenantId/probe')
  probeByParam(@CurrentTenant() tenant: string, @Query('i') i: string) {
    return this.run(tenant, i);
  }

  @SkipTenant()
  @Get('public')
  async public() {
    const seen: (string | null)[] = [TenantContext.current() ?? null];
    await jitter();
    seen.push(TenantContext.current() ?? null);
    await jitter();
    seen.push(TenantContext.current() ?? null);
    return { seen };
  }

  private async run(tenant: string, i: string) {
    const seen = [TenantContext.current()];
    await jitter();
    const secret = await this.cache.get('secret');
    seen.push(TenantContext.current());
    await this.cache.set(`req:${i}`, tenant);
    await jitter();
    await this.cache.incr('hits');
    await jitter();
    const mine = await this.cache.get(`req:${i}`);
    seen.push(TenantContext.current());
    return { tenant, seen, secret, mine };
  }
}

function appFor(store: StoreCase): Type {
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        keyPrefix: `conc-e2e:${process.pid}:${Date.now().toString(36)}:`,
        stores: { default: store.definition() },
        // Adversarial ids are allowed on purpose: they must stay as isolated as plain ones.
        tenant: { resolver: [fromHeader(), fromRouteParam('tenantId')], pattern: /^[^\s,]+$/u, maxLength: 200 },
      }),
    ],
    controllers: [ProbeController],
    providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
  })
  class ConcurrencyApp {}
  return ConcurrencyApp;
}

// Headers carry Latin-1 only, so the unicode tenant travels in the path.
const HEADER_TENANTS = ['acme', 'globex', 'a:b', 'a', '*', '{x}', 'x'.repeat(200)];
const PATH_TENANTS = ['ünï-テナント', 'acme'];
const ALL_TENANTS = [...new Set([...HEADER_TENANTS, ...PATH_TENANTS])];
const REQUESTS = 1000;

type Planned = { i: number; kind: 'header' | 'path'; tenant: string } | { i: number; kind: 'public' };

const cases = ADAPTERS.flatMap((adapter) => storeCases().map((store) => [adapter, store.name, store] as [AdapterKind, string, StoreCase]));

describe.each(cases)('1,000 interleaved requests through the global TenantGuard (%s, %s store)', (adapter, _name, store) => {
  let server: RunningApp;
  beforeAll(async () => {
    server = await startApp(adapter, appFor(store));
    for (const tenant of HEADER_TENANTS) {
      const res = await server.call('/secret', { method: 'PUT', headers: { 'x-tenant-id': tenant }, json: { value: `secret of ${tenant}` } });
      expect(res).toEqual({ status: 200, body: { tenant } });
    }
    // No header can carry the unicode tenant: its secret is seeded through the service.
    await server.app.get(TenantCacheService).forTenant('ünï-テナント').set('secret', 'secret of ünï-テナント');
  });
  afterAll(async () => {
    const cache = server.app.get(TenantCacheService);
    for (const tenant of ALL_TENANTS) await cache.forTenant(tenant).clear();
    await server.close();
  });

  it('never crosses tenants: context, @CurrentTenant, reads and writes all stay with the request', async () => {
    const plan: Planned[] = Array.from({ length: REQUESTS }, (_, i) => {
      if (i % 10 === 0) return { i, kind: 'public' };
      if (i % 10 < 3) return { i, kind: 'path', tenant: PATH_TENANTS[i % PATH_TENANTS.length]! };
      return { i, kind: 'header', tenant: HEADER_TENANTS[(i * 7919) % HEADER_TENANTS.length]! };
    });

    const results = await Promise.all(
      plan.map(async (p) => {
        if (p.kind === 'public') return { p, res: await server.call(`/public?i=${p.i}`, { headers: { 'x-tenant-id': 'acme' } }) };
        if (p.kind === 'path') return { p, res: await server.call(`/t/${encodeURIComponent(p.tenant)}/probe?i=${p.i}`) };
        return { p, res: await server.call(`/probe?i=${p.i}`, { headers: { 'x-tenant-id': p.tenant } }) };
      }),
    );

    const crossed: string[] = [];
    const sent = new Map<string, number[]>();
    for (const { p, res } of results) {
      if (res.status !== 200) {
        crossed.push(`#${p.i}: status ${res.status} ${JSON.stringify(res.body)}`);
        continue;
      }
      if (p.kind === 'public') {
        if (res.body.seen.some((t: string | null) => t !== null)) crossed.push(`#${p.i} (public) saw ${JSON.stringify(res.body.seen)}`);
        continue;
      }
      sent.set(p.tenant, [...(sent.get(p.tenant) ?? []), p.i]);
      const { tenant, seen, secret, mine } = res.body;
      const ok = tenant === p.tenant && seen.every((t: string) => t === p.tenant) && secret === `secret of ${p.tenant}` && mine === p.tenant;
      if (!ok) crossed.push(`#${p.i} for ${p.tenant}: ${JSON.stringify(res.body)}`);
    }
    expect(crossed).toEqual([]);

    // Every write landed with its own tenant: per-tenant counters and key listings match what was sent.
    const cache = server.app.get(TenantCacheService);
    for (const tenant of ALL_TENANTS) {
      const mineOnly = (sent.get(tenant) ?? []).map((i) => `req:${i}`).sort();
      expect(await cache.forTenant(tenant).get('hits'), tenant).toBe(mineOnly.length);
      expect((await cache.forTenant(tenant).keys('req:')).sort(), tenant).toEqual(mineOnly);
    }
    expect([...sent.keys()].sort()).toEqual([...ALL_TENANTS].sort());
  });
});
