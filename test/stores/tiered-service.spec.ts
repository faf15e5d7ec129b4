import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResult,
  InvalidKeyConstructorError,
  type CacheStore,
  type StoreDefinition,
  TenantCacheService,
  TenantContext,
  memoryStore,
  redisStore,
  tieredStore,
  versioned,
} from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { type TestModule, bootCache } from '../support/test-module.js';

/**
 * Two instances (two modules, each with its tieredStore) on one Redis, through the service, with adversarial
 * tenant ids and keys: a tenant never sees another's entries in either tier, and every invalidation kind made
 * on one instance stops the other's L1 from serving the old value, for that tenant only.
 */
const TENANTS = ['a:b', 'a', '*', '{x}', 'ü租户', 't'.repeat(200), 'a:b:c', 'tc:t1:a'];
const PAIRS = TENANTS.map((t, i) => [t, TENANTS[(i + 1) % TENANTS.length]!] as const);
const KEYS = ['b:c', '*', ' ', 'k:x', 'g1:k:b', 'x'.repeat(600), '42', 'ü'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);

async function until(check: () => Promise<boolean>, ms = 1000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(2);
  }
}

/** `def` with its store's `get` counted (an L2 read of the tier). */
function counted(def: StoreDefinition, count: { reads: number }): StoreDefinition {
  return {
    ...def,
    create: async (alias, context) => {
      const store = (await def.create(alias, context)) as CacheStore;
      const get = store.get.bind(store);
      (store as { get: CacheStore['get'] }).get = (key) => (count.reads++, get(key));
      return store;
    },
  };
}

let calls = 0;

@Injectable()
class Prices {
  @CacheResult({ ttl: 60_000 })
  async local(id: string) {
    return `${id}:${++calls}`;
  }

  @CacheResult({ ttl: 60_000, l1: false })
  async remote(id: string) {
    return `${id}:${++calls}`;
  }
}

describe('tieredStore through the service, two instances', () => {
  let redis: RedisServerHandle;
  let a: TestModule;
  let b: TestModule;
  let ca: TenantCacheService;
  let cb: TenantCacheService;
  const bReads = { reads: 0 };

  beforeAll(async () => {
    redis = await startRedisServer();
    const channel = `tiered-svc:${randomUUID()}`;
    const boot = (count = { reads: 0 }) =>
      bootCache({
        stores: { default: tieredStore({ l1: memoryStore({ maxEntries: 5000 }), l2: counted(redisStore({ url: redis.url, commandTimeout: 5000 }), count), channel }) },
        tenant: { pattern: /^[\s\S]+$/u, maxLength: 300 },
        defaultTtl: 60_000,
      });
    a = await boot();
    b = await boot(bReads);
    ca = a.get(TenantCacheService);
    cb = b.get(TenantCacheService);
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it.each(PAIRS)("%s and %s never see each other's entries in either tier", async (x, y) => {
    for (const key of KEYS) {
      await as(x, () => ca.set(key, `X:${x}:${key}`));
      await as(y, () => ca.set(key, `Y:${y}:${key}`));
    }
    // B reads twice: the second read is an L1 hit.
    for (let round = 0; round < 2; round++) {
      for (const key of KEYS) {
        expect(await as(x, () => cb.get(key))).toBe(`X:${x}:${key}`);
        expect(await as(y, () => cb.get(key))).toBe(`Y:${y}:${key}`);
      }
    }
    expect(await as(x, () => cb.mget(KEYS))).toEqual(KEYS.map((k) => `X:${x}:${k}`));
    // x clears everything on A: B's L1 drops x's entries, keeps y's.
    await as(x, () => ca.invalidateAll());
    await until(async () => (await as(x, () => cb.get(KEYS[0]!))) === undefined);
    for (const key of KEYS) {
      expect(await as(x, () => cb.get(key))).toBeUndefined();
      expect(await as(y, () => cb.get(key))).toBe(`Y:${y}:${key}`);
    }
    await as(y, () => ca.clear());
  });

  const KINDS: {
    kind: string;
    write: (c: TenantCacheService, v: string) => Promise<void>;
    read: (c: TenantCacheService) => Promise<unknown>;
    invalidate: (c: TenantCacheService) => Promise<unknown>;
  }[] = [
    { kind: 'overwrite', write: (c, v) => c.set('k', v), read: (c) => c.get('k'), invalidate: (c) => c.set('k', 'new') },
    { kind: 'delete', write: (c, v) => c.set('k', v), read: (c) => c.get('k'), invalidate: (c) => c.delete('k') },
    { kind: 'mdel', write: (c, v) => c.set('k', v), read: (c) => c.get('k'), invalidate: (c) => c.mdel(['k']) },
    { kind: 'prefix', write: (c, v) => c.set('p:k', v), read: (c) => c.get('p:k'), invalidate: (c) => c.deleteByPrefix('p:') },
    { kind: 'plain tag', write: (c, v) => c.set('k', v, { tags: ['tg'] }), read: (c) => c.get('k'), invalidate: (c) => c.invalidateTag('tg') },
    {
      kind: 'versioned tag',
      write: (c, v) => c.set('k', v, { tags: [versioned('vt')] }),
      read: (c) => c.get('k', { tags: [versioned('vt')] }),
      invalidate: (c) => c.invalidateTag(versioned('vt')),
    },
    { kind: 'invalidateAll', write: (c, v) => c.set('k', v), read: (c) => c.get('k'), invalidate: (c) => c.invalidateAll() },
    { kind: 'clear', write: (c, v) => c.set('k', v), read: (c) => c.get('k'), invalidate: (c) => c.clear() },
  ];

  it.each(KINDS)('$kind on A: B stops serving the old value at once, for that tenant only', async ({ write, read, invalidate }) => {
    const [x, y] = ['a:b', 'a'];
    await as(x, () => write(ca, 'old'));
    await as(y, () => write(ca, 'other'));
    // Warm B's L1 (its counters included).
    for (let i = 0; i < 3; i++) {
      expect(await as(x, () => read(cb))).toBe('old');
      expect(await as(y, () => read(cb))).toBe('other');
    }
    const t0 = performance.now();
    await as(x, () => invalidate(ca));
    await until(async () => (await as(x, () => read(cb))) !== 'old', 500);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(500);
    expect(await as(y, () => read(cb)), "the other tenant's entry is untouched").toBe('other');
    await as(x, () => ca.clear());
    await as(y, () => ca.clear());
  });

  it('l1: false reads and writes Redis only, and drops the L1 copies', async () => {
    const t = 'l1-off';
    await as(t, () => ca.set('k', 'v1'));
    for (let i = 0; i < 3; i++) expect(await as(t, () => cb.getOrSet('k', () => 'loaded'))).toBe('v1');
    let before = bReads.reads;
    expect(await as(t, () => cb.getOrSet('k', () => 'loaded'))).toBe('v1');
    expect(bReads.reads - before, 'a default hit is an L1 hit').toBe(0);
    before = bReads.reads;
    for (let i = 0; i < 3; i++) expect(await as(t, () => cb.getOrSet('k', () => 'loaded', { l1: false }))).toBe('v1');
    expect(bReads.reads - before, 'every l1: false hit reads Redis').toBe(3);
    const found = await as(t, () => cb.fetch('k', () => 'loaded', { l1: false }));
    expect(found).toMatchObject({ hit: true, value: 'v1' });
    expect(bReads.reads - before).toBe(4);
    // A write with l1: false (a miss loaded on A) drops B's L1 copy of the key too.
    await as(t, () => ca.delete('k'));
    await until(async () => (await as(t, () => cb.get('k'))) === undefined);
    expect(await as(t, () => ca.getOrSet('k', () => 'v2', { l1: false }))).toBe('v2');
    expect(await as(t, () => cb.get('k'))).toBe('v2');
    await as(t, () => ca.clear());
  });

  it('@CacheResult({ l1: false }) answers from Redis on every call; l1 is validated at start-up', async () => {
    const count = { reads: 0 };
    const m = await bootCache(
      { stores: { default: tieredStore({ l1: memoryStore(), l2: counted(redisStore({ url: redis.url }), count), channel: `tiered-svc:${randomUUID()}` }) } },
      { providers: [Prices] },
    );
    try {
      const prices = m.get(Prices);
      for (const method of ['local', 'remote'] as const) {
        const first = await as('acme', () => prices[method]('p1'));
        await as('acme', () => prices[method]('p1'));
        const before = count.reads;
        for (let i = 0; i < 3; i++) expect(await as('acme', () => prices[method]('p1'))).toBe(first);
        expect(count.reads - before, method).toBe(method === 'local' ? 0 : 3);
      }
    } finally {
      await m.close();
    }
    @Injectable()
    class Bad {
      @CacheResult({ l1: 'no' as unknown as boolean })
      async get() {
        return 1;
      }
    }
    await expect(bootCache({ stores: { default: memoryStore() } }, { providers: [Bad] })).rejects.toThrow(InvalidKeyConstructorError);
  });
});
