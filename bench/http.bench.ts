/**
 * HTTP response cache benchmark, as a user would measure it: the Nest server runs in this process, the
 * load generator (autocannon's CLI) in a child process of its own (bench/support/http-load.ts). On
 * Express and Fastify, one app (bench/support/http-app.ts) serves the same ~1 KB JSON body, behind
 * `TenantGuard` (tenant from `x-tenant-id`), on one route per case:
 *
 * - the framework's ceiling: the same route with no cache and no data wait;
 * - a hit through `@nestjs/cache-manager`'s `CacheInterceptor` (cache-manager 7 on Keyv memory, on
 *   `@keyv/redis`, and on two stores: Keyv memory in front of `@keyv/redis`, cache-manager's own tiers);
 * - a hit through `TenantCacheInterceptor` + `@CacheResponse` on `memoryStore()`, on
 *   `redisStore({ url })` and on `tieredStore({ l1: memoryStore(), l2: redisStore({ url }) })` (ETag,
 *   X-Cache, Age and X-Cached-At headers on, as by default).
 *
 * Same connections and duration for every case; rounds interleaved (A B C A B C ...); the median round
 * of each case is reported, with ratios against the ceiling and against Nest's interceptor on the same
 * store. The Redis and tiered rows are skipped when no Redis answers (REDIS_URL, else redis://127.0.0.1:6379).
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/http.bench.ts`. Knobs:
 * HTTP_BENCH_CONNECTIONS (50), HTTP_BENCH_SECONDS (4), HTTP_BENCH_ROUNDS (3), HTTP_BENCH_PLATFORMS
 * (`express,fastify`). Where the time of a hit goes: bench/support/http-profile.ts.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { formatOps, median, ratio } from './support/measure.js';
import { BODY, type Platform, TENANT_HEADER, startHttpApp } from './support/http-app.js';
import { type LoadSample, loadInChild } from './support/http-load.js';
import { DEFAULT_REDIS_URL, redisReachable, removeKeys } from './support/redis.js';

const CONNECTIONS = Number(process.env.HTTP_BENCH_CONNECTIONS ?? 50);
// NOTE: 7 cases x 2 platforms x (1 s warm-up + 3 x 4 s) keeps the run near 3 minutes.
const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.HTTP_BENCH_ROUNDS ?? 3);
/** Warm-up per case before the rounds: fills the caches, JIT, connections. */
const WARMUP_SECONDS = 1;
const PLATFORMS = (process.env.HTTP_BENCH_PLATFORMS ?? 'express,fastify').split(',') as Platform[];

interface Case {
  name: string;
  path: string;
  store: 'memory' | 'redis' | 'tiered' | undefined;
  kind: 'ceiling' | 'nest' | 'ours';
}

const CASES: readonly Case[] = [
  { name: 'ceiling: no cache, no data wait', path: '/ceiling', store: undefined, kind: 'ceiling' },
  { name: 'hit: Nest CacheInterceptor, memory (cache-manager 7, Keyv)', path: '/nest-memory', store: 'memory', kind: 'nest' },
  { name: 'hit: TenantCacheInterceptor, memoryStore()', path: '/ours-memory', store: 'memory', kind: 'ours' },
  { name: 'hit: Nest CacheInterceptor, Redis (@keyv/redis)', path: '/nest-redis', store: 'redis', kind: 'nest' },
  { name: 'hit: TenantCacheInterceptor, redisStore({ url })', path: '/ours-redis', store: 'redis', kind: 'ours' },
  { name: 'hit: Nest CacheInterceptor, two stores (Keyv memory + @keyv/redis)', path: '/nest-tiered', store: 'tiered', kind: 'nest' },
  { name: 'hit: TenantCacheInterceptor, tieredStore(memory + redis)', path: '/ours-tiered', store: 'tiered', kind: 'ours' },
];

/** One measured case of one platform. */
interface Measured extends Case {
  platform: Platform;
  rps: number;
  p50: number;
  p99: number;
}

/** Fails unless `c` answers the ~1 KB body, and a cached case answers it as a hit (X-Cache: HIT). */
async function checkRoute(base: string, c: Case): Promise<void> {
  let last: Response | undefined;
  let body = '';
  for (let i = 0; i < 2; i++) {
    last = await fetch(`${base}${c.path}`, { headers: TENANT_HEADER });
    body = await last.text();
  }
  const hit = last!.headers.get('x-cache') === 'HIT';
  if (last!.status !== 200 || body !== JSON.stringify(BODY) || hit !== (c.kind !== 'ceiling')) {
    throw new Error(`${c.path}: status ${last!.status}, ${body.length} bytes, X-Cache ${last!.headers.get('x-cache')}: not the case it claims to be`);
  }
}

async function measurePlatform(platform: Platform, redisUrl: string | undefined, prefix: string): Promise<Measured[]> {
  const server = await startHttpApp(platform, redisUrl, prefix);
  try {
    const cases = CASES.filter((c) => (c.store !== 'redis' && c.store !== 'tiered') || redisUrl);
    for (const c of cases) await checkRoute(server.url, c);
    const load = (c: Case, seconds: number) => loadInChild(`${server.url}${c.path}`, { connections: CONNECTIONS, seconds, headers: TENANT_HEADER });
    for (const c of cases) await load(c, WARMUP_SECONDS);
    const samples = cases.map((): LoadSample[] => []);
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < cases.length; i++) samples[i]!.push(await load(cases[i]!, SECONDS));
    }
    return cases.map((c, i) => ({
      ...c,
      platform,
      rps: median(samples[i]!.map((s) => s.rps)),
      p50: median(samples[i]!.map((s) => s.p50)),
      p99: median(samples[i]!.map((s) => s.p99)),
    }));
  } finally {
    await server.close();
  }
}

/** `0.93x (below the goal)` for each ours-vs-base pair, and whether all reached `goal`. */
function goalLine(pairs: { label: string; value: number }[], goal: number): string {
  const parts = pairs.map((p) => `${p.label} ${p.value.toFixed(2)}x`);
  const lowest = Math.min(...pairs.map((p) => p.value));
  return `${parts.join(', ')}: lowest ${lowest.toFixed(2)}x (${lowest >= goal ? 'reached' : 'below the goal'})`;
}

/** Prints the HTTP table (the bench contract of `npm run bench`). */
export async function run(): Promise<void> {
  const candidate = process.env.BENCH_NO_REDIS ? undefined : (process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
  const redisUrl = candidate && (await redisReachable(candidate)) ? candidate : undefined;
  if (!redisUrl) console.log('No Redis: the Redis and tiered rows are skipped.');
  const prefix = `bench-http-${randomBytes(4).toString('hex')}:`;
  const measured: Measured[] = [];
  try {
    for (const platform of PLATFORMS) measured.push(...(await measurePlatform(platform, redisUrl, prefix)));
  } finally {
    if (redisUrl) await removeKeys(redisUrl, prefix);
  }

  console.log(
    `HTTP response cache: autocannon -c ${CONNECTIONS} -d ${SECONDS} in a child process, ${ROUNDS} interleaved rounds (median), ` +
      `1 s warm-up per case, loopback, ~1 KB JSON, TenantGuard from x-tenant-id on every route`,
  );
  const vsNest: { label: string; value: number }[] = [];
  const vsCeiling: { label: string; value: number }[] = [];
  const rows = measured.map((m) => {
    const ceiling = measured.find((o) => o.platform === m.platform && o.kind === 'ceiling')!.rps;
    const nest = measured.find((o) => o.platform === m.platform && o.kind === 'nest' && o.store === m.store)?.rps;
    if (m.kind === 'ours') {
      const label = `${m.platform} ${m.store}`;
      vsNest.push({ label, value: m.rps / nest! });
      vsCeiling.push({ label, value: m.rps / ceiling });
    }
    return {
      platform: m.platform,
      case: m.name,
      'req/s': formatOps(m.rps),
      'p50 ms': m.p50,
      'p99 ms': m.p99,
      'vs ceiling': ratio(m.rps, ceiling),
      'vs Nest, same store': nest === undefined ? '-' : ratio(m.rps, nest),
    };
  });
  console.table(rows);
  console.log(`Goal: HTTP hit through TenantCacheInterceptor >= 1.0x Nest's CacheInterceptor on the same store: ${goalLine(vsNest, 1.0)}`);
  console.log(`Goal: HTTP hit through TenantCacheInterceptor >= 0.9x the framework ceiling: ${goalLine(vsCeiling, 0.9)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
