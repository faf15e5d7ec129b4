/**
 * HTTP response cache benchmark, side by side in one run against the same app: a cached response
 * served through our `TenantCacheInterceptor` vs `@nestjs/cache-manager`'s `CacheInterceptor`
 * (cache-manager 7, in-memory Keyv) vs no cache (the handler does a simulated 5 ms data call), over
 * real HTTP on loopback with autocannon (same connections and duration for each case, cases
 * interleaved over several rounds, median reported), on Express and Fastify. Both caches use an
 * in-memory store; every request goes through the same guard (TenantGuard) and carries a tenant.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/http.bench.ts`. Knobs:
 * HTTP_BENCH_CONNECTIONS (10), HTTP_BENCH_SECONDS (3), HTTP_BENCH_ROUNDS (3), HTTP_BENCH_WORKERS (1),
 * HTTP_BENCH_HEADERS=off (our X-Cache/Age/X-Cached-At/ETag headers off, to see what they cost).
 * `npm run bench` (bench/run.ts) calls `run`.
 */
import 'reflect-metadata';
import { CacheInterceptor, CacheModule, CacheTTL } from '@nestjs/cache-manager';
import { Controller, Get, type INestApplication, Logger, Module, Query, UseInterceptors } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import autocannon from 'autocannon';
import { CacheResponse, TenantCacheInterceptor, TenantCacheModule, TenantGuard, memoryStore } from '../lib/index.js';

/** One line of the table. */
export interface HttpRow {
  platform: string;
  body: string;
  case: string;
  'req/s': number;
  'p50 ms': number;
  'p99 ms': number;
  'vs Nest CacheInterceptor': string;
}

/** Few enough connections that the 5 ms data call, not the CPU, bounds the uncached case. */
const CONNECTIONS = Number(process.env.HTTP_BENCH_CONNECTIONS ?? 10);
const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.HTTP_BENCH_ROUNDS ?? 3);
/** autocannon runs in its own worker thread, so the load generator does not share the server's event loop. */
const WORKERS = Number(process.env.HTTP_BENCH_WORKERS ?? 1);

/** A catalogue page of `items` products: 20 items is about 2 KB of JSON, 200 about 20 KB. */
function page(items: number) {
  return {
    page: 1,
    items: Array.from({ length: items }, (_, i) => ({ id: `p-${i}`, name: `Product ${i}`, price: 10 + i, tags: ['a', 'b'], inStock: i % 2 === 0 })),
  };
}

/** Page sizes measured: `?items=` of every route. */
const SIZES = [
  { items: 20, label: '~2 KB' },
  { items: 200, label: '~20 KB' },
];

const dataCall = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

@Controller()
class BenchController {
  @UseInterceptors(TenantCacheInterceptor)
  @CacheResponse({ ttl: 600_000, scope: 'tenant' })
  @Get('ours')
  async ours(@Query('items') items: string) {
    await dataCall();
    return page(Number(items));
  }

  @UseInterceptors(CacheInterceptor)
  @CacheTTL(600_000)
  @Get('nest')
  async nest(@Query('items') items: string) {
    await dataCall();
    return page(Number(items));
  }

  @Get('none')
  async none(@Query('items') items: string) {
    await dataCall();
    return page(Number(items));
  }
}

@Module({
  imports: [
    TenantCacheModule.forRoot({
      stores: { default: memoryStore({ maxEntries: 10_000 }) },
      keyPrefix: 'bench-http:',
      ...(process.env.HTTP_BENCH_HEADERS === 'off' ? { http: { headers: { xCache: false, age: false, etag: false } } } : {}),
    }),
    CacheModule.register({ ttl: 600_000 }),
  ],
  controllers: [BenchController],
  providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
})
class BenchModule {}

export async function start(platform: 'express' | 'fastify'): Promise<{ app: INestApplication; url: string }> {
  const app =
    platform === 'fastify' ? await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false }) : await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
}

async function load(url: string, seconds: number): Promise<Sample> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers: { 'x-tenant-id': 'acme' }, workers: WORKERS });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Measures the three cases on one platform for each page size, interleaved. */
export async function measureHttp(platform: 'express' | 'fastify'): Promise<HttpRow[]> {
  const { app, url } = await start(platform);
  try {
    const kinds = [
      { name: 'hit: TenantCacheInterceptor (ours)', path: '/ours' },
      { name: 'hit: @nestjs/cache-manager CacheInterceptor', path: '/nest' },
      { name: 'no cache (5 ms data call)', path: '/none' },
    ];
    const rows: HttpRow[] = [];
    for (const size of SIZES) {
      const cases = kinds.map((k) => ({ ...k, url: `${url}${k.path}?items=${size.items}` }));
      // Warm-up: fills both caches, JIT, connections.
      for (const c of cases) await load(c.url, 1);
      const samples = cases.map((): Sample[] => []);
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < cases.length; i++) samples[i]!.push(await load(cases[i]!.url, SECONDS));
      }
      const medians = cases.map((c, i) => ({
        name: c.name,
        rps: median(samples[i]!.map((s) => s.rps)),
        p50: median(samples[i]!.map((s) => s.p50)),
        p99: median(samples[i]!.map((s) => s.p99)),
      }));
      const nest = medians[1]!.rps;
      for (const m of medians) {
        rows.push({
          platform,
          body: size.label,
          case: m.name,
          'req/s': Math.round(m.rps),
          'p50 ms': m.p50,
          'p99 ms': m.p99,
          'vs Nest CacheInterceptor': `${(m.rps / nest).toFixed(2)}x`,
        });
      }
    }
    return rows;
  } finally {
    await app.close();
  }
}

/** Prints the HTTP table (the bench contract of `npm run bench`). */
export async function run(): Promise<void> {
  const rows = [...(await measureHttp('express')), ...(await measureHttp('fastify'))];
  console.log(`HTTP response cache: ${CONNECTIONS} connections, ${SECONDS} s per case per round, ${ROUNDS} interleaved rounds (median), loopback, same process`);
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
