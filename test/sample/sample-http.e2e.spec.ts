import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantCacheService, versioned } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { ProductRepository } from '../../sample/catalog/product.repository.js';
import { ADAPTERS, type RunningApp, startApp } from '../http/http-app.js';

describe.each(ADAPTERS)('sample app: cached HTTP responses (%s, memory store)', (adapter) => {
  let app: RunningApp;
  let repo: ProductRepository;
  const get = (path: string, tenant: string, headers: Record<string, string> = {}) => app.call(path, { headers: { 'x-tenant-id': tenant, ...headers } });

  beforeAll(async () => {
    app = await startApp(adapter, AppModule);
    repo = app.app.get(ProductRepository);
  });
  afterAll(() => app.close());

  it('misses, then hits without touching the service, with Age, X-Cached-At and ETag', async () => {
    const first = await get('/products/1', 'acme');
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    const queries = repo.queries;
    const second = await get('/products/1', 'acme');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(second.headers['x-cached-at']).toMatch(/GMT$/);
    expect(repo.queries).toBe(queries);
    const notModified = await get('/products/1', 'acme', { 'if-none-match': first.headers.etag! });
    expect(notModified.status).toBe(304);
  });

  it("keeps each tenant's list and detail apart on the same URLs", async () => {
    const acme = await get('/products', 'acme');
    const globex = await get('/products', 'globex');
    expect(acme.body.tenant).toBe('acme');
    expect(globex.body.tenant).toBe('globex');
    expect((await get('/products', 'globex')).headers['x-cache']).toBe('HIT');
    expect((await get('/products', 'globex')).body.tenant).toBe('globex');
    expect((await get('/products/2', 'globex')).body.name).toBe('globex product 2');
    expect((await get('/products/2', 'acme')).body.name).toBe('acme product 2');
  });

  it("a PATCH invalidates the tenant's cached list and detail (versioned catalogue tag), not the other tenant's", async () => {
    await get('/products', 'acme');
    await get('/products/3', 'acme');
    await get('/products', 'globex');
    expect((await get('/products/3', 'acme')).headers['x-cache']).toBe('HIT');
    const patched = await app.call('/products/3', { method: 'PATCH', headers: { 'x-tenant-id': 'acme' }, json: { price: 77 } });
    expect(patched.status).toBe(200);
    const detail = await get('/products/3', 'acme');
    expect(detail.headers['x-cache']).toBe('MISS');
    expect(detail.body.price).toBe(77);
    const list = await get('/products', 'acme');
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.body.products.find((p: { id: string }) => p.id === '3').price).toBe(77);
    const other = await get('/products', 'globex');
    expect(other.headers['x-cache']).toBe('HIT');
    expect(other.body.products.find((p: { id: string }) => p.id === '3').price).toBe(30);
  });

  it('TenantCacheService.invalidateTag reaches the cached responses', async () => {
    await get('/products/2', 'globex');
    expect((await get('/products/2', 'globex')).headers['x-cache']).toBe('HIT');
    await app.app.get(TenantCacheService).forTenant('globex').invalidateTag(versioned('catalog'));
    expect((await get('/products/2', 'globex')).headers['x-cache']).toBe('MISS');
    await app.app.get(TenantCacheService).forTenant('globex').invalidateTag('product:2');
    expect((await get('/products/2', 'globex')).headers['x-cache']).toBe('MISS');
  });
});
