import 'reflect-metadata';
import { type CanActivate, type ExecutionContext, HttpException, Injectable, Module, type OnModuleInit, UnauthorizedException, UseGuards } from '@nestjs/common';
import { APP_GUARD, ExternalContextCreator, HttpAdapterHost } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurrentTenant, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard, type TenantRequest } from '../../lib/index.js';
import { ADAPTERS, type AdapterKind, type RunningApp, startApp } from './http-app.js';

// @nestjs/graphql is not installed here (and not a dependency): this suite runs a resolver the way
// it does. Its ResolversExplorerService wraps each resolver method with Nest's own
// ExternalContextCreator.create(..., 'graphql') and calls it with (root, args, context, info), where
// the context holds the HTTP request (`{ req }` with Apollo on Express, `{ request, reply }` forms with
// Fastify). Here a route registered on the real HTTP server at module init (as GraphQLModule does)
// calls the wrapped method: Nest runs the global and resolver guards, pipes and param decorators
// with context type 'graphql', on a real Express or Fastify request. Only the GraphQL parsing and
// the response format are not the real ones.

interface TestUser {
  sub: string;
  tenants: string[];
}
const USERS: Record<string, TestUser> = {
  'token-alice': { sub: 'alice', tenants: ['acme'] },
  'token-bob': { sub: 'bob', tenants: ['globex'] },
};

/** The usual GraphQL auth guard: the request comes from the GraphQL context (GqlExecutionContext...getContext().req). */
@Injectable()
class GqlAuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const gql = context.getArgs()[2] as { req?: TenantRequest; request?: TenantRequest };
    const request = (gql.req ?? gql.request)!;
    const header = request.headers.authorization;
    const token = /^Bearer (.+)$/.exec(typeof header === 'string' ? header : '')?.[1];
    if (token === undefined) return true;
    const user = USERS[token];
    if (!user) throw new UnauthorizedException();
    request.user = user;
    return true;
  }
}

@Injectable()
@UseGuards(GqlAuthGuard)
class ReportResolver {
  constructor(private readonly cache: TenantCacheService) {}

  async report(tenant: string): Promise<{ tenant: string; context: string | undefined; plan: unknown }> {
    return { tenant, context: TenantContext.current(), plan: (await this.cache.get('plan')) ?? null };
  }
}
// Parameter decorators applied by hand: `@CurrentTenant() tenant` on the first parameter.
CurrentTenant()(ReportResolver.prototype, 'report', 0);

/** Stands in for GraphQLModule: wraps the resolver as @nestjs/graphql does and serves it over HTTP. */
function graphqlHost(kind: AdapterKind) {
  @Injectable()
  class GraphqlHost implements OnModuleInit {
    constructor(
      private readonly adapterHost: HttpAdapterHost,
      private readonly contextCreator: ExternalContextCreator,
      private readonly resolver: ReportResolver,
    ) {}

    onModuleInit(): void {
      const resolve = this.contextCreator.create(
        this.resolver,
        ReportResolver.prototype.report as (...args: unknown[]) => unknown,
        'report',
        '__routeArguments__',
        { exchangeKeyForValue: () => undefined },
        undefined,
        undefined,
        { guards: true, interceptors: true, filters: false },
        'graphql',
      );
      const adapter = this.adapterHost.httpAdapter;
      adapter.get('/graphql', async (req: TenantRequest, res: unknown) => {
        const context = kind === 'express' ? { req } : { request: req, reply: res };
        try {
          adapter.reply(res, { data: { report: await resolve(undefined, {}, context, {}) } }, 200);
        } catch (error) {
          const status = error instanceof HttpException ? error.getStatus() : 500;
          adapter.reply(res, { errors: [{ message: (error as Error).message, status }] }, 200);
        }
      });
    }
  }
  return GraphqlHost;
}

const AUTHORIZERS = {
  'sync authorize': (user: TestUser, id: string) => user.tenants.includes(id),
  // @CurrentTenant() awaits it before the resolver runs (Nest awaits a promised argument here too).
  'async authorize': async (user: TestUser, id: string) => {
    await new Promise((resolve) => setTimeout(resolve, 2));
    return user.tenants.includes(id);
  },
};
const CASES = ADAPTERS.flatMap((kind) => Object.entries(AUTHORIZERS).map(([name, authorize]) => [kind, name, authorize] as const));

describe.each(CASES)('TenantGuard in a GraphQL context (%s, %s)', (kind, _name, authorize) => {
  let server: RunningApp;
  beforeAll(async () => {
    @Module({
      imports: [TenantCacheModule.forRoot({ keyPrefix: 'guard-gql:', tenant: { authorize } })],
      providers: [GqlAuthGuard, ReportResolver, graphqlHost(kind), { provide: APP_GUARD, useClass: TenantGuard }],
    })
    class GraphqlApp {}
    server = await startApp(kind, GraphqlApp);
    await server.app.get(TenantCacheService).forTenant('globex').set('plan', 'globex-secret');
  });
  afterAll(() => server.close());

  const query = (headers: Record<string, string>) => server.call('/graphql', { headers });

  it('gives the resolver the tenant of the request: in context, in @CurrentTenant() and in the cache', async () => {
    const res = await query({ authorization: 'Bearer token-bob', 'x-tenant-id': 'globex' });
    expect(res.body).toEqual({ data: { report: { tenant: 'globex', context: 'globex', plan: 'globex-secret' } } });
    const anonymous = await query({ 'x-tenant-id': 'acme' });
    expect(anonymous.body).toEqual({ data: { report: { tenant: 'acme', context: 'acme', plan: null } } });
  });

  it("refuses acme's user naming globex (the auth guard runs after TenantGuard), and never serves globex's data", async () => {
    const res = await query({ authorization: 'Bearer token-alice', 'x-tenant-id': 'globex' });
    expect(res.body).toEqual({ errors: [{ message: 'The authenticated user may not act for tenant "globex".', status: 403 }] });
  });

  it('refuses a missing or malformed tenant as over HTTP', async () => {
    expect((await query({})).body.errors[0]).toEqual({
      message: 'Missing tenant: this route needs a tenant id from header "x-tenant-id".',
      status: 400,
    });
    expect((await query({ 'x-tenant-id': 'a:b' })).body.errors[0].status).toBe(400);
  });
});
