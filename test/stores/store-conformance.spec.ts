import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { redisStore as redisYetStore } from 'cache-manager-redis-yet';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CacheStore,
  MemoryStore,
  ResilientStore,
  type StoreDefinition,
  cacheManagerStore,
  keyvStore,
  legacyStore,
  memoryStore,
  redisStore,
} from '../../lib/index.js';
import { storeTraits } from '../../lib/stores/store-traits.js';
import { runStoreConformanceSuite } from '../../lib/testing/index.js';
import { EveryMemberStore, runErrorPathSuite } from '../support/chaos-store-error-paths.js';
import { sharedRedisUrl } from '../support/redis-server.js';

const test = { describe, it, beforeAll, afterAll };
/** A namespace / prefix of this run on the shared Redis (never flushed: every key is removed at the end). */
const run = () => `conf-${randomUUID().slice(0, 8)}`;

runStoreConformanceSuite('memory', { test, store: memoryStore(), flush: true });

runStoreConformanceSuite('redis (node-redis, url)', { test, store: redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) });

{
  const client = new Redis(sharedRedisUrl());
  runStoreConformanceSuite('redis (user ioredis client)', {
    test,
    store: redisStore({ client, commandTimeout: 5000 }),
    cleanup: async () => void (await client.quit()),
  });
}

runStoreConformanceSuite('keyv (in-memory Keyv)', { test, store: keyvStore(new Keyv()), flush: true });

{
  // A bare Keyv store: the adapter wraps it in a Keyv with throwOnErrors.
  const adapter = new KeyvRedis(sharedRedisUrl(), { namespace: run() });
  runStoreConformanceSuite('keyv (@keyv/redis store)', { test, store: keyvStore(adapter, { commandTimeout: 5000 }), cleanup: () => adapter.disconnect() });
}

{
  const keyv = new Keyv({ store: new KeyvRedis(sharedRedisUrl()), namespace: run(), throwOnErrors: true });
  runStoreConformanceSuite('keyv (Keyv over @keyv/redis, namespaced)', {
    test,
    store: keyvStore(keyv, { commandTimeout: 5000 }),
    // The namespace is this run's alone, so clearing it is safe on the shared server.
    flush: true,
    cleanup: () => keyv.disconnect(),
  });
}

runStoreConformanceSuite('cache-manager v7 (memory Keyv)', { test, store: cacheManagerStore(createCache()), flush: true });

{
  const l1 = new Keyv();
  const l2 = new Keyv({ store: new KeyvRedis(sharedRedisUrl()), namespace: run(), throwOnErrors: true });
  const cache = createCache({ stores: [l1, l2] });
  runStoreConformanceSuite('cache-manager v7 (memory + @keyv/redis tiers)', {
    test,
    store: cacheManagerStore(cache, { commandTimeout: 5000 }),
    flush: true,
    cleanup: () => cache.disconnect().then(() => undefined),
  });
}

{
  // cache-manager-redis-yet (cache-manager 5, node-redis 4) on the shared Redis: its reset() is FLUSHDB, so no flush test.
  let yet: Awaited<ReturnType<typeof redisYetStore>> | undefined;
  runStoreConformanceSuite('legacy v5 (cache-manager-redis-yet)', {
    test,
    store: async () => {
      yet = await redisYetStore({ url: sharedRedisUrl() });
      return legacyStore(yet, { commandTimeout: 5000 }).create('legacy');
    },
    cleanup: async () => void (await yet?.client.quit()),
  });
}

{
  let yet: Awaited<ReturnType<typeof redisYetStore>> | undefined;
  runStoreConformanceSuite('legacy v5 (cache-manager-redis-yet, allowKeysListing)', {
    test,
    store: async () => {
      yet = await redisYetStore({ url: sharedRedisUrl() });
      return legacyStore(yet, { allowKeysListing: true, commandTimeout: 5000 }).create('legacy-keys');
    },
    cleanup: async () => void (await yet?.client.quit()),
  });
}

{
  // A wrapper must keep every variant of what it wraps: the suite checks each fast path and the sets where they
  // exist, and the traits below that none was lost (nor added: a wrapper without sets behind it has none).
  const wrappers: [string, () => Promise<CacheStore>][] = [
    ['memory', async () => new MemoryStore('memory')],
    ['memory, shareReads', async () => new MemoryStore('memory', { shareReads: true })],
    ['redis (node-redis, url)', async () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }).create('redis')],
    ['keyv (in-memory Keyv, no sets)', async () => keyvStore(new Keyv()).create('keyv')],
  ];
  for (const [name, inner] of wrappers) {
    runStoreConformanceSuite(`ResilientStore around ${name}`, {
      test,
      store: async () => new ResilientStore(await inner(), { commandTimeout: 5000 }),
      flush: !name.startsWith('redis'),
    });
  }
  describe('ResilientStore has the traits of what it wraps', () => {
    it.each(wrappers)('around %s', async (_name, build) => {
      const inner = await build();
      const wrapped = new ResilientStore(inner);
      expect(storeTraits(wrapped)).toEqual(storeTraits(inner));
      await wrapped.close();
    });
  });
}

{
  // Every member's error path, the fast paths included, on the bare stores (through the chaos wrapper, which
  // fails each member the way a real store does) and through a ResilientStore around them. The breaker is
  // kept closed so that every call reaches the failing store.
  const failing: [string, () => StoreDefinition][] = [
    ['memory', () => memoryStore()],
    ['memory, shareReads', () => memoryStore({ shareReads: true })],
    ['memory with getThen/setThen', () => ({ create: (alias) => new EveryMemberStore(alias), description: 'every member' })],
    ['redis (node-redis, url)', () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 })],
  ];
  for (const [name, inner] of failing) {
    runErrorPathSuite(name, { test, inner: inner() });
    runErrorPathSuite(`ResilientStore around ${name}`, {
      test,
      inner: inner(),
      wrap: (store) => new ResilientStore(store, { commandTimeout: 1000, breaker: { failureThreshold: 1000 } }),
    });
  }
}
