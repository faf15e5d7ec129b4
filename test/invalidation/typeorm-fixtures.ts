import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Column, DataSource, DeleteDateColumn, Entity, PrimaryColumn } from 'typeorm';
import { CacheResult, KeyConstructor, TenantContext } from '../../lib/index.js';

/** PostgreSQL for the TypeORM suites: DATABASE_URL or the local server. */
export const databaseUrl = (): string => process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

@Entity({ name: 'product' })
export class Product {
  @PrimaryColumn({ type: 'varchar', length: 300 })
  tenantId!: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  sku!: string;

  @Column({ type: 'varchar', length: 64 })
  category!: string;

  @Column({ type: 'integer' })
  price!: number;

  @Column({ type: 'varchar', length: 16, default: 'published' })
  status!: string;

  @DeleteDateColumn({ type: 'timestamptz', nullable: true })
  deletedAt?: Date | null;
}

/** A DataSource on a schema of its own (dropped by `close`). */
export async function openDataSource(): Promise<{ dataSource: DataSource; close: () => Promise<void> }> {
  const schema = `tc_inv_${randomBytes(4).toString('hex')}`;
  const admin = new DataSource({ type: 'postgres', url: databaseUrl() });
  await admin.initialize();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  const dataSource = new DataSource({ type: 'postgres', url: databaseUrl(), schema, entities: [Product], synchronize: true, poolSize: 4 });
  await dataSource.initialize();
  return {
    dataSource,
    close: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      await admin.destroy();
    },
  };
}

export class SkuKey extends KeyConstructor.params('sku')<[sku: string]> {
  sku = this.arg('sku');
}
export class CategoryKey extends KeyConstructor.params('category', 'page')<[category: string, page: number]> {
  category = this.arg('category', { partition: true });
  page = this.arg('page');
}

/** Cached reads of the catalogue of the tenant in context. */
@Injectable()
export class Catalog {
  queries = 0;
  constructor(readonly dataSource: DataSource) {}

  private get repo() {
    this.queries++;
    return this.dataSource.getRepository(Product);
  }

  @CacheResult({ key: SkuKey, invalidatesOn: [{ entity: Product, fields: { sku: 'sku' }, tenantField: 'tenantId' }] })
  async product(sku: string): Promise<Product | null> {
    return this.repo.findOneBy({ tenantId: TenantContext.require('product'), sku });
  }

  @CacheResult({ key: SkuKey, invalidatesOn: [{ entity: Product, fields: { sku: 'sku' }, action: 'refresh', tenantField: 'tenantId' }] })
  async price(sku: string): Promise<number | null> {
    return (await this.repo.findOneBy({ tenantId: TenantContext.require('price'), sku }))?.price ?? null;
  }

  @CacheResult({ key: CategoryKey, invalidatesOn: [{ entity: Product, fields: { category: 'category' } }] })
  async category(category: string, page: number): Promise<string[]> {
    const rows = await this.repo.find({ where: { tenantId: TenantContext.require('category'), category }, order: { sku: 'ASC' }, skip: (page - 1) * 10, take: 10 });
    return rows.map((r) => r.sku);
  }
}
