/**
 * The tiered bench: a hit on `tieredStore({ l1: memoryStore(), l2: redisStore() })` side by side with
 * the peers a user would pick instead, in one run:
 * - a raw node-redis 5 GET of the same value (what every read costs without an L1; an object is
 *   JSON.parse'd, as a user of the raw client must);
 * - cache-manager 7 with two stores (Keyv memory in front of `@keyv/redis`);
 * - BentoCache 1.6 with an L1 memory driver and an L2 Redis driver (bus off, as ours is measured
 *   from one instance; our coherence subscriber stays on, as it is by default);
 * - our `memoryStore()` and `redisStore()` alone, for reference, and the tier with a
 *   `memoryStore({ shareReads: true })` L1 (one deep-frozen object per entry instead of a copy per read).
 * Ratios and goals are about the default tier (a copy per read, as `memoryStore()` by default).
 * Two values: a 1 KB string and a ~670-byte object (a DTO). 50 calls in flight, interleaved rounds
 * (median). Ratios against BentoCache tiered and against raw node-redis GET.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/tiered.bench.ts`
 * (REDIS_URL, default redis://127.0.0.1:6379; without a reachable Redis the bench says so and stops).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createClient } from '@redis/client';
import KeyvRedis from '@keyv/redis';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { Redis } from 'ioredis';
import { Keyv } from 'keyv';
import { type StoreDefinition, TenantCacheModule, TenantCacheService, TenantContext, memoryStore, redisStore, tieredStore } from '../lib/index.js';
import { compare, formatOps, ratio } from './support/measure.js';
import { DEFAULT_REDIS_URL, redisReachable, removeKeys } from './support/redis.js';

const CONCURRENCY = 50;
const KEYS = 1000;
const TTL = 60_000;
const ROUNDS = 11;
const ROUND_MS = 200;
const STRING_VALUE = 'v'.repeat(1024);

interface Subject {
  name: string;
  get: (i: number) => Promise<unknown>;
  getOrSet: (i: number) => Promise<unknown>;
  set: (i: number) => Promise<unknown>;
}

/** A ~670-byte JSON-compatible object (what a cached DTO looks like): 679 bytes of JSON. */
function dto(): Record<string, unknown> {
  const items = Array.from({ length: 7 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item number ${i}`, qty: i + 1, price: 9.99 + i }));
  const customer = { id: 'cust-0042', name: 'A customer of acme', email: 'billing@acme.example' };
  return { id: 42, tenant: 'acme', title: 'Order 42 for a customer of acme', paid: true, total: 123.45, createdAt: '2026-11-24T12:00:00.000Z', customer, items };
}

async function tenantApp(store: StoreDefinition, keyPrefix: string) {
  @Module({ imports: [TenantCacheModule.forRoot({ stores: { default: store }, keyPrefix, tenant: { middleware: false } })] })
  class TieredBenchModule {}
  return NestFactory.createApplicationContext(TieredBenchModule, { logger: false });
}

function cycling(fn: (i: number) => Promise<unknown>): () => Promise<unknown> {
  let i = 0;
  return () => fn(i++ % KEYS);
}

async function table(label: string, subjects: Subject[], baseName: string, rawName: string): Promise<Map<string, { get: number; getOrSet: number }>> {
  for (const s of subjects) for (let i = 0; i < KEYS; i++) await s.set(i);
  // Every subject reads each key once before measuring, so L1s hold them (a hit, not a fill).
  for (const s of subjects) for (let i = 0; i < KEYS; i++) await s.get(i);
  const gets = await compare(
    subjects.map((s) => cycling(s.get)),
    { rounds: ROUNDS, ms: ROUND_MS, concurrency: CONCURRENCY, warmup: 3000 },
  );
  const getOrSets = await compare(
    subjects.map((s) => cycling(s.getOrSet)),
    { rounds: ROUNDS, ms: ROUND_MS, concurrency: CONCURRENCY, warmup: 3000 },
  );
  const results = new Map(subjects.map((s, i) => [s.name, { get: gets[i]!, getOrSet: getOrSets[i]! }]));
  const base = results.get(baseName)!;
  const raw = results.get(rawName)!;
  console.log(`\nTiered hit, ${label}, ${CONCURRENCY} calls in flight, ${KEYS} keys; ratios vs ${baseName} and vs ${rawName}`);
  console.table(
    subjects.map((s) => {
      const r = results.get(s.name)!;
      return {
        implementation: s.name,
        'get ops/s': formatOps(r.get),
        'get vs BentoCache': ratio(r.get, base.get),
        'get vs raw GET': ratio(r.get, raw.get),
        'getOrSet ops/s': formatOps(r.getOrSet),
        'getOrSet vs BentoCache': ratio(r.getOrSet, base.getOrSet),
      };
    }),
  );
  return results;
}

export async function run(): Promise<void> {
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  if (process.env.BENCH_NO_REDIS === '1' || !(await redisReachable(url))) {
    console.log('No Redis: the tiered bench needs one (set REDIS_URL).');
    return;
  }
  const id = `bench-tier-${randomUUID().slice(0, 8)}`;
  const nodeRedis = createClient({ url });
  await nodeRedis.connect();
  const bentoRedis = new Redis(url);
  const tiered = await tenantApp(tieredStore({ l1: memoryStore({ maxEntries: 100_000 }), l2: redisStore({ url }) }), `${id}:t:`);
  const tieredShared = await tenantApp(
    tieredStore({ l1: memoryStore({ maxEntries: 100_000, shareReads: true }), l2: redisStore({ url }), channel: `${id}:shared-l1` }),
    `${id}:ts:`,
  );
  const memory = await tenantApp(memoryStore({ maxEntries: 100_000 }), `${id}:m:`);
  const remote = await tenantApp(redisStore({ url }), `${id}:r:`);
  const cacheManager = createCache({ stores: [new Keyv(), new Keyv({ store: new KeyvRedis(url, { namespace: `${id}:cm` }) })] });
  const bento = new BentoCache({
    default: 'tiered',
    prefix: `${id}:bento`,
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 100_000 }))
        .useL2Layer(redisDriver({ connection: bentoRedis })),
    },
  });
  try {
    for (const [label, value] of [
      ['1 KB string', STRING_VALUE],
      [`${JSON.stringify(dto()).length}-byte object`, dto()],
    ] as const) {
      const load = async () => value;
      const ours = (name: string, cache: TenantCacheService, prefix: string): Subject => ({
        name,
        get: (i) => cache.get(`${prefix}${i}`),
        getOrSet: (i) => cache.getOrSet(`${prefix}${i}`, load, { ttl: TTL }),
        set: (i) => cache.set(`${prefix}${i}`, value, TTL),
      });
      const p = typeof value === 'string' ? 's' : 'o';
      const rawValue = typeof value === 'string' ? value : JSON.stringify(value);
      const decodeRaw = typeof value === 'string' ? (v: string | null) => v : (v: string | null) => (v === null ? null : (JSON.parse(v) as unknown));
      const subjects: Subject[] = [
        {
          name: 'node-redis 5 (raw GET)',
          // NOTE: an object is read back as one (JSON.parse), as a user of the raw client must.
          get: (i) => nodeRedis.get(`${id}:raw:${p}${i}`).then(decodeRaw),
          getOrSet: (i) => nodeRedis.get(`${id}:raw:${p}${i}`).then(decodeRaw),
          set: (i) => nodeRedis.set(`${id}:raw:${p}${i}`, rawValue, { PX: TTL }),
        },
        {
          name: 'cache-manager 7 (Keyv memory + @keyv/redis)',
          get: (i) => cacheManager.get(`${p}${i}`),
          getOrSet: (i) => cacheManager.wrap(`${p}${i}`, load, TTL),
          set: (i) => cacheManager.set(`${p}${i}`, value, TTL),
        },
        {
          name: 'BentoCache 1.6 (L1 memory + L2 Redis, bus off)',
          get: (i) => bento.get({ key: `${p}${i}` }),
          getOrSet: (i) => bento.getOrSet({ key: `${p}${i}`, factory: load, ttl: TTL }),
          set: (i) => bento.set({ key: `${p}${i}`, value, ttl: TTL }),
        },
        ours('TenantCacheService, tieredStore(memory + redis)', tiered.get(TenantCacheService), p),
        ours('TenantCacheService, memoryStore() (reference)', memory.get(TenantCacheService), p),
        ours('TenantCacheService, redisStore() (reference)', remote.get(TenantCacheService), p),
        ours('TenantCacheService, tieredStore(memory shareReads + redis)', tieredShared.get(TenantCacheService), p),
      ];
      const results = await TenantContext.run('bench-tenant', () => table(label, subjects, subjects[2]!.name, subjects[0]!.name));
      const t = results.get(subjects[3]!.name)!;
      const vsBento = t.get / results.get(subjects[2]!.name)!.get;
      const vsRaw = t.get / results.get(subjects[0]!.name)!.get;
      console.log(`Goal: tiered hit >= 1.00x BentoCache tiered get (${label}): ${vsBento.toFixed(2)}x (${vsBento >= 1 ? 'reached' : 'below the goal'})`);
      console.log(`Goal: tiered hit >= 5.00x raw node-redis GET (${label}): ${vsRaw.toFixed(2)}x (${vsRaw >= 5 ? 'reached' : 'below the goal'})`);
      const shared = results.get(subjects[6]!.name)!.get;
      console.log(
        `With an L1 of memoryStore({ shareReads: true }) (${label}): ${(shared / results.get(subjects[2]!.name)!.get).toFixed(2)}x BentoCache, ` +
          `${(shared / results.get(subjects[0]!.name)!.get).toFixed(2)}x raw GET`,
      );
    }
  } finally {
    await tiered.close();
    await tieredShared.close();
    await memory.close();
    await remote.close();
    await cacheManager.disconnect().catch(() => undefined);
    await bento.disconnectAll();
    await removeKeys(url, id).catch(() => undefined);
    await nodeRedis.close();
    bentoRedis.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
