import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CacheResult,
  EntityChangeBus,
  InvalidEntityChangeError,
  InvalidationFailedError,
  type InvalidationContext,
  KeyConstructor,
  TenantCacheService,
  TenantContext,
  memoryStore,
  versioned,
} from '../../lib/index.js';
import { ADVERSARIAL_TENANTS, as, boot, sleep } from '../decorators/fixtures.js';
import { Item, ItemService, ItemTable } from './fixtures.js';

const row = (tenantId: string, id: number, extra: Partial<Item> = {}): Item =>
  Object.assign(new Item(), { id, tenantId, category: 'books', name: `${tenantId}-${id}`, price: id * 10, status: 'published' as const, ...extra });

describe('EntityChangeBus (ORM-agnostic seam, memory store)', () => {
  let app: Awaited<ReturnType<typeof boot>>;
  let bus: EntityChangeBus;
  let items: ItemService;
  let table: ItemTable;
  const seen: InvalidationContext[] = [];

  beforeAll(async () => {
    app = await boot(memoryStore(), [ItemTable, ItemService], {
      invalidation: {
        rules: [
          { name: 'item-tags', entity: Item, tags: [versioned('items'), (r) => (r.id === undefined ? undefined : `item:${String(r.id)}`)] },
          {
            name: 'audit',
            entity: 'Item',
            events: ['remove'],
            invalidate: (ctx) => {
              seen.push({ ...ctx, tenantId: TenantContext.current() });
            },
          },
        ],
      },
    });
    bus = app.moduleRef.get(EntityChangeBus);
    items = app.moduleRef.get(ItemService);
    table = app.moduleRef.get(ItemTable);
  });
  afterAll(() => app.close());
  beforeEach(() => {
    table.rows.clear();
    table.calls = {};
    table.failRefresh = false;
    seen.length = 0;
  });

  const seed = (tenant: string, ...ids: number[]) => ids.forEach((id) => table.put(row(tenant, id)));
  const cached = (tenant: string, id: number) => as(tenant, async () => (await app.cache.method(ItemService, 'getItem').peek(id)).hit);

  it("an update invalidates exactly the mapped entry of the row's tenant, for adversarial tenant ids", async () => {
    const tenants = ['acme', ...ADVERSARIAL_TENANTS];
    for (const t of tenants) {
      seed(t, 1, 2);
      await as(t, () => items.getItem(1));
      await as(t, () => items.getItem(2));
    }
    for (const t of tenants) {
      await bus.publish({ entity: Item, event: 'update', data: row(t, 1, { price: 99 }), changedFields: ['price'] });
      expect(await cached(t, 1)).toBe(false);
      expect(await cached(t, 2)).toBe(true);
      for (const other of tenants.filter((o) => o !== t && tenants.indexOf(o) > tenants.indexOf(t))) expect(await cached(other, 1)).toBe(true);
    }
  });

  it("the row's tenant column wins over the tenant in context; without either the failure is logged, or raised", async () => {
    seed('acme', 1);
    seed('globex', 1);
    await as('acme', () => items.getItem(1));
    await as('globex', () => items.getItem(1));
    await as('globex', () => bus.publish({ entity: Item, event: 'update', data: row('acme', 1) }));
    expect(await cached('acme', 1)).toBe(false);
    expect(await cached('globex', 1)).toBe(true);
    // The byCategory/published rules read tenantField too; 'drafts' (no tenantField) has no tenant here.
    const before = app.logger.lines.length;
    await bus.publish({ entity: Item, event: 'update', data: { id: 1, status: 'draft' } });
    const logged = app.logger.lines
      .slice(before)
      .map((l) => l.message)
      .join('\n');
    expect(logged).toContain('the change has no tenant');
    expect(logged).toContain('"drafts"');
  });

  it('wipes the partition a row belongs to, and the old one when an update moves the row', async () => {
    seed('acme', 1);
    table.put(row('acme', 2, { category: 'games' }));
    for (const c of ['books', 'games', 'music']) for (const p of [1, 2]) await as('acme', () => items.byCategory(c, p));
    const calls = table.count('byCategory');
    await as('acme', () => bus.publish({ entity: 'Item', event: 'update', data: row('acme', 1, { category: 'music' }), previous: row('acme', 1) }));
    const handle = app.cache.forTenant('acme').method(ItemService, 'byCategory');
    expect((await handle.peek('books', 1)).hit).toBe(false);
    expect((await handle.peek('books', 2)).hit).toBe(false);
    expect((await handle.peek('music', 2)).hit).toBe(false);
    expect((await handle.peek('games', 1)).hit).toBe(true);
    expect(table.count('byCategory')).toBe(calls);
  });

  it('a rule without a mapping drops every entry of the method; when/not and onCreate filter changes', async () => {
    seed('acme', 1);
    await as('acme', () => items.published());
    await as('acme', () => items.drafts());
    // A draft that stays a draft: "published" (when status = published) ignores it, "drafts" acts.
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: row('acme', 3, { status: 'draft' }), previous: row('acme', 3, { status: 'draft' }) }));
    const acme = app.cache.forTenant('acme');
    expect((await acme.method(ItemService, 'published').peek()).hit).toBe(true);
    expect((await acme.method(ItemService, 'drafts').peek()).hit).toBe(false);
    // Unpublishing: the row was published before, so "published" acts too, with its tags.
    await as('acme', () => items.drafts());
    await as('acme', () => items.statusCount());
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: row('acme', 1, { status: 'draft' }), previous: row('acme', 1) }));
    expect((await acme.method(ItemService, 'published').peek()).hit).toBe(false);
    expect((await acme.method(ItemService, 'statusCount').peek()).hit).toBe(false);
    // onCreate: false -> an insert leaves "drafts" alone.
    await as('acme', () => items.drafts());
    await as('acme', () => bus.publish({ entity: Item, event: 'insert', data: row('acme', 9, { status: 'draft' }) }));
    expect((await acme.method(ItemService, 'drafts').peek()).hit).toBe(true);
    // A partial row without the condition's column cannot be judged: the rule acts.
    await as('acme', () => items.published());
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: { id: 1, tenantId: 'acme', price: 3 } }));
    expect((await acme.method(ItemService, 'published').peek()).hit).toBe(false);
  });

  it('refresh recomputes the entry (watchFields), and a failed refresh deletes it', async () => {
    seed('acme', 1);
    expect(await as('acme', () => items.priceOf(1))).toBe(10);
    table.put(row('acme', 1, { price: 55, name: 'renamed' }));
    // Only the name changed: priceOf watches price, so its entry stays.
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: row('acme', 1, { price: 55 }), changedFields: ['name'] }));
    expect(await as('acme', () => items.priceOf(1))).toBe(10);
    const calls = table.count('priceOf');
    const price = app.cache.forTenant('acme').method(ItemService, 'priceOf');
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: row('acme', 1, { price: 55 }), changedFields: ['price'] }));
    // Deleted before publish resolves, recomputed right after, off the committing flow.
    await waitFor(async () => (await price.peek(1)).hit);
    expect(table.count('priceOf')).toBe(calls + 1);
    expect(await as('acme', () => items.priceOf(1))).toBe(55);
    expect(table.count('priceOf')).toBe(calls + 1); // served from the cache
    // Unknown changed columns: watchFields cannot rule the change out, so it acts. A failed recompute leaves it deleted.
    table.failRefresh = true;
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: row('acme', 1) }));
    expect((await price.peek(1)).hit).toBe(false);
    await waitFor(async () => app.logger.warnings().some((w) => w.includes('could not recompute') && w.includes('price service down')));
    expect((await price.peek(1)).hit).toBe(false);
  });

  it("tag rules and custom invalidators run in the change's tenant", async () => {
    seed('acme', 1);
    seed('globex', 1);
    await as('acme', () => items.tagged());
    await as('globex', () => items.tagged());
    await as('acme', () => bus.publish({ entity: Item, event: 'remove', data: row('acme', 1) }));
    expect((await app.cache.forTenant('acme').method(ItemService, 'tagged').peek()).hit).toBe(false);
    expect((await app.cache.forTenant('globex').method(ItemService, 'tagged').peek()).hit).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ rule: 'audit', entity: 'Item', event: 'remove', tenantId: 'acme', data: { id: 1 } });
  });

  it('a row without its mapped column widens to every entry of the method (bulk updates)', async () => {
    seed('acme', 1, 2);
    await as('acme', () => items.getItem(1));
    await as('acme', () => items.getItem(2));
    await as('acme', () => bus.publish({ entity: Item, event: 'update', data: { price: 0 } }));
    expect(await cached('acme', 1)).toBe(false);
    expect(await cached('acme', 2)).toBe(false);
  });

  it('deduplicates a batch: fifty updates of one row delete its entry once', async () => {
    seed('acme', 1);
    await as('acme', () => items.getItem(1));
    const keyEvents: string[] = [];
    const off = app.moduleRef.get(TenantCacheService)['engine'].hooks.add((e) => {
      if (e.kind === 'keys') keyEvents.push(e.keys.join());
    });
    await as('acme', () =>
      bus.publish(Array.from({ length: 50 }, (_, i) => ({ entity: Item, event: 'update' as const, data: row('acme', 1, { price: i }), changedFields: ['name'] }))),
    );
    off();
    expect(keyEvents.filter((k) => k.includes('getItem') || k.includes('ItemService.getItem'))).toHaveLength(1);
  });

  it('collect(): a discarded batch invalidates nothing, a committed one does, with the tenant captured at add()', async () => {
    seed('acme', 1);
    await as('acme', () => items.getItem(1));
    const batch = bus.collect();
    await as('acme', async () => batch.add({ entity: Item, event: 'update', data: { id: 1 } }));
    batch.discard();
    await batch.commit();
    expect(await cached('acme', 1)).toBe(true);
    await as('acme', async () => batch.add({ entity: Item, event: 'update', data: { id: 1 } }));
    expect(batch.size).toBe(1);
    await batch.commit(); // outside any tenant context
    expect(await cached('acme', 1)).toBe(false);
  });

  it('rejects malformed changes with a typed error', async () => {
    await expect(bus.publish({ entity: '', event: 'update' })).rejects.toBeInstanceOf(InvalidEntityChangeError);
    await expect(bus.publish({ entity: Item, event: 'upsert' as 'update' })).rejects.toThrow(/"upsert"/);
    await expect(bus.publish({ entity: Item, event: 'update', data: 5 as unknown as object })).rejects.toThrow(/data must be an object/);
  });

  it('keeps tenants apart under concurrent changes', async () => {
    const tenants = Array.from({ length: 20 }, (_, i) => `t${i}:x`);
    for (const t of tenants) {
      seed(t, 1, 2);
      await as(t, () => items.getItem(1));
      await as(t, () => items.getItem(2));
    }
    await Promise.all(tenants.map((t, i) => as(t, () => bus.publish({ entity: Item, event: 'update', data: { id: 1 + (i % 2), tenantId: t } }))));
    for (const [i, t] of tenants.entries()) {
      expect(await cached(t, 1)).toBe(i % 2 === 1);
      expect(await cached(t, 2)).toBe(i % 2 === 0);
    }
  });
});

describe('methods cached in the shared namespace', () => {
  class CodeKey extends KeyConstructor.params('code')<[code: string]> {
    code = this.arg('code');
  }
  @Injectable()
  class Currencies {
    calls = 0;
    @CacheResult({ key: CodeKey, scope: 'shared', invalidatesOn: [{ entity: 'Currency', fields: { code: 'code' } }] })
    async rate(code: string): Promise<string> {
      this.calls++;
      return `${code}:${this.calls}`;
    }
  }

  it('a change needs no tenant and invalidates the shared entry, whatever tenant is in context', async () => {
    const app = await boot(memoryStore(), [Currencies]);
    try {
      const rates = app.moduleRef.get(Currencies);
      expect(await rates.rate('EUR')).toBe('EUR:1');
      expect(await rates.rate('USD')).toBe('USD:2');
      await as('acme', () => app.moduleRef.get(EntityChangeBus).publish({ entity: 'Currency', event: 'update', data: { code: 'EUR' } }));
      expect(await rates.rate('EUR')).toBe('EUR:3');
      expect(await rates.rate('USD')).toBe('USD:2');
    } finally {
      await app.close();
    }
  });
});

describe('onError: raise', () => {
  class Key extends KeyConstructor.params('id')<[id: number]> {
    id = this.arg('id');
  }
  @Injectable()
  class Strict {
    @CacheResult({ key: Key, invalidatesOn: [{ name: 'strict', entity: 'Thing', fields: { id: 'id' } }] })
    async get(id: number): Promise<number> {
      return id;
    }
  }

  it('rejects an explicit publish with InvalidationFailedError naming the rule and entity', async () => {
    const app = await boot(memoryStore(), [Strict], { invalidation: { onError: 'raise' } });
    try {
      const error = await app.moduleRef
        .get(EntityChangeBus)
        .publish({ entity: 'Thing', event: 'update', data: { id: 1 } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidationFailedError);
      expect(error).toMatchObject({ rule: 'strict', entity: 'Thing', code: 'E_INVALIDATION_FAILED' });
      expect((error as Error).message).toContain('no tenant');
    } finally {
      await app.close();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}
