import 'reflect-metadata';
import { Controller, Get, Module, Param, type Type, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CacheResponse,
  CdnPurgeFailedError,
  cloudflareBackend,
  compositeBackend,
  fastlyBackend,
  type HttpCacheOptions,
  InvalidOptionsError,
  memoryStore,
  type ResponseCacheBackend,
  scopeSurrogateKey,
  Surrogate,
  surrogateKeyFor,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantCacheService,
  TenantGuard,
  UnknownResponseBackendError,
  versioned,
} from '../../lib/index.js';
import { FakeCdn } from '../support/fake-cdn.js';
import { bootCache } from '../support/test-module.js';
import { ADAPTERS, CapturingLogger, type RunningApp, startApp } from './http-app.js';

const FASTLY = { serviceId: 'SU1Z0isxPaozGVKXdv0eY', token: 'fastly-token-1' };
const CLOUDFLARE = { zoneId: '023e105f4ecef8ad9ca31a8372d0c353', token: 'cf-token-1', email: 'ops@example.com', key: 'cf-global-key' };

describe('CDN backends against a local server speaking the purge APIs', () => {
  let cdn: FakeCdn;
  beforeAll(async () => {
    cdn = await new FakeCdn({ fastly: FASTLY, cloudflare: CLOUDFLARE }).start();
  });
  afterAll(() => cdn.stop());
  beforeEach(() => {
    cdn.purges.length = 0;
    cdn.received.length = 0;
    cdn.failNext = { count: 0, status: 503 };
  });

  it('Fastly: POST /service/{id}/purge with Fastly-Key and {"surrogate_keys": [...]}', async () => {
    const backend = fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: FASTLY.token, baseUrl: cdn.url });
    expect(backend.surrogateHeaders).toEqual([{ name: 'Surrogate-Key', separator: ' ' }]);
    await backend.purge({ keys: ['tc-a', 'tc-b'], tenant: 'acme', tags: ['products'] });
    expect(cdn.received).toHaveLength(1);
    const req = cdn.received[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/service/${FASTLY.serviceId}/purge`);
    expect(req.headers['fastly-key']).toBe(FASTLY.token);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['fastly-soft-purge']).toBeUndefined();
    expect(JSON.parse(req.body)).toEqual({ surrogate_keys: ['tc-a', 'tc-b'] });
    expect(cdn.purges).toEqual([{ cdn: 'fastly', target: FASTLY.serviceId, keys: ['tc-a', 'tc-b'], soft: false }]);
  });

  it('Fastly: soft purge sends Fastly-Soft-Purge: 1; a token function is read per purge; batches of 256', async () => {
    let reads = 0;
    const backend = fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: async () => (reads++, FASTLY.token), softPurge: true, baseUrl: `${cdn.url}/` });
    const keys = Array.from({ length: 300 }, (_, i) => `tc-${i}`);
    await backend.purge({ keys, tenant: 'acme', tags: ['t'] });
    expect(cdn.purges.map((p) => [p.keys.length, p.soft])).toEqual([
      [256, true],
      [44, true],
    ]);
    expect(cdn.purges.flatMap((p) => p.keys)).toEqual(keys);
    expect(reads).toBe(1);
  });

  it('Fastly: a refused purge rejects with CdnPurgeFailedError carrying the status, tenant and keys', async () => {
    const backend = fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: 'wrong', baseUrl: cdn.url });
    const error = await backend.purge({ keys: ['tc-a'], tenant: 'acme', tags: ['x'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CdnPurgeFailedError);
    expect(error).toMatchObject({ code: 'E_CDN_PURGE_FAILED', status: 401, tenant: 'acme', keys: ['tc-a'] });
    expect(cdn.purges).toEqual([]);
  });

  it('Cloudflare: POST /client/v4/zones/{zone}/purge_cache with a Bearer token and {"tags": [...]}, 30 per request', async () => {
    const backend = cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, apiToken: CLOUDFLARE.token, baseUrl: cdn.url });
    expect(backend.surrogateHeaders).toEqual([{ name: 'Cache-Tag', separator: ',' }]);
    const keys = Array.from({ length: 31 }, (_, i) => `tc-${i}`);
    await backend.purge({ keys, tenant: 'globex', tags: ['t'] });
    const req = cdn.received[0]!;
    expect(req.path).toBe(`/client/v4/zones/${CLOUDFLARE.zoneId}/purge_cache`);
    expect(req.headers.authorization).toBe(`Bearer ${CLOUDFLARE.token}`);
    expect(JSON.parse(req.body)).toEqual({ tags: keys.slice(0, 30) });
    expect(cdn.purges.map((p) => p.keys.length)).toEqual([30, 1]);
  });

  it('Cloudflare: legacy email + global key auth; an API error rejects with CdnPurgeFailedError', async () => {
    const legacy = cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, email: CLOUDFLARE.email, apiKey: CLOUDFLARE.key, baseUrl: cdn.url });
    await legacy.purge({ keys: ['tc-a'], tenant: undefined, tags: ['x'] });
    expect(cdn.received[0]!.headers['x-auth-email']).toBe(CLOUDFLARE.email);
    expect(cdn.received[0]!.headers['x-auth-key']).toBe(CLOUDFLARE.key);
    const wrongZone = cloudflareBackend({ zoneId: 'ffffffffffffffffffffffffffffffff', apiToken: CLOUDFLARE.token, baseUrl: cdn.url });
    await expect(wrongZone.purge({ keys: ['tc-a'], tenant: 'acme', tags: ['x'] })).rejects.toMatchObject({ name: 'CdnPurgeFailedError', status: 404 });
    const tooMany = cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, apiToken: CLOUDFLARE.token, baseUrl: cdn.url, batchSize: 100 });
    await expect(tooMany.purge({ keys: Array.from({ length: 40 }, (_, i) => `k${i}`), tenant: 'acme', tags: ['x'] })).rejects.toBeInstanceOf(CdnPurgeFailedError);
  });

  it('a CDN that does not answer rejects with CdnPurgeFailedError (no hang)', async () => {
    const down = await new FakeCdn({}).start();
    const url = down.url;
    await down.stop();
    const backend = fastlyBackend({ serviceId: 's', apiToken: 't', baseUrl: url, timeoutMs: 1000 });
    await expect(backend.purge({ keys: ['tc-a'], tenant: 'acme', tags: ['x'] })).rejects.toBeInstanceOf(CdnPurgeFailedError);
  });

  it('composite: purges every backend, still purges the others when one fails, then rejects', async () => {
    const both = compositeBackend(
      fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: FASTLY.token, baseUrl: cdn.url }),
      cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, apiToken: CLOUDFLARE.token, baseUrl: cdn.url }),
    );
    expect(both.surrogateHeaders.map((h) => h.name)).toEqual(['Surrogate-Key', 'Cache-Tag']);
    await both.purge({ keys: ['tc-a'], tenant: 'acme', tags: ['x'] });
    expect(cdn.purges.map((p) => p.cdn).sort()).toEqual(['cloudflare', 'fastly']);
    cdn.purges.length = 0;
    const half = compositeBackend(
      fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: 'wrong', baseUrl: cdn.url }),
      cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, apiToken: CLOUDFLARE.token, baseUrl: cdn.url }),
    );
    await expect(half.purge({ keys: ['tc-b'], tenant: 'acme', tags: ['x'] })).rejects.toBeInstanceOf(CdnPurgeFailedError);
    expect(cdn.purges).toEqual([{ cdn: 'cloudflare', target: CLOUDFLARE.zoneId, keys: ['tc-b'], soft: false }]);
  });

  it('refuses bad backend options at construction, naming the option', () => {
    expect(() => fastlyBackend({ serviceId: '', apiToken: 't' })).toThrow(InvalidOptionsError);
    expect(() => fastlyBackend({ serviceId: 's', apiToken: '' })).toThrow(/fastlyBackend\.apiToken/);
    expect(() => fastlyBackend({ serviceId: 's', apiToken: 't', baseUrl: 'ftp://x' })).toThrow(/fastlyBackend\.baseUrl/);
    expect(() => fastlyBackend({ serviceId: 's', apiToken: 't', batchSize: 500 })).toThrow(/256/);
    expect(() => cloudflareBackend({ zoneId: 'z' })).toThrow(/cloudflareBackend\.apiToken/);
    expect(() => compositeBackend()).toThrow(/compositeBackend/);
    // Unknown options name the factory's option and the closest name.
    expect(() => fastlyBackend({ serviceId: 's', apiToken: 't', softpurge: true } as never)).toThrow(
      /fastlyBackend\.softpurge[\s\S]*Did you mean "fastlyBackend\.softPurge"/,
    );
    expect(() => cloudflareBackend({ zoneId: 'z', apiToken: 't', timeout: 10 } as never)).toThrow(/cloudflareBackend\.timeout/);
  });
});

describe('surrogate keys', () => {
  it('are distinct for distinct (tenant, tag) pairs, plain and versioned, whatever characters they hold', () => {
    const tenant = fc.oneof(fc.constantFrom('a', 'a:b', '*', '{x}', 'ü', 'x'.repeat(200), 'b'), fc.string({ minLength: 1, maxLength: 12 }));
    const tag = fc.oneof(fc.constantFrom('b', 'b:products', 'products', ':', ''), fc.string({ minLength: 1, maxLength: 12 }));
    fc.assert(
      fc.property(tenant, tag, tenant, tag, fc.boolean(), fc.boolean(), (t1, g1, t2, g2, v1, v2) => {
        fc.pre(g1.length > 0 && g2.length > 0);
        const k1 = surrogateKeyFor('tc:', { kind: 'tenant', tenantId: t1 }, v1 ? versioned(g1) : g1);
        const k2 = surrogateKeyFor('tc:', { kind: 'tenant', tenantId: t2 }, v2 ? versioned(g2) : g2);
        expect(k1 === k2).toBe(t1 === t2 && g1 === g2 && v1 === v2);
        expect(k1).toMatch(/^tc-[0-9a-f]{32}$/);
      }),
      { numRuns: 500 },
    );
    expect(surrogateKeyFor('tc:', { kind: 'tenant', tenantId: 'a' }, 'x')).not.toBe(surrogateKeyFor('other:', { kind: 'tenant', tenantId: 'a' }, 'x'));
    expect(scopeSurrogateKey('tc:', { kind: 'tenant', tenantId: 'a' })).not.toBe(scopeSurrogateKey('tc:', { kind: 'shared' }));
  });
});

describe('module options for backends', () => {
  async function boot(http: HttpCacheOptions) {
    const app = await bootCache({ stores: { default: memoryStore() }, http });
    await app.close();
  }

  it('fails start-up on an unknown backend name in http.purge, listing the known ones', async () => {
    const fastly = fastlyBackend({ serviceId: 's', apiToken: 't' });
    const error = await boot({ backends: { fastly }, purge: ['fastly', 'akamai'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownResponseBackendError);
    expect((error as Error).message).toMatch(/"akamai".*"store", "fastly"/);
    await expect(boot({ backends: { store: fastly } })).rejects.toThrow(/reserved name "store"/);
    await expect(boot({ backends: { x: {} as ResponseCacheBackend } })).rejects.toThrow(/http\.backends\.x/);
    await expect(boot({ surrogateKeyPrefix: 'has space' })).rejects.toThrow(/surrogateKeyPrefix/);
    await expect(boot({ backends: { fastly }, purge: ['store', 'fastly'] })).resolves.toBeUndefined();
  });

  it('fails start-up on a bad @CacheResponse option, naming the route', async () => {
    @Controller()
    class BadController {
      @CacheResponse({ scope: 'everyone' as 'tenant' })
      @Get('x')
      x() {
        return 1;
      }
    }
    const ref = bootCache({}, { controllers: [BadController], http: 'express', listen: false });
    await expect(ref).rejects.toThrow(/@CacheResponse\(scope\) on BadController\.x/);
  });
});

@Controller()
@UseInterceptors(TenantCacheInterceptor)
class CatalogController {
  @CacheResponse({ ttl: 60_000, tags: ['products', versioned('catalog'), Surrogate.entity('product')] })
  @Get('products/:id')
  product(@Param('id') id: string) {
    return { id };
  }

  @CacheResponse({ ttl: 60_000, tags: ['products'], scope: 'shared' })
  @Get('shared/:id')
  shared(@Param('id') id: string) {
    return { id };
  }
}

function cdnApp(cdn: FakeCdn, prefix: string, softPurge = false): Type {
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        keyPrefix: prefix,
        tenant: { pattern: /^[^\s,]+$/u, maxLength: 200 },
        http: {
          backends: {
            edge: compositeBackend(
              fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: FASTLY.token, baseUrl: cdn.url, softPurge }),
              cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, apiToken: CLOUDFLARE.token, baseUrl: cdn.url }),
            ),
          },
        },
      }),
    ],
    controllers: [CatalogController],
    providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
  })
  class CdnApp {}
  return CdnApp;
}

describe.each(ADAPTERS)('invalidateTag reaches the CDNs with tenant-qualified keys (%s)', (adapter) => {
  let cdn: FakeCdn;
  let app: RunningApp;
  let cache: TenantCacheService;
  const logger = new CapturingLogger();
  const prefix = `cdn-e2e:${adapter}:`;
  const TENANTS = ['acme', 'a:b', 'a', '*', '{x}', 'x'.repeat(200)];

  beforeAll(async () => {
    cdn = await new FakeCdn({ fastly: FASTLY, cloudflare: CLOUDFLARE }).start();
    app = await startApp(adapter, cdnApp(cdn, prefix, true), { logger });
    cache = app.app.get(TenantCacheService);
  });
  afterAll(async () => {
    await app.close();
    await cdn.stop();
  });
  afterEach(() => {
    cdn.purges.length = 0;
    cdn.edge.clear();
    cdn.failNext = { count: 0, status: 503 };
  });

  /** Fetches a URL for a tenant and puts it at the fake edge under both CDNs' headers. */
  async function fetchAtEdge(tenant: string, path: string) {
    const res = await app.call(path, { headers: { 'x-tenant-id': tenant } });
    expect(res.status).toBe(200);
    cdn.cache(`fastly|${tenant}|${path}`, res.headers['surrogate-key'], ' ');
    cdn.cache(`cloudflare|${tenant}|${path}`, res.headers['cache-tag'], ',');
    return res;
  }

  it('tags responses with the same tenant-qualified keys in Surrogate-Key and Cache-Tag', async () => {
    const res = await fetchAtEdge('acme', '/products/7');
    const expected = [
      surrogateKeyFor(prefix, { kind: 'tenant', tenantId: 'acme' }, 'products'),
      surrogateKeyFor(prefix, { kind: 'tenant', tenantId: 'acme' }, 'product:7'),
      surrogateKeyFor(prefix, { kind: 'tenant', tenantId: 'acme' }, versioned('catalog')),
      scopeSurrogateKey(prefix, { kind: 'tenant', tenantId: 'acme' }),
    ];
    expect(res.headers['surrogate-key']!.split(' ').sort()).toEqual([...expected].sort());
    expect(res.headers['cache-tag']!.split(',').sort()).toEqual([...expected].sort());
    const other = await fetchAtEdge('globex', '/products/7');
    const mine = new Set(res.headers['surrogate-key']!.split(' '));
    expect(other.headers['surrogate-key']!.split(' ').filter((k) => mine.has(k))).toEqual([]);
  });

  it("purges one tenant's keys on both CDNs (soft on Fastly), and never another tenant's", async () => {
    for (const t of TENANTS) await fetchAtEdge(t, '/products/1');
    const before = cdn.edge.size;
    for (const victim of TENANTS) {
      cdn.purges.length = 0;
      await cache.forTenant(victim).invalidateTag('products');
      const key = surrogateKeyFor(prefix, { kind: 'tenant', tenantId: victim }, 'products');
      expect(cdn.purges.map((p) => [p.cdn, p.keys, p.soft]).sort()).toEqual([
        ['cloudflare', [key], false],
        ['fastly', [key], true],
      ]);
    }
    expect(before).toBe(TENANTS.length * 2);
    expect(cdn.edge.size).toBe(0);
    // Purging one tenant leaves the others at the edge.
    for (const t of TENANTS) await fetchAtEdge(t, '/products/1');
    await cache.forTenant('a').invalidateTag('products');
    expect([...cdn.edge.keys()].filter((id) => id.includes('|a|'))).toEqual([]);
    expect(cdn.edge.size).toBe((TENANTS.length - 1) * 2);
  });

  it('purges versioned tags, entity tags and a whole tenant (invalidateAll) through TenantCacheService', async () => {
    await fetchAtEdge('acme', '/products/1');
    await fetchAtEdge('acme', '/products/2');
    await fetchAtEdge('globex', '/products/1');
    await cache.forTenant('acme').invalidateTag('product:2');
    expect([...cdn.edge.keys()].sort()).toEqual(['cloudflare|acme|/products/1', 'cloudflare|globex|/products/1', 'fastly|acme|/products/1', 'fastly|globex|/products/1']);
    await cache.forTenant('globex').invalidateTag(versioned('catalog'));
    expect([...cdn.edge.keys()].some((id) => id.includes('globex'))).toBe(false);
    await cache.forTenant('acme').invalidateAll();
    expect(cdn.edge.size).toBe(0);
    // And the local entries went too: the next request is a miss.
    const again = await app.call('/products/1', { headers: { 'x-tenant-id': 'acme' } });
    expect(again.headers['x-cache']).toBe('MISS');
  });

  it("purges the shared scope's keys for shared entries", async () => {
    const res = await fetchAtEdge('acme', '/shared/1');
    expect(res.headers['surrogate-key']).toContain(surrogateKeyFor(prefix, { kind: 'shared' }, 'products'));
    await cache.shared().invalidateTag('products');
    expect(cdn.edge.size).toBe(0);
  });

  it('a CDN that fails is logged; the local invalidation stands and the caller does not fail', async () => {
    await fetchAtEdge('acme', '/products/3');
    cdn.failNext = { count: 2, status: 503 };
    logger.lines.length = 0;
    await expect(cache.forTenant('acme').invalidateTag('products')).resolves.toBeGreaterThanOrEqual(0);
    expect(logger.lines.some((l) => l.level === 'warn' && /CDN purge through "edge" failed/.test(l.message) && /503/.test(l.message))).toBe(true);
    const again = await app.call('/products/3', { headers: { 'x-tenant-id': 'acme' } });
    expect(again.headers['x-cache']).toBe('MISS');
  });
});
