import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { redisStore as redisYetStore } from 'cache-manager-redis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidOptionsError,
  type StoreDefinition,
  TenantCacheService,
  TenantContext,
  TenantContextMissingError,
  UnsupportedOperationError,
  cacheManagerStore,
  keyvStore,
  legacyStore,
  versioned,
} from '../../lib/index.js';
import { sharedRedisUrl } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

const TENANTS = ['a:b', 'a', '*', '{x}', 'ü租户', 't'.repeat(200), 'a:b:c', 'tc:t1:a'];
/** Each adversarial id against its neighbour (and the last against the first): every id is in two pairs. */
const PAIRS = TENANTS.map((t, i) => [t, TENANTS[(i + 1) % TENANTS.length]!] as const);
const KEYS = ['b:c', '*', ' ', 'k:x', 'g1:k:b', 'x'.repeat(600), '4*', '42', 'ü'];
const ns = () => `iso-${randomUUID().slice(0, 8)}`;

interface AdapterCase {
  name: string;
  /** Builds the definition and what to close afterwards. */
  setup(): Promise<{ definition: StoreDefinition; close(): Promise<void> }>;
  /** Whether the adapter lists keys (keys(), deleteByPrefix(), physical clear()). */
  lists: boolean;
}

const CASES: AdapterCase[] = [
  { name: 'keyv (in-memory)', lists: true, setup: async () => ({ definition: keyvStore(new Keyv()), close: async () => {} }) },
  {
    name: 'keyv (@keyv/redis)',
    lists: true,
    setup: async () => {
      const keyv = new Keyv({ store: new KeyvRedis(sharedRedisUrl()), namespace: ns(), throwOnErrors: true });
      return { definition: keyvStore(keyv, { commandTimeout: 5000 }), close: async () => (await keyv.clear(), await keyv.disconnect()) };
    },
  },
  { name: 'cache-manager v7 (memory)', lists: true, setup: async () => ({ definition: cacheManagerStore(createCache()), close: async () => {} }) },
  {
    name: 'cache-manager v7 (memory + @keyv/redis)',
    lists: true,
    setup: async () => {
      const cache = createCache({ stores: [new Keyv(), new Keyv({ store: new KeyvRedis(sharedRedisUrl()), namespace: ns(), throwOnErrors: true })] });
      return { definition: cacheManagerStore(cache, { commandTimeout: 5000 }), close: async () => (await cache.clear(), await cache.disconnect()) };
    },
  },
  {
    name: 'legacy v5 (cache-manager-redis-yet)',
    lists: false,
    setup: async () => {
      const yet = await redisYetStore({ url: sharedRedisUrl() });
      return { definition: legacyStore(yet, { commandTimeout: 5000 }), close: async () => void (await yet.client.quit()) };
    },
  },
  {
    name: 'legacy v5 (cache-manager-redis-yet, allowKeysListing)',
    lists: true,
    setup: async () => {
      const yet = await redisYetStore({ url: sharedRedisUrl() });
      return { definition: legacyStore(yet, { allowKeysListing: true, commandTimeout: 5000 }), close: async () => void (await yet.client.quit()) };
    },
  },
];

describe.each(CASES)('TenantCacheService on $name', ({ setup, lists }) => {
  let cache: TenantCacheService;
  let close: () => Promise<void>;
  const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);

  beforeAll(async () => {
    const { definition, close: closeBackend } = await setup();
    const keyPrefix = `${ns()}:`;
    const moduleRef = await bootCache({
      stores: { default: definition },
      keyPrefix,
      tenant: { pattern: /^[\s\S]+$/u, maxLength: 300 },
    });
    cache = moduleRef.get(TenantCacheService);
    close = async () => {
      // Every tenant's entries go, whether or not the adapter can list them.
      for (const t of [...TENANTS, 'even', 'odd', 'types']) await as(t, () => cache.clear());
      await moduleRef.close();
      await closeBackend();
      // Generation counters outlive clear() by design, and a v5 store cannot list: remove this run's keys.
      const redis = new Redis(sharedRedisUrl());
      for await (const keys of redis.scanStream({ match: `*${keyPrefix}*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
      await redis.quit();
    };
  });
  afterAll(() => close());

  it('round-trips typed values through the adapter', async () => {
    const value = { date: new Date('2026-01-02T03:04:05.006Z'), map: new Map([['a', 1]]), big: 10n ** 20n, buf: Buffer.from([0, 255]), n: null };
    await as('types', async () => {
      await cache.set('v', value);
      expect(await cache.get('v')).toEqual(value);
      for (const falsy of [null, 0, false, '']) {
        await cache.set('f', falsy);
        expect(await cache.get('f')).toBe(falsy);
      }
    });
  });

  it.each(PAIRS)("%s and %s never see, count, delete or clear each other's entries", async (a, b) => {
    for (const key of KEYS) {
      await as(a, () => cache.set(key, `A:${key}`));
      await as(b, () => cache.set(key, `B:${key}`));
    }
    for (const key of KEYS) {
      expect(await as(a, () => cache.get(key))).toBe(`A:${key}`);
      expect(await as(b, () => cache.get(key))).toBe(`B:${key}`);
    }
    expect(await as(a, () => cache.mget(KEYS))).toEqual(KEYS.map((k) => `A:${k}`));
    expect(await as(b, () => cache.add(KEYS[0]!, 'x'))).toBe(false);
    expect(await as(b, () => cache.has('42'))).toBe(true);
    expect(await as(b, () => cache.delete('b:c'))).toBe(true);
    expect(await as(b, () => cache.mdel(['*', ' ']))).toBe(2);
    await as(b, () => cache.incr('counter', 10));
    expect(await as(a, () => cache.incr('counter'))).toBe(1);
    expect(await as(b, () => cache.touch('ü', 30_000))).toBe(true);
    expect(await as(a, () => cache.ttl('ü'))).toBe(Infinity);
    expect(await as(b, () => cache.getOrSet('loaded', () => 'B'))).toBe('B');
    expect(await as(a, () => cache.getOrSet('loaded', () => 'A'))).toBe('A');
    await as(b, () => cache.set('tagged', 'B', { tags: [versioned('t')] }));
    await as(a, () => cache.set('tagged', 'A', { tags: [versioned('t')] }));
    await as(b, () => cache.invalidateTag(versioned('t')));
    expect(await as(b, () => cache.get('tagged', { tags: [versioned('t')] }))).toBeUndefined();
    expect(await as(a, () => cache.get('tagged', { tags: [versioned('t')] }))).toBe('A');
    if (lists) {
      expect((await as(a, () => cache.keys())).sort()).toEqual([...KEYS, 'counter', 'loaded'].sort());
      expect(await as(b, () => cache.deleteByPrefix('4'))).toBe(2);
      expect(await as(a, () => cache.has('4*'))).toBe(true);
    } else {
      await expect(as(b, async () => await cache.keys())).rejects.toBeInstanceOf(UnsupportedOperationError);
      await expect(as(b, () => cache.deleteByPrefix('4'))).rejects.toBeInstanceOf(UnsupportedOperationError);
    }
    await as(b, () => cache.invalidateAll());
    expect(await as(b, () => cache.mget(KEYS))).toEqual(KEYS.map(() => undefined));
    await as(b, () => cache.clear());
    expect(await as(a, () => cache.mget(KEYS))).toEqual(KEYS.map((k) => `A:${k}`));
    expect(await as(a, () => cache.get('loaded'))).toBe('A');
    await as(a, () => cache.clear());
    expect(await as(a, () => cache.get('42'))).toBeUndefined();
  });

  it('refuses plain-tag invalidation clearly (no sets), while versioned tags work', async () => {
    await as('a', () => cache.set('p', 1, { tags: ['plain'] }));
    await expect(as('a', () => cache.invalidateTag('plain'))).rejects.toBeInstanceOf(UnsupportedOperationError);
    await expect(as('a', () => cache.invalidateTag('plain'))).rejects.toThrow(/versioned/);
    await as('a', () => cache.clear());
  });

  it('holds under 400 interleaved concurrent operations of two tenants', async () => {
    const ops = Array.from({ length: 400 }, (_, i) => {
      const tenant = i % 2 === 0 ? 'even' : 'odd';
      return as(tenant, async () => {
        await cache.set(`k${i % 10}`, `${tenant}-${i}`);
        const v = await cache.get<string>(`k${i % 10}`);
        return { tenant, v };
      });
    });
    for (const { tenant, v } of await Promise.all(ops)) expect(v?.startsWith(`${tenant}-`)).toBe(true);
  });

  it('has no shared fallback without a tenant', async () => {
    await expect(cache.get('k')).rejects.toBeInstanceOf(TenantContextMissingError);
    await expect(cache.set('k', 1)).rejects.toBeInstanceOf(TenantContextMissingError);
  });
});

describe('adapter factories refuse what they cannot use', () => {
  it('names the right factory in the error', () => {
    expect(() => keyvStore(null as unknown as Keyv)).toThrow(InvalidOptionsError);
    expect(() => cacheManagerStore({} as never)).toThrow(/createCache/);
    expect(() => legacyStore(createCache() as never)).toThrow(/cacheManagerStore/);
  });
});
