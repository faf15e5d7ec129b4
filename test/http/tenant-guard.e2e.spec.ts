import 'reflect-metadata';
import {
  Body,
  type CanActivate,
  Controller,
  type ExecutionContext,
  Get,
  Injectable,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  Param,
  Post,
  Put,
  Req,
  SetMetadata,
  type Type,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CurrentTenant,
  fromFunction,
  fromHeader,
  fromJwtClaim,
  fromRouteParam,
  fromSubdomain,
  SkipTenant,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  TenantContextMiddleware,
  TenantGuard,
  type TenantOptions,
  type TenantRequest,
  TenantOptional,
} from '../../lib/index.js';
import { ADAPTERS, CapturingLogger, type RunningApp, startApp } from './http-app.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- a small app: a verifying auth guard of its own (like Passport's), and routes that report the tenant

interface TestUser {
  sub: string;
  tenantId?: string;
  tenants: string[];
}

/** Tokens the test "issuer" signed; anything else is refused, as a verifying JWT guard would. */
const VERIFIED_TOKENS: Record<string, TestUser> = {
  'token-alice': { sub: 'alice', tenantId: 'acme', tenants: ['acme'] },
  'token-bob': { sub: 'bob', tenantId: 'globex', tenants: ['globex'] },
  'token-carol': { sub: 'carol', tenants: ['acme', 'globex'] },
};
const ANONYMOUS = 'test:anonymous';
const AllowAnonymous = () => SetMetadata(ANONYMOUS, true);

@Injectable()
class TestAuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; user?: TestUser }>();
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined) {
      if (this.reflector.getAllAndOverride<boolean>(ANONYMOUS, [context.getHandler(), context.getClass()])) return true;
      throw new UnauthorizedException();
    }
    const user = VERIFIED_TOKENS[token];
    if (!user) throw new UnauthorizedException();
    request.user = user;
    return true;
  }
}

const authorize = (user: unknown, tenantId: string) => (user as TestUser).tenants.includes(tenantId);

@Controller()
class ProbeController {
  constructor(private readonly cache: TenantCacheService) {}

  @Get('whoami')
  whoami(@CurrentTenant() tenant: string, @Req() request: { tenantId?: string; user?: TestUser }) {
    return { tenant, context: TenantContext.current(), requestTenant: request.tenantId, user: request.user?.sub ?? null };
  }

  @Get('orgs/:tenantId/whoami')
  org(@CurrentTenant() tenant: string, @Param('tenantId') param: string) {
    return { tenant, context: TenantContext.current(), param };
  }

  @Post('echo')
  async echo(@Body() body: unknown, @CurrentTenant() tenant: string) {
    await sleep(2);
    return { tenant, context: TenantContext.current(), body };
  }

  @Get('values/:key')
  async read(@Param('key') key: string) {
    return { tenant: TenantContext.current(), value: (await this.cache.get(key)) ?? null };
  }

  @Put('values/:key')
  async write(@Param('key') key: string, @Body() body: { value: unknown }) {
    await this.cache.set(key, body.value);
    return { tenant: TenantContext.current() };
  }

  @SkipTenant()
  @AllowAnonymous()
  @Get('public')
  async public(@CurrentTenant({ optional: true }) tenant?: string) {
    await sleep(2);
    return { tenant: tenant ?? null, context: TenantContext.current() ?? null };
  }

  @TenantOptional()
  @AllowAnonymous()
  @Get('optional')
  optional(@CurrentTenant({ optional: true }) tenant?: string) {
    return { tenant: tenant ?? null, context: TenantContext.current() ?? null };
  }

  @SkipTenant()
  @AllowAnonymous()
  @Get('public-cache')
  async publicCache() {
    return { value: (await this.cache.get('x')) ?? null };
  }
}

@SkipTenant()
@AllowAnonymous()
@Controller('open')
class OpenController {
  @Get()
  open() {
    return { context: TenantContext.current() ?? null };
  }

  @TenantOptional()
  @Get('maybe')
  maybe() {
    return { context: TenantContext.current() ?? null };
  }
}

const CONTROLLERS = [ProbeController, OpenController];

function appWith(tenant: TenantOptions, { auth = false }: { auth?: boolean } = {}): Type {
  @Module({
    imports: [TenantCacheModule.forRoot({ keyPrefix: 'guard-e2e:', tenant })],
    controllers: CONTROLLERS,
    providers: [...(auth ? [{ provide: APP_GUARD, useClass: TestAuthGuard }] : []), { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class GuardedApp {}
  return GuardedApp;
}

const bearer = (name: string) => ({ authorization: `Bearer token-${name}` });

describe.each(ADAPTERS)('TenantGuard over HTTP (%s)', (kind) => {
  describe('default resolver: the x-tenant-id header', () => {
    let server: RunningApp;
    beforeAll(async () => {
      server = await startApp(kind, appWith({ isKnownTenant: async (id) => id !== 'ghost' }));
    });
    afterAll(() => server.close());

    it('puts the tenant in context, on the request and in @CurrentTenant()', async () => {
      const res = await server.call('/whoami', { headers: { 'x-tenant-id': 'acme' } });
      expect(res).toEqual({ status: 200, body: { tenant: 'acme', context: 'acme', requestTenant: 'acme', user: null } });
    });

    it('keeps the tenant through a parsed JSON body and an await', async () => {
      const body = { text: 'y'.repeat(90_000) }; // several TCP chunks, under Express's 100 kB limit
      const res = await server.call('/echo', { headers: { 'x-tenant-id': 'globex' }, json: body });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ tenant: 'globex', context: 'globex', body });
    });

    it('refuses a missing tenant with 400 naming the header', async () => {
      const res = await server.call('/whoami');
      expect(res.status).toBe(400);
      expect(res.body.message).toBe('Missing tenant: this route needs a tenant id from header "x-tenant-id".');
      expect((await server.call('/whoami', { headers: { 'x-tenant-id': '' } })).status).toBe(400);
    });

    it('refuses malformed ids with 400 and the reason', async () => {
      const colon = await server.call('/whoami', { headers: { 'x-tenant-id': 'a:b' } });
      expect(colon.status).toBe(400);
      expect(colon.body.message).toContain('Invalid tenant id "a:b": it does not match');
      expect(colon.body.message).toContain('(from header "x-tenant-id")');
      const long = await server.call('/whoami', { headers: { 'x-tenant-id': 'a'.repeat(129) } });
      expect(long.status).toBe(400);
      expect(long.body.message).toContain('129 characters long; the maximum is 128');
      // Sent twice, the header arrives joined ("a, b") and fails the pattern.
      const twice = await fetch(`${server.url}/whoami`, {
        headers: new Headers([
          ['x-tenant-id', 'acme'],
          ['x-tenant-id', 'globex'],
        ]),
      });
      expect(twice.status).toBe(400);
    });

    it('refuses an unknown tenant with 403', async () => {
      const res = await server.call('/whoami', { headers: { 'x-tenant-id': 'ghost' } });
      expect(res.status).toBe(403);
      expect(res.body.message).toBe('Unknown tenant "ghost".');
    });

    it('lets @SkipTenant() routes through without a tenant, and puts none in context even when one is sent', async () => {
      expect(await server.call('/public')).toEqual({ status: 200, body: { tenant: null, context: null } });
      expect(await server.call('/public', { headers: { 'x-tenant-id': 'acme' } })).toEqual({
        status: 200,
        body: { tenant: null, context: null },
      });
      expect(await server.call('/open', { headers: { 'x-tenant-id': 'a:b' } })).toEqual({ status: 200, body: { context: null } });
    });

    it('still fails closed on a skipped route that uses the tenant cache', async () => {
      const res = await server.call('/public-cache', { headers: { 'x-tenant-id': 'acme' } });
      expect(res.status).toBe(500);
    });

    it('@TenantOptional() uses a tenant when sent, runs without one, and still refuses a bad one', async () => {
      expect(await server.call('/optional')).toEqual({ status: 200, body: { tenant: null, context: null } });
      expect(await server.call('/optional', { headers: { 'x-tenant-id': 'acme' } })).toEqual({
        status: 200,
        body: { tenant: 'acme', context: 'acme' },
      });
      expect((await server.call('/optional', { headers: { 'x-tenant-id': 'a:b' } })).status).toBe(400);
      expect((await server.call('/optional', { headers: { 'x-tenant-id': 'ghost' } })).status).toBe(403);
    });

    it('a method marker beats its controller marker', async () => {
      expect(await server.call('/open/maybe', { headers: { 'x-tenant-id': 'acme' } })).toEqual({ status: 200, body: { context: 'acme' } });
      expect((await server.call('/open/maybe', { headers: { 'x-tenant-id': 'a:b' } })).status).toBe(400);
    });

    it('TenantGuard is a provider of TenantCacheModule, injectable by type', () => {
      expect(server.app.get(TenantGuard)).toBeInstanceOf(TenantGuard);
    });

    it('isolates cache entries by the resolved tenant', async () => {
      await server.call('/values/plan', { method: 'PUT', headers: { 'x-tenant-id': 'acme' }, json: { value: 'gold' } });
      expect((await server.call('/values/plan', { headers: { 'x-tenant-id': 'acme' } })).body.value).toBe('gold');
      expect((await server.call('/values/plan', { headers: { 'x-tenant-id': 'globex' } })).body.value).toBeNull();
    });
  });

  describe('built-in resolvers', () => {
    it('fromSubdomain reads the host under a base domain', async () => {
      const server = await startApp(kind, appWith({ resolver: fromSubdomain({ baseDomain: 'shop.test' }) }));
      try {
        const host = (h: string) => server.callWithHost('/whoami', h);
        expect((await host('acme.shop.test')).body.tenant).toBe('acme');
        expect((await host('Globex.Shop.Test:8080')).body.tenant).toBe('globex');
        for (const missing of ['shop.test', 'www.acme.shop.test', 'acme.other.test', '127.0.0.1']) {
          const res = await host(missing);
          expect(res.status, missing).toBe(400);
          expect(res.body.message).toBe('Missing tenant: this route needs a tenant id from subdomain of "shop.test".');
        }
      } finally {
        await server.close();
      }
    });

    it('fromRouteParam reads a path parameter, decoded', async () => {
      const server = await startApp(kind, appWith({ resolver: fromRouteParam('tenantId'), pattern: /^[^\s/]+$/u }));
      try {
        expect((await server.call('/orgs/acme/whoami')).body).toEqual({ tenant: 'acme', context: 'acme', param: 'acme' });
        const unicode = 'ünï-テナント';
        expect((await server.call(`/orgs/${encodeURIComponent(unicode)}/whoami`)).body.tenant).toBe(unicode);
        const res = await server.call('/whoami');
        expect(res.status).toBe(400);
        expect(res.body.message).toContain('route parameter ":tenantId"');
      } finally {
        await server.close();
      }
    });

    it('custom sync and async functions are tried in order', async () => {
      const fromQuery = async (request: TenantRequest) => {
        await sleep(1);
        const tenant = (request.query as Record<string, unknown> | undefined)?.tenant;
        return typeof tenant === 'string' ? tenant : undefined;
      };
      const fixed = () => 'fallback-tenant';
      const server = await startApp(kind, appWith({ resolver: [fromQuery, fromHeader('X-Org'), fixed] }));
      try {
        expect((await server.call('/whoami?tenant=acme', { headers: { 'x-org': 'globex' } })).body.tenant).toBe('acme');
        expect((await server.call('/whoami', { headers: { 'x-org': 'globex' } })).body.tenant).toBe('globex');
        expect((await server.call('/whoami')).body.tenant).toBe('fallback-tenant');
      } finally {
        await server.close();
      }
    });

    it('a resolver that throws a tenant error is a 400; a missing one names every source tried', async () => {
      const server = await startApp(kind, appWith({ resolver: [fromFunction(() => undefined, { description: 'API key' }), fromHeader('x-org')] }));
      try {
        const res = await server.call('/whoami');
        expect(res.status).toBe(400);
        expect(res.body.message).toBe('Missing tenant: this route needs a tenant id from API key or header "x-org".');
      } finally {
        await server.close();
      }
    });
  });

  describe('authenticated requests', () => {
    it('authorize() refuses a user acting for another tenant: a spoofed header can neither read nor poison', async () => {
      const server = await startApp(kind, appWith({ authorize }, { auth: true }));
      try {
        const as = (user: string, tenant: string) => ({ ...bearer(user), 'x-tenant-id': tenant });
        expect((await server.call('/values/plan', { method: 'PUT', headers: as('alice', 'acme'), json: { value: 'gold' } })).status).toBe(200);
        expect((await server.call('/values/plan', { method: 'PUT', headers: as('bob', 'globex'), json: { value: 'silver' } })).status).toBe(200);

        const read = await server.call('/values/plan', { headers: as('alice', 'globex') });
        expect(read.status).toBe(403);
        expect(read.body.message).toBe('The authenticated user may not act for tenant "globex".');
        expect(JSON.stringify(read.body)).not.toContain('silver');
        const poison = await server.call('/values/plan', { method: 'PUT', headers: as('alice', 'globex'), json: { value: 'poison' } });
        expect(poison.status).toBe(403);

        expect((await server.call('/values/plan', { headers: as('bob', 'globex') })).body).toEqual({ tenant: 'globex', value: 'silver' });
        expect((await server.call('/values/plan', { headers: as('alice', 'acme') })).body).toEqual({ tenant: 'acme', value: 'gold' });
        // A user with both tenants may act for either.
        expect((await server.call('/values/plan', { headers: as('carol', 'globex') })).body.value).toBe('silver');
        // The auth guard still guards: a forged token never reaches the tenant check.
        expect((await server.call('/values/plan', { headers: { authorization: 'Bearer forged', 'x-tenant-id': 'globex' } })).status).toBe(401);
        const service = server.app.get(TenantCacheService);
        expect(await service.forTenant('globex').get('plan')).toBe('silver');
      } finally {
        await server.close();
      }
    });

    it('without authorize, a client-controlled tenant on an authenticated request is refused, and logged once', async () => {
      const logger = new CapturingLogger();
      const server = await startApp(kind, appWith({}, { auth: true }), { logger });
      try {
        for (let i = 0; i < 3; i++) {
          const res = await server.call('/whoami', { headers: { ...bearer('alice'), 'x-tenant-id': 'acme' } });
          expect(res.status).toBe(403);
          expect(res.body.message).toContain('comes from header "x-tenant-id", which the client controls');
        }
        const logged = logger.lines.filter((l) => l.level === 'error' && l.message.includes('tenant.authorize is not configured'));
        expect(logged).toHaveLength(1);
        expect(logged[0]!.message).toContain('fromJwtClaim()');
        // Anonymous routes with a tenant are not affected.
        expect((await server.call('/optional', { headers: { 'x-tenant-id': 'acme' } })).body.tenant).toBe('acme');
      } finally {
        await server.close();
      }
    });

    it('fromJwtClaim takes the tenant from the verified user only; a header cannot override it', async () => {
      const server = await startApp(kind, appWith({ resolver: fromJwtClaim() }, { auth: true }));
      try {
        await server.call('/values/plan', { method: 'PUT', headers: { ...bearer('bob') }, json: { value: 'silver' } });
        const spoof = await server.call('/values/plan', { headers: { ...bearer('alice'), 'x-tenant-id': 'globex' } });
        expect(spoof).toEqual({ status: 200, body: { tenant: 'acme', value: null } });
        const poison = await server.call('/values/plan', { method: 'PUT', headers: { ...bearer('alice'), 'x-tenant-id': 'globex' }, json: { value: 'poison' } });
        expect(poison.body.tenant).toBe('acme');
        expect((await server.call('/values/plan', { headers: bearer('bob') })).body).toEqual({ tenant: 'globex', value: 'silver' });
        // carol's token has no tenant claim: 400 naming the claim. No token at all: no user, no claim.
        const carol = await server.call('/whoami', { headers: bearer('carol') });
        expect(carol.status).toBe(400);
        expect(carol.body.message).toContain('claim "tenantId" of the authenticated user');
        expect((await server.call('/optional', { headers: { 'x-tenant-id': 'globex' } })).body.tenant).toBeNull();
      } finally {
        await server.close();
      }
    });

    it('a claim first, then a header checked by authorize', async () => {
      const server = await startApp(kind, appWith({ resolver: [fromJwtClaim(), fromHeader()], authorize }, { auth: true }));
      try {
        expect((await server.call('/whoami', { headers: { ...bearer('alice'), 'x-tenant-id': 'globex' } })).body.tenant).toBe('acme');
        expect((await server.call('/whoami', { headers: { ...bearer('carol'), 'x-tenant-id': 'globex' } })).body.tenant).toBe('globex');
        expect((await server.call('/whoami', { headers: { ...bearer('carol'), 'x-tenant-id': 'initech' } })).status).toBe(403);
      } finally {
        await server.close();
      }
    });
  });

  describe('per-route guard and middleware settings', () => {
    @Controller('r')
    class RouteGuardedController {
      constructor(private readonly cache: TenantCacheService) {}

      @UseGuards(TestAuthGuard, TenantGuard)
      @Get('guarded')
      guarded(@CurrentTenant() tenant: string) {
        return { tenant, context: TenantContext.current() };
      }

      @Get('unguarded')
      async unguarded() {
        return { context: TenantContext.current() ?? null, value: (await this.cache.get('k')) ?? null };
      }
    }

    @Module({
      imports: [TenantCacheModule.forRoot({ isGlobal: true, tenant: { authorize } })],
      controllers: [RouteGuardedController],
      providers: [TestAuthGuard],
    })
    class PerRouteApp {}

    it('@UseGuards(AuthGuard, TenantGuard) on one route; other routes have no tenant and fail closed', async () => {
      const server = await startApp(kind, PerRouteApp);
      try {
        expect((await server.call('/r/guarded', { headers: { ...bearer('alice'), 'x-tenant-id': 'acme' } })).body).toEqual({
          tenant: 'acme',
          context: 'acme',
        });
        expect((await server.call('/r/guarded', { headers: { ...bearer('alice'), 'x-tenant-id': 'globex' } })).status).toBe(403);
        expect((await server.call('/r/guarded', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(401);
        expect((await server.call('/r/unguarded', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(500);
      } finally {
        await server.close();
      }
    });

    it('with tenant.middleware: false and no scope, the guard fails with a message saying what to change', async () => {
      const logger = new CapturingLogger();
      const server = await startApp(kind, appWith({ middleware: false }), { logger });
      try {
        const res = await server.call('/whoami', { headers: { 'x-tenant-id': 'acme' } });
        expect(res.status).toBe(500);
        expect(logger.lines.some((l) => l.level === 'error' && l.message.includes('no tenant scope is open for this request'))).toBe(true);
      } finally {
        await server.close();
      }
    });

    it('with tenant.middleware: false, applying TenantContextMiddleware by hand works', async () => {
      @Module({
        imports: [TenantCacheModule.forRoot({ tenant: { middleware: false } })],
        controllers: CONTROLLERS,
        providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
      })
      class ManualMiddlewareApp implements NestModule {
        configure(consumer: MiddlewareConsumer) {
          consumer.apply(TenantContextMiddleware).forRoutes('{*splat}');
        }
      }
      const server = await startApp(kind, ManualMiddlewareApp);
      try {
        expect((await server.call('/whoami', { headers: { 'x-tenant-id': 'acme' } })).body.context).toBe('acme');
      } finally {
        await server.close();
      }
    });

    it('the module registers its middleware for every route without a warning from Nest', async () => {
      const logger = new CapturingLogger();
      const server = await startApp(kind, appWith({}), { logger });
      try {
        expect((await server.call('/', { headers: { 'x-tenant-id': 'acme' } })).status).toBe(404);
        expect((await server.call('/orgs/x/whoami', { headers: { 'x-tenant-id': 'acme' } })).body.context).toBe('acme');
        expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
        expect(logger.lines.some((l) => l.message.includes('Nest application successfully started'))).toBe(true);
      } finally {
        await server.close();
      }
    });

    it('works under a global prefix', async () => {
      const server = await startApp(kind, appWith({}), { setup: (app) => app.setGlobalPrefix('api') });
      try {
        expect((await server.call('/api/whoami', { headers: { 'x-tenant-id': 'acme' } })).body.context).toBe('acme');
      } finally {
        await server.close();
      }
    });
  });
});
