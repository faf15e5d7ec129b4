import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it } from 'vitest';
import { type StoreDefinition, StoreUnavailableError, type TenantCacheModuleOptions, TenantContext, keyvStore, redisStore, versioned } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';
import { Injectable } from '@nestjs/common';
import { CacheEvict, CacheResult } from '../../lib/index.js';
import { boot as bootWithProviders } from '../decorators/fixtures.js';

@Injectable()
class Products {
  @CacheResult({ ttl: 60_000 })
  async product(id: string): Promise<string> {
    return `product ${id}`;
  }

  @CacheEvict({ method: 'product', tags: ['products'] })
  async update(id: string): Promise<string> {
    return `updated ${id}`;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);

const BOUNDS = { commandTimeout: 200, breaker: { failureThreshold: 3, resetAfter: 200 } };

/** The clients a Redis store can use: one the store creates (node-redis), a handed-in ioredis client, Keyv with @keyv/redis. */
const CLIENTS: { name: string; store: (url: string) => { definition: StoreDefinition; close: () => Promise<void> } }[] = [
  { name: 'redisStore({ url })', store: (url) => ({ definition: redisStore({ url, ...BOUNDS }), close: async () => {} }) },
  {
    name: 'redisStore({ client: ioredis })',
    store: (url) => {
      const client = new Redis(url, { lazyConnect: false });
      client.on('error', () => {}); // reconnect noise while the server is gone
      return { definition: redisStore({ client, ...BOUNDS }), close: async () => client.disconnect() };
    },
  },
  {
    name: 'keyvStore(@keyv/redis)',
    store: (url) => {
      const keyv = new Keyv({ store: new KeyvRedis(url), namespace: `ns-${randomUUID().slice(0, 8)}`, throwOnErrors: true });
      keyv.on('error', () => {});
      return {
        definition: keyvStore(keyv, BOUNDS),
        close: async () => void (await Promise.race([keyv.disconnect().catch(() => undefined), sleep(500)])),
      };
    },
  },
];

/** A real redis-server and a module on it; `events` collects `store:error` as `operation:tenant`. */
async function boot(server: RedisServerHandle, options: Partial<TenantCacheModuleOptions>, store: Parameters<typeof redisStore>[0] = {}, definition?: StoreDefinition) {
  const { cache, close } = await bootCache({
    stores: { default: definition ?? redisStore({ url: server.url, ...BOUNDS, ...store }) },
    keyPrefix: `outage-${randomUUID().slice(0, 8)}:`,
    ...options,
  });
  const events: string[] = [];
  cache.events.on('store:error', (e) => events.push(`${e.operation}:${e.tenant}`));
  return { cache, events, close };
}

describe('a Redis outage that starts while the app runs (past versionCacheTtl)', () => {
  let server: RedisServerHandle | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await server?.stop();
    close = server = undefined;
  });

  it.each(CLIENTS)('every read is a miss and emits store:error with the tenant, also when the generation counter cannot be read ($name)', async (client) => {
    server = await startRedisServer();
    const store = client.store(server.url);
    const app = await boot(server, { versionCacheTtl: 100 }, {}, store.definition);
    close = async () => {
      await app.close();
      await store.close();
    };
    const { cache, events } = app;
    await as('acme', async () => {
      await cache.set('k', 'v', { tags: [versioned('catalog')] });
      await cache.set('plain', 'v');
    });
    await server.stop();
    await sleep(250); // past versionCacheTtl: the next read of every tenant needs the counter from the store
    for (const tenant of ['acme', 'globex']) {
      await as(tenant, async () => {
        const before = events.length;
        expect(await cache.get('plain')).toBeUndefined();
        expect(await cache.get('k', { tags: [versioned('catalog')] })).toBeUndefined();
        expect(await cache.lookup('plain')).toMatchObject({ hit: false, value: undefined });
        expect(await cache.has('plain')).toBe(false);
        expect(await cache.mget(['plain', 'x'])).toEqual([undefined, undefined]);
        expect(await cache.ttl('plain')).toBeUndefined();
        expect(await cache.getOrSet('plain', () => 'loaded')).toBe('loaded');
        expect(await cache.getOrSet('k', () => 'loaded-v', { tags: [versioned('catalog')] })).toBe('loaded-v');
        expect(await cache.keys()).toEqual([]);
        expect(events.length - before).toBeGreaterThanOrEqual(9);
        expect(events.slice(before).every((e) => e.endsWith(`:${tenant}`))).toBe(true);
      });
    }
  });

  /** An app on its own Redis with one entry of acme's, then that Redis killed for longer than versionCacheTtl. */
  async function pastVersionCacheTtl(onWriteError: 'throw' | 'ignore') {
    server = await startRedisServer();
    const app = await boot(server, { versionCacheTtl: 100, onWriteError });
    close = app.close;
    await as('acme', () => app.cache.set('k', 'v'));
    await server.stop();
    await sleep(250);
    return app;
  }

  it('writes whose counter read fails follow onWriteError: throw -> StoreUnavailableError (emitted)', async () => {
    const { cache, events } = await pastVersionCacheTtl('throw');
    await as('acme', async () => {
      const before = events.length;
      for (const write of [
        () => cache.set('k', 'w'),
        () => cache.add('n', 1),
        () => cache.delete('k'),
        () => cache.touch('k', 1000),
        () => cache.incr('c'),
        () => cache.mset([{ key: 'a', value: 1 }]),
        () => cache.mdel(['a']),
        () => cache.deleteByPrefix('a'),
        () => cache.invalidateTag(versioned('catalog')),
        () => cache.invalidateAll(),
        () => cache.clear(),
      ]) {
        await expect(write()).rejects.toBeInstanceOf(StoreUnavailableError);
      }
      expect(events.length - before).toBeGreaterThanOrEqual(11);
    });
  });

  it('writes whose counter read fails follow onWriteError: ignore -> dropped (emitted)', async () => {
    const { cache, events } = await pastVersionCacheTtl('ignore');
    await as('acme', async () => {
      const before = events.length;
      await expect(cache.set('k', 'w')).resolves.toBeUndefined();
      await expect(cache.add('n', 1)).resolves.toBe(false);
      await expect(cache.delete('k')).resolves.toBe(false);
      await expect(cache.touch('k', 1000)).resolves.toBe(false);
      await expect(cache.mset([{ key: 'a', value: 1 }])).resolves.toBeUndefined();
      await expect(cache.mdel(['a'])).resolves.toBe(0);
      await expect(cache.deleteByPrefix('a')).resolves.toBe(0);
      await expect(cache.invalidateTag('plain-tag')).resolves.toBe(0);
      await expect(cache.invalidateAll()).resolves.toBeUndefined();
      await expect(cache.clear()).resolves.toBeUndefined();
      expect(events.length - before).toBeGreaterThanOrEqual(10);
    });
  });

  it('a miss on a frozen Redis costs the caller one commandTimeout, not three (read, re-read, write-back)', async () => {
    server = await startRedisServer();
    // Many failures before the breaker opens, and the generation cached: each call really waits on the server.
    const app = await boot(server, { versionCacheTtl: 60_000 }, { commandTimeout: 300, breaker: { failureThreshold: 1000, resetAfter: 60_000 } });
    close = app.close;
    const { cache, events } = app;
    await as('acme', () => cache.set('warm', 1)); // the generation is now cached
    server.pause();
    try {
      const started = Date.now();
      expect(await as('acme', () => cache.getOrSet('cold', () => 'loaded'))).toBe('loaded');
      const took = Date.now() - started;
      console.log(`[store-outage] a getOrSet miss on a frozen Redis (commandTimeout 300 ms) took ${took} ms`);
      expect(took).toBeLessThan(300 + 150);
      // The write-back still ran (in the background) and its failure is emitted.
      await sleep(450);
      expect(events).toContain('set:acme');
    } finally {
      server.resume();
    }
  });

  it('while a loaded value is written in the background, callers share it; an invalidation meanwhile makes the next caller load again', async () => {
    server = await startRedisServer();
    const app = await boot(server, { versionCacheTtl: 60_000, onWriteError: 'ignore' }, { commandTimeout: 300, breaker: { failureThreshold: 1000, resetAfter: 60_000 } });
    close = app.close;
    const { cache } = app;
    await as('acme', () => cache.set('warm', 1));
    server.pause();
    try {
      await as('acme', async () => {
        let loads = 0;
        const load = () => `v${++loads}`;
        expect(await cache.getOrSet('x', load)).toBe('v1');
        // The write-back waits on the frozen server: a caller meanwhile shares the loaded value (no second load, no wait).
        const started = Date.now();
        expect(await cache.getOrSet('x', load)).toBe('v1');
        expect(Date.now() - started).toBeLessThan(100);
        // An invalidation while that write is in flight: the next caller does not get the value it overtook.
        const deleting = cache.delete('x');
        await sleep(10);
        expect(await cache.getOrSet('x', load)).toBe('v2');
        await deleting;
      });
    } finally {
      server.resume();
    }
  });

  it('@CacheEvict during an outage: the method succeeds, each failure is emitted, and the log gets no line per call', async () => {
    server = await startRedisServer();
    const app = await bootWithProviders(redisStore({ url: server.url, ...BOUNDS }), [Products], { versionCacheTtl: 100, onWriteError: 'throw' });
    close = app.close;
    const events: string[] = [];
    app.cache.events.on('store:error', (e) => events.push(`${e.operation}:${e.tenant}`));
    const products = app.moduleRef.get(Products);
    await as('acme', () => products.product('p1'));
    await server.stop();
    await sleep(250);
    await as('acme', async () => {
      for (let i = 0; i < 20; i++) expect(await products.update('p1')).toBe('updated p1');
    });
    expect(events.filter((e) => e.endsWith(':acme')).length).toBeGreaterThanOrEqual(20);
    const evictLines = app.logger.warnings().filter((w) => w.includes('@CacheEvict'));
    expect(evictLines).toEqual([]);
  });
});
