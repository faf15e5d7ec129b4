import { Injectable } from '@nestjs/common';
import { CacheEvict, CacheResult, KeyConstructor, versioned } from '../../lib/index.js';
import type { Product } from './product.entity.js';
import { ProductRepository } from './product.repository.js';

/** The key of one product: its id (the tenant is always part of the key, implicitly). */
class ProductKey extends KeyConstructor.params('id')<[id: string]> {
  id = this.arg('id');
}

@Injectable()
export class ProductService {
  constructor(private readonly repo: ProductRepository) {}

  @CacheResult({ ttl: 60_000, tags: [versioned('catalog')] })
  async listProducts(): Promise<Product[]> {
    return this.repo.findAll();
  }

  @CacheResult({ key: ProductKey, ttl: 60_000, tags: [versioned('catalog'), (id: string) => `product:${id}`] })
  async getProduct(id: string): Promise<Product | null> {
    return this.repo.findOne(id);
  }

  /** Evicts this product's entry and moves the catalogue version on, so the list is recomputed too. */
  @CacheEvict({ method: 'getProduct', args: (id: string) => [id], tags: [versioned('catalog')] })
  async updateProduct(id: string, patch: { name?: string; price?: number }): Promise<Product> {
    return this.repo.update(id, patch);
  }
}
