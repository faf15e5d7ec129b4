import 'reflect-metadata';
import { Controller, Get, Module, Query, Req, Res, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResponse, fromFunction, fromHeader, TenantCacheInterceptor, TenantCacheModule, TenantCacheService, TenantContext, TenantGuard } from '../../lib/index.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, type RunningApp, jitter, startApp } from './http-app.js';

type Req = { user?: { id: string }; headers: Record<string, string | undefined> };

class Runs {
  readonly byKey = new Map<string, number>();
  total = 0;
  count(key: string): number {
    this.total++;
    const n = (this.byKey.get(key) ?? 0) + 1;
    this.byKey.set(key, n);
    return n;
  }
}

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class PageController {
  constructor(private readonly runs: Runs) {}

  @CacheResponse({ ttl: 60_000 })
  @Get('page')
  async page(@Query('n') n: string, @Req() req: Req) {
    const tenant = TenantContext.current();
    // Anonymous and authenticated requests get separate entries (default scope: per user).
    this.runs.count(`page|${tenant}|${n}|${req.user?.id ?? '-'}`);
    await jitter();
    return { tenant, n, after: TenantContext.current() };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('me')
  async me(@Req() req: Req) {
    const tenant = TenantContext.current();
    this.runs.count(`me|${tenant}|${req.user?.id ?? '-'}`);
    await jitter();
    return { tenant, user: req.user?.id ?? null };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('cookie')
  async cookie(@Res({ passthrough: true }) res: { setHeader?: (n: string, v: string) => void; header(n: string, v: string): void }) {
    const run = this.runs.count('cookie');
    await jitter();
    if (res.setHeader) res.setHeader('set-cookie', `sid=${run}`);
    else res.header('set-cookie', `sid=${run}`);
    return { run };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('flaky')
  async flaky() {
    const run = this.runs.count('flaky');
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (run === 1) throw new Error('first run fails');
    return { run };
  }
}

/** A fake authentication: `x-user` becomes `req.user`. */
class FakeAuthGuard {
  canActivate(context: { switchToHttp(): { getRequest(): Req } }) {
    const req = context.switchToHttp().getRequest();
    if (req.headers['x-user']) req.user = { id: req.headers['x-user'] };
    return true;
  }
}

function appFor(store: StoreCase, prefix: string): Type {
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        keyPrefix: prefix,
        stores: { default: store.definition() },
        // Adversarial ids are allowed on purpose; the unicode one travels percent-encoded.
        tenant: {
          resolver: [
            fromHeader(),
            fromFunction((req) => (typeof req.headers['x-tenant-enc'] === 'string' ? decodeURIComponent(req.headers['x-tenant-enc']) : undefined)),
          ],
          pattern: /^[^\s,]+$/u,
          maxLength: 200,
          authorize: () => true,
        },
      }),
    ],
    controllers: [PageController],
    providers: [Runs, { provide: APP_GUARD, useClass: FakeAuthGuard }, { provide: APP_GUARD, useClass: TenantGuard }],
  })
  class IsolationApp {}
  return IsolationApp;
}

const TENANTS = ['acme', 'globex', 'a:b', 'a', '*', '{x}', 'x'.repeat(200), 'ünï-テナント'];
const USERS = ['alice', 'bob', undefined];
const REQUESTS = 1000;
const STORES = storeCases().filter((s) => s.name === 'memory' || s.name.startsWith('redis (node-redis'));
const cases = STORES.flatMap((store) => ADAPTERS.map((adapter) => [adapter, store.name, store] as [AdapterKind, string, StoreCase]));

describe.each(cases)('response cache isolation under concurrency (%s, %s)', (adapter, _name, store) => {
  let server: RunningApp;
  let runs: Runs;
  const prefix = `resp-iso:${process.pid}:${Date.now().toString(36)}:${adapter}:`;
  const tenantHeaders = (tenant: string): Record<string, string> =>
    /^[\x20-\x7e]+$/.test(tenant) ? { 'x-tenant-id': tenant } : { 'x-tenant-enc': encodeURIComponent(tenant) };

  beforeAll(async () => {
    server = await startApp(adapter, appFor(store, prefix));
    runs = server.app.get(Runs);
  });
  afterAll(async () => {
    const cache = server.app.get(TenantCacheService);
    for (const tenant of TENANTS) await cache.forTenant(tenant).clear();
    await server.close();
  });

  it(`never gives a tenant or a user another's body, over ${REQUESTS} interleaved requests to the same URLs`, async () => {
    const plan = Array.from({ length: REQUESTS }, (_, i) => ({
      i,
      tenant: TENANTS[(i * 7919) % TENANTS.length]!,
      user: USERS[(i * 104729) % USERS.length],
      path: i % 3 === 0 ? '/me' : `/page?n=${i % 5}`,
    }));
    const results = await Promise.all(
      plan.map(async (p) => ({ p, res: await server.call(p.path, { headers: { ...tenantHeaders(p.tenant), ...(p.user ? { 'x-user': p.user } : {}) } }) })),
    );
    const wrong: string[] = [];
    let hits = 0;
    for (const { p, res } of results) {
      if (res.status !== 200) {
        wrong.push(`#${p.i} ${p.path}: status ${res.status}`);
        continue;
      }
      if (res.headers['x-cache'] === 'HIT') hits++;
      if (res.body.tenant !== p.tenant) wrong.push(`#${p.i} ${p.path} for ${p.tenant} got ${res.body.tenant}'s body`);
      if (p.path === '/me' && res.body.user !== (p.user ?? null)) wrong.push(`#${p.i} /me of ${p.user ?? 'anonymous'} got ${res.body.user}'s body`);
      if (p.path !== '/me' && (res.body.after !== p.tenant || `/page?n=${res.body.n}` !== p.path)) wrong.push(`#${p.i} ${p.path} got ${JSON.stringify(res.body)}`);
    }
    expect(wrong).toEqual([]);
    // Each distinct (route, tenant, user or page) ran its handler exactly once: concurrent misses shared one run.
    const distinct = new Set(plan.map((p) => (p.path === '/me' ? `me|${p.tenant}|${p.user ?? '-'}` : `page|${p.tenant}|${p.path.slice(-1)}|${p.user ?? '-'}`)));
    expect([...runs.byKey.entries()].filter(([, n]) => n > 1)).toEqual([]);
    expect([...runs.byKey.entries()].filter(([k]) => k.startsWith('me|') || k.startsWith('page|')).every(([, n]) => n === 1)).toBe(true);
    expect(runs.byKey.size).toBe(distinct.size);
    expect(hits).toBeGreaterThan(REQUESTS / 2);
  });

  it('runs its own handler for each concurrent request when the shared load turned out uncacheable (cookie)', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => server.call('/cookie', { headers: { 'x-tenant-id': 'acme' } })));
    const bodies = results.map((r) => r.body.run as number);
    expect(new Set(bodies).size).toBe(20);
    for (const r of results) {
      expect(r.headers['x-cache']).toBe('BYPASS');
      expect(r.headers['set-cookie']).toBe(`sid=${r.body.run}`);
    }
  });

  it("does not hand the leader's error to the requests that waited on it: they run their own handler", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => server.call('/flaky', { headers: { 'x-tenant-id': 'globex' } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 500)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(9);
    // The handler did not throw for them, but a load that threw stores nothing: the next request stores.
    const next = await server.call('/flaky', { headers: { 'x-tenant-id': 'globex' } });
    expect(next.status).toBe(200);
  });
});
