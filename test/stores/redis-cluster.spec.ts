import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createCluster } from '@redis/client';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantCacheService, TenantContext, redisStore, versioned } from '../../lib/index.js';
import type { RedisClientLike } from '../../lib/stores/redis/redis-commander.js';
import { runStoreConformanceSuite } from '../../lib/testing/index.js';
import { type RedisClusterHandle, mastersOfKeys, scanKeysPerNode, startRedisCluster } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

/**
 * redisStore({ client }) on a real 3-master Redis Cluster (started for this file), through a node-redis v5
 * cluster and an ioredis Cluster: the store conformance suite, then the service on ~200 keys per tenant
 * spread over every master (listing, prefix deletion, clear, multi-key operations across slots, tags).
 */

let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(() => cluster?.stop());

interface ClusterClient {
  client: RedisClientLike;
  close(): Promise<void>;
}

const clients: { name: string; open(): Promise<ClusterClient> }[] = [
  {
    name: 'node-redis createCluster',
    open: async () => {
      // One seed node: the client discovers the other masters.
      const c = createCluster({ rootNodes: [{ url: `redis://${cluster.nodes[0].host}:${cluster.nodes[0].port}` }] });
      c.on('error', () => {});
      await c.connect();
      return { client: c as unknown as RedisClientLike, close: () => c.close() };
    },
  },
  {
    name: 'ioredis Cluster',
    open: async () => {
      const c = new Cluster([cluster.nodes[0]]);
      c.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        c.once('ready', () => resolve());
        c.once('end', () => reject(new Error('ioredis Cluster closed before it was ready')));
      });
      return { client: c, close: async () => void (await c.quit()) };
    },
  },
];

/** Every key on each master matching `match` (raw SCAN, one plain connection per node). */
function rawKeysPerMaster(match: string): Promise<string[][]> {
  return scanKeysPerNode(cluster.nodes, match);
}

for (const { name, open } of clients) {
  {
    let opened: ClusterClient | undefined;
    runStoreConformanceSuite(`redis cluster (${name})`, {
      test: { describe, it, beforeAll, afterAll },
      store: async () => {
        opened = await open();
        return redisStore({ client: opened.client, commandTimeout: 5000 }).create('cluster');
      },
      // The cluster is this file's own: flushing every master is safe.
      flush: true,
      cleanup: () => opened?.close(),
    });
  }

  describe(`TenantCacheService on a 3-master Redis Cluster (${name})`, () => {
    const prefix = `clu-${randomUUID().slice(0, 8)}:`;
    const N = 200;
    const keysOf = (p: string) => Array.from({ length: N }, (_, i) => `${p}${i}`);
    let opened: ClusterClient;
    let cache: TenantCacheService;
    let closeModule: () => Promise<void>;
    const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);
    /** Raw keys of a tenant on each master (tenant segment `t<length>:<id>:`). */
    const rawOf = (tenant: string) => rawKeysPerMaster(`${prefix}t${tenant.length}:${tenant}:*`);
    const entryKeys = (keys: string[]) => keys.filter((k) => /:g\d+:k2:/.test(k));
    /** A tenant's tag record: `ti` the index of a plain tag, `tv` the counter of a versioned one (see lib/keys/key-layout.ts). */
    const tagRecordKey = (tenant: string, kind: 'ti' | 'tv', tag: string) => `${prefix}t${tenant.length}:${tenant}:m:${kind}:k:${tag}`;

    /**
     * `perMaster` tenants `many-<n>` for each master whose index of the plain tag `all` and counter of the versioned
     * tag `vall` both live on that master, as the cluster says.
     * NOTE: a fixed `many-0`..`many-11` is not enough. Their keys differ in one or two characters, and CRC16 is linear:
     * their slots differ by fixed XOR offsets that rarely reach the top bits, so with a random prefix all twelve
     * indexes sat on one master in about 4 % of runs ("12, 0, 0"), and the test then said nothing about the others.
     */
    async function tenantsOnEveryMaster(perMaster: number): Promise<string[]> {
      const chosen: string[][] = cluster.nodes.map(() => []);
      for (let from = 0; chosen.some((c) => c.length < perMaster); from += 100) {
        if (from >= 2000) throw new Error(`no ${perMaster} tenants per master among many-0..many-${from - 1}: ${chosen.map((c) => c.length).join(', ')}`);
        const candidates = Array.from({ length: 100 }, (_, i) => `many-${from + i}`);
        const indexes = await mastersOfKeys(
          cluster.nodes,
          candidates.map((t) => tagRecordKey(t, 'ti', 'all')),
        );
        const counters = await mastersOfKeys(
          cluster.nodes,
          candidates.map((t) => tagRecordKey(t, 'tv', 'vall')),
        );
        candidates.forEach((t, i) => {
          const master = indexes[i]!;
          if (counters[i] === master && chosen[master]!.length < perMaster) chosen[master]!.push(t);
        });
      }
      return chosen.flat();
    }

    beforeAll(async () => {
      opened = await open();
      const moduleRef = await bootCache({ stores: { default: redisStore({ client: opened.client, commandTimeout: 5000 }) }, keyPrefix: prefix });
      cache = moduleRef.get(TenantCacheService);
      closeModule = () => moduleRef.close();
    }, 30_000);
    afterAll(async () => {
      await closeModule?.();
      await opened?.close();
    });

    it('writes ~200 keys per tenant spread over every master', async () => {
      for (const tenant of ['alpha', 'beta']) {
        await as(tenant, () => cache.mset(keysOf('item:').map((key, i) => ({ key, value: { tenant, i } }))));
        await as(tenant, () => cache.mset(keysOf('other:').map((key, i) => ({ key, value: i }))));
      }
      const perMaster = await rawOf('alpha');
      expect(perMaster).toHaveLength(3);
      for (const keys of perMaster) expect(entryKeys(keys).length).toBeGreaterThan(50);
      expect(perMaster.flat().filter((k) => k.includes(':k2:item:'))).toHaveLength(N);
    });

    it('keys() lists exactly one tenant’s keys, from every master', async () => {
      const alpha = await as('alpha', () => cache.keys());
      expect([...alpha].sort()).toEqual([...keysOf('item:'), ...keysOf('other:')].sort());
      expect([...(await as('beta', () => cache.keys('item:')))].sort()).toEqual(keysOf('item:').sort());
      expect(await as('gamma', () => cache.keys())).toEqual([]);
    });

    it('mget / mset / mdel across slots', async () => {
      const values = await as('alpha', () => cache.mget<{ tenant: string; i: number }>(keysOf('item:')));
      expect(values).toEqual(keysOf('item:').map((_, i) => ({ tenant: 'alpha', i })));
      expect(await as('beta', () => cache.mget(['item:0', 'item:199', 'missing', 'other:7']))).toEqual([
        { tenant: 'beta', i: 0 },
        { tenant: 'beta', i: 199 },
        undefined,
        7,
      ]);
      await as('alpha', () => cache.mset({ 'm:a': 1, 'm:b': 2, 'm:c': 3, 'm:d': 4 }));
      expect(await as('alpha', () => cache.mget(['m:a', 'm:b', 'm:c', 'm:d']))).toEqual([1, 2, 3, 4]);
      expect(await as('alpha', () => cache.mdel(['m:a', 'm:b', 'm:c', 'm:d', 'm:none']))).toBe(4);
      expect(await as('alpha', () => cache.mget(['m:a', 'm:d']))).toEqual([undefined, undefined]);
    });

    it('deleteByPrefix() removes the tenant’s keys on every master and nothing of the other tenant', async () => {
      expect(await as('alpha', () => cache.deleteByPrefix('other:'))).toBe(N);
      for (const keys of await rawOf('alpha')) expect(keys.filter((k) => k.includes(':k2:other:'))).toEqual([]);
      const beta = (await rawOf('beta')).flat();
      expect(beta.filter((k) => k.includes(':k2:other:'))).toHaveLength(N);
      expect(await as('beta', () => cache.get('other:5'))).toBe(5);
      expect([...(await as('alpha', () => cache.keys()))].sort()).toEqual(keysOf('item:').sort());
    });

    it('clear() removes the tenant’s entries on every master and leaves the other tenant untouched', async () => {
      await as('alpha', () => cache.clear());
      for (const keys of await rawOf('alpha')) expect(entryKeys(keys)).toEqual([]);
      expect(await as('alpha', () => cache.keys())).toEqual([]);
      expect(await as('alpha', () => cache.get('item:3'))).toBeUndefined();
      const beta = await rawOf('beta');
      expect(entryKeys(beta.flat())).toHaveLength(2 * N);
      for (const keys of beta) expect(entryKeys(keys).length).toBeGreaterThan(50);
      expect(await as('beta', () => cache.get('item:3'))).toEqual({ tenant: 'beta', i: 3 });
    });

    it('incr and add', async () => {
      await as('alpha', async () => {
        expect(await cache.incr('counter')).toBe(1);
        expect(await cache.incr('counter', 41)).toBe(42);
        expect(await cache.add('once', 'first')).toBe(true);
        expect(await cache.add('once', 'second')).toBe(false);
        expect(await cache.get('once')).toBe('first');
      });
      expect(await as('beta', () => cache.incr('counter'))).toBe(1);
    });

    it('invalidateAll() hides the tenant’s entries only', async () => {
      await as('alpha', () => cache.set('x', 1));
      await as('alpha', () => cache.invalidateAll());
      expect(await as('alpha', () => cache.get('x'))).toBeUndefined();
      expect(await as('alpha', () => cache.keys())).toEqual([]);
      expect(await as('beta', () => cache.get('item:10'))).toEqual({ tenant: 'beta', i: 10 });
    });

    it('plain and versioned tags', async () => {
      await as('alpha', async () => {
        for (let i = 0; i < 30; i++) await cache.set(`tagged:${i}`, i, { tags: ['t'] });
        await cache.set('untagged', 'u');
      });
      await as('beta', () => cache.set('tagged:0', 'b', { tags: ['t'] }));
      expect(await as('alpha', () => cache.invalidateTag('t'))).toBe(30);
      expect(await as('alpha', () => cache.mget(['tagged:0', 'tagged:29', 'untagged']))).toEqual([undefined, undefined, 'u']);
      expect(await as('beta', () => cache.get('tagged:0'))).toBe('b');

      // An entry written with versioned tags is addressed with the same tags.
      const tags = [versioned('v')];
      await as('alpha', async () => {
        for (let i = 0; i < 10; i++) await cache.set(`v:${i}`, i, { tags });
        expect(await cache.get('v:3', { tags })).toBe(3);
        expect(await cache.get('v:9', { tags })).toBe(9);
      });
      await as('beta', () => cache.set('v:3', 'b', { tags }));
      const version = await as('alpha', () => cache.invalidateTag(versioned('v')));
      expect(await as('alpha', () => cache.invalidateTag(versioned('v')))).toBe(version + 1);
      for (let i = 0; i < 10; i++) expect(await as('alpha', () => cache.get(`v:${i}`, { tags }))).toBeUndefined();
      expect(await as('beta', () => cache.get('v:3', { tags }))).toBe('b');
      await as('alpha', () => cache.set('v:3', 'again', { tags }));
      expect(await as('alpha', () => cache.get('v:3', { tags }))).toBe('again');
    });

    it('invalidateTagInAllTenants() finds every tenant’s tag records, on whichever master they live', async () => {
      const tenants = await tenantsOnEveryMaster(4);
      for (const t of tenants) await as(t, () => cache.set('p', t, { tags: ['all'] }));
      // The tag indexes (one key per tenant) sit four on each master, as planned.
      const indexes = (await rawKeysPerMaster(`${prefix}t*:many-*m:ti:*`)).map((keys) => keys.length);
      expect(indexes, `tag indexes per master: ${indexes.join(', ')}`).toEqual([4, 4, 4]);
      expect(await cache.invalidateTagInAllTenants('all')).toBe(tenants.length);
      for (const t of tenants) expect(await as(t, () => cache.get('p'))).toBeUndefined();
      const tags = [versioned('vall')];
      for (const t of tenants) await as(t, () => cache.set('q', t, { tags }));
      const counters = (await rawKeysPerMaster(`${prefix}t*:many-*m:tv:*`)).map((keys) => keys.length);
      expect(counters, `versioned tag counters per master: ${counters.join(', ')}`).toEqual([4, 4, 4]);
      expect(await cache.invalidateTagInAllTenants(versioned('vall'))).toBe(tenants.length);
      for (const t of tenants) expect(await as(t, () => cache.get('q', { tags }))).toBeUndefined();
    });

    it('flushAllTenants() empties every master (the cluster is this file’s own)', async () => {
      expect((await rawKeysPerMaster('*')).every((keys) => keys.length > 0)).toBe(true);
      await cache.flushAllTenants();
      expect(await rawKeysPerMaster('*')).toEqual([[], [], []]);
      expect(await as('beta', () => cache.get('item:1'))).toBeUndefined();
    });
  });
}

describe('a cluster client handed in before it is ready', () => {
  /** Writes `n` keys under `p` through a separate, ready client; resolves to how many are on each master. */
  async function seed(p: string, n: number): Promise<number[]> {
    const writer = new Cluster([cluster.nodes[0]]);
    await new Promise<void>((resolve) => writer.once('ready', () => resolve()));
    for (let i = 0; i < n; i++) await writer.set(`${p}${i}`, 'x');
    await writer.quit();
    return (await rawKeysPerMaster(`${p}*`)).map((keys) => keys.length);
  }

  it('ioredis Cluster seeded with one node, still connecting: deleteByPrefix() and flush() reach every master', async () => {
    const p = `early-${randomUUID().slice(0, 8)}:`;
    const perMaster = await seed(p, 60);
    expect(perMaster.filter((n) => n > 0)).toHaveLength(3);

    // Until it is ready, an ioredis Cluster lists only its seed nodes as masters.
    const client = new Cluster([cluster.nodes[0]]);
    client.on('error', () => {});
    const store = await redisStore({ client, commandTimeout: 5000 }).create('early');
    try {
      expect(client.status).not.toBe('ready');
      expect(await store.deleteByPrefix(p)).toBe(60);
      expect((await rawKeysPerMaster(`${p}*`)).flat()).toEqual([]);
    } finally {
      await store.close();
      await client.quit();
    }

    await seed(p, 60);
    const again = new Cluster([cluster.nodes[0]]);
    again.on('error', () => {});
    const store2 = await redisStore({ client: again, commandTimeout: 5000 }).create('early2');
    try {
      expect(again.status).not.toBe('ready');
      await store2.flush();
      expect((await rawKeysPerMaster(`${p}*`)).flat()).toEqual([]);
    } finally {
      await store2.close();
      await again.quit();
    }
  });

  it('node-redis cluster never connected: listing fails clearly instead of finding nothing', async () => {
    const client = createCluster({ rootNodes: [{ url: `redis://${cluster.nodes[0].host}:${cluster.nodes[0].port}` }] });
    const store = await redisStore({ client: client as unknown as RedisClientLike, commandTimeout: 1000 }).create('unconnected');
    try {
      await expect(store.deleteByPrefix('anything:')).rejects.toThrow(/no known master/);
    } finally {
      await store.close();
    }
  });
});
