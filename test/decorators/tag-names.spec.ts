import 'reflect-metadata';
import { Controller, Get, Injectable, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import {
  CacheEvict,
  CacheResponse,
  CacheResult,
  EntityChangeBus,
  InvalidTagError,
  TenantCacheInterceptor,
  TenantCacheService,
  TenantGuard,
  memoryStore,
  versioned,
} from '../../lib/index.js';
import { bootCache } from '../support/test-module.js';
import { as, boot } from './fixtures.js';

@Injectable()
class Catalog {
  runs = 0;

  @CacheResult({ tags: [versioned('catalog')] })
  async list(): Promise<number> {
    return ++this.runs;
  }

  @CacheResult({ tags: ['products'] })
  async products(): Promise<number> {
    return ++this.runs;
  }
}

describe('a tag name is plain or versioned in the whole application', () => {
  it('fails start-up when @CacheResult declares versioned(name) and @CacheEvict the plain name, naming both', async () => {
    @Injectable()
    class Writer {
      @CacheEvict({ tags: ['catalog'] })
      async save(): Promise<void> {}
    }
    const error = await boot(memoryStore(), [Catalog, Writer]).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(InvalidTagError);
    expect(error!.message).toMatch(/"catalog" is versioned\('catalog'\) in @CacheResult on Catalog\.list and plain 'catalog' in @CacheEvict on Writer\.save/);
  });

  it('fails start-up when a @CacheResponse route uses the other kind, naming both', async () => {
    @Controller()
    class CatalogController {
      @CacheResponse({ tags: ['catalog'] })
      @Get('catalog')
      list() {
        return [];
      }
    }
    const error = await bootCache(
      { stores: { default: memoryStore() } },
      { controllers: [CatalogController], providers: [Catalog], http: 'express', listen: false },
    ).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(InvalidTagError);
    expect(error!.message).toMatch(/versioned\('catalog'\) in @CacheResult on Catalog\.list and plain 'catalog' in @CacheResponse on CatalogController\.list/);
  });

  it("invalidateTag('catalog') of a name declared versioned moves its version on, like invalidateTag(versioned('catalog'))", async () => {
    const app = await boot(memoryStore(), [Catalog]);
    const catalog = app.moduleRef.get(Catalog);
    await as('acme', async () => {
      expect(await catalog.list()).toBe(1);
      expect(await catalog.list()).toBe(1);
      const version = await app.cache.invalidateTag('catalog');
      expect(typeof version).toBe('number');
      expect(await catalog.list()).toBe(2);
      expect(await catalog.list()).toBe(2);
      await app.cache.invalidateTags(['catalog', 'products']);
      expect(await catalog.list()).toBe(3);
      // Plain names stay plain.
      const before = await catalog.products();
      expect(await app.cache.invalidateTag('products')).toBe(1);
      expect(await catalog.products()).toBe(before + 1);
    });
    // Another tenant's entries are its own: a miss there, whatever acme invalidated.
    await as('globex', async () => expect(await catalog.list()).toBe(catalog.runs));
    await app.close();
  });

  it('a @CacheEvict tag function returning a name declared versioned invalidates the versioned tag', async () => {
    @Injectable()
    class Writer {
      @CacheEvict({ tags: [() => 'catalog'] })
      async save(): Promise<void> {}
    }
    const app = await boot(memoryStore(), [Catalog, Writer]);
    const catalog = app.moduleRef.get(Catalog);
    await as('acme', async () => {
      expect(await catalog.list()).toBe(1);
      await app.moduleRef.get(Writer).save();
      expect(await catalog.list()).toBe(2);
    });
    await app.close();
  });

  it('a @CacheResult tag function returning a name declared versioned tags with versioned(name): invalidateTag reaches both methods', async () => {
    @Injectable()
    class Reports {
      runs = 0;
      @CacheResult({ tags: [(kind: string) => (kind === 'catalog' ? 'catalog' : undefined)] })
      async report(kind: string): Promise<string> {
        return `${kind}#${++this.runs}`;
      }
    }
    const app = await boot(memoryStore(), [Catalog, Reports]);
    const catalog = app.moduleRef.get(Catalog);
    const reports = app.moduleRef.get(Reports);
    await as('acme', async () => {
      expect(await catalog.list()).toBe(1);
      expect(await reports.report('catalog')).toBe('catalog#1');
      expect(await reports.report('catalog')).toBe('catalog#1');
      await app.cache.invalidateTag('catalog');
      expect(await catalog.list()).toBe(2);
      expect(await reports.report('catalog')).toBe('catalog#2');
      await app.cache.invalidateTag(versioned('catalog'));
      expect(await reports.report('catalog')).toBe('catalog#3');
    });
    await app.close();
  });

  it('a @CacheResponse tag function returning a name declared versioned tags the response with versioned(name)', async () => {
    let served = 0;
    @Controller()
    @UseInterceptors(TenantCacheInterceptor)
    class CatalogController {
      @CacheResponse({ scope: 'tenant', tags: [() => 'catalog'] })
      @Get('catalog')
      list() {
        return { served: ++served };
      }
    }
    const app = await bootCache(
      { stores: { default: memoryStore() } },
      { controllers: [CatalogController], providers: [Catalog, { provide: APP_GUARD, useClass: TenantGuard }], http: 'express' },
    );
    try {
      const url = `${app.url}/catalog`;
      const get = async () => (await (await fetch(url, { headers: { 'x-tenant-id': 'acme' } })).json()) as { served: number };
      expect((await get()).served).toBe(1);
      expect((await get()).served).toBe(1);
      await app.get(TenantCacheService).forTenant('acme').invalidateTag(versioned('catalog'));
      expect((await get()).served).toBe(2);
    } finally {
      await app.close();
    }
  });

  it("invalidateTagInAllTenants('catalog') of a name declared versioned moves its version on in every tenant", async () => {
    const app = await boot(memoryStore(), [Catalog]);
    const catalog = app.moduleRef.get(Catalog);
    const acme = await as('acme', () => catalog.list());
    const globex = await as('globex', () => catalog.list());
    expect(await as('acme', () => catalog.list())).toBe(acme);
    await app.cache.invalidateTagInAllTenants('catalog');
    expect(await as('acme', () => catalog.list())).toBeGreaterThan(globex);
    expect(await as('globex', () => catalog.list())).toBeGreaterThan(globex + 1);
    await app.close();
  });

  it('an invalidation rule whose tag function returns a name declared versioned invalidates the versioned tag', async () => {
    class Product {
      id = 0;
      tenantId = '';
    }
    const app = await boot(memoryStore(), [Catalog], {
      invalidation: { rules: [{ name: 'product-catalog', entity: Product, tenantField: 'tenantId', tags: [() => 'catalog'] }] },
    });
    const catalog = app.moduleRef.get(Catalog);
    const bus = app.moduleRef.get(EntityChangeBus);
    const first = await as('acme', () => catalog.list());
    expect(await as('acme', () => catalog.list())).toBe(first);
    await as('acme', () => bus.publish({ entity: Product, event: 'update', data: Object.assign(new Product(), { id: 1, tenantId: 'acme' }) }));
    expect(await as('acme', () => catalog.list())).toBe(first + 1);
    await app.close();
  });

  it('checks the static tags of invalidation rules too (invalidation.rules, invalidatesOn)', async () => {
    class Product {}
    const error = await boot(memoryStore(), [Catalog], {
      invalidation: { rules: [{ name: 'products-change-catalog', entity: Product, tags: ['catalog'] }] },
    }).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(InvalidTagError);
    expect(error!.message).toMatch(
      /versioned\('catalog'\) in @CacheResult on Catalog\.list and plain 'catalog' in rule "products-change-catalog" of invalidation\.rules/,
    );
  });
});
