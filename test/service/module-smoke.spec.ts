import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { describe, expect, it, onTestFinished } from 'vitest';
import { TenantCacheModule, TenantCacheService, TenantContext, TenantContextMissingError } from '../../lib/index.js';
import { bootModule } from '../support/test-module.js';

@Injectable()
class Consumer {
  // Resolved by type: fails if the compiler dropped decorator metadata.
  constructor(readonly cache: TenantCacheService) {}
}

@Module({ imports: [TenantCacheModule.forRoot({ isGlobal: true })], providers: [Consumer] })
class AppModule {}

describe('TenantCacheModule (DI)', () => {
  it('injects TenantCacheService by type and isolates tenants', async () => {
    const app = await bootModule({ imports: [AppModule] });
    onTestFinished(app.close);
    const { cache } = app.get(Consumer);
    await TenantContext.run('acme', () => cache.set('k', { n: 1 }));
    expect(await TenantContext.run('acme', () => cache.get('k'))).toEqual({ n: 1 });
    expect(await TenantContext.run('globex', () => cache.get('k'))).toBeUndefined();
    await expect(cache.get('k')).rejects.toBeInstanceOf(TenantContextMissingError);
  });
});
