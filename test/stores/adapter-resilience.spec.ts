import 'reflect-metadata';
import KeyvRedis from '@keyv/redis';
import { createCache } from 'cache-manager';
import { redisStore as redisYetStore } from 'cache-manager-redis-yet';
import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StoreDefinition, StoreUnavailableError, TenantCacheService, TenantContext, cacheManagerStore, keyvStore, legacyStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

interface Case {
  name: string;
  setup(url: string): Promise<{ definition: StoreDefinition; close(): Promise<void> }>;
}

const resilience = { commandTimeout: 300, breaker: { failureThreshold: 3, resetAfter: 200 } };

const CASES: Case[] = [
  {
    name: 'keyv (@keyv/redis)',
    setup: async (url) => {
      const keyv = new Keyv({ store: new KeyvRedis(url), throwOnErrors: true });
      return { definition: keyvStore(keyv, resilience), close: () => keyv.disconnect().catch(() => undefined) };
    },
  },
  {
    name: 'cache-manager v7 (@keyv/redis)',
    setup: async (url) => {
      const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(url), throwOnErrors: true })] });
      return {
        definition: cacheManagerStore(cache, resilience),
        close: () =>
          cache.disconnect().then(
            () => undefined,
            () => undefined,
          ),
      };
    },
  },
  {
    name: 'legacy v5 (cache-manager-redis-yet)',
    setup: async (url) => {
      const yet = await redisYetStore({ url });
      return { definition: legacyStore(yet, resilience), close: () => yet.client.disconnect().catch(() => undefined) };
    },
  },
];

/** A frozen redis-server (SIGSTOP): connections stay open and nothing answers, the case where clients hang. */
describe.each(CASES)('$name when Redis freezes', ({ setup }) => {
  let server: RedisServerHandle;
  let cache: TenantCacheService;
  let close: () => Promise<void>;
  const errors: { operation: string; error: Error }[] = [];
  const as = <T>(fn: () => Promise<T>) => TenantContext.run('acme', fn);

  beforeAll(async () => {
    server = await startRedisServer();
    const backend = await setup(server.url);
    const moduleRef = await bootCache({ stores: { default: backend.definition } }, { logger: false });
    cache = moduleRef.get(TenantCacheService);
    cache.events.on('store:error', (e) => errors.push(e));
    close = async () => {
      server.resume();
      await moduleRef.close();
      await backend.close();
      await server.stop();
    };
  });
  afterAll(() => close());

  it('reads become misses, writes fail with StoreUnavailableError, the breaker opens, and caching resumes', async () => {
    await as(() => cache.set('k', 'v'));
    expect(await as(() => cache.get('k'))).toBe('v');

    server.pause();
    expect(await as(() => cache.get('k'))).toBeUndefined();
    expect(errors.some((e) => e.operation === 'get')).toBe(true);
    await expect(as(() => cache.set('k', 'w'))).rejects.toBeInstanceOf(StoreUnavailableError);
    // A loader still answers while the store is down (fail open, uncached).
    expect(await as(() => cache.getOrSet('g', () => 'loaded'))).toBe('loaded');
    await expect(as(() => cache.set('k', 'w'))).rejects.toThrow(/circuit open|timed out/);

    server.resume();
    // A write that timed out may still land once the server answers (the client had sent it): either value is one the app wrote.
    await expect.poll(async () => as(() => cache.get('k')), { timeout: 10_000, interval: 100 }).toMatch(/^[vw]$/);
    await as(() => cache.set('k', 'after'));
    expect(await as(() => cache.get('k'))).toBe('after');
  });
});

describe('entries the adapters did not write', () => {
  it('a non-text value under one of our keys reads as a miss and is removed', async () => {
    const keyv = new Keyv();
    const moduleRef = await bootCache({ stores: { default: keyvStore(keyv) } }, { logger: false });
    const cache = moduleRef.get(TenantCacheService);
    await TenantContext.run('acme', () => cache.set('k', 'ours'));
    let physical: string | undefined;
    for await (const [key] of keyv.iterator!(undefined) as AsyncIterable<[string, unknown]>) if (key.endsWith('k2:k')) physical = key;
    expect(physical).toBeDefined();
    await keyv.set(physical!, { planted: true });
    expect(await TenantContext.run('acme', () => cache.get('k'))).toBeUndefined();
    expect(await keyv.get(physical!)).toBeUndefined();
    await moduleRef.close();
  });
});
