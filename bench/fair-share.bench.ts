/**
 * The fair-share bench (issue 16): a 64 MiB memory store, 10 tenants; nine quiet tenants read through a
 * working set of 1,500 keys each (4 KB values), one loud tenant writes 50x more unique keys over the same
 * time. Hit ratio of the quiet tenants against their solo baseline (no loud tenant), for one shared LRU
 * (no `perTenant`) and for `perTenant` in the same run, plus the store's ops/s in each case. The workload is
 * test/stores/memory-fair-share.workload.ts, which test/stores/memory-fair-share.spec.ts asserts on.
 * Then, with a Redis: the cost of a budget per write, `redisStore` set ops/s (1 KB, 50 in flight) with and
 * without `perTenant`.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/fair-share.bench.ts`
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { type RedisStore, redisStore } from '../lib/index.js';
import { KeyBuilder } from '../lib/keys/key-builder.js';
import { OutageLog } from '../lib/stores/resilience/outage-log.js';
import { FAIR_SHARE_CASES, LOUD_FACTOR, QUIET_KEYS, STORE_BYTES, TENANTS, VALUE_BYTES, runFairShare } from '../test/stores/memory-fair-share.workload.js';
import { compare, formatOps, ratio } from './support/measure.js';
import { DEFAULT_REDIS_URL, removeKeys } from './support/redis.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const mib = (x: number) => (Number.isNaN(x) ? '-' : `${(x / 1024 / 1024).toFixed(1)} MiB`);

export async function run(): Promise<void> {
  console.log(
    `${STORE_BYTES / 1024 / 1024} MiB memory store, ${TENANTS} tenants: ${TENANTS - 1} quiet (${QUIET_KEYS} keys each, ${VALUE_BYTES} B values), ` +
      `1 loud writing ${LOUD_FACTOR}x more unique keys (${LOUD_FACTOR * QUIET_KEYS}).`,
  );
  const results = FAIR_SHARE_CASES.map(runFairShare);
  const solo = results[0]!;
  console.table(
    results.map((r) => ({
      case: r.name,
      'quiet hit ratio': pct(r.quiet),
      'vs solo (pp)': ((r.quiet - solo.quiet) * 100).toFixed(1),
      'worst quiet tenant': pct(r.worstQuiet),
      'loud tenant holds': mib(r.loudBytes),
      'store ops/s': formatOps(r.opsPerSecond),
    })),
  );
  const fair = results.find((r) => r.name.startsWith('perTenant.maxBytes ='))!;
  const gap = Math.abs(solo.quiet - fair.quiet) * 100;
  console.log(`Goal: quiet tenants within 5 pp of their solo baseline with perTenant: ${gap.toFixed(1)} pp (${gap <= 5 ? 'reached' : 'missed'})`);
  if (process.env.BENCH_NO_REDIS !== '1') await redisBudgetCost(process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
}

/** set ops/s on redisStore with and without a per-tenant budget (writes charged in batches: one script per tenant per 100 ms or 64 writes). */
async function redisBudgetCost(url: string): Promise<void> {
  const prefix = `bench-budget-${randomUUID().slice(0, 8)}:`;
  const outages = new OutageLog();
  const clients = [new Redis(url), new Redis(url)];
  const stores = await Promise.all([
    redisStore({ client: clients[0]!, commandTimeout: 5000 }).create('plain', { outages, keyPrefix: prefix }),
    redisStore({ client: clients[1]!, commandTimeout: 5000, perTenant: { maxEntries: 1e12 } }).create('budget', { outages, keyPrefix: prefix }),
  ]);
  const keys = new KeyBuilder(prefix, stores[0]!.capabilities);
  const physical = Array.from({ length: 1000 }, (_, i) => keys.entryKey({ kind: 'tenant', tenantId: `t${i % 10}` }, 1, `k${i}`));
  const value = Buffer.alloc(1024, 1);
  const setter = (store: RedisStore | (typeof stores)[number]) => {
    let i = 0;
    return () => store.set(physical[i++ % physical.length]!, value, 60_000);
  };
  try {
    const [plain, budget] = await compare([setter(stores[0]!), setter(stores[1]!)], { concurrency: 50, warmup: 2000 });
    console.table([
      { case: 'redisStore set, no perTenant', 'ops/s': formatOps(plain!), ratio: '1.00x', 'commands per write': 'SET' },
      {
        case: 'redisStore set, perTenant budget',
        'ops/s': formatOps(budget!),
        ratio: ratio(budget!, plain!),
        'commands per write': 'SET; one EVAL per tenant per 100 ms or 64 writes',
      },
    ]);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(clients.map((c) => c.quit()));
    outages.close();
    await removeKeys(url, prefix);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
