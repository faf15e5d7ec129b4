import 'reflect-metadata';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import {
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  Inject,
  Injectable,
  Module,
  type Provider,
  Req,
  type Type,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResponse,
  CacheResult,
  CurrentTenant,
  fromJwtClaim,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  TenantGuard,
  type TenantOptions,
} from '../../lib/index.js';
import { ADAPTERS, CapturingLogger, type RunningApp, startApp } from './http-app.js';

// The guarantee under test: whatever order TenantGuard and the auth guard run in, a user of acme who
// sends `x-tenant-id: globex` never gets globex's data (403), through the service, through
// @CacheResponse and through @CurrentTenant, with and without tenant.authorize.

interface TestUser {
  sub: string;
  tenants: string[];
}

const USERS: Record<string, TestUser> = {
  'token-alice': { sub: 'alice', tenants: ['acme'] },
  'token-bob': { sub: 'bob', tenants: ['globex'] },
  'token-carol': { sub: 'carol', tenants: ['acme', 'globex'] },
};

/** A verifying auth guard in the Passport style: sets request.user for a valid token; anonymous requests pass. */
@Injectable()
class AuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: TestUser }>();
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined) return true;
    const user = USERS[token];
    if (!user) throw new UnauthorizedException();
    request.user = user;
    return true;
  }
}

const syncAuthorize = (user: TestUser, tenantId: string) => user.tenants.includes(tenantId);

/** Where each guard is registered. */
interface Order {
  name: string;
  appGuards: Type[];
  classGuards: Type[];
  routeGuards: Type[];
}

const ORDERS: Order[] = [
  { name: 'TenantGuard global, auth guard on the controller', appGuards: [TenantGuard], classGuards: [AuthGuard], routeGuards: [] },
  { name: 'TenantGuard global, auth guard on the route', appGuards: [TenantGuard], classGuards: [], routeGuards: [AuthGuard] },
  { name: 'APP_GUARDs TenantGuard then auth', appGuards: [TenantGuard, AuthGuard], classGuards: [], routeGuards: [] },
  { name: 'APP_GUARDs auth then TenantGuard', appGuards: [AuthGuard, TenantGuard], classGuards: [], routeGuards: [] },
  { name: '@UseGuards(TenantGuard, Auth)', appGuards: [], classGuards: [TenantGuard, AuthGuard], routeGuards: [] },
  { name: '@UseGuards(Auth, TenantGuard)', appGuards: [], classGuards: [AuthGuard, TenantGuard], routeGuards: [] },
  { name: 'TenantGuard global and again after the auth guard on the route', appGuards: [TenantGuard], classGuards: [], routeGuards: [AuthGuard, TenantGuard] },
];

/** A provider method cached per tenant with @CacheResult. */
@Injectable()
class ReportService {
  @CacheResult({ ttl: 60_000 })
  async report(): Promise<string> {
    return `${TenantContext.current()}-computed`;
  }
}

function controllerFor(order: Order): Type {
  @Controller()
  @UseGuards(...order.classGuards)
  class ProbeController {
    constructor(
      private readonly cache: TenantCacheService,
      private readonly reports: ReportService,
      @Inject(CACHE_MANAGER) private readonly cacheManager: Cache,
    ) {}

    /** A read through the drop-in CACHE_MANAGER (cache-manager's API). */
    @UseGuards(...order.routeGuards)
    @Get('dropin')
    async dropin() {
      return { value: (await this.cacheManager.get('plan')) ?? null };
    }

    /** A @CacheResult method called from a handler: globex's cached result on a hit. */
    @UseGuards(...order.routeGuards)
    @Get('method')
    async method() {
      return { value: await this.reports.report() };
    }

    /** A cache read through the service in a handler (no interceptor on this route). */
    @UseGuards(...order.routeGuards)
    @Get('service')
    async service() {
      return { value: (await this.cache.get('plan')) ?? null };
    }

    /** A cached response: the interceptor serves globex's entry on a hit. */
    @UseGuards(...order.routeGuards)
    @UseInterceptors(TenantCacheInterceptor)
    @CacheResponse({ ttl: 60_000, scope: 'tenant' })
    @Get('response')
    response() {
      return { value: `${TenantContext.current()}-report` };
    }

    /** The tenant given to a handler. */
    @UseGuards(...order.routeGuards)
    @Get('param')
    param(@CurrentTenant() tenant: string) {
      return { tenant };
    }
  }
  return ProbeController;
}

function appFor(order: Order, tenant: TenantOptions<TestUser>): Type {
  const providers: Provider[] = [AuthGuard, ReportService, ...order.appGuards.map((useClass) => ({ provide: APP_GUARD, useClass }))];
  @Module({
    imports: [TenantCacheModule.forRoot({ keyPrefix: 'guard-order:', provideCacheManager: true, tenant })],
    controllers: [controllerFor(order)],
    providers,
  })
  class OrderApp {}
  return OrderApp;
}

const as = (user: string | undefined, tenant: string) => ({
  'x-tenant-id': tenant,
  ...(user === undefined ? {} : { authorization: `Bearer token-${user}` }),
});

const ROUTES = ['/service', '/method', '/dropin', '/response', '/param'] as const;

/** globex's data in each route's terms: what must never reach alice. */
async function seedGlobex(server: RunningApp): Promise<void> {
  await server.app.get(TenantCacheService).forTenant('globex').set('plan', 'globex-secret');
  await server.app.get(TenantCacheService).forTenant('acme').set('plan', 'acme-plan');
  // Anonymous requests may name their tenant (documented): this fills globex's cached response.
  const seeded = await server.call('/response', { headers: as(undefined, 'globex') });
  expect(seeded.body).toEqual({ value: 'globex-report' });
  expect((await server.call('/method', { headers: as(undefined, 'globex') })).body).toEqual({ value: 'globex-computed' });
  expect((await server.call('/dropin', { headers: as(undefined, 'globex') })).body).toEqual({ value: 'globex-secret' });
}

describe.each(ADAPTERS)('TenantGuard whatever the guard order (%s)', (kind) => {
  describe.each(ORDERS)('$name', (order) => {
    describe('with tenant.authorize', () => {
      let server: RunningApp;
      beforeAll(async () => {
        server = await startApp(kind, appFor(order, { authorize: syncAuthorize }));
        await seedGlobex(server);
      });
      afterAll(() => server.close());

      it.each(ROUTES)("refuses acme's user naming globex with 403 and none of globex's data: %s", async (route) => {
        const res = await server.call(route, { headers: as('alice', 'globex') });
        expect(res.status).toBe(403);
        expect(res.body.message).toBe('The authenticated user may not act for tenant "globex".');
        expect(res.bytes.toString()).not.toContain('globex-');
      });

      it('serves each user the tenants authorize lets them act for', async () => {
        expect((await server.call('/service', { headers: as('alice', 'acme') })).body).toEqual({ value: 'acme-plan' });
        expect((await server.call('/service', { headers: as('bob', 'globex') })).body).toEqual({ value: 'globex-secret' });
        expect((await server.call('/service', { headers: as('carol', 'globex') })).body).toEqual({ value: 'globex-secret' });
        expect((await server.call('/response', { headers: as('carol', 'globex') })).body).toEqual({ value: 'globex-report' });
        expect((await server.call('/method', { headers: as('carol', 'globex') })).body).toEqual({ value: 'globex-computed' });
        expect((await server.call('/param', { headers: as('alice', 'acme') })).body).toEqual({ tenant: 'acme' });
        expect((await server.call('/param', { headers: as('bob', 'acme') })).status).toBe(403);
      });

      it('keeps anonymous requests as they were: the tenant they name', async () => {
        expect((await server.call('/param', { headers: as(undefined, 'globex') })).body).toEqual({ tenant: 'globex' });
        expect((await server.call('/service', { headers: as(undefined, 'acme') })).body).toEqual({ value: 'acme-plan' });
      });

      it('refuses adversarial tenant ids from an authenticated user, never serving globex', async () => {
        const ids = ['GLOBEX', 'globex.', 'constructor', 'toString', 'acme,globex', 'a:b', '__proto__', '../globex', 'globex%00', 'x'.repeat(129)];
        for (const id of ids) {
          for (const route of ROUTES) {
            const res = await server.call(route, { headers: as('alice', id) });
            expect([400, 403], `${route} ${id}`).toContain(res.status);
            expect(res.bytes.toString(), `${route} ${id}`).not.toContain('globex-');
          }
        }
        // The header sent twice: acme first, then globex.
        const twice = await fetch(`${server.url}/service`, {
          headers: new Headers([
            ['authorization', 'Bearer token-alice'],
            ['x-tenant-id', 'acme'],
            ['x-tenant-id', 'globex'],
          ]),
        });
        expect(twice.status).toBe(400);
      });
    });

    describe('without tenant.authorize', () => {
      let server: RunningApp;
      const logger = new CapturingLogger();
      beforeAll(async () => {
        server = await startApp(kind, appFor(order, {}), { logger });
        await seedGlobex(server);
      });
      afterAll(() => server.close());

      it.each(ROUTES)('refuses a client-chosen tenant on an authenticated request with 403: %s', async (route) => {
        for (const tenant of ['globex', 'acme']) {
          const res = await server.call(route, { headers: as('alice', tenant) });
          expect(res.status).toBe(403);
          expect(res.body.message).toContain('comes from header "x-tenant-id", which the client controls');
          expect(res.bytes.toString()).not.toContain('globex-');
        }
      });

      it('logs the set-up problem once, and anonymous requests still work', async () => {
        await server.call('/service', { headers: as('alice', 'globex') });
        const logged = logger.lines.filter((l) => l.level === 'error' && l.message.includes('tenant.authorize is not configured'));
        expect(logged).toHaveLength(1);
        expect((await server.call('/service', { headers: as(undefined, 'globex') })).body).toEqual({ value: 'globex-secret' });
      });
    });
  });
});

// ---- an async authorize (a membership lookup), with TenantGuard global and the auth guard on the controller

const calls: string[] = [];
const asyncAuthorize = async (user: TestUser, tenantId: string) => {
  calls.push(`${user.sub}:${tenantId}`);
  await new Promise((resolve) => setTimeout(resolve, 5));
  return user.tenants.includes(tenantId);
};

@Controller('late')
@UseGuards(AuthGuard)
class LateAuthController {
  constructor(private readonly cache: TenantCacheService) {}

  /** A service read straight away: a synchronous read cannot wait for an async authorize. */
  @Get('service')
  async service() {
    return { value: (await this.cache.get('plan')) ?? null };
  }

  /** The documented fix: await the check before the first cache call. */
  @Get('awaited')
  async awaited() {
    const tenant = await TenantContext.authorized();
    return { tenant, value: (await this.cache.get('plan')) ?? null };
  }

  @UseInterceptors(TenantCacheInterceptor)
  @CacheResponse({ ttl: 60_000, scope: 'tenant' })
  @Get('response')
  response() {
    return { value: `${TenantContext.current()}-report` };
  }

  /** @CurrentTenant waits; the reads after it (several) call authorize once. */
  @Get('param')
  async param(@CurrentTenant() tenant: string, @Req() request: { tenantId?: string }) {
    await this.cache.get('plan');
    await this.cache.get('plan');
    return { tenant, context: TenantContext.current(), requestTenant: request.tenantId, value: (await this.cache.get('plan')) ?? null };
  }

  /** Code that reads request.tenantId directly gets the same check. */
  @Get('request')
  request(@Req() request: { tenantId?: string }) {
    return { requestTenant: request.tenantId };
  }
}

describe.each(ADAPTERS)('TenantGuard before the auth guard, with an async authorize (%s)', (kind) => {
  let server: RunningApp;
  beforeAll(async () => {
    @Module({
      imports: [TenantCacheModule.forRoot({ keyPrefix: 'guard-order-async:', tenant: { authorize: asyncAuthorize } })],
      controllers: [LateAuthController],
      providers: [AuthGuard, { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class LateAuthApp {}
    server = await startApp(kind, LateAuthApp);
    await server.app.get(TenantCacheService).forTenant('globex').set('plan', 'globex-secret');
    await server.call('/late/response', { headers: as(undefined, 'globex') });
  });
  afterAll(() => server.close());

  it.each(['/late/awaited', '/late/response', '/late/param'])("refuses acme's user naming globex with 403: %s", async (route) => {
    const res = await server.call(route, { headers: as('alice', 'globex') });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe('The authenticated user may not act for tenant "globex".');
    expect(res.bytes.toString()).not.toContain('globex-');
  });

  it('serves an authorized user, calling authorize once per request', async () => {
    calls.length = 0;
    expect((await server.call('/late/param', { headers: as('bob', 'globex') })).body).toEqual({
      tenant: 'globex',
      context: 'globex',
      requestTenant: 'globex',
      value: 'globex-secret',
    });
    expect(calls).toEqual(['bob:globex']);
    expect((await server.call('/late/awaited', { headers: as('carol', 'globex') })).body).toEqual({ tenant: 'globex', value: 'globex-secret' });
    expect((await server.call('/late/response', { headers: as('carol', 'globex') })).body).toEqual({ value: 'globex-report' });
  });

  it('fails closed (500, no data) when a synchronous read comes before the async check could finish', async () => {
    const res = await server.call('/late/service', { headers: as('bob', 'globex') });
    expect(res.status).toBe(500);
    expect(res.bytes.toString()).not.toContain('globex-');
    expect((await server.call('/late/service', { headers: as('alice', 'globex') })).status).toBe(500);
    // Anonymous requests have nothing to check.
    expect((await server.call('/late/service', { headers: as(undefined, 'globex') })).body).toEqual({ value: 'globex-secret' });
  });

  it('request.tenantId carries the same check', async () => {
    expect((await server.call('/late/request', { headers: as('alice', 'globex') })).status).toBe(500);
    expect((await server.call('/late/request', { headers: as(undefined, 'globex') })).body).toEqual({ requestTenant: 'globex' });
  });
});

// ---- no TenantContext scope (tenant.middleware: false): the tenant lives in the app's nestjs-cls store

describe.each(ADAPTERS)('TenantGuard before the auth guard, tenant kept in nestjs-cls only (%s)', (kind) => {
  let server: RunningApp;
  beforeAll(async () => {
    const { ClsModule, ClsService } = await import('nestjs-cls');
    @Module({
      imports: [
        ClsModule.forRoot({ global: true, middleware: { mount: true } }),
        TenantCacheModule.forRootAsync({
          provideCacheManager: true,
          inject: [ClsService],
          useFactory: (cls: InstanceType<typeof ClsService>) => ({
            keyPrefix: 'guard-order-cls:',
            tenant: { middleware: false, cls: { store: cls }, authorize: syncAuthorize },
          }),
        }),
      ],
      controllers: [controllerFor(ORDERS[0]!)],
      providers: [AuthGuard, ReportService, { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class ClsOnlyApp {}
    server = await startApp(kind, ClsOnlyApp);
    await server.app.get(TenantCacheService).forTenant('globex').set('plan', 'globex-secret');
  });
  afterAll(() => server.close());

  it("refuses acme's user naming globex on a service read (403), serves globex's user", async () => {
    const res = await server.call('/service', { headers: as('alice', 'globex') });
    expect(res.status).toBe(403);
    expect(res.bytes.toString()).not.toContain('globex-');
    expect((await server.call('/service', { headers: as('bob', 'globex') })).body).toEqual({ value: 'globex-secret' });
    expect((await server.call('/service', { headers: as(undefined, 'globex') })).body).toEqual({ value: 'globex-secret' });
  });
});

// ---- fromJwtClaim reads the verified user: before the auth guard there is none to read

describe.each(ADAPTERS)('fromJwtClaim with TenantGuard before the auth guard (%s)', (kind) => {
  it('answers 400 saying the auth guard must run first, never a tenant from elsewhere', async () => {
    @Module({
      imports: [TenantCacheModule.forRoot({ keyPrefix: 'guard-order-claim:', provideCacheManager: true, tenant: { resolver: fromJwtClaim('tenants') } })],
      controllers: [controllerFor(ORDERS[0]!)],
      providers: [AuthGuard, ReportService, { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class ClaimApp {}
    const server = await startApp(kind, ClaimApp);
    try {
      const res = await server.call('/param', { headers: as('alice', 'globex') });
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('Missing tenant: this route needs a tenant id from claim "tenants" of the authenticated user.');
      expect(res.body.message).toContain('it must run before TenantGuard');
    } finally {
      await server.close();
    }
  });
});

describe.each(ADAPTERS)('TenantGuard before the auth guard, async authorize, TenantCacheInterceptor bound globally (%s)', (kind) => {
  let server: RunningApp;
  beforeAll(async () => {
    @Module({
      imports: [TenantCacheModule.forRoot({ keyPrefix: 'guard-order-async-global:', tenant: { authorize: asyncAuthorize } })],
      controllers: [LateAuthController],
      providers: [AuthGuard, { provide: APP_GUARD, useClass: TenantGuard }, { provide: APP_INTERCEPTOR, useClass: TenantCacheInterceptor }],
    })
    class GlobalInterceptorApp {}
    server = await startApp(kind, GlobalInterceptorApp);
    await server.app.get(TenantCacheService).forTenant('globex').set('plan', 'globex-secret');
  });
  afterAll(() => server.close());

  it('the interceptor completes the check before the handler: its synchronous reads work, refusals are 403', async () => {
    calls.length = 0;
    expect((await server.call('/late/service', { headers: as('bob', 'globex') })).body).toEqual({ value: 'globex-secret' });
    expect(calls).toEqual(['bob:globex']);
    const res = await server.call('/late/service', { headers: as('alice', 'globex') });
    expect(res.status).toBe(403);
    expect(res.bytes.toString()).not.toContain('globex-');
    expect((await server.call('/late/request', { headers: as('alice', 'globex') })).status).toBe(403);
  });
});
