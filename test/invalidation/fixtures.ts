import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { CacheResult, KeyConstructor, TenantContext, not, versioned } from '../../lib/index.js';

/** A catalogue row, as an ORM would hand it over. */
export class Item {
  id!: number;
  tenantId!: string;
  category!: string;
  name!: string;
  price!: number;
  status!: 'draft' | 'published';
}

/** Rows per tenant, standing in for a database in the ORM-agnostic suites. */
@Injectable()
export class ItemTable {
  readonly rows = new Map<string, Map<number, Item>>();
  calls: Record<string, number> = {};
  failRefresh = false;

  put(row: Item): void {
    const t = this.rows.get(row.tenantId) ?? new Map<number, Item>();
    t.set(row.id, { ...row });
    this.rows.set(row.tenantId, t);
  }

  count(method: string): number {
    return this.calls[method] ?? 0;
  }

  read(method: string): Map<number, Item> {
    this.calls[method] = (this.calls[method] ?? 0) + 1;
    return this.rows.get(TenantContext.require(method)) ?? new Map();
  }
}

export class ItemKey extends KeyConstructor.params('id')<[id: number]> {
  id = this.arg('id');
}

export class CategoryKey extends KeyConstructor.params('category', 'page')<[category: string, page: number]> {
  category = this.arg('category', { partition: true });
  page = this.arg('page');
}

/** Cached reads with one rule of each kind. */
@Injectable()
export class ItemService {
  constructor(readonly table: ItemTable) {}

  @CacheResult({ key: ItemKey, invalidatesOn: [{ entity: Item, fields: { id: 'id' }, tenantField: 'tenantId' }] })
  async getItem(id: number): Promise<Item | null> {
    return this.table.read('getItem').get(id) ?? null;
  }

  @CacheResult({ key: CategoryKey, invalidatesOn: [{ entity: 'Item', fields: { category: 'category' }, tenantField: 'tenantId' }] })
  async byCategory(category: string, page: number): Promise<string[]> {
    return [...this.table.read('byCategory').values()].filter((r) => r.category === category).map((r) => `${r.name}@${page}`);
  }

  @CacheResult({ invalidatesOn: [{ entity: Item, tenantField: 'tenantId', when: { status: 'published' }, tags: ['by-status'] }] })
  async published(): Promise<number[]> {
    return [...this.table.read('published').values()].filter((r) => r.status === 'published').map((r) => r.id);
  }

  @CacheResult({ invalidatesOn: [{ name: 'drafts', entity: Item, when: not({ status: 'published' }), onCreate: false }] })
  async drafts(): Promise<number[]> {
    return [...this.table.read('drafts').values()].filter((r) => r.status === 'draft').map((r) => r.id);
  }

  @CacheResult({ key: ItemKey, invalidatesOn: [{ entity: Item, fields: { id: 'id' }, action: 'refresh', watchFields: ['price'] }] })
  async priceOf(id: number): Promise<number | null> {
    if (this.table.failRefresh) throw new Error('price service down');
    return this.table.read('priceOf').get(id)?.price ?? null;
  }

  @CacheResult({ tags: ['by-status'] })
  async statusCount(): Promise<number> {
    return this.table.read('statusCount').size;
  }

  @CacheResult({ tags: [versioned('items')] })
  async tagged(): Promise<number> {
    return this.table.read('tagged').size;
  }
}
