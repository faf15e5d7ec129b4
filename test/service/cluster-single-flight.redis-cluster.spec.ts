import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createCluster } from '@redis/client';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../lib/index.js';
import type { RedisClientLike } from '../../lib/stores/redis/redis-commander.js';
import { type RedisClusterHandle, scanKeysPerNode, startRedisCluster } from '../support/redis-server.js';
import { type TestModule, bootCache } from '../support/test-module.js';

/**
 * `singleFlight: { scope: 'cluster' }` on a real 3-master Redis Cluster (started for this file), through a
 * node-redis cluster and an ioredis Cluster: leases are taken on every master (keys spread over the slots), and
 * waiters on another application wake on the release (pub/sub is cluster-wide), long before the leases expire.
 */

let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(() => cluster?.stop());

const openers: { name: string; open(): Promise<{ client: RedisClientLike; close(): Promise<void> }> }[] = [
  {
    name: 'node-redis createCluster',
    open: async () => {
      const c = createCluster({ rootNodes: [{ url: `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}` }] });
      c.on('error', () => {});
      await c.connect();
      return { client: c as unknown as RedisClientLike, close: () => c.close() };
    },
  },
  {
    name: 'ioredis Cluster',
    open: async () => {
      const c = new Cluster([cluster.nodes[0]!]);
      c.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        c.once('ready', () => resolve());
        c.once('end', () => reject(new Error('ioredis Cluster closed before it was ready')));
      });
      return { client: c, close: async () => void (await c.quit()) };
    },
  },
];

/** The lease keys under `prefix` on each master. */
function leasesPerMaster(prefix: string): Promise<string[][]> {
  return scanKeysPerNode(cluster.nodes, `${prefix}*:l:*`);
}

for (const { name, open } of openers) {
  describe(`cluster single-flight on a Redis Cluster (${name})`, () => {
    it('30 keys over every master: one load each across 2 applications; waiters wake on the release, not at lease expiry', async () => {
      const prefix = `csfc-${randomUUID().slice(0, 8)}:`;
      const clients = [await open(), await open()];
      const apps: TestModule[] = [];
      try {
        for (const c of clients) {
          apps.push(
            await bootCache({
              stores: { default: redisStore({ client: c.client }) },
              keyPrefix: prefix,
              singleFlight: { scope: 'cluster', leaseTtl: 5000, waitTimeout: 8000 },
            }),
          );
        }
        // Warm: opens each application's release subscription.
        await Promise.all(apps.map((a, i) => a.cache.forTenant('warm').getOrSet(`w${i}`, () => 1)));
        const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
        let calls = 0;
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const loader = async () => {
          calls++;
          await gate;
          return 'v';
        };
        const leaders = keys.map((k) => apps[0]!.cache.forTenant('acme').getOrSet(k, loader));
        await new Promise((r) => setTimeout(r, 200));
        const waiters = keys.map((k) => apps[1]!.cache.forTenant('acme').getOrSet(k, loader));
        await new Promise((r) => setTimeout(r, 200));
        const perMaster = await leasesPerMaster(prefix);
        expect(perMaster.map((keysOnNode) => keysOnNode.length > 0)).toEqual([true, true, true]);
        expect(perMaster.flat()).toHaveLength(30);
        const released = Date.now();
        release();
        expect(await Promise.all(leaders)).toEqual(keys.map(() => 'v'));
        expect(await Promise.all(waiters)).toEqual(keys.map(() => 'v'));
        const woke = Date.now() - released;
        expect(calls).toBe(30);
        // Leases last 5 s: answered well before, so by the release messages.
        expect(woke).toBeLessThan(2000);
        expect((await leasesPerMaster(prefix)).flat()).toEqual([]);
      } finally {
        for (const a of apps) await a.close();
        for (const c of clients) await c.close();
      }
    }, 60_000);
  });
}
