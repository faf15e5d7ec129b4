import 'reflect-metadata';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuotaExceededEvent, RedisStore, type RedisStoreOptions, redisStore } from '../../lib/index.js';
import { type CacheScope, KeyBuilder } from '../../lib/keys/key-builder.js';
import { OutageLog } from '../../lib/stores/resilience/outage-log.js';
import { type RedisClusterHandle, type RedisServerHandle, startRedisCluster, startRedisServer } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

/**
 * Per-tenant budgets on redisStore (issue 16 item 2), on an isolated Redis started for this file (so that
 * key counts and INFO commandstats are this file's alone) and on a 3-master Redis Cluster.
 */

const tenant = (tenantId: string): CacheScope => ({ kind: 'tenant', tenantId });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: RedisServerHandle;
let raw: Redis;
beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url);
});
afterAll(async () => {
  await raw?.quit();
  await server?.stop();
});

/** A store on `client` as the module would create it, with the keys it builds and the events it reports. */
async function budgetStore(options: Omit<RedisStoreOptions, 'url' | 'client'>, prefix: string, client: Redis | Cluster = new Redis(server.url)) {
  const events: QuotaExceededEvent[] = [];
  const outages = new OutageLog();
  const store = (await redisStore({ client, commandTimeout: 5000, ...options }).create('budget', {
    outages,
    keyPrefix: prefix,
    quotaExceeded: (e) => events.push(e),
  })) as RedisStore;
  const keys = new KeyBuilder(prefix, store.capabilities);
  const key = (t: string, k: string) => keys.entryKey(tenant(t), 1, k);
  return {
    store,
    keys,
    key,
    events,
    close: async () => {
      await store.close();
      outages.close();
      await client.quit();
    },
  };
}

/** Keys of a pattern on a single server (this file's own). */
async function count(pattern: string, client: Redis = raw): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += found.length;
  } while (cursor !== '0');
  return n;
}

describe("redisStore perTenant budget, overQuota 'reject'", () => {
  it('drops writes past the budget (misses, no error), counts each tenant apart, and reports quota:exceeded', async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 5 }, overQuota: 'reject' }, 'rj1:');
    try {
      for (let i = 0; i < 10; i++) await expect(s.store.set(s.key('A', `k${i}`), Buffer.from(`v${i}`))).resolves.toBeUndefined();
      for (let i = 0; i < 3; i++) await s.store.set(s.key('B', `k${i}`), Buffer.from('v'));
      expect(await count('rj1:t1:A:g1:*')).toBe(5);
      expect(await count('rj1:t1:B:g1:*')).toBe(3);
      expect(await s.store.get(s.key('A', 'k4'))).toEqual(Buffer.from('v4'));
      expect(await s.store.get(s.key('A', 'k5'))).toBeUndefined();
      expect(await s.store.add(s.key('A', 'new'), Buffer.from('v'))).toBe(false);
      expect(await s.store.get(s.key('A', 'new'))).toBeUndefined();
      const bytes = [0, 1, 2, 3, 4].reduce((sum, i) => sum + s.key('A', `k${i}`).length + 2, 0);
      expect(await s.store.budgetOf(s.key('A', 'x'))).toEqual({ entries: 5, bytes });
      expect(await s.store.budgetOf(s.key('B', 'x'))).toEqual({ entries: 3, bytes: expect.any(Number) });
      expect(events(s.events)).toEqual([['A', 'entries', 'reject', 1]]);
      // Counters and tag versions (meta keys), generation counters and shared entries are never refused.
      const tagVersion = s.keys.tagVersionKey(tenant('A'), s.keys.tagId('t'));
      expect(await s.store.incr(tagVersion, 1)).toBe(1);
      expect(await s.store.add(s.keys.generationKey(tenant('A')), Buffer.from('7'))).toBe(true);
      for (let i = 0; i < 10; i++) await s.store.set(s.keys.entryKey({ kind: 'shared' }, 1, `s${i}`), Buffer.from('v'));
      expect(await count('rj1:s:g1:*')).toBe(10);
    } finally {
      await s.close();
    }
  });

  it('takes deletes off the counters (delete, mdel, deleteByPrefix): freed room can be written again', async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 4 }, overQuota: 'reject' }, 'rj4:');
    try {
      for (let i = 0; i < 4; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
      expect(await s.store.delete(s.key('A', 'k0'))).toBe(true);
      expect(await s.store.delete(s.key('A', 'missing'))).toBe(false);
      expect(await s.store.mdel([s.key('A', 'k1'), s.key('A', 'k2'), s.key('A', 'gone'), 'rj4:foreign'])).toBe(2);
      expect(await s.store.budgetOf(s.key('A', 'x'))).toEqual({ entries: 1, bytes: s.key('A', 'k3').length + 1 });
      for (let i = 4; i < 10; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
      expect(await count('rj4:t1:A:g1:*')).toBe(4);
      expect(await s.store.deleteByPrefix('rj4:t1:A:g1:')).toBe(4);
      expect((await s.store.budgetOf(s.key('A', 'x')))!.entries).toBe(0);
      // The whole tenant (its budget hash included, as a purge would): the counts never go below 0.
      for (let i = 0; i < 2; i++) await s.store.set(s.key('A', `again${i}`), Buffer.from('v'));
      expect(await s.store.deleteByPrefix('rj4:t1:A:')).toBe(3);
      expect(await s.store.budgetOf(s.key('A', 'x'))).toEqual({ entries: 0, bytes: 0 });
    } finally {
      await s.close();
    }
  });

  it('bounds bytes too, and takes plans (a function of the tenant)', async () => {
    const s = await budgetStore({ perTenant: { maxBytes: (t) => (t === 'gold' ? 10_000 : 1000) }, overQuota: 'reject' }, 'rj2:');
    try {
      const value = Buffer.alloc(300);
      for (let i = 0; i < 10; i++) {
        await s.store.set(s.key('free', `k${i}`), value);
        await s.store.set(s.key('gold', `k${i}`), value);
      }
      expect(await count('rj2:t4:free:g1:*')).toBe(3);
      expect(await count('rj2:t4:gold:g1:*')).toBe(10);
      expect(events(s.events)).toEqual([['free', 'bytes', 'reject', 1]]);
    } finally {
      await s.close();
    }
  });

  it('restarts counting when the window ends', async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 2 }, overQuota: 'reject', budgetWindow: 1000 }, 'rj3:');
    try {
      for (let i = 0; i < 4; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
      expect(await count('rj3:t1:A:g1:*')).toBe(2);
      await sleep(1200);
      // The first write after the window ended is refused while this process asks Redis again; then writes pass.
      let written = 0;
      for (let i = 0; i < 50 && written === 0; i++) {
        await s.store.set(s.key('A', `late${i}`), Buffer.from('v'));
        written = await count('rj3:t1:A:g1:k2:late*');
        if (written === 0) await sleep(20);
      }
      expect(written).toBe(1);
      expect(await s.store.budgetOf(s.key('A', 'x'))).toEqual({ entries: 1, bytes: expect.any(Number) });
    } finally {
      await s.close();
    }
  });
});

describe('redisStore perTenant budget: cost and eviction', () => {
  it('costs no command of its own per write: a batch script per tenant (every 100 ms or 64 writes); reads cost nothing more', async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 1000 } }, 'cost:');
    try {
      await s.store.set(s.key('A', 'warm'), Buffer.from('v'));
      await raw.config('RESETSTAT');
      for (let i = 0; i < 100; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
      for (let i = 0; i < 100; i++) await s.store.get(s.key('A', `k${i}`));
      await s.store.budgetOf(s.key('A', 'x')); // charges what is left
      const stats = commandStats(await raw.info('commandstats'));
      expect(stats).toMatchObject({ set: 100, get: 100 });
      // 100 writes: one batch per 64 writes, per 100 ms, and the read of budgetOf.
      expect(stats.eval).toBeGreaterThanOrEqual(2);
      expect(stats.eval).toBeLessThanOrEqual(8);
      expect(await s.store.budgetOf(s.key('A', 'x'))).toEqual({ entries: 101, bytes: expect.any(Number) });
      // Sent by the client: nothing else (but this test's CONFIG RESETSTAT and INFO); run inside the script: two HINCRBY and a PTTL.
      const inScript = ['hincrby', 'pttl', 'pexpire'];
      expect(
        Object.keys(stats)
          .filter((c) => !c.startsWith('config') && c !== 'info' && !inScript.includes(c))
          .sort(),
      ).toEqual(['eval', 'get', 'set']);
      expect(stats.hincrby).toBe(2 * stats.eval!);
    } finally {
      await s.close();
    }
  });

  it("'evict': writes pass, and the tenant's idlest sampled entries are deleted and taken off its counters", async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 10 } }, 'ev1:');
    try {
      for (let i = 0; i < 40; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
      for (let i = 0; i < 5; i++) await s.store.set(s.key('B', `k${i}`), Buffer.from('v'));
      await s.store.close(); // waits for the trim in flight
      const left = await count('ev1:t1:A:g1:*');
      expect(left).toBeLessThan(40);
      expect(await count('ev1:t1:B:g1:*')).toBe(5);
      expect(events(s.events)[0]).toEqual(['A', 'entries', 'evict', 1]);
      const check = await budgetStore({ perTenant: { maxEntries: 10 } }, 'ev1:');
      expect((await check.store.budgetOf(check.key('A', 'x')))!.entries).toBe(left);
      await check.close();
    } finally {
      await s.close().catch(() => {});
    }
  });
});

describe('redisStore perTenant budget under a frozen Redis', () => {
  it.each(['evict', 'reject'] as const)(
    '%s: a write fails as without a budget, within the command timeout, and close() does not wait on the counters',
    async (overQuota) => {
      const frozen = await startRedisServer();
      const client = new Redis(frozen.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      const s = await budgetStore({ perTenant: { maxEntries: 2 }, overQuota, commandTimeout: 200 }, 'frz:', client);
      try {
        for (let i = 0; i < 4; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
        frozen.pause();
        const started = Date.now();
        const outcomes = await Promise.allSettled([
          s.store.set(s.key('B', 'k'), Buffer.from('v')),
          s.store.set(s.key('A', 'late'), Buffer.from('v')),
          s.store.budgetOf(s.key('A', 'x')),
        ]);
        expect(Date.now() - started).toBeLessThan(3000);
        // B's write reaches the frozen server: it fails (the caller's onWriteError decides); A's is refused or fails alike.
        expect(outcomes[0]!.status).toBe('rejected');
        if (overQuota === 'reject') expect(outcomes[1]).toEqual({ status: 'fulfilled', value: undefined });
        const closing = Date.now();
        await s.store.close();
        expect(Date.now() - closing).toBeLessThan(3000);
      } finally {
        frozen.resume();
        client.disconnect();
        await frozen.stop();
      }
    },
    30_000,
  );
});

describe('redisStore perTenant budget: adversarial tenant ids', () => {
  const ids = ['a', 'a:', 'a:b', 'ab', '1:a', 't1:a', 't1:a:', '%41', 'A', 'ä', 'x'.repeat(65), `${'x'.repeat(65)}y`, 's', 'gen', 'm:q:budget'];

  it("charges every write to its own tenant's counters: no id reaches another's budget", async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 2 }, overQuota: 'reject' }, 'adv:');
    try {
      for (const id of ids) for (let i = 0; i < 4; i++) await s.store.set(s.key(id, `k${i}`), Buffer.from('v'));
      for (const id of ids) {
        const held = await Promise.all([0, 1, 2, 3].map(async (i) => (await s.store.get(s.key(id, `k${i}`))) !== undefined));
        expect(held, JSON.stringify(id)).toEqual([true, true, false, false]);
        expect((await s.store.budgetOf(s.key(id, 'x')))!.entries, JSON.stringify(id)).toBe(2);
      }
      expect(new Set(s.events.map((e) => e.scope)).size).toBe(ids.length);
    } finally {
      await s.close();
    }
  });
});

describe('redisStore perTenant budget through the module', () => {
  it('an over-budget set resolves and reads as a miss; cache.events emits quota:exceeded with the tenant', async () => {
    const client = new Redis(server.url);
    const app = await bootCache(
      {
        keyPrefix: 'mod:',
        stores: { default: redisStore({ client, perTenant: { maxEntries: 3 }, overQuota: 'reject', commandTimeout: 5000 }) },
        tenant: { middleware: false },
      },
      { logger: false },
    );
    const seen: QuotaExceededEvent[] = [];
    app.cache.events.on('quota:exceeded', (e) => seen.push(e));
    try {
      const a = app.cache.forTenant('acme');
      for (let i = 0; i < 5; i++) await expect(a.set(`k${i}`, i)).resolves.toBeUndefined();
      expect(await a.get('k2')).toBe(2);
      expect(await a.get('k3')).toBeUndefined();
      expect(await a.getOrSet('k9', async () => 'loaded')).toBe('loaded');
      expect(seen[0]).toMatchObject({ store: 'default', tenant: 'acme', limit: 'entries', action: 'reject' });
      expect(await app.cache.forTenant('other').getOrSet('k', async () => 'ok')).toBe('ok');
      expect(await app.cache.forTenant('other').get('k')).toBe('ok');
    } finally {
      await app.close();
      await client.quit();
    }
  });
});

describe('redisStore perTenant budget on a 3-master Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
  }, 60_000);
  afterAll(() => cluster?.stop());

  async function clusterClient(): Promise<Cluster> {
    const c = new Cluster([cluster.nodes[0]!]);
    c.on('error', () => {});
    await new Promise<void>((resolve) => c.once('ready', () => resolve()));
    return c;
  }

  async function clusterCount(pattern: string): Promise<number> {
    let n = 0;
    for (const node of cluster.nodes) {
      const r = new Redis(node.port, node.host);
      n += await count(pattern, r);
      await r.quit();
    }
    return n;
  }

  it("'reject' holds a tenant to its budget over keys of every slot; 'evict' trims over every master", async () => {
    const s = await budgetStore({ perTenant: { maxEntries: 20 }, overQuota: 'reject' }, 'cl:', await clusterClient());
    try {
      for (let i = 0; i < 50; i++) await s.store.set(s.key('A', `k${i}`), Buffer.from('v'));
      await s.store.set(s.key('B', 'k'), Buffer.from('v'));
      expect(await clusterCount('cl:t1:A:g1:*')).toBe(20);
      expect(await clusterCount('cl:t1:B:g1:*')).toBe(1);
      expect((await s.store.budgetOf(s.key('A', 'x')))!.entries).toBe(20);
    } finally {
      await s.close();
    }
    const e = await budgetStore({ perTenant: { maxEntries: 20 } }, 'cle:', await clusterClient());
    try {
      for (let i = 0; i < 60; i++) await e.store.set(e.key('A', `k${i}`), Buffer.from('v'));
      await e.store.close();
      const left = await clusterCount('cle:t1:A:g1:*');
      expect(left).toBeLessThan(60);
      expect(events(e.events)[0]).toEqual(['A', 'entries', 'evict', 1]);
    } finally {
      await e.close().catch(() => {});
    }
  }, 60_000);
});

function events(list: readonly QuotaExceededEvent[]): [string | undefined, string, string, number][] {
  return list.map((e) => [e.tenant, e.limit, e.action, e.count]);
}

function commandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}
