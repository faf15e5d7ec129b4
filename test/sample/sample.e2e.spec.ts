import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantContext } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { ProductRepository } from '../../sample/catalog/product.repository.js';
import { type TestHttpModule, bootModule } from '../support/test-module.js';

describe('sample app (real HTTP, memory store)', () => {
  let app: TestHttpModule;
  let base: string;
  let repo: ProductRepository;
  const get = (path: string, tenant?: string) => fetch(base + path, { headers: tenant ? { 'x-tenant-id': tenant } : {} });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of the sample app
  const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

  beforeAll(async () => {
    app = await bootModule({ imports: [AppModule], http: 'express' });
    base = app.url;
    repo = app.get(ProductRepository);
  });
  afterAll(() => app.close());

  it('serves each tenant its own catalogue and caches the detail', async () => {
    const acme = await json(get('/products/1', 'acme'));
    const globex = await json(get('/products/1', 'globex'));
    expect(acme.name).toBe('acme product 1');
    expect(globex.name).toBe('globex product 1');
    const before = repo.queries;
    expect((await json(get('/products/1', 'acme'))).name).toBe('acme product 1');
    expect(repo.queries).toBe(before);
  });

  it('evicts the detail and the list when a product is updated, for that tenant only', async () => {
    await get('/products', 'acme');
    await get('/products', 'globex');
    await get('/products/2', 'globex');
    const res = await fetch(`${base}/products/2`, {
      method: 'PATCH',
      headers: { 'x-tenant-id': 'acme', 'content-type': 'application/json' },
      body: JSON.stringify({ price: 99 }),
    });
    expect(res.status).toBe(200);
    const detail = await json(get('/products/2', 'acme'));
    expect(detail).toMatchObject({ name: 'acme product 2', price: 99 });
    const list = await json(get('/products', 'acme'));
    expect(list.products.find((p: { id: string }) => p.id === '2').price).toBe(99);
    const queries = repo.queries;
    expect((await json(get('/products/2', 'globex'))).price).toBe(20);
    const other = await json(get('/products', 'globex'));
    expect(other.products.find((p: { id: string }) => p.id === '2').price).toBe(20);
    expect(repo.queries).toBe(queries); // globex's list was still cached
  });

  it('a product saved in the database (not through the service) invalidates its detail and the list, of that tenant only', async () => {
    for (const t of ['acme', 'globex']) {
      await get('/products/3', t);
      await get('/products', t);
    }
    // Straight to the repository: no @CacheEvict runs; the TypeORM subscriber and the rules do the work.
    await TenantContext.run('acme', () => repo.update('3', { name: 'renamed' }));
    let queries = repo.queries;
    expect((await json(get('/products/3', 'acme'))).name).toBe('renamed');
    expect(repo.queries).toBe(queries + 1);
    queries = repo.queries;
    expect((await json(get('/products', 'acme'))).products.find((p: { id: string }) => p.id === '3').name).toBe('renamed');
    expect(repo.queries).toBe(queries + 1);
    queries = repo.queries;
    expect((await json(get('/products/3', 'globex'))).name).toBe('globex product 3');
    expect((await json(get('/products', 'globex'))).products.find((p: { id: string }) => p.id === '3').name).toBe('globex product 3');
    expect(repo.queries).toBe(queries); // globex's entries were not touched
  });

  it('refuses requests without a valid tenant', async () => {
    expect((await get('/products')).status).toBe(400);
    expect((await get('/products', 'Bad Tenant!')).status).toBe(400);
  });

  it('keeps settings per tenant', async () => {
    await fetch(`${base}/settings`, {
      method: 'PUT',
      headers: { 'x-tenant-id': 'acme', 'content-type': 'application/json' },
      body: JSON.stringify({ theme: 'dark' }),
    });
    expect((await json(get('/settings', 'acme'))).theme).toBe('dark');
    expect((await json(get('/settings', 'globex'))).theme).toBe('light');
  });
});
