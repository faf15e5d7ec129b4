import { Injectable, NotFoundException } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import { TenantContext } from '../../lib/index.js';
import { Product } from './product.entity.js';

const SLOW_QUERY_MS = 50;

/**
 * The catalogue in SQLite through TypeORM, one tenant's rows at a time, with a delay per query so cache
 * hits show. Counts queries so the sample can show what the cache saves. A tenant's catalogue is
 * created on its first query.
 */
@Injectable()
export class ProductRepository {
  private readonly seeded = new Set<string>();
  queries = 0;

  constructor(private readonly dataSource: DataSource) {}

  async findAll(): Promise<Product[]> {
    const tenantId = await this.slowQuery();
    return this.rows.find({ where: { tenantId }, order: { id: 'ASC' } });
  }

  async findOne(id: string): Promise<Product | null> {
    const tenantId = await this.slowQuery();
    return this.rows.findOneBy({ tenantId, id });
  }

  /** Saves through the repository: the TypeORM subscriber sees the update and the invalidation rules act after commit. */
  async update(id: string, patch: Partial<Pick<Product, 'name' | 'price'>>): Promise<Product> {
    const tenantId = await this.slowQuery();
    const current = await this.rows.findOneBy({ tenantId, id });
    if (!current) throw new NotFoundException(`No product ${id}`);
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) Object.assign(current, { [k]: v });
    return this.rows.save(current);
  }

  private get rows(): Repository<Product> {
    return this.dataSource.getRepository(Product);
  }

  private async slowQuery(): Promise<string> {
    const tenantId = TenantContext.require('ProductRepository');
    this.queries++;
    await new Promise((r) => setTimeout(r, SLOW_QUERY_MS));
    if (!this.seeded.has(tenantId)) {
      this.seeded.add(tenantId);
      // NOTE: demo data, not a change: inserted without entity events, so no invalidation runs.
      await this.dataSource
        .createQueryBuilder()
        .insert()
        .into(Product)
        .values(['1', '2', '3'].map((id) => ({ tenantId, id, name: `${tenantId} product ${id}`, price: Number(id) * 10 })))
        .orIgnore()
        .callListeners(false)
        .execute();
    }
    return tenantId;
  }
}
