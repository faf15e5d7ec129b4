import { Body, Controller, Get, NotFoundException, Param, Patch, UseInterceptors } from '@nestjs/common';
import { CacheResponse, CurrentTenant, Surrogate, TenantCacheInterceptor, versioned } from '../../lib/index.js';
import type { Product } from './product.entity.js';
import { ProductRepository } from './product.repository.js';
import { ProductService } from './product.service.js';

/**
 * Responses are cached per tenant by `TenantCacheInterceptor` (X-Cache, Age, ETag headers; 304 on
 * If-None-Match). They carry the tags the service's invalidation rules move on when a product is saved
 * (`versioned('catalog')`, `products`, `product:<id>`), so a PATCH makes the next GET a miss.
 */
@Controller('products')
@UseInterceptors(TenantCacheInterceptor)
export class ProductsController {
  constructor(
    private readonly products: ProductService,
    private readonly repo: ProductRepository,
  ) {}

  @CacheResponse({ ttl: 60_000, tags: [versioned('catalog'), 'products'] })
  @Get()
  async list(@CurrentTenant() tenant: string): Promise<{ tenant: string; products: Product[]; dbQueries: number }> {
    return { tenant, products: await this.products.listProducts(), dbQueries: this.repo.queries };
  }

  @CacheResponse({ ttl: 60_000, tags: [versioned('catalog'), Surrogate.entity('product')] })
  @Get(':id')
  async get(@Param('id') id: string): Promise<Product> {
    const product = await this.products.getProduct(id);
    if (!product) throw new NotFoundException(`No product ${id}`);
    return product;
  }

  @Patch(':id')
  update(@Param('id') id: string, @Body() body: { name?: string; price?: number }): Promise<Product> {
    return this.products.updateProduct(id, { name: body?.name, price: body?.price === undefined ? undefined : Number(body.price) });
  }
}
