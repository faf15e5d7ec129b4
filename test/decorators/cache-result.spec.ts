import 'reflect-metadata';
import { Injectable, Scope, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  CacheResult,
  CachedMethodNotFoundError,
  InvalidCacheKeyError,
  InvalidKeyConstructorError,
  InvalidPartitionError,
  InvalidTagError,
  KeyConstructor,
  type StoreDefinition,
  TenantCacheService,
  TenantContextMissingError,
  UnknownStoreError,
  versioned,
} from '../../lib/index.js';
import { storeCases } from '../support/store-cases.js';
import { bootCache } from '../support/test-module.js';
import { ADVERSARIAL_TENANTS, as, boot, gate, sleep } from './fixtures.js';

interface Product {
  id: string;
  name: string;
  tenant: string | undefined;
}
interface ListQuery {
  page: number;
  sort?: 'asc' | 'desc';
  debug?: boolean;
}

class ProductKey extends KeyConstructor.params('id')<[id: string]> {
  id = this.arg('id');
}

class ListKey extends KeyConstructor.params('org', 'category', 'query')<[org: string, category: string, query: ListQuery]> {
  org = this.arg('org', { partition: true });
  category = this.arg('category', { partition: true });
  page = this.arg('query.page');
  sort = this.arg('2.sort');
}

const ROLES = 'test:roles';
const Roles = (...roles: string[]) => SetMetadata(ROLES, roles);

@Injectable()
class CatalogService {
  readonly runs = new Map<string, number>();
  slow?: Promise<void>;
  private readonly label = 'catalog';

  private count(method: string): number {
    const n = (this.runs.get(method) ?? 0) + 1;
    this.runs.set(method, n);
    return n;
  }

  @CacheResult({ key: ProductKey, ttl: 60_000, tags: ['products', (id: string) => `product:${id}`] })
  async getProduct(id: string): Promise<Product | null> {
    this.count('getProduct');
    if (this.slow) await this.slow;
    if (id === 'missing') return null;
    return { id, name: `${this.label}:${id}:${this.runs.get('getProduct')}`, tenant: undefined };
  }

  @CacheResult({ key: ListKey, ttl: 60_000 })
  async list(org: string, category: string, query: ListQuery): Promise<string> {
    return `${org}/${category}/${query.page}/${query.sort}#${this.count('list')}`;
  }

  @CacheResult({ ttl: 50 })
  async shortLived(id: string): Promise<number> {
    return this.count('shortLived');
  }

  @CacheResult()
  async byArguments(a: unknown, b?: unknown): Promise<number> {
    void a;
    void b;
    return this.count('byArguments');
  }

  @CacheResult({ key: (id: string) => `user:${id}` })
  async slowOne(id: string): Promise<string> {
    await sleep(20);
    return `${id}#${this.count('slowOne')}`;
  }

  @CacheResult({ unless: (r: { error?: string }) => r.error !== undefined, condition: (id: string) => !id.startsWith('nocache:') })
  async conditional(id: string): Promise<{ id: string; error?: string; run: number }> {
    const run = this.count('conditional');
    return id.startsWith('bad:') ? { id, error: 'x', run } : { id, run };
  }

  @CacheResult({ cacheNullish: true })
  async nullable(id: string): Promise<string | null | undefined> {
    this.count('nullable');
    return id === 'null' ? null : id === 'undefined' ? undefined : id;
  }

  @CacheResult()
  async notNullable(id: string): Promise<string | null> {
    this.count('notNullable');
    return id === 'null' ? null : id;
  }

  @CacheResult({ scope: 'shared' })
  async sharedSettings(name: string): Promise<string> {
    return `${name}#${this.count('sharedSettings')}`;
  }

  @Roles('admin', 'editor')
  @CacheResult()
  async withMetadata(id: string): Promise<string> {
    return `${this.label}:${id}:${this.count('withMetadata')}`;
  }

  @CacheResult()
  syncValue(id: string): string | Promise<string> {
    return `${id}#${this.count('syncValue')}`;
  }

  @CacheResult({ key: (id: string) => (id === 'bad' ? (42 as unknown as string) : id) })
  async badKey(id: string): Promise<string> {
    this.count('badKey');
    return id;
  }

  @CacheResult({
    tags: [
      (id: string) => {
        if (id === 'boom') throw new Error('tag boom');
        return `t:${id}`;
      },
    ],
  })
  async badTag(id: string): Promise<string> {
    this.count('badTag');
    return id;
  }

  @CacheResult({ tags: ['products', versioned('catalog'), (id: string) => [versioned(`v:${id}`), `p:${id}`]] })
  async tagged(id: string): Promise<string> {
    return `${id}#${this.count('tagged')}`;
  }

  @CacheResult()
  async throwing(id: string): Promise<string> {
    this.count('throwing');
    // NOTE: fails after a moment, so the second concurrent caller (whose store read may answer a tick later on
    // a remote store) finds the load still in flight and joins it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    throw new Error(`failed ${id}`);
  }
}

/** Not a provider: its decorated method is never wrapped. */
class PlainClass {
  runs = 0;
  @CacheResult()
  async get(id: string): Promise<string> {
    this.runs++;
    return id;
  }
}

describe.each(storeCases())('@CacheResult on $name', ({ definition }) => {
  let cache: TenantCacheService;
  let svc: CatalogService;
  let close: () => Promise<void>;
  let reflector: Reflector;

  beforeAll(async () => {
    const app = await boot(definition(), [CatalogService]);
    ({ cache, close } = app);
    svc = app.moduleRef.get(CatalogService);
    reflector = app.moduleRef.get(Reflector);
  });
  afterAll(() => close());

  it('runs the method on a miss and serves the hit, with metadata (cachedAt, a cached null is a hit)', async () => {
    await as('hits', async () => {
      const before = svc.runs.get('getProduct') ?? 0;
      const first = await svc.getProduct('p1');
      const second = await svc.getProduct('p1');
      expect(second).toEqual(first);
      expect(svc.runs.get('getProduct')).toBe(before + 1);
      const handle = cache.method(CatalogService, 'getProduct');
      const hit = await handle.lookup('p1');
      expect(hit.hit).toBe(true);
      expect(hit.value).toEqual(first);
      expect(typeof hit.cachedAt).toBe('number');
      const miss = await handle.lookup('p2');
      expect(miss.hit).toBe(false);
      expect(miss.value?.id).toBe('p2');
      expect((await handle.lookup('p2')).hit).toBe(true);
      // cacheNullish: null is stored and then a hit
      expect(await svc.nullable('null')).toBeNull();
      const nullHit = await cache.method(CatalogService, 'nullable').peek('null');
      expect(nullHit).toMatchObject({ hit: true, value: null });
    });
  });

  it('expires entries after their TTL', async () => {
    await as('ttl', async () => {
      const a = await svc.shortLived('x');
      expect(await svc.shortLived('x')).toBe(a);
      await sleep(120);
      expect(await svc.shortLived('x')).toBe(a + 1);
    });
  });

  it('keys by argument paths only: fields outside the key share the entry, fields inside split it', async () => {
    await as('paths', async () => {
      const a = await svc.list('o', 'books', { page: 1, sort: 'asc', debug: true });
      expect(await svc.list('o', 'books', { page: 1, sort: 'asc', debug: false })).toBe(a);
      expect(await svc.list('o', 'books', { sort: 'asc', page: 1 })).toBe(a);
      expect(await svc.list('o', 'books', { page: 2, sort: 'asc' })).not.toBe(a);
      expect(await svc.list('o', 'books', { page: 1, sort: 'desc' })).not.toBe(a);
      expect(await svc.list('o', 'books', { page: 1 })).not.toBe(a);
      expect(await svc.list('o2', 'books', { page: 1, sort: 'asc' })).not.toBe(a);
    });
  });

  it('keys by every argument canonically by default: 1 vs "1", null vs "null" vs undefined, object key order', async () => {
    await as('canon', async () => {
      const distinct: [unknown, unknown?][] = [[1], ['1'], [null], ['null'], [undefined], [['a,b']], [['a', 'b']], [{ a: 1, b: 2 }], [1, 2], [new Date(0)]];
      const runs: number[] = [];
      for (const args of distinct) runs.push(await svc.byArguments(...args));
      expect(new Set(runs).size).toBe(distinct.length);
      for (let i = 0; i < distinct.length; i++) expect(await svc.byArguments(...distinct[i]!)).toBe(runs[i]);
      expect(await svc.byArguments({ b: 2, a: 1 })).toBe(runs[7]);
      // A trailing undefined is the same call
      expect(await svc.byArguments(1, undefined)).toBe(runs[0]);
    });
  });

  it('single-flight: 1,000 concurrent callers of one key run the method once', async () => {
    await as('flight', async () => {
      const results = await Promise.all(Array.from({ length: 1000 }, () => svc.slowOne('u1')));
      expect(new Set(results).size).toBe(1);
      expect(svc.runs.get('slowOne')).toBe(1);
    });
    // Another tenant's identical call is not shared
    const other = await as('flight-2', () => svc.slowOne('u1'));
    expect(svc.runs.get('slowOne')).toBe(2);
    expect(other).toBe('u1#2');
  });

  it('condition(args) false bypasses the cache; unless(result) keeps a result out', async () => {
    await as('cond', async () => {
      const a = await svc.conditional('ok');
      expect((await svc.conditional('ok')).run).toBe(a.run);
      const n1 = await svc.conditional('nocache:1');
      const n2 = await svc.conditional('nocache:1');
      expect(n2.run).toBe(n1.run + 1);
      expect((await cache.method(CatalogService, 'conditional').peek('nocache:1')).hit).toBe(false);
      const b1 = await svc.conditional('bad:1');
      const b2 = await svc.conditional('bad:1');
      expect(b2.run).toBe(b1.run + 1);
    });
  });

  it('cacheNullish is off by default: null and undefined results run the method again', async () => {
    await as('nullish', async () => {
      await svc.notNullable('null');
      await svc.notNullable('null');
      expect(svc.runs.get('notNullable')).toBe(2);
      await svc.notNullable('v');
      await svc.notNullable('v');
      expect(svc.runs.get('notNullable')).toBe(3);
      const before = svc.runs.get('nullable') ?? 0;
      expect(await svc.nullable('undefined')).toBeUndefined();
      expect(await svc.nullable('undefined')).toBeUndefined();
      expect(svc.runs.get('nullable')).toBe(before + 1);
      expect(await cache.method(CatalogService, 'nullable').peek('undefined')).toMatchObject({ hit: true, value: undefined });
    });
  });

  it('isolates tenants with adversarial ids, also under 1,000 interleaved concurrent calls', async () => {
    const values = new Map<string, string | undefined>();
    for (const t of ADVERSARIAL_TENANTS) {
      const p = await as(t, async () => {
        const product = await svc.getProduct('same-id');
        return product?.name;
      });
      values.set(t, p);
    }
    expect(new Set(values.values()).size).toBe(ADVERSARIAL_TENANTS.length);
    for (const t of ADVERSARIAL_TENANTS) expect((await as(t, () => svc.getProduct('same-id')))?.name).toBe(values.get(t));
    // Invalidating in one tenant leaves the others
    await as('a:b', () => cache.method(CatalogService, 'getProduct').invalidate('same-id'));
    expect((await as('a', () => cache.method(CatalogService, 'getProduct').peek('same-id'))).hit).toBe(true);
    expect((await as('a:b', () => cache.method(CatalogService, 'getProduct').peek('same-id'))).hit).toBe(false);
    // Interleaved: every caller sees its own tenant's value
    const calls = Array.from({ length: 1000 }, (_, i) => {
      const t = ADVERSARIAL_TENANTS[i % ADVERSARIAL_TENANTS.length]!;
      return as(t, async () => ({ t, v: await svc.list(t, 'c', { page: i % 3 }) }));
    });
    for (const { t, v } of await Promise.all(calls)) expect(v.startsWith(`${t}/c/`)).toBe(true);
  });

  it('needs a tenant for tenant-scoped methods; shared methods need none and are one entry for all', async () => {
    await expect(svc.getProduct('x')).rejects.toBeInstanceOf(TenantContextMissingError);
    const a = await svc.sharedSettings('theme');
    expect(await as('t1', () => svc.sharedSettings('theme'))).toBe(a);
    expect(await as('t2', () => svc.sharedSettings('theme'))).toBe(a);
    await cache.shared().method(CatalogService, 'sharedSettings').invalidate('theme');
    expect(await svc.sharedSettings('theme')).not.toBe(a);
  });

  it('keeps this, the method name and other decorators metadata (Nest SetMetadata read through Reflector)', async () => {
    expect(svc.withMetadata.name).toBe('withMetadata');
    expect(reflector.get(ROLES, svc.withMetadata)).toEqual(['admin', 'editor']);
    expect(reflector.get(ROLES, CatalogService.prototype.withMetadata)).toEqual(['admin', 'editor']);
    expect(Object.prototype.hasOwnProperty.call(svc, 'withMetadata')).toBe(true);
    await as('meta', async () => {
      const a = await svc.withMetadata('x');
      expect(a).toBe('catalog:x:1');
      expect(await svc.withMetadata('x')).toBe(a);
    });
  });

  it('caches methods returning plain values (the wrapper returns a Promise)', async () => {
    await as('sync', async () => {
      const first = svc.syncValue('s');
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBe('s#1');
      expect(await svc.syncValue('s')).toBe('s#1');
    });
  });

  it('does not cache a method that throws, and every joined caller sees the error', async () => {
    await as('throws', async () => {
      const all = await Promise.allSettled([svc.throwing('a'), svc.throwing('a')]);
      expect(all.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'failed a')).toBe(true);
      await expect(svc.throwing('a')).rejects.toThrow('failed a');
      expect(svc.runs.get('throwing')).toBe(2);
    });
  });

  it('operations: peek, invalidate, refresh, bypass, invalidateAll', async () => {
    await as('ops', async () => {
      const h = cache.method(CatalogService, 'getProduct');
      expect(await h.peek('o1')).toEqual({ hit: false, value: undefined });
      const runs = () => svc.runs.get('getProduct') ?? 0;
      const before = runs();
      const v1 = await svc.getProduct('o1');
      expect((await h.peek('o1')).value).toEqual(v1);
      expect(runs()).toBe(before + 1);
      const fresh = await h.bypass('o1');
      expect(fresh).not.toEqual(v1);
      expect((await h.peek('o1')).value).toEqual(v1);
      const refreshed = await h.refresh('o1');
      expect(refreshed).not.toEqual(v1);
      expect(await svc.getProduct('o1')).toEqual(refreshed);
      expect(await h.invalidate('o1')).toBe(true);
      expect(await h.invalidate('o1')).toBe(false);
      await svc.getProduct('o2');
      await svc.getProduct('o3');
      expect(await h.invalidateAll()).toBeGreaterThanOrEqual(2);
      expect((await h.peek('o2')).hit).toBe(false);
    });
    // forTenant(id) acts for that tenant, and runs the method inside it
    const explicit = cache.forTenant('ops-2').method(CatalogService, 'getProduct');
    await explicit.refresh('z');
    expect((await as('ops-2', () => cache.method(CatalogService, 'getProduct').peek('z'))).hit).toBe(true);
    expect((await as('ops', () => cache.method(CatalogService, 'getProduct').peek('z'))).hit).toBe(false);
  });

  it('invalidates partitions by any subset of partition fields, literally (4* never wipes 42)', async () => {
    await as('parts', async () => {
      const h = cache.method(CatalogService, 'list', ListKey);
      const seed = async () => {
        for (const org of ['4', '42', '4*', 'o']) for (const cat of ['a', 'b', 'a*']) await svc.list(org, cat, { page: 1 });
      };
      const cachedCount = async () => {
        let n = 0;
        for (const org of ['4', '42', '4*', 'o']) for (const cat of ['a', 'b', 'a*']) if ((await h.peek(org, cat, { page: 1 })).hit) n++;
        return n;
      };
      await seed();
      expect(await cachedCount()).toBe(12);
      expect(await h.invalidatePartition({ org: '4*' })).toBe(3);
      expect((await h.peek('4', 'a', { page: 1 })).hit).toBe(true);
      expect((await h.peek('42', 'a', { page: 1 })).hit).toBe(true);
      expect(await cachedCount()).toBe(9);
      expect(await h.invalidatePartition({ org: '4' })).toBe(3);
      expect((await h.peek('42', 'b', { page: 1 })).hit).toBe(true);
      await seed();
      // A subset that is not a prefix: the second partition field alone
      expect(await h.invalidatePartition({ category: 'a*' })).toBe(4);
      expect((await h.peek('o', 'a', { page: 1 })).hit).toBe(true);
      expect(await h.invalidatePartition({ org: '42', category: 'a' })).toBe(1);
      expect(await cachedCount()).toBe(7);
      await expect(h.invalidatePartition({ page: 1 } as never)).rejects.toBeInstanceOf(InvalidPartitionError);
      await expect(cache.method(CatalogService, 'getProduct').invalidatePartition({ id: 'x' })).rejects.toThrow(/no partition fields/);
    });
    // Partitions are per tenant
    await as('parts-2', () => svc.list('4', 'a', { page: 1 }));
    await as('parts', () => cache.method(CatalogService, 'list').invalidatePartition({ org: '4' }));
    expect((await as('parts-2', () => cache.method(CatalogService, 'list').peek('4', 'a', { page: 1 }))).hit).toBe(true);
  });

  it('tags: static, functions of the arguments and versioned, with counts, per tenant', async () => {
    await as('tags', async () => {
      await svc.getProduct('t1');
      await svc.getProduct('t2');
      expect(await cache.invalidateTag('product:t1')).toBe(1);
      expect((await cache.method(CatalogService, 'getProduct').peek('t1')).hit).toBe(false);
      expect((await cache.method(CatalogService, 'getProduct').peek('t2')).hit).toBe(true);
      await svc.getProduct('t1');
      expect(await as('tags-other', () => svc.getProduct('t1').then(() => cache.invalidateTag('products')))).toBe(1);
      expect((await cache.method(CatalogService, 'getProduct').peek('t1')).hit).toBe(true);
      expect(await cache.invalidateTag('products')).toBe(2);
      // versioned
      const a = await svc.tagged('x');
      const b = await svc.tagged('y');
      expect(await svc.tagged('x')).toBe(a);
      const version = await cache.invalidateTag(versioned('catalog'));
      expect(Number.isSafeInteger(version)).toBe(true);
      expect(await svc.tagged('x')).not.toBe(a);
      expect(await svc.tagged('y')).not.toBe(b);
      const x2 = await svc.tagged('x');
      const y2 = await svc.tagged('y');
      expect(await cache.invalidateTag(versioned('catalog'))).toBe(version + 1);
      const x3 = await svc.tagged('x');
      await cache.invalidateTag(versioned('v:x'));
      expect(await svc.tagged('x')).not.toBe(x3);
      expect(await svc.tagged('y')).not.toBe(y2);
      void x2;
    });
    // Versioned tags are per tenant too
    const other = await as('tags-b', () => svc.tagged('x'));
    await as('tags', () => cache.invalidateTag(versioned('catalog')));
    expect(await as('tags-b', () => svc.tagged('x'))).toBe(other);
  });

  it('a load overtaken by an invalidation of its key, tag or partition is returned but not stored', async () => {
    await as('race', async () => {
      const h = cache.method(CatalogService, 'getProduct');
      for (const invalidate of [() => h.invalidate('r1'), () => cache.invalidateTag('product:r1'), () => cache.invalidateTag('products')]) {
        const g = gate();
        svc.slow = g.promise;
        const pending = svc.getProduct('r1');
        await sleep(10);
        await invalidate();
        g.open();
        expect((await pending)?.id).toBe('r1');
        svc.slow = undefined;
        expect((await h.peek('r1')).hit).toBe(false);
      }
      // Control: without an invalidation the load is stored.
      await svc.getProduct('r1');
      expect((await h.peek('r1')).hit).toBe(true);
    });
  });

  it('errors: a key function returning a non-string, a throwing tag function (named, method not run)', async () => {
    await as('errors', async () => {
      await expect(svc.badKey('bad')).rejects.toBeInstanceOf(InvalidCacheKeyError);
      await expect(svc.badKey('bad')).rejects.toThrow(/CatalogService\.badKey: the key function returned number/);
      expect(svc.runs.get('badKey')).toBeUndefined();
      expect(await svc.badKey('good')).toBe('good');
      await expect(svc.badTag('boom')).rejects.toBeInstanceOf(InvalidTagError);
      await expect(svc.badTag('boom')).rejects.toThrow(/CatalogService\.badTag: a tag function threw: tag boom/);
      expect(svc.runs.get('badTag')).toBeUndefined();
      await expect(svc.byArguments(() => 1)).rejects.toThrow(/CatalogService\.byArguments.*is a function/);
    });
  });

  it('a class that is not a provider is not wrapped, and cache.method says why', async () => {
    const plain = new PlainClass();
    await plain.get('a');
    await plain.get('a');
    expect(plain.runs).toBe(2);
    expect(() => cache.method(PlainClass, 'get')).toThrow(CachedMethodNotFoundError);
    expect(() => cache.method(PlainClass, 'get')).toThrow(/carries @CacheResult but PlainClass is not a \(singleton\) provider/);
    expect(() => cache.method(CatalogService, 'count' as never)).toThrow(/does not carry @CacheResult/);
  });
});

/** A method decorator that replaces the function (as some libraries do) after @CacheResult recorded its options. */
function CountCalls(): MethodDecorator {
  return (_target, _key, descriptor) => {
    const original = descriptor.value as unknown as (...args: unknown[]) => unknown;
    const wrapped = function (this: { outerCalls: number }, ...args: unknown[]) {
      this.outerCalls++;
      return original.apply(this, args);
    };
    (descriptor as PropertyDescriptor).value = wrapped;
  };
}

class KeyV1 extends KeyConstructor<[id: string]> {
  override namespace = 'Products.get';
  id = this.arg(0);
}
class KeyV2 extends KeyConstructor<[id: string]> {
  override namespace = 'Products.get';
  override version = 2;
  id = this.arg(0);
}

describe.each(storeCases())('@CacheResult versions and decorator order on $name', ({ definition }) => {
  it('purgeOldVersions deletes the entries of earlier key versions, keeping the current ones', async () => {
    @Injectable()
    class ProductsV1 {
      @CacheResult({ key: KeyV1 })
      async get(id: string): Promise<string> {
        return `v1:${id}`;
      }
    }
    @Injectable()
    class ProductsV2 {
      @CacheResult({ key: KeyV2 })
      async get(id: string): Promise<string> {
        return `v2:${id}`;
      }
    }
    const base = definition();
    const store = await base.create('default');
    const shared = { create: () => store, description: 'shared' };
    const keyPrefix = `purge-${Date.now()}:`;
    const v1 = await boot(shared, [ProductsV1], { keyPrefix });
    const v2 = await boot(shared, [ProductsV2], { keyPrefix });
    await as('purge', async () => {
      await v1.moduleRef.get(ProductsV1).get('a');
      await v1.moduleRef.get(ProductsV1).get('b');
      expect(await v2.moduleRef.get(ProductsV2).get('a')).toBe('v2:a');
      const h2 = v2.cache.method(ProductsV2, 'get');
      expect(await h2.purgeOldVersions()).toBe(2);
      expect((await v1.cache.method(ProductsV1, 'get').peek('a')).hit).toBe(false);
      expect((await h2.peek('a')).hit).toBe(true);
    });
    await v2.close();
    await v1.close();
  });

  it('still caches when another decorator replaces the function after @CacheResult', async () => {
    @Injectable()
    class Wrapped {
      outerCalls = 0;
      runs = 0;
      @CountCalls()
      @CacheResult()
      async get(id: string): Promise<string> {
        this.runs++;
        return id;
      }
    }
    const app = await boot(definition(), [Wrapped]);
    const w = app.moduleRef.get(Wrapped);
    await as('order', async () => {
      await w.get('x');
      await w.get('x');
    });
    expect(w.runs).toBe(1);
    // The cache wraps whatever sits on the prototype: on a hit nothing inside runs, the other decorator included.
    expect(w.outerCalls).toBe(1);
    await app.close();
  });
});

describe('@CacheResult start-up checks', () => {
  const store = (): StoreDefinition => storeCases()[0]!.definition();

  it('fails start-up when a key field reads an argument the method does not have', async () => {
    class TwoArgs extends KeyConstructor<[a: string, b: string]> {
      b = this.arg(1);
    }
    @Injectable()
    class OneArg {
      // @ts-expect-error the key wants two parameters
      @CacheResult({ key: TwoArgs })
      async get(a: string): Promise<string> {
        return a;
      }
    }
    await expect(boot(store(), [OneArg])).rejects.toThrow(InvalidKeyConstructorError);
    await expect(boot(store(), [OneArg])).rejects.toThrow(/TwoArgs on OneArg\.get: field "b": it reads argument 1 but OneArg\.get declares 1/);
  });

  it('fails start-up on an unknown store alias, a bad TTL, bad tags and a namespace used twice', async () => {
    @Injectable()
    class BadStore {
      @CacheResult({ store: 'nope' })
      async get(): Promise<number> {
        return 1;
      }
    }
    await expect(boot(store(), [BadStore])).rejects.toBeInstanceOf(UnknownStoreError);
    @Injectable()
    class BadTtl {
      @CacheResult({ ttl: -1 })
      async get(): Promise<number> {
        return 1;
      }
    }
    await expect(boot(store(), [BadTtl])).rejects.toThrow(/TTL/i);
    @Injectable()
    class BadTags {
      @CacheResult({ tags: [''] })
      async get(): Promise<number> {
        return 1;
      }
    }
    await expect(boot(store(), [BadTags])).rejects.toThrow(/@CacheResult on BadTags\.get: .*non-empty strings/);
    @Injectable()
    class Twice {
      @CacheResult({ namespace: 'same' })
      async a(): Promise<number> {
        return 1;
      }
      @CacheResult({ namespace: 'same' })
      async b(): Promise<number> {
        return 2;
      }
    }
    await expect(boot(store(), [Twice])).rejects.toThrow(/namespace "same" is already used by Twice\.a/);
  });

  it('warns (does not crash) on request-scoped providers and controllers, and leaves them uncached', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @CacheResult()
      async get(): Promise<number> {
        return 1;
      }
    }
    const app = await boot(store(), [PerRequest]);
    expect(app.logger.warnings().some((w) => w.includes('PerRequest.get') && w.includes('NOT cached'))).toBe(true);
    expect(() => app.cache.method(PerRequest, 'get')).toThrow(CachedMethodNotFoundError);
    await app.close();
  });
});

describe('two TenantCacheModule instances in one application', () => {
  it('wrap each method once and warn', async () => {
    const { Module: NestModule } = await import('@nestjs/common');
    const { TenantCacheModule } = await import('../../lib/index.js');
    const { CapturingLogger } = await import('./fixtures.js');
    @Injectable()
    class Once {
      runs = 0;
      @CacheResult()
      async get(): Promise<number> {
        return ++this.runs;
      }
    }
    @NestModule({ imports: [TenantCacheModule.forRoot({ keyPrefix: 'second:' })] })
    class Second {}
    const logger = new CapturingLogger();
    const app = await bootCache({ keyPrefix: 'first:' }, { imports: [Second], providers: [Once], logger });
    onTestFinished(app.close);
    const once = app.get(Once);
    await as('twice', async () => {
      expect(await once.get()).toBe(1);
      expect(await once.get()).toBe(1);
    });
    expect(logger.warnings().filter((w) => w.includes('Once.get is already wrapped'))).toHaveLength(1);
  });
});
