import { Injectable, NotFoundException } from '@nestjs/common';
import { TenantContext } from '../../lib/index.js';
import type { Product } from './product.entity.js';

const SLOW_QUERY_MS = 50;

/**
 * Stands in for a database: one catalogue per tenant, with a delay per query so cache hits show.
 * Counts queries so the sample can show what the cache saves.
 */
@Injectable()
export class ProductRepository {
  private readonly tables = new Map<string, Map<string, Product>>();
  queries = 0;

  async findAll(): Promise<Product[]> {
    await this.slowQuery();
    return [...this.table().values()];
  }

  async findOne(id: string): Promise<Product | null> {
    await this.slowQuery();
    return this.table().get(id) ?? null;
  }

  async update(id: string, patch: Partial<Pick<Product, 'name' | 'price'>>): Promise<Product> {
    await this.slowQuery();
    const current = this.table().get(id);
    if (!current) throw new NotFoundException(`No product ${id}`);
    const changes = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const next = { ...current, ...changes, updatedAt: new Date() };
    this.table().set(id, next);
    return next;
  }

  private table(): Map<string, Product> {
    const tenant = TenantContext.require('ProductRepository');
    let table = this.tables.get(tenant);
    if (!table) {
      table = new Map(
        ['1', '2', '3'].map((id) => [id, { id, name: `${tenant} product ${id}`, price: Number(id) * 10, updatedAt: new Date() }]),
      );
      this.tables.set(tenant, table);
    }
    return table;
  }

  private async slowQuery(): Promise<void> {
    this.queries++;
    await new Promise((r) => setTimeout(r, SLOW_QUERY_MS));
  }
}
