import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { createCluster } from '@redis/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResult,
  type StoreDefinition,
  StoreUnavailableError,
  TenantCacheErrorCode,
  type TenantCacheModuleOptions,
  type TenantScopedCache,
  UnsupportedOperationError,
  cloudflareBackend,
  compositeBackend,
  fastlyBackend,
  memoryStore,
  redisInvalidationBus,
  redisStore,
  surrogateKeyFor,
  versioned,
} from '../../lib/index.js';
import type { RedisClientLike } from '../../lib/stores/redis/redis-commander.js';
import { ADVERSARIAL_TENANTS, as, boot, gate, sleep } from '../decorators/fixtures.js';
import { chaosStore } from '../support/chaos-store.js';
import { FakeCdn } from '../support/fake-cdn.js';
import { type RedisClusterHandle, sharedRedisUrl, startRedisCluster } from '../support/redis-server.js';

// Soft invalidation (issue 13, item 6): `invalidateTag(tag, { soft: true })` and `expire(key)` make entries
// stale instead of gone. A read-through with grace / staleWhileRevalidate serves them stale while one load
// refreshes them; every other read (and a read-through without grace) is a miss.

const TTL = 60_000;
const GRACE = 30_000;
const SWR = { ttl: TTL, staleWhileRevalidate: GRACE };
const WITH_GRACE = { ttl: TTL, grace: GRACE };
/** `fetch` (internal, with metadata) takes tags resolved. */
const PRODUCTS = { plain: ['products'], versioned: [] };

const STORES: { name: string; definition: () => StoreDefinition }[] = [
  { name: 'memory', definition: () => memoryStore() },
  { name: 'redis', definition: () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) },
];

const fail = (): never => {
  throw new Error('the database is down');
};

/** A loader counting its calls, slow enough that concurrent callers overlap it. */
function counting(value: string, delay = 50) {
  const loader = async () => {
    loader.calls++;
    await sleep(delay);
    return value;
  };
  loader.calls = 0;
  return loader;
}

@Injectable()
class Products {
  calls = 0;
  version = 1;
  failing = false;

  @CacheResult({ ttl: TTL, grace: GRACE, tags: ['products'] })
  async product(id: string): Promise<string> {
    this.calls++;
    if (this.failing) throw new Error('the database is down');
    return `${id} v${this.version}`;
  }
}

for (const store of STORES) {
  describe(`soft invalidation (${store.name})`, () => {
    let close: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await close?.();
      close = undefined;
    });

    async function start(options: Partial<TenantCacheModuleOptions> = {}, definition = store.definition()) {
      const app = await boot(definition, [Products], options);
      close = app.close;
      const stale: string[] = [];
      app.cache.events.on('entry:stale', (e) => stale.push(e.reason));
      return { ...app, products: app.moduleRef.get(Products), stale };
    }

    for (const how of ['expire(key)', 'invalidateTag(tag, { soft: true })'] as const) {
      const soften = (cache: TenantScopedCache, key: string): Promise<unknown> =>
        how === 'expire(key)' ? cache.expire(key) : cache.invalidateTag('products', { soft: true });

      describe(how, () => {
        it('a plain get, lookup and a read-through without grace see a miss', async () => {
          const { cache } = await start();
          await as('acme', async () => {
            await cache.getOrSet('k', () => 'old', { ...WITH_GRACE, tags: ['products'] });
            await soften(cache, 'k');
            expect(await cache.get('k')).toBeUndefined();
            expect(await cache.lookup('k')).toMatchObject({ hit: false, value: undefined });
            expect(await cache.has('k')).toBe(true); // kept in the store, for the grace
            const loader = counting('new');
            expect(await cache.getOrSet('k', loader, { ttl: TTL, tags: ['products'] })).toBe('new');
            expect(loader.calls).toBe(1);
            expect(await cache.get('k')).toBe('new');
          });
        });

        it('staleWhileRevalidate: 20 concurrent callers get the old value at once while exactly one load refreshes it', async () => {
          const { cache, stale } = await start();
          await as('acme', async () => {
            await cache.getOrSet('k', () => 'old', { ...SWR, tags: ['products'] });
            await soften(cache, 'k');
            const loader = counting('new', 150);
            const results = await Promise.all(Array.from({ length: 20 }, () => cache.fetch('k', loader, { ...SWR, tags: PRODUCTS })));
            expect(results.map((r) => [r.value, r.stale])).toEqual(Array.from({ length: 20 }, () => ['old', true]));
            // The refresh lands; then the new value is a fresh hit and the loader is not called again.
            const deadline = Date.now() + 5000;
            while ((await cache.get('k')) !== 'new' && Date.now() < deadline) await sleep(10);
            expect(await cache.getOrSet('k', fail, { ...SWR, tags: ['products'] })).toBe('new');
            expect(loader.calls).toBe(1);
          });
          expect(stale.length).toBe(20);
          expect(new Set(stale)).toEqual(new Set(['swr']));
        });

        it('grace: a failing loader gets the stale value; a working one replaces it, called once for 10 concurrent callers', async () => {
          const { cache } = await start();
          await as('acme', async () => {
            await cache.getOrSet('k', () => 'old', { ...WITH_GRACE, tags: ['products'] });
            await soften(cache, 'k');
            const looked = await cache.fetch('k', fail, { ...WITH_GRACE, tags: PRODUCTS });
            expect(looked).toMatchObject({ hit: false, stale: true, value: 'old' });
            // The failed load started the key's graceBackoff: serve stale without calling the loader.
            expect(await cache.getOrSet('k', fail, { ...WITH_GRACE, tags: ['products'] })).toBe('old');
          });
          await as('acme', async () => {
            await cache.getOrSet('j', () => 'old', { ...WITH_GRACE, tags: ['products'] });
            await (how === 'expire(key)' ? cache.expire('j') : cache.invalidateTag('products', { soft: true }));
            const loader = counting('new', 100);
            const results = await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet('j', loader, { ...WITH_GRACE, tags: ['products'] })));
            expect(results).toEqual(Array.from({ length: 10 }, () => 'new'));
            expect(loader.calls).toBe(1);
          });
        });

        it('grace with a soft timeout: the stale value past the timeout, the one load stores the new value', async () => {
          const { cache } = await start();
          await as('acme', async () => {
            await cache.getOrSet('k', () => 'old', { ...WITH_GRACE, tags: ['products'] });
            await soften(cache, 'k');
            const loader = counting('new', 300);
            const opts = { ...WITH_GRACE, tags: ['products'], timeout: { soft: 20 } };
            const results = await Promise.all(Array.from({ length: 5 }, () => cache.getOrSet('k', loader, opts)));
            expect(results).toEqual(['old', 'old', 'old', 'old', 'old']);
            const deadline = Date.now() + 5000;
            while ((await cache.get('k')) !== 'new' && Date.now() < deadline) await sleep(10);
            expect(await cache.get('k')).toBe('new');
            expect(loader.calls).toBe(1);
          });
        });

        it('a hard invalidation after the soft one wins: never served stale (counterpart of BentoCache #71)', async () => {
          const { cache } = await start();
          await as('acme', async () => {
            await cache.getOrSet('k', () => 'old', { ...SWR, grace: GRACE, tags: ['products'] });
            await soften(cache, 'k');
            await (how === 'expire(key)' ? cache.delete('k') : cache.invalidateTag('products'));
            await expect(cache.getOrSet('k', fail, { ...SWR, grace: GRACE, tags: ['products'] })).rejects.toThrow('the database is down');
            const loader = counting('new');
            expect(await cache.getOrSet('k', loader, { ...SWR, tags: ['products'] })).toBe('new');
            expect(loader.calls).toBe(1);
          });
        });

        it('the stale window is counted from the soft invalidation: past the grace the entry is gone', async () => {
          const { cache } = await start();
          await as('acme', async () => {
            await cache.getOrSet('k', () => 'old', { ...WITH_GRACE, tags: ['products'] });
            await soften(cache, 'k');
            await sleep(150);
            await expect(cache.getOrSet('k', fail, { ttl: TTL, grace: 100, tags: ['products'] })).rejects.toThrow('the database is down');
            expect(await cache.getOrSet('k', fail, { ttl: TTL, grace: 5000, tags: ['products'] })).toBe('old');
          });
        });

        it("tenant isolation: softening one tenant's entries never makes another tenant's stale (adversarial ids)", async () => {
          const { cache } = await start();
          for (const t of ADVERSARIAL_TENANTS) await as(t, () => cache.getOrSet('k', () => `value of ${t}`, { ...SWR, tags: ['products'] }));
          for (const victim of ADVERSARIAL_TENANTS) {
            await as(victim, () => soften(cache, 'k'));
            for (const t of ADVERSARIAL_TENANTS) {
              await as(t, async () => {
                if (t === victim) {
                  expect(await cache.get('k')).toBeUndefined();
                  const found = await cache.fetch('k', () => sleep(50).then(() => `value of ${t}`), { ...SWR, tags: PRODUCTS });
                  expect(found).toMatchObject({ stale: true, value: `value of ${t}` });
                } else {
                  // Fresh: a plain read hits, a read-through neither loads nor serves stale.
                  expect(await cache.get('k')).toBe(`value of ${t}`);
                  const found = await cache.fetch('k', fail, { ...SWR, tags: PRODUCTS });
                  expect(found).toMatchObject({ hit: true, value: `value of ${t}` });
                }
              });
            }
            // Let the victim's refresh land before the next round.
            await as(victim, async () => {
              const deadline = Date.now() + 5000;
              while ((await cache.get('k')) === undefined && Date.now() < deadline) await sleep(10);
              expect(await cache.get('k')).toBe(`value of ${victim}`);
            });
          }
          // The shared namespace is another scope too.
          await cache.shared().set('k', 'shared', { ttl: TTL, tags: ['products'] });
          await as('a:b', () => soften(cache, 'k'));
          expect(await cache.shared().get('k')).toBe('shared');
        });
      });
    }

    it('@CacheResult with grace: a soft tag invalidation serves the stale result when the method fails, the fresh one when it works', async () => {
      const { cache, products } = await start();
      await as('acme', async () => {
        expect(await products.product('p1')).toBe('p1 v1');
        await cache.invalidateTag('products', { soft: true });
        products.failing = true;
        expect(await products.product('p1')).toBe('p1 v1');
        products.failing = false;
        products.version = 2;
        await sleep(10);
        // A later call after the backoff would reload; a fresh load now (different key) shows the method works.
        expect(await products.product('p2')).toBe('p2 v2');
        // A hard invalidation: the failing method's error reaches the caller.
        await cache.invalidateTag('products');
        products.failing = true;
        await expect(products.product('p1')).rejects.toThrow('the database is down');
      });
    });

    it('a value loaded across a soft tag invalidation is stored expired: the next read refreshes it', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        const release = gate();
        const started = gate();
        const slow = cache.getOrSet(
          'k',
          () => {
            started.open();
            return release.promise.then(() => 'loaded before');
          },
          { ...SWR, tags: ['products'] },
        );
        await started.promise;
        await sleep(20); // the tag versions are read as the loader starts
        await cache.invalidateTag('products', { soft: true });
        release.open();
        expect(await slow).toBe('loaded before');
        expect(await cache.get('k')).toBeUndefined();
        const found = await cache.fetch('k', () => 'after', { ...SWR, tags: PRODUCTS });
        expect(found).toMatchObject({ stale: true, value: 'loaded before' });
      });
    });

    it('a versioned tag cannot be invalidated softly: UnsupportedOperationError naming the alternatives', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        const error = await cache.invalidateTag(versioned('catalog'), { soft: true }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnsupportedOperationError);
        expect((error as UnsupportedOperationError).code).toBe(TenantCacheErrorCode.UnsupportedOperation);
        expect((error as Error).message).toMatch(/plain tag/);
        expect((error as Error).message).toMatch(/expire\(key\)/);
        // In a batch, nothing is softened: the plain tag's entry stays fresh.
        await cache.set('p', 'fresh', { ttl: TTL, tags: ['products'] });
        await expect(cache.invalidateTags(['products', versioned('catalog')], { soft: true })).rejects.toBeInstanceOf(UnsupportedOperationError);
        expect(await cache.get('p')).toBe('fresh');
      });
      await expect(as('acme', () => Promise.resolve(cache.invalidateTagInAllTenants(versioned('catalog'), undefined, { soft: true })))).rejects.toBeInstanceOf(
        UnsupportedOperationError,
      );
    });

    it('expire(key): false for a missing key and a counter (which stays a counter); entries of versioned tags are addressed by their tags', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        expect(await cache.expire('missing')).toBe(false);
        expect(await cache.incr('n', 5)).toBe(5);
        expect(await cache.expire('n')).toBe(false);
        expect(await cache.incr('n')).toBe(6);
        await cache.getOrSet('v', () => 'old', { ...SWR, tags: [versioned('catalog')] });
        expect(await cache.expire('v', { tags: [versioned('catalog')] })).toBe(true);
        expect(await cache.get('v', { tags: [versioned('catalog')] })).toBeUndefined();
        expect(await cache.getOrSet('v', () => sleep(30).then(() => 'new'), { ...SWR, tags: [versioned('catalog')] })).toBe('old');
        // Expiring twice keeps the first time; the TTL is kept.
        await cache.set('t', 'x', 60_000);
        expect(await cache.expire('t')).toBe(true);
        expect(await cache.expire('t')).toBe(true);
        expect(await cache.ttl('t')).toBeGreaterThan(50_000);
      });
    });

    it('expire(key) of a memoized iterable: the next iteration loads and stores the items again', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        let loads = 0;
        const rows = (tag: string) => () => {
          loads++;
          return [1, 2, 3].map((i) => `${tag} ${i}`);
        };
        const collect = async (tag: string) => {
          const out: string[] = [];
          for await (const item of cache.memoizeIterable('rows', rows(tag), { ttl: TTL })) out.push(item);
          return out;
        };
        expect(await collect('old')).toEqual(['old 1', 'old 2', 'old 3']);
        expect(await collect('unused')).toEqual(['old 1', 'old 2', 'old 3']);
        expect(await cache.expire('rows')).toBe(true);
        expect(await collect('new')).toEqual(['new 1', 'new 2', 'new 3']);
        expect(await collect('unused')).toEqual(['new 1', 'new 2', 'new 3']);
        expect(loads).toBe(2);
      });
    });

    it('invalidateTagInAllTenants(tag, store, { soft: true }) softens every tenant (and the shared scope) at once', async () => {
      const { cache } = await start();
      const tenants = ['acme', 'a:b', '*'];
      for (const t of tenants) await as(t, () => cache.getOrSet('k', () => `v ${t}`, { ...SWR, tags: ['products'] }));
      await cache.shared().getOrSet('k', () => 'v shared', { ...SWR, tags: ['products'] });
      await as('other', () => cache.getOrSet('k', () => 'v other', { ...SWR, tags: ['unrelated'] }));
      expect(await cache.invalidateTagInAllTenants('products', undefined, { soft: true })).toBe(0);
      for (const t of tenants) {
        await as(t, async () => {
          expect(await cache.get('k')).toBeUndefined();
          expect(await cache.fetch('k', () => sleep(30).then(() => 'new'), { ...SWR, tags: PRODUCTS })).toMatchObject({ stale: true, value: `v ${t}` });
        });
      }
      expect(await cache.shared().get('k')).toBeUndefined();
      await as('other', async () => expect(await cache.get('k')).toBe('v other'));
    });
  });
}

describe('expire(key) of chunked, compressed and encrypted entries', () => {
  const CODEC = { chunkSize: 1024, compression: { algorithm: 'gzip' as const, threshold: 0 }, encryption: { secrets: ['s'.repeat(40)] } };
  for (const store of STORES) {
    it(`${store.name}: the value comes back whole, stale, then refreshed`, async () => {
      const app = await boot(store.definition(), [], { codec: CODEC });
      try {
        const big = Array.from({ length: 2000 }, (_, i) => `row ${i} ${randomUUID()}`);
        await as('acme', async () => {
          await app.cache.getOrSet('big', () => big, { ...SWR, tags: ['products'] });
          expect(await app.cache.expire('big')).toBe(true);
          expect(await app.cache.get('big')).toBeUndefined();
          const found = await app.cache.fetch('big', () => sleep(50).then(() => ['new']), { ...SWR, tags: PRODUCTS });
          expect(found.stale).toBe(true);
          expect(found.value).toEqual(big);
          const deadline = Date.now() + 5000;
          while ((await app.cache.get('big')) === undefined && Date.now() < deadline) await sleep(10);
          expect(await app.cache.get('big')).toEqual(['new']);
          // Softly invalidated by tag, too.
          await app.cache.set('big2', big, { ttl: TTL, tags: ['products'] });
          await app.cache.invalidateTag('products', { soft: true });
          expect(await app.cache.fetch('big2', () => sleep(50).then(() => ['new']), { ...SWR, tags: PRODUCTS })).toMatchObject({ stale: true, value: big });
        });
      } finally {
        await app.close();
      }
    });
  }
});

describe('soft invalidation with the store down follows the failure policy', () => {
  it("onWriteError 'ignore': resolves (false / 0), reported; a read is a miss; 'throw' (default): rejects with StoreUnavailableError", async () => {
    const { definition, control } = chaosStore(memoryStore());
    const app = await boot(definition, [], { onWriteError: 'ignore' });
    const errors: string[] = [];
    app.cache.events.on('store:error', (e) => errors.push(e.operation));
    try {
      await as('acme', async () => {
        await app.cache.getOrSet('k', () => 'old', { ...SWR, tags: ['products'] });
        control.down();
        expect(await app.cache.expire('k')).toBe(false);
        expect(await app.cache.invalidateTag('products', { soft: true })).toBe(0);
        expect(await app.cache.getOrSet('k', () => 'loaded', { ...SWR, tags: ['products'] })).toBe('loaded');
        control.up();
      });
      expect(errors).toContain('expire');
      expect(errors).toContain('invalidateTag');
    } finally {
      await app.close();
    }
    const strict = chaosStore(memoryStore());
    const app2 = await boot(strict.definition, []);
    try {
      await as('acme', async () => {
        await app2.cache.set('k', 'v');
        strict.control.down();
        await expect(app2.cache.expire('k')).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(app2.cache.invalidateTag('products', { soft: true })).rejects.toBeInstanceOf(StoreUnavailableError);
        strict.control.up();
      });
    } finally {
      await app2.close();
    }
  });
});

describe('soft invalidation travels on the invalidation bus (two instances, each on its own memory store)', () => {
  it('a soft tag invalidation and expire(key) on A make B serve stale within grace, not drop', async () => {
    const keyPrefix = `soft-bus-${randomUUID().slice(0, 8)}:`;
    const channel = `tc-soft-bus-${randomUUID()}`;
    const a = await boot(memoryStore(), [], { keyPrefix, invalidation: { bus: redisInvalidationBus({ url: sharedRedisUrl(), channel }) } });
    const b = await boot(memoryStore(), [], { keyPrefix, invalidation: { bus: redisInvalidationBus({ url: sharedRedisUrl(), channel }) } });
    try {
      await as('acme', async () => {
        for (const app of [a, b]) {
          await app.cache.getOrSet('t', () => 'old t', { ...SWR, tags: ['products'] });
          await app.cache.getOrSet('k', () => 'old k', SWR);
        }
        await a.cache.invalidateTag('products', { soft: true });
        await a.cache.expire('k');
        const deadline = Date.now() + 5000;
        while (((await b.cache.get('t')) !== undefined || (await b.cache.get('k')) !== undefined) && Date.now() < deadline) await sleep(10);
        expect(await b.cache.get('t')).toBeUndefined();
        expect(await b.cache.get('k')).toBeUndefined();
        expect(await b.cache.fetch('t', () => sleep(30).then(() => 'new'), { ...SWR, tags: PRODUCTS })).toMatchObject({ stale: true, value: 'old t' });
        expect(await b.cache.fetch('k', () => sleep(30).then(() => 'new'), SWR)).toMatchObject({ stale: true, value: 'old k' });
      });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('a soft tag invalidation asks the CDNs for a soft purge where they have one (Fastly), a purge elsewhere', () => {
  let cdn: FakeCdn;
  const FASTLY = { serviceId: 'svc-soft', token: 'fastly-token' };
  const CLOUDFLARE = { zoneId: 'zone-soft', token: 'cf-token' };
  beforeAll(async () => {
    cdn = await new FakeCdn({ fastly: FASTLY, cloudflare: CLOUDFLARE }).start();
  });
  afterAll(() => cdn.stop());

  it('soft: Fastly-Soft-Purge on Fastly, a plain purge on Cloudflare; hard: a plain purge on both', async () => {
    const keyPrefix = `soft-cdn-${randomUUID().slice(0, 8)}:`;
    const app = await boot(memoryStore(), [], {
      keyPrefix,
      http: {
        backends: {
          edge: compositeBackend(
            fastlyBackend({ serviceId: FASTLY.serviceId, apiToken: FASTLY.token, baseUrl: cdn.url }),
            cloudflareBackend({ zoneId: CLOUDFLARE.zoneId, apiToken: CLOUDFLARE.token, baseUrl: cdn.url }),
          ),
        },
      },
    });
    try {
      const key = (t: string) => surrogateKeyFor(keyPrefix, { kind: 'tenant', tenantId: t }, 'products');
      await app.cache.forTenant('acme').invalidateTag('products', { soft: true });
      expect(cdn.purges.map((p) => [p.cdn, p.keys, p.soft]).sort()).toEqual([
        ['cloudflare', [key('acme')], false],
        ['fastly', [key('acme')], true],
      ]);
      cdn.purges.length = 0;
      await app.cache.forTenant('a:b').invalidateTag('products');
      expect(cdn.purges.map((p) => [p.cdn, p.keys, p.soft]).sort()).toEqual([
        ['cloudflare', [key('a:b')], false],
        ['fastly', [key('a:b')], false],
      ]);
      // expire(key) purges nothing at the CDN (responses are purged by tag or tenant).
      cdn.purges.length = 0;
      await app.cache.forTenant('acme').expire('k');
      expect(cdn.purges).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('expire(key) on Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  it('expires entries spread over every master (chunked ones included) and soft-invalidates tags, tenant by tenant', async () => {
    const client = createCluster({ rootNodes: [{ url: `redis://${cluster.nodes[0].host}:${cluster.nodes[0].port}` }] });
    client.on('error', () => {});
    await client.connect();
    const app = await boot(redisStore({ client: client as unknown as RedisClientLike }), [], { codec: { chunkSize: 1024 } });
    try {
      const tenants = ['acme', 'a:b', '{x}', 'ü租户'];
      const big = 'x'.repeat(5000);
      for (const t of tenants) {
        await as(t, async () => {
          for (let i = 0; i < 20; i++) await app.cache.getOrSet(`k${i}`, () => `${t} ${i}`, { ...SWR, tags: ['products'] });
          await app.cache.getOrSet('big', () => big + t, SWR);
        });
      }
      await as('acme', async () => {
        for (let i = 0; i < 20; i++) expect(await app.cache.expire(`k${i}`)).toBe(true);
        expect(await app.cache.expire('big')).toBe(true);
        for (let i = 0; i < 20; i++) expect(await app.cache.get(`k${i}`)).toBeUndefined();
        expect(await app.cache.fetch('big', () => sleep(30).then(() => 'new'), SWR)).toMatchObject({ stale: true, value: big + 'acme' });
        expect(await app.cache.fetch('k3', () => sleep(30).then(() => 'new'), { ...SWR, tags: PRODUCTS })).toMatchObject({ stale: true, value: 'acme 3' });
      });
      await as('a:b', () => app.cache.invalidateTag('products', { soft: true }));
      await as('a:b', async () => expect(await app.cache.fetch('k5', fail, { ...SWR, tags: PRODUCTS })).toMatchObject({ stale: true, value: 'a:b 5' }));
      for (const t of ['{x}', 'ü租户']) {
        await as(t, async () => {
          for (let i = 0; i < 20; i++) expect(await app.cache.get(`k${i}`)).toBe(`${t} ${i}`);
          expect(await app.cache.get('big')).toBe(big + t);
        });
      }
    } finally {
      await app.close();
      await client.close();
    }
  });
});
