import { Injectable } from '@nestjs/common';
import { CacheResult, KeyConstructor, versioned } from '../../lib/index.js';
import { Product } from './product.entity.js';
import { ProductRepository } from './product.repository.js';

/** The key of one product: its id (the tenant is always part of the key, implicitly). */
class ProductKey extends KeyConstructor.params('id')<[id: string]> {
  id = this.arg('id');
}

@Injectable()
export class ProductService {
  constructor(private readonly repo: ProductRepository) {}

  /**
   * Any change to a product of the tenant drops the tenant's list (no mapping: every entry of the
   * method), and moves on the catalogue tag and the product's tags (also used by cached HTTP responses).
   */
  @CacheResult({
    ttl: 60_000,
    tags: [versioned('catalog')],
    invalidatesOn: [
      {
        entity: Product,
        tenantField: 'tenantId',
        tags: [versioned('catalog'), 'products', (p) => (p.id === undefined ? undefined : `product:${String(p.id)}`)],
      },
    ],
  })
  async listProducts(): Promise<Product[]> {
    return this.repo.findAll();
  }

  /**
   * A change to product `id` of a tenant drops that tenant's entry of `getProduct(id)`, after the commit.
   * Fail-safe: for 10 minutes past its TTL the entry is kept, and served (stale) if the database fails or
   * takes longer than 2 s; an invalidated entry is never served.
   */
  @CacheResult({
    key: ProductKey,
    ttl: 60_000,
    grace: 10 * 60_000,
    timeout: { hard: 2_000 },
    tags: [versioned('catalog'), (id: string) => `product:${id}`],
    invalidatesOn: [{ entity: Product, fields: { id: 'id' }, tenantField: 'tenantId' }],
  })
  async getProduct(id: string): Promise<Product | null> {
    return this.repo.findOne(id);
  }

  /** Saves the product; the invalidation rules above refresh the cache when the transaction commits. */
  async updateProduct(id: string, patch: { name?: string; price?: number }): Promise<Product> {
    return this.repo.update(id, patch);
  }
}
