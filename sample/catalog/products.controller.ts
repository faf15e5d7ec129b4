import { Body, Controller, Get, NotFoundException, Param, Patch } from '@nestjs/common';
import { CurrentTenant } from '../../lib/index.js';
import type { Product } from './product.entity.js';
import { ProductRepository } from './product.repository.js';
import { ProductService } from './product.service.js';

@Controller('products')
export class ProductsController {
  constructor(
    private readonly products: ProductService,
    private readonly repo: ProductRepository,
  ) {}

  @Get()
  async list(@CurrentTenant() tenant: string): Promise<{ tenant: string; products: Product[]; dbQueries: number }> {
    return { tenant, products: await this.products.listProducts(), dbQueries: this.repo.queries };
  }

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
