import 'reflect-metadata';
import { Controller, Get, Module, Query } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ClsModule, ClsService } from 'nestjs-cls';
import { describe, expect, it } from 'vitest';
import { SkipTenant, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard } from '../../lib/index.js';
import { ADAPTERS, startApp } from './http-app.js';

const jitter = () => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));

@Controller()
class ClsProbeController {
  constructor(
    private readonly cache: TenantCacheService,
    private readonly cls: ClsService,
  ) {}

  @Get('probe')
  async probe(@Query('i') i: string) {
    await jitter();
    await this.cache.set(`req:${i}`, this.cls.get('tenantId'));
    await jitter();
    return {
      cls: this.cls.get('tenantId') ?? null,
      context: TenantContext.current() ?? null,
      service: this.cache.currentTenant() ?? null,
      mine: (await this.cache.get(`req:${i}`)) ?? null,
      secret: (await this.cache.get('secret')) ?? null,
    };
  }

  @SkipTenant()
  @Get('public')
  public() {
    return { cls: this.cls.get('tenantId') ?? null };
  }
}

const TENANTS = ['acme', 'globex', 'initech'];

describe.each(ADAPTERS)('nestjs-cls integration (%s)', (kind) => {
  it("the service reads the tenant an app's own ClsModule middleware sets, without our middleware or guard", async () => {
    @Module({
      imports: [
        ClsModule.forRoot({
          global: true,
          middleware: {
            mount: true,
            setup: (cls, req: { headers: Record<string, string | undefined> }) => cls.set('tenantId', req.headers['x-tenant-id']),
          },
        }),
        TenantCacheModule.forRootAsync({
          inject: [ClsService],
          useFactory: (cls: ClsService) => ({ keyPrefix: 'cls-e2e:', tenant: { middleware: false, cls: { store: cls, key: 'tenantId' } } }),
        }),
      ],
      controllers: [ClsProbeController],
    })
    class ClsApp {}

    const server = await startApp(kind, ClsApp);
    try {
      const cache = server.app.get(TenantCacheService);
      for (const tenant of TENANTS) await cache.forTenant(tenant).set('secret', `secret of ${tenant}`);

      const responses = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const tenant = TENANTS[i % TENANTS.length]!;
          const res = await server.call(`/probe?i=${i}`, { headers: { 'x-tenant-id': tenant } });
          return { tenant, res };
        }),
      );
      for (const { tenant, res } of responses) {
        expect(res).toEqual({
          status: 200,
          body: { cls: tenant, context: null, service: tenant, mine: tenant, secret: `secret of ${tenant}` },
        });
      }
      for (const tenant of TENANTS) expect(await cache.forTenant(tenant).keys('req:')).toHaveLength(100);
      // No tenant in the CLS context: the service refuses (no shared fall-back).
      expect((await server.call('/probe?i=x')).status).toBe(500);
      // Ids from CLS are validated like any other.
      expect((await server.call('/probe?i=y', { headers: { 'x-tenant-id': 'a:b' } })).status).toBe(500);
      expect(await cache.forTenant('acme').get('req:y')).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('TenantGuard writes the tenant it checked into the CLS context when our middleware is off', async () => {
    @Module({
      imports: [
        // The app's CLS middleware does not set the tenant: the guard does, after validation.
        ClsModule.forRoot({ global: true, middleware: { mount: true } }),
        TenantCacheModule.forRootAsync({
          inject: [ClsService],
          useFactory: (cls: ClsService) => ({
            keyPrefix: 'cls-e2e-guard:',
            tenant: { middleware: false, cls: { store: cls }, isKnownTenant: (id) => TENANTS.includes(id) },
          }),
        }),
      ],
      controllers: [ClsProbeController],
      providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
    })
    class ClsGuardApp {}

    const server = await startApp(kind, ClsGuardApp);
    try {
      const cache = server.app.get(TenantCacheService);
      for (const tenant of TENANTS) await cache.forTenant(tenant).set('secret', `secret of ${tenant}`);
      const responses = await Promise.all(
        Array.from({ length: 150 }, async (_, i) => {
          const tenant = TENANTS[i % TENANTS.length]!;
          return { tenant, res: await server.call(`/probe?i=${i}`, { headers: { 'x-tenant-id': tenant } }) };
        }),
      );
      for (const { tenant, res } of responses) {
        expect(res.body).toEqual({ cls: tenant, context: null, service: tenant, mine: tenant, secret: `secret of ${tenant}` });
      }
      expect((await server.call('/probe?i=1')).status).toBe(400);
      expect((await server.call('/probe?i=1', { headers: { 'x-tenant-id': 'umbrella' } })).status).toBe(403);
      expect(await server.call('/public', { headers: { 'x-tenant-id': 'acme' } })).toEqual({ status: 200, body: { cls: null } });
    } finally {
      await server.close();
    }
  });
});
