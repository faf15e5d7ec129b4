/**
 * Stampede benchmarks of `singleFlight` on Redis, `'cluster'` beside `'process'`:
 * - a hit (`getOrSet` of a cached key) in ops/s: a hit never touches the lease, so `'cluster'` should cost
 *   nothing (goal >= 0.97x);
 * - N instances (applications, each with its own connections, in this process) x M concurrent misses of one
 *   key with a 50 ms loader: loader calls in total and the p99 latency of the callers.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/stampede.bench.ts` (REDIS_URL, default
 * redis://127.0.0.1:6379). `npm run bench` (bench/run.ts) calls `run`. About 15 s.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { type INestApplicationContext, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TenantCacheModule, TenantCacheService, TenantContext, redisStore } from '../lib/index.js';
import { compare, formatOps, ratio } from './support/measure.js';
import { DEFAULT_REDIS_URL } from './support/redis.js';

type Scope = 'process' | 'cluster';

async function instance(url: string, prefix: string, scope: Scope): Promise<INestApplicationContext> {
  @Module({
    imports: [
      TenantCacheModule.forRoot({
        stores: { default: redisStore({ url }) },
        keyPrefix: prefix,
        tenant: { middleware: false },
        singleFlight: { scope, leaseTtl: 2000, waitTimeout: 5000 },
      }),
    ],
  })
  class StampedeModule {}
  return NestFactory.createApplicationContext(StampedeModule, { logger: false });
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

/** One stampede: every instance gets `misses` concurrent calls of one fresh key. */
async function stampede(caches: TenantCacheService[], misses: number, loaderMs: number): Promise<{ calls: number; p99: number }> {
  const key = `hot-${randomUUID().slice(0, 8)}`;
  let calls = 0;
  const loader = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, loaderMs));
    return { key };
  };
  const start = performance.now();
  const latencies = await Promise.all(
    caches.flatMap((cache) =>
      Array.from({ length: misses }, async () => {
        await cache.forTenant('bench').getOrSet(key, loader, { ttl: 60_000 });
        return performance.now() - start;
      }),
    ),
  );
  return { calls, p99: p99(latencies) };
}

export async function run(): Promise<void> {
  if (process.env.BENCH_NO_REDIS) {
    console.log('No Redis: the stampede bench needs one (singleFlight cluster is for shared stores).');
    return;
  }
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const prefix = `bench-stampede-${randomUUID().slice(0, 8)}:`;
  const apps: Record<Scope, INestApplicationContext[]> = { process: [], cluster: [] };
  try {
    for (const scope of ['process', 'cluster'] as const) for (let i = 0; i < 4; i++) apps[scope].push(await instance(url, `${prefix}${scope}:`, scope));
    const caches = { process: apps.process.map((a) => a.get(TenantCacheService)), cluster: apps.cluster.map((a) => a.get(TenantCacheService)) };
    // Warm every instance (connections, the lease subscription).
    for (const scope of ['process', 'cluster'] as const) await Promise.all(caches[scope].map((c, i) => c.forTenant('bench').getOrSet(`warm${i}`, () => 1)));

    // 1. A hit.
    const hit = (cache: TenantCacheService) => () => TenantContext.run('bench', () => cache.getOrSet('product:p1', async () => ({ id: 'p1' }), { ttl: 600_000 }));
    // A second 'process' instance beside them: the A/A ratio shows the noise of this machine.
    const [processHit, clusterHit, controlHit] = (await compare([hit(caches.process[0]!), hit(caches.cluster[0]!), hit(caches.process[1]!)], {
      rounds: 11,
      ms: 250,
      concurrency: 16,
    })) as [number, number, number];
    console.log('hit (getOrSet of a cached key, Redis, 16 in flight)');
    console.table([
      { singleFlight: 'process', 'ops/s': formatOps(processHit), ratio: '1.00x' },
      { singleFlight: 'cluster', 'ops/s': formatOps(clusterHit), ratio: ratio(clusterHit, processHit) },
      { singleFlight: 'process (another instance: A/A noise)', 'ops/s': formatOps(controlHit), ratio: ratio(controlHit, processHit) },
    ]);
    console.log(`Goal: a hit with singleFlight 'cluster' >= 0.97x of 'process' (measured ${ratio(clusterHit, processHit)}).`);

    // 2. Stampedes.
    const rows: Record<string, string | number>[] = [];
    for (const n of [1, 2, 4]) {
      for (const m of [10, 100, 250]) {
        const p = await stampede(caches.process.slice(0, n), m, 50);
        const c = await stampede(caches.cluster.slice(0, n), m, 50);
        rows.push({
          'instances x misses': `${n} x ${m}`,
          'process: loads': p.calls,
          'process: p99 ms': Math.round(p.p99),
          'cluster: loads': c.calls,
          'cluster: p99 ms': Math.round(c.p99),
          'p99 cluster/process': ratio(c.p99, p.p99),
        });
      }
    }
    console.log('stampede: N instances x M concurrent misses of one key, 50 ms loader (the instances are applications in this one process: one CPU for all)');
    console.table(rows);
  } finally {
    // Remove what the bench wrote from a shared Redis.
    const first = apps.process[0] ?? apps.cluster[0];
    if (first) {
      const { CacheEngine } = await import('../lib/engine/cache-engine.js');
      const engine = first.get(CacheEngine);
      await (await engine.store({ kind: 'shared' })).store.deleteByPrefix(prefix).catch(() => undefined);
    }
    for (const a of [...apps.process, ...apps.cluster]) await a.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
