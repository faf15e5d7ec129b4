import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheResult, type StoreDefinition, memoryStore, redisStore } from '../../lib/index.js';
import { ADVERSARIAL_TENANTS, as, boot, gate, sleep } from '../decorators/fixtures.js';
import { chaosStore } from '../support/chaos-store.js';
import { sharedRedisUrl } from '../support/redis-server.js';

// cache.stats() (issue 15, item 4): in-process counters by result, loads, single-flight joins,
// invalidations and store failures, per tenant (bounded) and for the whole cache.

const STORES: { name: string; definition: () => StoreDefinition }[] = [
  { name: 'memory', definition: () => memoryStore() },
  { name: 'redis', definition: () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) },
];

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

async function start(store: StoreDefinition, options: Parameters<typeof boot>[2] = {}, providers: Parameters<typeof boot>[1] = []) {
  const app = await boot(store, providers, options);
  closers.push(app.close);
  return app;
}

describe.each(STORES)('cache.stats() on $name', ({ definition }) => {
  it('counts N hits and M misses exactly, per tenant, and never shows one tenant the numbers of another', async () => {
    const { cache } = await start(definition());
    const [a, b] = [ADVERSARIAL_TENANTS[0]!, ADVERSARIAL_TENANTS[6]!]; // 'a:b' and 'tc:t1:a'
    for (let i = 0; i < 3; i++) await as(a, () => cache.getOrSet(`k${i}`, () => i)); // 3 misses
    for (let n = 0; n < 5; n++) await as(a, () => cache.getOrSet('k0', () => -1)); // 5 hits
    await as(b, () => cache.getOrSet('k0', () => 'b')); // b: 1 miss (same logical key, other tenant)
    await as(b, () => cache.getOrSet('k0', () => 'b')); // b: 1 hit

    const sa = cache.forTenant(a).stats();
    expect(sa).toMatchObject({ tenant: a, tracked: true, requests: { hit: 5, miss: 3, stale: 0, bypass: 0, error: 0 }, loads: { ok: 3, error: 0 } });
    expect(sa.requests.hitRatio).toBeCloseTo(5 / 8);
    expect(cache.forTenant(b).stats().requests).toMatchObject({ hit: 1, miss: 1 });
    expect(cache.forTenant(ADVERSARIAL_TENANTS[7]!).stats().requests).toMatchObject({ hit: 0, miss: 0 }); // '4*': never used
    const all = cache.stats();
    expect(all.requests).toMatchObject({ hit: 6, miss: 4 });
    expect(all.byOperation.getOrSet).toMatchObject({ hit: 6, miss: 4 });
    expect(Object.keys(all.tenants).sort()).toEqual([a, b].sort());
    expect(all.tenants[a]!.requests.hit).toBe(5);
    expect(all.stores.default!.tier).toBe(definition === STORES[0]!.definition ? 'memory' : 'redis');
    expect(cache.shared().stats().requests.hit + cache.shared().stats().requests.miss).toBe(0);
  });

  it('counts single-flight joins, loader failures and invalidations by kind', async () => {
    const { cache } = await start(definition());
    const open = gate<number>();
    const calls = [1, 2, 3].map(() => as('t1', () => cache.getOrSet('slow', () => open.promise)));
    await sleep(30);
    open.open(7);
    expect(await Promise.all(calls)).toEqual([7, 7, 7]);
    await expect(as('t1', () => cache.getOrSet('boom', () => Promise.reject(new Error('db down'))))).rejects.toThrow('db down');
    await as('t1', () => cache.invalidateTag('news'));
    await as('t1', () => cache.delete('slow'));
    await as('t1', () => cache.invalidateAll());
    const s = cache.forTenant('t1').stats();
    expect(s.singleFlightJoined).toBe(2);
    expect(s.loads).toMatchObject({ ok: 1, error: 1 });
    expect(s.requests).toMatchObject({ miss: 3, error: 1, hit: 0 });
    expect(s.invalidations.tag).toBe(1);
    expect(s.invalidations.keys).toBe(1);
    expect(s.invalidations.all).toBe(1);
    expect(cache.forTenant('t2').stats().invalidations.all).toBe(0);
  });

  it('counts a stale value served as stale, never as a hit', async () => {
    const { cache } = await start(definition());
    await as('t1', () => cache.getOrSet('price', () => 10, { ttl: 50, grace: 60_000 }));
    await sleep(120);
    const served = await as('t1', () => cache.getOrSet('price', () => Promise.reject(new Error('origin down')), { ttl: 50, grace: 60_000 }));
    expect(served).toBe(10);
    const s = cache.forTenant('t1').stats();
    expect(s.requests).toMatchObject({ miss: 1, stale: 1, hit: 0 });
    expect(s.loads).toMatchObject({ ok: 1, error: 1 });
  });

  it('counts @CacheResult calls under fetch, and a refresh as bypass', async () => {
    @Injectable()
    class Prices {
      calls = 0;
      @CacheResult({ ttl: 60_000 })
      async price(id: string) {
        this.calls++;
        return `${id}:${this.calls}`;
      }
    }
    const { cache, moduleRef } = await start(definition(), {}, [Prices]);
    const prices = moduleRef.get(Prices);
    await as('t1', () => prices.price('x'));
    await as('t1', () => prices.price('x'));
    await as('t1', () => cache.method(Prices, 'price').refresh('x'));
    const s = cache.forTenant('t1').stats();
    expect(s.byOperation.fetch).toMatchObject({ miss: 1, hit: 1, bypass: 1 });
    expect(s.byOperation.getOrSet.hit + s.byOperation.getOrSet.miss).toBe(0);
  });
});

describe('cache.stats() memory stays bounded', () => {
  it('with 1,000 tenants equally busy, none is tracked: all count as other, totals exact', async () => {
    const { cache } = await start(memoryStore({ maxEntries: 100_000 }));
    for (let i = 0; i < 1000; i++) await as(`tenant-${i}`, () => cache.getOrSet('k', () => i));
    for (let i = 0; i < 1000; i++) await as(`tenant-${i}`, () => cache.getOrSet('k', () => -1));
    const all = cache.stats();
    expect(Object.keys(all.tenants)).toHaveLength(0);
    expect(all.requests).toMatchObject({ hit: 1000, miss: 1000 });
    expect(all.otherTenants.requests).toMatchObject({ hit: 1000, miss: 1000 });
    expect(cache.forTenant('tenant-999').stats()).toMatchObject({ tracked: false, requests: { hit: 0, miss: 0 } });
    expect(all.stores.default!.tier).toBe('memory');
    expect(all.stores.default!.entries).toBeGreaterThanOrEqual(1000); // the entries and each tenant's generation counter
  });

  it('with 1,000 tenants, the busiest 50 are tracked, whenever they start; a tracked tenant stays tracked', async () => {
    const { cache } = await start(memoryStore({ maxEntries: 100_000 }));
    for (let i = 0; i < 1000; i++) await as(`quiet-${i}`, () => cache.getOrSet('k', () => i));
    expect(Object.keys(cache.stats().tenants)).toHaveLength(0);
    // 55 tenants start late; busy-i makes 60 - i requests.
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < 55; i++) if (round < 60 - i) await as(`busy-${i}`, () => cache.getOrSet('k', () => i));
      await as(`quiet-${round}`, () => cache.getOrSet('k', () => -1));
    }
    const all = cache.stats();
    expect(Object.keys(all.tenants).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `busy-${i}`).sort());
    expect(cache.forTenant('busy-0').stats()).toMatchObject({ tracked: true, requests: { hit: 59, miss: 1 } });
    expect(cache.forTenant('busy-54').stats()).toMatchObject({ tracked: false, requests: { hit: 0, miss: 0 } });
    expect(all.requests.hit + all.requests.miss).toBe(1000 + 60 + 1815);
    // busy-0 goes quiet and another tenant gets busy: slots are kept (no series churn).
    for (let n = 0; n < 100; n++) await as('late', () => cache.getOrSet('k', () => n));
    expect(Object.keys(cache.stats().tenants)).toHaveLength(50);
    expect(cache.forTenant('late').stats().tracked).toBe(false);
    expect(cache.forTenant('busy-0').stats().tracked).toBe(true);
  });

  it('topTenants sets how many tenants are tracked', async () => {
    const { cache } = await start(memoryStore(), { metrics: { topTenants: 2 } });
    for (const [t, n] of [
      ['a', 4],
      ['b', 3],
      ['c', 2],
    ] as const) {
      for (let i = 0; i < n; i++) await as(t, () => cache.getOrSet(`k${i}`, () => t));
    }
    expect(Object.keys(cache.stats().tenants)).toEqual(['a', 'b']);
    expect(cache.stats().otherTenants.requests.miss).toBe(2);
  });

  it('plain get and mget are counted by result under get', async () => {
    const { cache } = await start(memoryStore());
    await as('acme', () => cache.set('k', 1));
    await as('acme', async () => {
      expect(await cache.get('k')).toBe(1);
      expect(await cache.get('nope')).toBeUndefined();
      expect(await cache.mget(['k', 'nope', 'k'])).toEqual([1, undefined, 1]);
      await expect(cache.get('')).rejects.toThrow();
    });
    await as('other-tenant', () => cache.get('k'));
    const acme = cache.forTenant('acme').stats();
    expect(acme.byOperation.get).toMatchObject({ hit: 3, miss: 2, error: 1 });
    expect(acme.requests).toMatchObject({ hit: 3, miss: 2, error: 1 });
    expect(cache.stats().byOperation.get).toMatchObject({ hit: 3, miss: 3, error: 1 });
  });
});

describe('cache.stats() under store failures', () => {
  it('a store down from the start (no generation known): the loader runs uncached and is counted, as a miss', async () => {
    const chaos = chaosStore(memoryStore());
    chaos.control.down();
    const { cache } = await start(chaos.definition);
    expect(await as('t1', () => cache.getOrSet('k', () => 1))).toBe(1);
    await expect(as('t1', () => cache.getOrSet('k2', () => Promise.reject(new Error('db down'))))).rejects.toThrow('db down');
    const s = cache.forTenant('t1').stats();
    expect(s.requests).toMatchObject({ miss: 1, error: 1, hit: 0 });
    expect(s.loads).toMatchObject({ ok: 1, error: 1 });
    expect(s.storeErrors).toBeGreaterThanOrEqual(2);
  });

  it('a failing store: reads are misses, and the failures are counted for the tenant', async () => {
    const chaos = chaosStore(memoryStore());
    const { cache } = await start(chaos.definition);
    await as('t1', () => cache.getOrSet('k', () => 1));
    chaos.control.down(['get', 'getSync', 'getThen']);
    expect(await as('t1', () => cache.getOrSet('k', () => 2))).toBe(2);
    const s = cache.forTenant('t1').stats();
    expect(s.storeErrors).toBeGreaterThanOrEqual(1);
    expect(s.requests).toMatchObject({ hit: 0, miss: 2 });
  });
});
