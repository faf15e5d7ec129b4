import 'reflect-metadata';
import { Controller, Get, Module, Req, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CacheResponse,
  ResponseKey,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  TenantGuard,
  fromFunction,
  fromHeader,
} from '../../lib/index.js';
import { CacheEngine } from '../../lib/engine/cache-engine.js';
import type { CacheLookup } from '../../lib/engine/entry-reader.js';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { type StoreCase, storeCases } from '../support/store-cases.js';
import { ADAPTERS, type AdapterKind, type CallResult, type RunningApp, startApp } from './http-app.js';

type Req = { user?: { id: string }; headers: Record<string, string | undefined> };

/** Counts handler runs, so a hit (no run) is told from a miss. */
class Runs {
  n = 0;
}

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class PageController {
  constructor(private readonly runs: Runs) {}

  @CacheResponse({
    ttl: 60_000,
    key: [ResponseKey.path(), ResponseKey.headers('accept-language')],
    tags: ['pages'],
    cacheControl: { maxAge: 30, sMaxAge: 60, staleWhileRevalidate: 10, public: true },
  })
  @Get('page')
  page(@Req() req: Req) {
    return { tenant: TenantContext.current(), lang: req.headers['accept-language'] ?? null, run: ++this.runs.n };
  }

  @CacheResponse({ ttl: 60_000 })
  @Get('me')
  me(@Req() req: Req) {
    return { tenant: TenantContext.current(), user: req.user?.id ?? null, run: ++this.runs.n };
  }

  @CacheResponse({ ttl: 60_000, staleIfError: 60_000 })
  @Get('sie')
  sie() {
    return { tenant: TenantContext.current(), run: ++this.runs.n };
  }
}

/** A fake authentication: `x-user` becomes `req.user`. */
class FakeAuthGuard {
  canActivate(context: { switchToHttp(): { getRequest(): Req } }) {
    const req = context.switchToHttp().getRequest();
    const user = req.headers['x-user'];
    if (user) req.user = { id: user };
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
  class SyncHitApp {}
  return SyncHitApp;
}

/** Tenants whose ids look alike, nest or would collide if keys were built naively. */
const TENANTS = ['acme', 'ACME', 'acme.', 'acme:', 'a:b', 'a', 'b', '*', '{acme}', 'acme%3A', '..', 'x'.repeat(200), 'ünï-テナント', 'acme\u200b'];
const HEADERS = ['etag', 'x-cache', 'cache-control', 'vary', 'content-type', 'x-cached-at', 'content-length'];
const STORES = storeCases().filter((s) => s.name === 'memory' || s.name.startsWith('redis (node-redis'));

describe.each(STORES.flatMap((store) => ADAPTERS.map((adapter) => [adapter, store] as [AdapterKind, StoreCase])))('synchronous hits (%s, %s)', (adapter, store) => {
  let app: RunningApp;
  let engine: CacheEngine;
  let runs: Runs;
  const inProcess = store.name === 'memory';
  const prefix = `resp-sync:${process.pid}:${Date.now().toString(36)}:${adapter}:`;
  const tenantHeaders = (tenant: string): Record<string, string> =>
    /^[\x20-\x7e]+$/.test(tenant) ? { 'x-tenant-id': tenant } : { 'x-tenant-enc': encodeURIComponent(tenant) };
  const get = (path: string, tenant = 'acme', headers: Record<string, string> = {}) => app.call(path, { headers: { ...tenantHeaders(tenant), ...headers } });
  /** The answers `lookupNow` gave during `run`. */
  const answers = async <R>(run: () => Promise<R>): Promise<{ result: R; now: (CacheLookup<unknown> | undefined)[] }> => {
    const spy = vi.spyOn(engine, 'lookupNow');
    try {
      const result = await run();
      return { result, now: spy.mock.results.map((r) => r.value as CacheLookup<unknown> | undefined) };
    } finally {
      spy.mockRestore();
    }
  };
  const headersOf = (r: CallResult) => Object.fromEntries(HEADERS.map((h) => [h, r.headers[h]]));

  beforeAll(async () => {
    app = await startApp(adapter, appFor(store, prefix));
    engine = app.app.get(CacheEngine);
    runs = app.app.get(Runs);
  });
  afterAll(async () => {
    await (await app.app.get(StoreRegistry).get('default')).store.deleteByPrefix(prefix).catch(() => undefined);
    await app.close();
  });

  it(`answers a hit ${inProcess ? 'without a promise' : 'through the async read (not in-process)'}, with the same status, headers and bytes as the async hit`, async () => {
    for (const path of ['/page', '/sie']) {
      const lang = { 'accept-language': 'fr' };
      const miss = await get(path, 'acme', lang);
      expect(miss.headers['x-cache']).toBe('MISS');
      const sync = await answers(() => get(path, 'acme', lang));
      expect(sync.now.map((l) => l?.hit)).toEqual([inProcess ? true : undefined]);
      // The async hit of the same entry: the sync read declines.
      const spy = vi.spyOn(engine, 'lookupNow').mockReturnValue(undefined);
      let async: CallResult;
      let async304: CallResult;
      try {
        async = await get(path, 'acme', lang);
        async304 = await get(path, 'acme', { ...lang, 'if-none-match': miss.headers.etag! });
        expect(spy).toHaveBeenCalledTimes(2);
      } finally {
        spy.mockRestore();
      }
      const sync304 = await get(path, 'acme', { ...lang, 'if-none-match': miss.headers.etag! });
      for (const hit of [sync.result, async]) {
        expect(hit.status).toBe(200);
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.bytes.equals(miss.bytes)).toBe(true);
      }
      expect(headersOf(sync.result)).toEqual(headersOf(async));
      expect(sync.result.headers.etag).toBe(miss.headers.etag);
      if (path === '/page') {
        expect(sync.result.headers['cache-control']).toBe('public, max-age=30, s-maxage=60, stale-while-revalidate=10');
        expect(sync.result.headers.vary).toMatch(/accept-language/i);
        expect(sync.result.headers.vary).toMatch(/x-tenant-id/i);
      }
      for (const notModified of [sync304, async304]) {
        expect(notModified.status).toBe(304);
        expect(notModified.bytes.length).toBe(0);
      }
      expect(headersOf(sync304)).toEqual(headersOf(async304));
    }
  });

  it("never answers one tenant, or one user, with another one's entry on the sync path (adversarial tenant ids)", async () => {
    const primed = TENANTS.filter((_, i) => i % 2 === 0);
    const unprimed = TENANTS.filter((_, i) => i % 2 === 1);
    const bodies = new Map<string, unknown>();
    for (const tenant of primed) {
      const miss = await get('/page', tenant);
      expect(miss.headers['x-cache'], tenant).toBe('MISS');
      expect(miss.body.tenant).toBe(tenant);
      bodies.set(tenant, miss.body);
    }
    const before = runs.n;
    const { result, now } = await answers(async () => {
      const out: [string, CallResult][] = [];
      for (let round = 0; round < 3; round++) for (const tenant of primed) out.push([tenant, await get('/page', tenant)]);
      return out;
    });
    for (const [tenant, res] of result) {
      expect(res.headers['x-cache'], tenant).toBe('HIT');
      expect(res.body, tenant).toEqual(bodies.get(tenant));
    }
    expect(runs.n).toBe(before);
    if (inProcess) expect(now.every((l) => l?.hit === true)).toBe(true);
    // Tenants never primed miss and run their own handler, though their ids look like primed ones.
    const strangers = await answers(async () => {
      const out: [string, CallResult][] = [];
      for (const tenant of unprimed) out.push([tenant, await get('/page', tenant)]);
      return out;
    });
    for (const [tenant, res] of strangers.result) {
      expect(res.headers['x-cache'], tenant).toBe('MISS');
      expect(res.body.tenant).toBe(tenant);
    }
    // (A tenant never seen has no generation cached: the sync read declines rather than answering.)
    expect(strangers.now.every((l) => l === undefined || !l.hit)).toBe(true);
    // Per user, the same: alice's entry is not bob's, nor the anonymous one.
    const alice = await get('/me', 'acme', { 'x-user': 'alice' });
    const bob = await get('/me', 'acme', { 'x-user': 'bob' });
    const anon = await get('/me', 'acme');
    expect(new Set([alice.body.run, bob.body.run, anon.body.run]).size).toBe(3);
    for (const [user, first] of [
      ['alice', alice],
      ['bob', bob],
      [undefined, anon],
    ] as const) {
      const hit = await get('/me', 'acme', user ? { 'x-user': user } : {});
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body).toEqual(first.body);
      expect(hit.headers['cache-control']).toBeUndefined();
    }
  });

  it('does not answer from the sync path after an invalidation', async () => {
    const first = await get('/page', 'globex');
    expect((await get('/page', 'globex')).headers['x-cache']).toBe('HIT');
    await app.app.get(TenantCacheService).forTenant('globex').invalidateTag('pages');
    const after = await answers(() => get('/page', 'globex'));
    expect(after.result.headers['x-cache']).toBe('MISS');
    expect(after.result.body.run).toBeGreaterThan(first.body.run);
    if (inProcess) expect(after.now.map((l) => l?.hit)).toEqual([false]);
  });
});
