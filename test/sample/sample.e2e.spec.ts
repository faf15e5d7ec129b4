import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../sample/app.module.js';
import { ProductRepository } from '../../sample/catalog/product.repository.js';

describe('sample app (real HTTP, memory store)', () => {
  let app: INestApplication;
  let base: string;
  let repo: ProductRepository;
  const get = (path: string, tenant?: string) => fetch(base + path, { headers: tenant ? { 'x-tenant-id': tenant } : {} });

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    repo = app.get(ProductRepository);
  });
  afterAll(() => app.close());

  it('serves each tenant its own catalogue and caches the detail', async () => {
    const acme = await (await get('/products/1', 'acme')).json();
    const globex = await (await get('/products/1', 'globex')).json();
    expect(acme.name).toBe('acme product 1');
    expect(globex.name).toBe('globex product 1');
    const before = repo.queries;
    expect((await (await get('/products/1', 'acme')).json()).name).toBe('acme product 1');
    expect(repo.queries).toBe(before);
  });

  it('evicts the detail and the list when a product is updated, for that tenant only', async () => {
    await get('/products', 'acme');
    await get('/products', 'globex');
    const res = await fetch(`${base}/products/2`, {
      method: 'PATCH',
      headers: { 'x-tenant-id': 'acme', 'content-type': 'application/json' },
      body: JSON.stringify({ price: 99 }),
    });
    expect(res.status).toBe(200);
    const detail = await (await get('/products/2', 'acme')).json();
    expect(detail).toMatchObject({ name: 'acme product 2', price: 99 });
    const list = await (await get('/products', 'acme')).json();
    expect(list.products.find((p: { id: string }) => p.id === '2').price).toBe(99);
    const queries = repo.queries;
    const other = await (await get('/products', 'globex')).json();
    expect(other.products.find((p: { id: string }) => p.id === '2').price).toBe(20);
    expect(repo.queries).toBe(queries); // globex's list was still cached
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
    expect((await (await get('/settings', 'acme')).json()).theme).toBe('dark');
    expect((await (await get('/settings', 'globex')).json()).theme).toBe('light');
  });
});
