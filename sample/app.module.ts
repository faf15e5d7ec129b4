import { mkdirSync } from 'node:fs';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { TenantCacheAdminModule, TenantCacheModule, TenantGuard, memoryStore, redisStore, tieredStore } from '../lib/index.js';
import { typeOrmSource } from '../lib/invalidation/typeorm/index.js';
import { Product } from './catalog/product.entity.js';
import { ProductRepository } from './catalog/product.repository.js';
import { ProductService } from './catalog/product.service.js';
import { ProductsController } from './catalog/products.controller.js';
import { SettingsController } from './catalog/settings.controller.js';
import { AdminController } from './catalog/admin.controller.js';
import { CacheStatsController } from './ops/cache-stats.controller.js';
import { OperatorGuard } from './ops/operator.guard.js';

/**
 * The embedded memory store by default. With REDIS_URL: a tier, an in-process L1 in front of Redis, kept
 * coherent across instances (a write or invalidation on one drops the others' L1 copies).
 */
export function sampleStore() {
  const url = process.env.REDIS_URL;
  return url ? tieredStore({ l1: memoryStore({ maxEntries: 10_000 }), l2: redisStore({ url }) }) : memoryStore({ maxEntries: 10_000 });
}

/** SQLite, embedded: in memory by default; a file under sample/data/ with SAMPLE_DB=file. */
export function sampleDatabase(): string {
  if (process.env.SAMPLE_DB !== 'file') return ':memory:';
  mkdirSync('sample/data', { recursive: true });
  return 'sample/data/catalog.sqlite';
}

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'better-sqlite3', database: sampleDatabase(), entities: [Product], synchronize: true }),
    TenantCacheModule.forRootAsync({
      isGlobal: true,
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => ({
        stores: { default: sampleStore() },
        keyPrefix: 'sample:',
        defaultTtl: 5 * 60_000,
        // Tenants come from the x-tenant-id header (the default resolver). An app with logins would add
        // `authorize: (user, tenantId) => ...` or read the tenant from the verified JWT (fromJwtClaim()).
        tenant: { pattern: /^[a-z0-9-]{1,32}$/ },
        // Product rows saved through TypeORM invalidate the cached reads that depend on them, after commit.
        invalidation: { sources: [typeOrmSource(dataSource)] },
        // With CACHE_SECRET (32+ characters), entries are encrypted under a random key per tenant, which
        // DELETE /admin/tenants/:id destroys after purging the tenant (crypto-shredding).
        // Metrics (with an OpenTelemetry meter provider registered) label the 50 busiest tenants; the rest share "other".
        metrics: { tenantLabel: 'top' },
        ...(process.env.CACHE_SECRET ? { codec: { encryption: { secrets: [process.env.CACHE_SECRET], tenantKeys: 'wrapped' as const } } } : {}),
      }),
    }),
    // Operators inspect and flush one tenant's entries under /ops/cache (see docs/admin.md), with ADMIN_TOKEN.
    TenantCacheAdminModule.forRoot({ guards: [OperatorGuard], path: 'ops/cache' }),
  ],
  controllers: [ProductsController, SettingsController, AdminController, CacheStatsController],
  providers: [ProductRepository, ProductService, { provide: APP_GUARD, useClass: TenantGuard }],
})
export class AppModule {}
