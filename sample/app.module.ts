import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TenantCacheModule, TenantGuard, memoryStore, redisStore } from '../lib/index.js';
import { ProductRepository } from './catalog/product.repository.js';
import { ProductService } from './catalog/product.service.js';
import { ProductsController } from './catalog/products.controller.js';
import { SettingsController } from './catalog/settings.controller.js';

/** The embedded memory store by default; Redis when REDIS_URL is set. */
export function sampleStore() {
  const url = process.env.REDIS_URL;
  return url ? redisStore({ url }) : memoryStore({ maxEntries: 10_000 });
}

@Module({
  imports: [
    TenantCacheModule.forRoot({
      isGlobal: true,
      stores: { default: sampleStore() },
      keyPrefix: 'sample:',
      defaultTtl: 5 * 60_000,
      // Tenants come from the x-tenant-id header (the default resolver). An app with logins would add
      // `authorize: (user, tenantId) => ...` or read the tenant from the verified JWT (fromJwtClaim()).
      tenant: { pattern: /^[a-z0-9-]{1,32}$/ },
    }),
  ],
  controllers: [ProductsController, SettingsController],
  providers: [ProductRepository, ProductService, { provide: APP_GUARD, useClass: TenantGuard }],
})
export class AppModule {}
