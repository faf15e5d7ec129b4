import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, type RedisClientLike, keyvStore, memoryStore, redisStore, tieredStore } from '../../lib/index.js';
import type { TieredStore } from '../../lib/stores/tiered/tiered.store.js';
import { storeIo } from '../../lib/stores/store-io.js';
import { runStoreConformanceSuite } from '../../lib/testing/index.js';
import { Redis } from 'ioredis';
import { createClient, createCluster } from '@redis/client';
import { Keyv } from 'keyv';
import { type RedisClusterHandle, type RedisServerHandle, sharedRedisUrl, startRedisCluster, startRedisServer } from '../support/redis-server.js';

/**
 * tieredStore (memory L1 + Redis L2): the store conformance suite on Redis and on a Redis Cluster, then what
 * the tier adds: L1 hits without L2 calls, L1 fills bounded by the L2 TTL and `l1Ttl`, and two stores (two
 * "instances" on one Redis) dropping each other's changed keys from their L1.
 */
const test = { describe, it, beforeAll, afterAll };
const channel = () => `tiered-test:${randomUUID()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(2);
  }
}

/** Two tiers on one channel: B drops its L1 copy of a key A overwrites, and then reads A's value. */
async function expectCoherent(a: TieredStore, b: TieredStore): Promise<void> {
  const key = `tiered:${randomUUID()}`;
  await a.set(key, Buffer.from('old'), 60_000);
  await until(async () => (await b.get(key), b.peekLocal(key) !== undefined));
  await a.set(key, Buffer.from('new'), 60_000);
  await until(() => b.peekLocal(key) === undefined, 1000);
  expect(String(await b.get(key))).toBe('new');
  await a.delete(key);
}

runStoreConformanceSuite('tiered (memory + redis url)', {
  test,
  store: tieredStore({ l1: memoryStore(), l2: redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }), channel: channel() }),
});

describe('tiered on a Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let client: ReturnType<typeof createCluster> | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await cluster?.stop();
  });
  it('keeps two tiers on a node-redis cluster coherent', async () => {
    const url = `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}`;
    const clients = [createCluster({ rootNodes: [{ url }] }), createCluster({ rootNodes: [{ url }] })];
    const ch = channel();
    const tiers: TieredStore[] = [];
    try {
      for (const c of clients) {
        c.on('error', () => {});
        await c.connect();
        tiers.push((await tieredStore({ l1: memoryStore(), l2: redisStore({ client: c as unknown as RedisClientLike }), channel: ch }).create('c')) as TieredStore);
      }
      expect(tiers.every((t) => t.coherent)).toBe(true);
      await expectCoherent(tiers[0]!, tiers[1]!);
    } finally {
      await Promise.all(tiers.map((t) => t.close()));
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    }
  }, 30_000);

  runStoreConformanceSuite('tiered (memory + node-redis cluster)', {
    test,
    store: async () => {
      client = createCluster({ rootNodes: [{ url: `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}` }] });
      client.on('error', () => {});
      await client.connect();
      return tieredStore({ l1: memoryStore(), l2: redisStore({ client: client as unknown as RedisClientLike, commandTimeout: 5000 }), channel: channel() }).create(
        'cluster',
      );
    },
    flush: true,
  });
});

describe('tieredStore', () => {
  const stores: TieredStore[] = [];
  const open = async (opts: { l1Ttl?: number; channel: string }) => {
    const s = (await tieredStore({ l1: memoryStore(), l2: redisStore({ url: sharedRedisUrl() }), ...opts }).create('t')) as TieredStore;
    stores.push(s);
    return s;
  };
  afterAll(() => Promise.all(stores.map((s) => s.close())));

  it('validates its options at the call', () => {
    expect(() => tieredStore({ l1: memoryStore(), l2: keyvStore(new Keyv()) })).toThrow(InvalidOptionsError);
    expect(() => tieredStore({ l1: memoryStore(), l2: redisStore({ url: sharedRedisUrl() }), l1Ttl: 0 })).toThrow(/l1Ttl/);
    expect(() => tieredStore({ l1: memoryStore(), l2: redisStore({ url: sharedRedisUrl() }), l1Ttl: Number.NaN })).toThrow(/l1Ttl/);
    expect(() => tieredStore({ l1: memoryStore(), l2: redisStore({ url: sharedRedisUrl() }), l1tl: 5 } as never)).toThrow(/l1Ttl/);
    expect(() => tieredStore({ l1: memoryStore(), l2: redisStore({ url: sharedRedisUrl() }), channel: '' })).toThrow(/channel/);
  });

  it('is a local tier for the engine: L1 read without a promise, `undefined` = ask the store', async () => {
    const s = await open({ channel: channel() });
    const io = storeIo(s);
    expect(io.traits).toMatchObject({ inProcess: false, localTier: true, sameBytesOnRead: true, hasSets: true, mapsReads: true });
    const key = `tiered:${randomUUID()}`;
    expect(io.readNow(key)).toBeUndefined();
    await s.set(key, Buffer.from('v1'), 10_000);
    expect(String(io.readNow(key))).toBe('v1');
    await s.delete(key);
  });

  it('fills the L1 from the L2 for the L2 TTL, capped by l1Ttl', async () => {
    const ch = channel();
    const writer = await open({ channel: ch });
    const reader = await open({ channel: ch, l1Ttl: 150 });
    const key = `tiered:${randomUUID()}`;
    await writer.set(key, Buffer.from('v'), 60_000);
    expect(reader.peekLocal(key)).toBeUndefined();
    expect(String(await reader.get(key))).toBe('v');
    // NOTE: the writer's message may land after a read started: that read does not fill; the next one does.
    await until(async () => (await reader.get(key), reader.peekLocal(key) !== undefined));
    await sleep(200);
    expect(reader.peekLocal(key), 'the L1 copy is gone after l1Ttl').toBeUndefined();
    // An L2 entry that expires sooner than l1Ttl takes the L1 copy with it.
    const short = `tiered:${randomUUID()}`;
    await writer.set(short, Buffer.from('s'), 80);
    const plain = await open({ channel: ch });
    expect(String(await plain.get(short))).toBe('s');
    await until(async () => (await plain.get(short), plain.peekLocal(short) !== undefined));
    await sleep(120);
    expect(plain.peekLocal(short)).toBeUndefined();
    await writer.delete(key);
  });

  it("drops another instance's changed keys, prefixes and everything from its L1", async () => {
    const ch = channel();
    const a = await open({ channel: ch });
    const b = await open({ channel: ch });
    const base = `tiered:${randomUUID()}:`;
    const warm = (key: string) => until(async () => (await b.get(key), b.peekLocal(key) !== undefined));
    await a.set(`${base}k`, Buffer.from('old'), 60_000);
    await warm(`${base}k`);
    await a.set(`${base}k`, Buffer.from('new'), 60_000);
    await until(() => b.peekLocal(`${base}k`) === undefined, 500);
    expect(String(await b.get(`${base}k`))).toBe('new');

    for (const change of [
      () => a.delete(`${base}k`),
      () => a.mdel([`${base}k`]),
      () => a.incr(`${base}k`, 1),
      () => a.touch(`${base}k`, 10),
      () => a.deleteByPrefix(base),
    ]) {
      await a.set(`${base}k`, Buffer.from('1'), 60_000);
      await warm(`${base}k`);
      await change();
      await until(() => b.peekLocal(`${base}k`) === undefined, 500);
    }
    await a.mdel([`${base}k`]);
  });

  it.each(['node-redis', 'ioredis'] as const)('keeps two tiers on handed-in %s clients coherent', async (kind) => {
    const ch = channel();
    const closers: (() => Promise<unknown>)[] = [];
    const tiers: TieredStore[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        let client: RedisClientLike;
        if (kind === 'ioredis') {
          const r = new Redis(sharedRedisUrl());
          closers.push(() => r.quit());
          client = r as unknown as RedisClientLike;
        } else {
          const r = createClient({ url: sharedRedisUrl() });
          await r.connect();
          closers.push(() => r.close());
          client = r as unknown as RedisClientLike;
        }
        tiers.push((await tieredStore({ l1: memoryStore(), l2: redisStore({ client }), channel: ch }).create('h')) as TieredStore);
      }
      expect(tiers.every((t) => t.coherent)).toBe(true);
      await expectCoherent(tiers[0]!, tiers[1]!);
      await expectCoherent(tiers[1]!, tiers[0]!);
    } finally {
      await Promise.all(tiers.map((t) => t.close()));
      await Promise.all(closers.map((c) => c().catch(() => undefined)));
    }
  });

  it('bypasses the L1 until subscribed, and clears it when the subscription is back', async () => {
    const s = await open({ channel: channel() });
    const key = `tiered:${randomUUID()}`;
    await s.set(key, Buffer.from('v'), 60_000);
    expect(s.peekLocal(key)).toBeDefined();
    s.listener.down();
    expect(s.coherent).toBe(false);
    expect(s.peekLocal(key), 'not served while it cannot receive invalidations').toBeUndefined();
    s.listener.up();
    expect(s.peekLocal(key), 'cleared: messages may have passed meanwhile').toBeUndefined();
    await s.delete(key);
  });
});

describe('tieredStore while its L2 is down', () => {
  let redis: RedisServerHandle;
  const stores: TieredStore[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    redis.resume();
    await Promise.all(stores.map((s) => s.close()));
    await redis.stop();
  });
  const open = async (ch: string) => {
    const s = (await tieredStore({
      l1: memoryStore(),
      l2: redisStore({ url: redis.url, commandTimeout: 150, breaker: { failureThreshold: 2, resetAfter: 100 } }),
      channel: ch,
    }).create('t')) as TieredStore;
    stores.push(s);
    return s;
  };

  it('L1 hits answer without the L2; a write the L2 failed reaches the L1, and every L1 is cleared once the L2 is back', async () => {
    const ch = channel();
    const a = await open(ch);
    const b = await open(ch);
    await a.set('k', Buffer.from('old'), 60_000);
    await until(async () => (await b.get('k'), b.peekLocal('k') !== undefined));
    redis.pause();
    try {
      const t = performance.now();
      expect(String(await b.get('k'))).toBe('old');
      expect(performance.now() - t, 'an L1 hit does not wait on the frozen L2').toBeLessThan(20);
      await expect(a.set('k', Buffer.from('new'), 60_000)).rejects.toThrow();
      expect(String(a.peekLocal('k')), "the write reached A's L1").toBe('new');
      expect(String(b.peekLocal('k')), 'B was not told (Redis is frozen)').toBe('old');
    } finally {
      redis.resume();
    }
    // Back: A's recovery probe tells every instance to clear its L1 (the L2 may hold either value).
    await until(() => b.peekLocal('k') === undefined && a.peekLocal('k') === undefined, 3000);
    const now = String(await b.get('k'));
    expect(String(await a.get('k'))).toBe(now);
  });

  it('close() returns with Redis frozen', async () => {
    const s = await open(channel());
    redis.pause();
    try {
      const t = performance.now();
      await s.close();
      expect(performance.now() - t).toBeLessThan(2000);
    } finally {
      redis.resume();
    }
  });
});
