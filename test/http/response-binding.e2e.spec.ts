import 'reflect-metadata';
import { Controller, Get, Injectable, Module, type CanActivate, type ExecutionContext, UseGuards, UseInterceptors } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResponse,
  NoCache,
  SkipTenant,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantContext,
  TenantGuard,
  TenantOptional,
  memoryStore,
} from '../../lib/index.js';
import { ADAPTERS, CapturingLogger, type RunningApp, startApp } from './http-app.js';

let runs = 0;

/** Marks every request `doNotCache` when it carries `x-no-cache`, before the handler runs. */
@Injectable()
class NoCacheHeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; doNotCache?: boolean }>();
    if (req.headers['x-no-cache']) req.doNotCache = true;
    return true;
  }
}

@Controller()
class GlobalController {
  @Get('plain')
  plain() {
    return { run: ++runs };
  }

  @CacheResponse({ ttl: 60_000 })
  @UseGuards(NoCacheHeaderGuard)
  @Get('cached')
  cached() {
    return { run: ++runs, tenant: TenantContext.current() };
  }

  @SkipTenant()
  @CacheResponse({ ttl: 60_000, scope: 'shared' })
  @Get('public-config')
  config() {
    return { run: ++runs, tenant: TenantContext.current() ?? null };
  }

  @TenantOptional()
  @CacheResponse({ ttl: 60_000 })
  @Get('optional')
  optional() {
    return { run: ++runs, tenant: TenantContext.current() ?? null };
  }
}

@Controller('per-class')
@CacheResponse({ ttl: 60_000 })
class ClassLevelController {
  @Get('a')
  a() {
    return { run: ++runs };
  }

  @NoCache()
  @Get('b')
  b() {
    return { run: ++runs };
  }
}

@Controller('per-route')
class PerRouteController {
  @UseInterceptors(TenantCacheInterceptor)
  @CacheResponse({ ttl: 60_000 })
  @Get()
  get() {
    return { run: ++runs };
  }
}

@Module({
  imports: [TenantCacheModule.forRoot({ keyPrefix: 'resp-binding:', stores: { default: memoryStore() } })],
  controllers: [GlobalController, ClassLevelController],
  providers: [
    { provide: APP_GUARD, useClass: TenantGuard },
    { provide: APP_INTERCEPTOR, useClass: TenantCacheInterceptor },
  ],
})
class GlobalApp {}

@Module({
  imports: [TenantCacheModule.forRoot({ keyPrefix: 'resp-binding-route:', stores: { default: memoryStore() } })],
  controllers: [PerRouteController],
  providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
})
class PerRouteApp {}

describe.each(ADAPTERS)('TenantCacheInterceptor bound globally, per controller and per route (%s)', (adapter) => {
  let app: RunningApp;
  let routeApp: RunningApp;
  const logger = new CapturingLogger();
  const get = (path: string, headers: Record<string, string> = { 'x-tenant-id': 'acme' }) => app.call(path, { headers });

  beforeAll(async () => {
    // NOTE: Nest's logger is process-wide: the app whose logs are asserted starts last.
    routeApp = await startApp(adapter, PerRouteApp);
    app = await startApp(adapter, GlobalApp, { logger });
  });
  afterAll(async () => {
    await app.close();
    await routeApp.close();
  });

  it('leaves routes without @CacheResponse alone when bound with APP_INTERCEPTOR', async () => {
    const a = await get('/plain');
    const b = await get('/plain');
    expect(b.body.run).toBe(a.body.run + 1);
    expect(a.headers['x-cache']).toBeUndefined();
  });

  it('caches decorated routes; a guard setting request.doNotCache bypasses before the handler', async () => {
    const a = await get('/cached');
    const b = await get('/cached');
    expect(b.headers['x-cache']).toBe('HIT');
    expect(b.body).toEqual(a.body);
    const c = await get('/cached', { 'x-tenant-id': 'acme', 'x-no-cache': '1' });
    expect(c.headers['x-cache']).toBe('BYPASS');
    expect(c.body.run).toBeGreaterThan(a.body.run);
    expect((await get('/cached')).body).toEqual(a.body);
  });

  it('shares a scope: "shared" entry between tenants and requests without one', async () => {
    const none = await get('/public-config', {});
    const acme = await get('/public-config', { 'x-tenant-id': 'acme' });
    expect(none.status).toBe(200);
    expect(acme.headers['x-cache']).toBe('HIT');
    expect(acme.body).toEqual(none.body);
  });

  it('serves a decorated route reached without a tenant uncached, and warns once', async () => {
    logger.lines.length = 0;
    const a = await get('/optional', {});
    const b = await get('/optional', {});
    expect(a.headers['x-cache']).toBe('BYPASS');
    expect(b.body.run).toBe(a.body.run + 1);
    expect(
      logger.lines.filter((l) => l.level === 'warn' && /has no tenant/.test(l.message)),
      JSON.stringify(logger.lines),
    ).toHaveLength(1);
    const acme = await get('/optional');
    expect(acme.body.tenant).toBe('acme');
    expect((await get('/optional')).headers['x-cache']).toBe('HIT');
  });

  it('applies a controller-level @CacheResponse to its routes; @NoCache on a route wins', async () => {
    await get('/per-class/a');
    expect((await get('/per-class/a')).headers['x-cache']).toBe('HIT');
    expect((await get('/per-class/b')).headers['x-cache']).toBe('BYPASS');
    expect((await get('/per-class/b')).headers['x-cache']).toBe('BYPASS');
  });

  it('works bound on one route with @UseInterceptors', async () => {
    const a = await routeApp.call('/per-route', { headers: { 'x-tenant-id': 'acme' } });
    const b = await routeApp.call('/per-route', { headers: { 'x-tenant-id': 'acme' } });
    expect(a.headers['x-cache']).toBe('MISS');
    expect(b.headers['x-cache']).toBe('HIT');
    expect((await routeApp.call('/per-route', { headers: { 'x-tenant-id': 'globex' } })).headers['x-cache']).toBe('MISS');
  });
});
