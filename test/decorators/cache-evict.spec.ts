import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheEvict,
  CacheResult,
  InvalidKeyConstructorError,
  InvalidTagError,
  KeyConstructor,
  type StoreDefinition,
  TenantCacheService,
  versioned,
} from '../../lib/index.js';
import { storeCases } from '../support/store-cases.js';
import { as, boot } from './fixtures.js';

interface UpdateDto {
  name: string;
  category: string;
}

class ListKey extends KeyConstructor<[category: string, page: number]> {
  category = this.arg(0, { partition: true });
  page = this.arg(1);
}

@Injectable()
class ProductService {
  readonly db = new Map<string, { name: string; category: string }>();
  runs = 0;

  @CacheResult({ tags: [versioned('catalog'), (id: string) => `product:${id}`] })
  async getProduct(id: string): Promise<string | null> {
    this.runs++;
    const row = this.db.get(id);
    return row ? `${row.name}@${this.runs}` : null;
  }

  @CacheResult({ key: ListKey })
  async list(category: string, page: number): Promise<string[]> {
    this.runs++;
    return [...this.db.entries()].filter(([, r]) => r.category === category).map(([id]) => `${id}:${page}:${this.runs}`);
  }

  @CacheResult({ tags: ['reports'] })
  async report(name: string): Promise<string> {
    this.runs++;
    return `${name}@${this.runs}`;
  }

  @CacheEvict({ method: 'getProduct', args: (id: string) => [id] })
  @CacheEvict({ method: 'list', partition: (_id: string, dto: UpdateDto) => ({ category: dto.category }) })
  async updateProduct(id: string, dto: UpdateDto): Promise<string> {
    if (dto.name === 'fail') throw new Error('write failed');
    this.db.set(id, dto);
    return id;
  }

  @CacheEvict({ method: 'getProduct' })
  async touchProduct(id: string): Promise<void> {
    void id;
  }

  @CacheEvict({ method: 'getProduct', beforeInvocation: true })
  async failingDelete(id: string): Promise<void> {
    this.db.delete(id);
    throw new Error(`delete ${id} failed`);
  }

  @CacheEvict({ method: 'list', allEntries: true })
  async reindex(): Promise<number> {
    return 1;
  }

  @CacheEvict({ tags: ['reports', (id: string) => `product:${id}`, versioned('catalog')] })
  async bulk(id: string): Promise<string> {
    return id;
  }

  @CacheEvict({
    tags: [
      (id: string) => {
        if (id === 'boom') throw new Error('bad tag');
        return `product:${id}`;
      },
    ],
  })
  async withBadTag(id: string): Promise<string> {
    this.db.set(`written:${id}`, { name: id, category: 'x' });
    return id;
  }
}

@Injectable()
class AdminService {
  // Evicts from another class, named through a function (a forward reference).
  @CacheEvict({ target: () => ProductService, method: 'getProduct', args: (id: string) => [id] })
  async purge(id: string): Promise<string> {
    return id;
  }
}

describe.each(storeCases())('@CacheEvict on $name', ({ definition }) => {
  let cache: TenantCacheService;
  let svc: ProductService;
  let admin: AdminService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const app = await boot(definition(), [ProductService, AdminService]);
    ({ cache, close } = app);
    svc = app.moduleRef.get(ProductService);
    admin = app.moduleRef.get(AdminService);
  });
  afterAll(() => close());

  const peek = (id: string) => cache.method(ProductService, 'getProduct').peek(id);

  it('evicts the entry (and a partition) after the method succeeds, not when it throws', async () => {
    await as('evict', async () => {
      svc.db.set('p1', { name: 'old', category: 'books' });
      const before = await svc.getProduct('p1');
      const list = await svc.list('books', 1);
      await svc.list('games', 1);
      await expect(svc.updateProduct('p1', { name: 'fail', category: 'books' })).rejects.toThrow('write failed');
      expect((await peek('p1')).hit).toBe(true);
      expect(await svc.getProduct('p1')).toBe(before);
      await svc.updateProduct('p1', { name: 'new', category: 'books' });
      expect((await peek('p1')).hit).toBe(false);
      expect(await svc.getProduct('p1')).toMatch(/^new@/);
      expect(await svc.list('books', 1)).not.toEqual(list);
      expect((await cache.method(ProductService, 'list').peek('games', 1)).hit).toBe(true);
    });
  });

  it('evicts by the same arguments by default, from another class, and before invocation when asked', async () => {
    await as('evict-2', async () => {
      svc.db.set('p2', { name: 'a', category: 'c' });
      await svc.getProduct('p2');
      await svc.touchProduct('p2');
      expect((await peek('p2')).hit).toBe(false);
      await svc.getProduct('p2');
      await admin.purge('p2');
      expect((await peek('p2')).hit).toBe(false);
      await svc.getProduct('p2');
      await expect(svc.failingDelete('p2')).rejects.toThrow('delete p2 failed');
      expect((await peek('p2')).hit).toBe(false);
    });
  });

  it('evicts every entry of a method, and tags (static, dynamic, versioned), in the current tenant only', async () => {
    await as('evict-3', async () => {
      await svc.list('a', 1);
      await svc.list('b', 2);
      await svc.reindex();
      expect((await cache.method(ProductService, 'list').peek('a', 1)).hit).toBe(false);
      expect((await cache.method(ProductService, 'list').peek('b', 2)).hit).toBe(false);
      svc.db.set('p3', { name: 'x', category: 'c' });
      svc.db.set('p4', { name: 'y', category: 'c' });
      await svc.getProduct('p3');
      await svc.getProduct('p4');
      const r = await svc.report('r');
      await as('evict-3-other', async () => {
        await svc.getProduct('p3');
        await svc.report('r');
      });
      await svc.bulk('p3');
      expect((await cache.method(ProductService, 'report').peek('r')).hit).toBe(false);
      expect(await svc.report('r')).not.toBe(r);
      // versioned('catalog') moved on: p4 too
      expect((await peek('p3')).hit).toBe(false);
      expect((await peek('p4')).hit).toBe(false);
    });
    await as('evict-3-other', async () => {
      expect((await peek('p3')).hit).toBe(true);
      expect((await cache.method(ProductService, 'report').peek('r')).hit).toBe(true);
    });
  });

  it('a throwing tag function fails the call before the method writes anything', async () => {
    await as('evict-4', async () => {
      await expect(svc.withBadTag('boom')).rejects.toBeInstanceOf(InvalidTagError);
      expect(svc.db.has('written:boom')).toBe(false);
      expect(await svc.withBadTag('ok')).toBe('ok');
      expect(svc.db.has('written:ok')).toBe(true);
    });
  });
});

describe('@CacheEvict start-up checks', () => {
  const store = (): StoreDefinition => storeCases()[0]!.definition();

  it('fails start-up when it names a method that is not cached, evicts nothing, or mixes modes', async () => {
    @Injectable()
    class A {
      async plain(id: string): Promise<string> {
        return id;
      }
      @CacheEvict({ method: 'plain' })
      async write(id: string): Promise<void> {
        void id;
      }
    }
    await expect(boot(store(), [A])).rejects.toThrow(InvalidKeyConstructorError);
    await expect(boot(store(), [A])).rejects.toThrow(/@CacheEvict on A\.write: it names A\.plain, which is not a @CacheResult method/);
    @Injectable()
    class B {
      @CacheEvict({})
      async write(): Promise<void> {}
    }
    await expect(boot(store(), [B])).rejects.toThrow(/it evicts nothing/);
    @Injectable()
    class C {
      @CacheResult({ key: ListKey })
      async list(category: string, page: number): Promise<string> {
        return `${category}${page}`;
      }
      @CacheEvict({ method: 'list', allEntries: true, partition: () => ({ category: 'x' }) })
      async write(): Promise<void> {}
    }
    await expect(boot(store(), [C])).rejects.toThrow(/give one of args, partition, allEntries/);
  });
});
