import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CacheResult, InvalidInvalidationRuleError, memoryStore } from '../../lib/index.js';
import { typeOrmSource } from '../../lib/invalidation/typeorm/index.js';
import { ADVERSARIAL_TENANTS, as, boot } from '../decorators/fixtures.js';
import { Catalog, Product, SkuKey, openDataSource } from './typeorm-fixtures.js';

describe('TypeORM source on real PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof openDataSource>>;
  let ds: DataSource;
  let app: Awaited<ReturnType<typeof boot>>;
  let catalog: Catalog;
  const failing: string[] = [];

  @Injectable()
  class Audit {
    @CacheResult({
      invalidatesOn: [
        {
          name: 'audit-fails',
          entity: Product,
          tenantField: 'tenantId',
          invalidate: ({ data }) => {
            if (data?.sku === 'boom') throw new Error('audit store down');
          },
        },
      ],
    })
    async nothing(): Promise<number> {
      return 1;
    }
  }

  beforeAll(async () => {
    db = await openDataSource();
    ds = db.dataSource;
    app = await boot(memoryStore(), [{ provide: 'DS', useValue: ds }, { provide: Catalog, useFactory: () => new Catalog(ds) }, Audit], {
      invalidation: { sources: [typeOrmSource(ds)] },
    });
    catalog = app.moduleRef.get(Catalog);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });
  beforeEach(async () => {
    await ds.getRepository(Product).clear();
    failing.length = 0;
  });

  const repo = () => ds.getRepository(Product);
  const seed = (tenantId: string, sku: string, extra: Partial<Product> = {}) =>
    repo().save(repo().create({ tenantId, sku, category: 'books', price: 10, status: 'published', ...extra }));
  const hit = (tenant: string, method: 'product' | 'price', sku: string) => as(tenant, async () => (await app.cache.method(Catalog, method).peek(sku)).hit);

  it("an update through save() invalidates the entry of that row's tenant only, for adversarial tenants", async () => {
    const tenants = ['acme', ...ADVERSARIAL_TENANTS.slice(0, 5)];
    for (const t of tenants) {
      await seed(t, 'p1');
      await seed(t, 'p2');
      await as(t, () => catalog.product('p1'));
      await as(t, () => catalog.product('p2'));
    }
    const row = await repo().findOneByOrFail({ tenantId: tenants[1]!, sku: 'p1' });
    row.price = 99;
    await repo().save(row); // outside any tenant context: the row's tenantId column says whose it is
    expect(await hit(tenants[1]!, 'product', 'p1')).toBe(false);
    expect(await hit(tenants[1]!, 'product', 'p2')).toBe(true);
    for (const t of tenants.filter((x) => x !== tenants[1])) expect(await hit(t, 'product', 'p1')).toBe(true);
    expect((await as(tenants[1]!, () => catalog.product('p1')))?.price).toBe(99);
  });

  it('acts only after commit; a rollback invalidates nothing', async () => {
    await seed('acme', 'p1');
    await as('acme', () => catalog.product('p1'));
    let insideTransaction: boolean | undefined;
    await ds.transaction(async (m) => {
      await m.update(Product, { tenantId: 'acme', sku: 'p1' }, { price: 11 });
      await m.save(m.create(Product, { tenantId: 'acme', sku: 'p1', category: 'books', price: 12 }));
      insideTransaction = await hit('acme', 'product', 'p1');
    });
    expect(insideTransaction).toBe(true);
    expect(await hit('acme', 'product', 'p1')).toBe(false);

    await as('acme', () => catalog.product('p1'));
    await expect(
      ds.transaction(async (m) => {
        await m.save(m.create(Product, { tenantId: 'acme', sku: 'p1', category: 'books', price: 13 }));
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await hit('acme', 'product', 'p1')).toBe(true);
    expect((await as('acme', () => catalog.product('p1')))?.price).toBe(12);
  });

  it('a remove inside a transaction invalidates (the id is captured before TypeORM clears it)', async () => {
    const row = await seed('acme', 'p1');
    await as('acme', () => catalog.product('p1'));
    await ds.transaction(async (m) => {
      await m.remove(row);
      expect(row.sku).toBeUndefined();
    });
    expect(await hit('acme', 'product', 'p1')).toBe(false);
    expect(await as('acme', () => catalog.product('p1'))).toBeNull();
  });

  it('a savepoint rolled back drops only its changes; a released one counts at the outer commit', async () => {
    await seed('acme', 'p1');
    await seed('acme', 'p2');
    await seed('acme', 'p3');
    for (const s of ['p1', 'p2', 'p3']) await as('acme', () => catalog.product(s));
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await qr.manager.save(Product, { tenantId: 'acme', sku: 'p1', category: 'books', price: 21 });
    await qr.startTransaction(); // savepoint
    await qr.manager.save(Product, { tenantId: 'acme', sku: 'p2', category: 'books', price: 22 });
    await qr.rollbackTransaction(); // back to the savepoint
    await qr.startTransaction(); // savepoint
    await qr.manager.save(Product, { tenantId: 'acme', sku: 'p3', category: 'books', price: 23 });
    await qr.commitTransaction(); // released
    expect(await hit('acme', 'product', 'p3')).toBe(true);
    await qr.commitTransaction();
    await qr.release();
    expect(await hit('acme', 'product', 'p1')).toBe(false);
    expect(await hit('acme', 'product', 'p2')).toBe(true);
    expect(await hit('acme', 'product', 'p3')).toBe(false);
  });

  it('outside a transaction the change acts at once; the tenant is the one in context when the change happened', async () => {
    await seed('acme', 'b1');
    await seed('globex', 'b1');
    for (const t of ['acme', 'globex']) for (const p of [1, 2]) await as(t, () => catalog.category('books', p));
    // The category rule has no tenantField: the tenant comes from the context of the change.
    const qr = ds.createQueryRunner();
    await as('acme', async () => {
      await qr.connect();
      await qr.startTransaction();
      await qr.manager.insert(Product, { tenantId: 'acme', sku: 'b2', category: 'books', price: 1 });
    });
    await qr.commitTransaction(); // committed outside the context: the captured tenant is used
    await qr.release();
    const acme = app.cache.forTenant('acme').method(Catalog, 'category');
    const globex = app.cache.forTenant('globex').method(Catalog, 'category');
    expect((await acme.peek('books', 1)).hit).toBe(false);
    expect((await acme.peek('books', 2)).hit).toBe(false);
    expect((await globex.peek('books', 1)).hit).toBe(true);
    await as('acme', () => catalog.category('books', 1));
    await as('acme', () => repo().save(repo().create({ tenantId: 'acme', sku: 'b3', category: 'books', price: 1 }), { transaction: false }));
    expect((await acme.peek('books', 1)).hit).toBe(false);
    expect(await as('acme', () => catalog.category('books', 1))).toEqual(['b1', 'b2', 'b3']);
  });

  it('refresh deletes at commit and recomputes the entry from the committed row right after', async () => {
    await seed('acme', 'p1', { price: 10 });
    expect(await as('acme', () => catalog.price('p1'))).toBe(10);
    await repo().update({ tenantId: 'acme', sku: 'p1' }, { price: 10 }); // query builder: see the next test
    await repo().save({ tenantId: 'acme', sku: 'p1', category: 'books', price: 77 });
    await waitUntil(() => hit('acme', 'price', 'p1'));
    const before = catalog.queries;
    expect(await as('acme', () => catalog.price('p1'))).toBe(77);
    expect(catalog.queries).toBe(before); // a hit: the refresh already stored it
  });

  it('a query-builder update (no row in the event) drops every entry of the method for the tenant in context', async () => {
    await seed('acme', 'p1');
    await seed('acme', 'p2');
    await seed('globex', 'p1');
    for (const t of ['acme', 'globex']) for (const s of ['p1', 'p2']) await as(t, () => catalog.product(s));
    await as('acme', () => repo().update({ tenantId: 'acme', sku: 'p1' }, { price: 5 }));
    expect(await hit('acme', 'product', 'p1')).toBe(false);
    expect(await hit('acme', 'product', 'p2')).toBe(false);
    expect(await hit('globex', 'product', 'p1')).toBe(true);
  });

  it('concurrent transactions of many tenants: only the committed ones invalidate, each its own entry', async () => {
    const tenants = [...Array.from({ length: 8 }, (_, i) => `t${i}`), ...ADVERSARIAL_TENANTS.slice(0, 4)];
    for (const t of tenants) {
      await seed(t, 'p1', { price: 1 });
      await as(t, () => catalog.product('p1'));
    }
    await Promise.all(
      tenants.map((t, i) =>
        ds
          .transaction(async (m) => {
            const row = await m.findOneByOrFail(Product, { tenantId: t, sku: 'p1' });
            row.price = 100 + i;
            await m.save(row);
            if (i % 2 === 1) throw new Error('rolled back');
          })
          .catch(() => undefined),
      ),
    );
    for (const [i, t] of tenants.entries()) {
      expect(await hit(t, 'product', 'p1')).toBe(i % 2 === 1);
      expect((await as(t, () => catalog.product('p1')))?.price).toBe(i % 2 === 1 ? 1 : 100 + i);
    }
  });

  it('a soft remove invalidates like a remove, a recover like an insert', async () => {
    const row = await seed('acme', 'p1');
    await as('acme', () => catalog.product('p1'));
    await repo().softRemove(row);
    expect(await hit('acme', 'product', 'p1')).toBe(false);
    expect(await as('acme', () => catalog.product('p1'))).toBeNull();
    await repo().recover(row);
    expect(await hit('acme', 'product', 'p1')).toBe(false);
    expect((await as('acme', () => catalog.product('p1')))?.sku).toBe('p1');
  });

  it('a failing invalidation is logged with the rule and entity and never fails the committed save', async () => {
    const before = app.logger.lines.length;
    await expect(seed('acme', 'boom')).resolves.toMatchObject({ sku: 'boom' });
    const logged = app.logger.lines
      .slice(before)
      .filter((l) => l.level === 'error')
      .map((l) => l.message);
    expect(logged.some((m) => m.includes('"audit-fails"') && m.includes('Product') && m.includes('audit store down'))).toBe(true);
    expect(await repo().countBy({ sku: 'boom' })).toBe(1);
  });

  it('a rule naming a column the entity lacks fails start-up, naming the field and the column', async () => {
    @Injectable()
    class Wrong {
      @CacheResult({ key: SkuKey, invalidatesOn: [{ entity: Product, fields: { sku: 'code' } }] })
      async get(sku: string): Promise<string> {
        return sku;
      }
    }
    const error = await boot(memoryStore(), [Wrong], { invalidation: { sources: [typeOrmSource(ds)] } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInvalidationRuleError);
    expect((error as Error).message).toMatch(/field "sku" of SkuKey maps to column "code", which entity Product does not have/);
    expect((error as Error).message).toContain('tenantId, sku, category, price, status, deletedAt');
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
