/**
 * Decorator and tag benchmarks, side by side in one run:
 * - a `@CacheResult` method hit vs the same read through `TenantCacheService.getOrSet` vs a hand-written
 *   read of the raw store (`store.get` + decode), in ops/s;
 * - invalidating a versioned tag vs a plain (indexed) tag that tags 10^3 and 10^5 entries, in ms.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/decorators.bench.ts`
 * (set REDIS_URL to add the Redis store when it is available). `npm run bench` (bench/run.ts) calls `run`.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as lib from '../lib/index.js';
import { CacheResult, KeyConstructor, type StoreDefinition, TenantCacheModule, TenantCacheService, TenantContext, memoryStore, versioned } from '../lib/index.js';
import { CacheEngine } from '../lib/engine/cache-engine.js';
import { compare } from './support/measure.js';

/** One line of the bench table. */
export interface Row {
  benchmark: string;
  store: string;
  value: number;
  unit: 'ops/s' | 'ms';
  /** Against the row's baseline (raw store read, or plain tag invalidation of the same size). */
  ratio: string;
}

class ProductKey extends KeyConstructor<[id: string]> {
  id = this.arg(0);
}

@Injectable()
class BenchService {
  @CacheResult({ key: ProductKey, ttl: 600_000 })
  async getProduct(id: string): Promise<{ id: string; name: string; price: number }> {
    return { id, name: `product ${id}`, price: 42 };
  }
}

async function app(store: StoreDefinition, prefix: string) {
  @Module({ imports: [TenantCacheModule.forRoot({ stores: { default: store }, keyPrefix: prefix, tenant: { middleware: false } })], providers: [BenchService] })
  class BenchModule {}
  const ctx = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  return ctx;
}

function stores(): { name: string; definition: () => StoreDefinition }[] {
  const out: { name: string; definition: () => StoreDefinition }[] = [{ name: 'memory', definition: () => memoryStore({ maxEntries: 400_000, maxBytes: 1024 ** 3 }) }];
  const redisStore = (lib as Record<string, unknown>).redisStore as ((o: { url: string }) => StoreDefinition) | undefined;
  if (redisStore && process.env.REDIS_URL) out.push({ name: 'redis', definition: () => redisStore({ url: process.env.REDIS_URL! }) });
  return out;
}

/** Runs every case on every available store and returns the rows (ratios filled in). */
export async function measureDecorators(sizes: readonly number[] = [1_000, 100_000]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { name, definition } of stores()) {
    const prefix = `bench-${randomUUID().slice(0, 8)}:`;
    const ctx = await app(definition(), prefix);
    const svc = ctx.get(BenchService);
    const cache = ctx.get(TenantCacheService);
    const engine = ctx.get(CacheEngine);
    await TenantContext.run('bench', async () => {
      await svc.getProduct('p1');
      await cache.getOrSet('product:p1', async () => ({ id: 'p1', name: 'product p1', price: 42 }), { ttl: 600_000 });
      // The hand-written baseline: a fixed physical key read from the raw store and decoded.
      const scope = { kind: 'tenant', tenantId: 'bench' } as const;
      const resolved = await engine.store(scope);
      const physical = resolved.keys.entryKey(scope, await engine.generation(resolved, scope), 'product:p1');
      const [raw, service, decorated] = (await compare([
        async () => {
          const bytes = await resolved.store.get(physical);
          return bytes && resolved.codec.decode(bytes, physical, scope);
        },
        () => cache.getOrSet('product:p1', async () => ({ id: 'p1', name: 'x', price: 42 }), { ttl: 600_000 }),
        () => svc.getProduct('p1'),
      ])) as [number, number, number];
      rows.push({ benchmark: 'hit: raw store get + decode', store: name, value: raw, unit: 'ops/s', ratio: '1.00x' });
      rows.push({ benchmark: 'hit: TenantCacheService.getOrSet', store: name, value: service, unit: 'ops/s', ratio: `${(service / raw).toFixed(2)}x` });
      rows.push({ benchmark: 'hit: @CacheResult method', store: name, value: decorated, unit: 'ops/s', ratio: `${(decorated / raw).toFixed(2)}x` });

      for (const size of sizes) {
        const plainTag = `plain-${size}`;
        const versionedTag = versioned(`versioned-${size}`);
        const batch = 1000;
        for (let i = 0; i < size; i += batch) {
          await Promise.all(
            Array.from({ length: Math.min(batch, size - i) }, (_, j) =>
              Promise.all([
                cache.set(`p:${size}:${i + j}`, i + j, { ttl: 600_000, tags: [plainTag] }),
                cache.set(`v:${size}:${i + j}`, i + j, { ttl: 600_000, tags: [versionedTag] }),
              ]),
            ),
          );
        }
        let t = performance.now();
        await cache.invalidateTag(versionedTag);
        const versionedMs = performance.now() - t;
        t = performance.now();
        const deleted = await cache.invalidateTag(plainTag);
        const plainMs = performance.now() - t;
        if (deleted !== size) throw new Error(`plain tag invalidation deleted ${deleted} of ${size}`);
        rows.push({ benchmark: `plain tag invalidation, ${size} entries`, store: name, value: plainMs, unit: 'ms', ratio: '1.00x' });
        rows.push({
          benchmark: `versioned tag invalidation, ${size} entries`,
          store: name,
          value: versionedMs,
          unit: 'ms',
          ratio: `${(versionedMs / plainMs).toFixed(4)}x`,
        });
      }
      await cache.clear();
    });
    // A shared Redis outlives the bench: clear() keeps the generation counter, so remove the whole prefix.
    await (await engine.store({ kind: 'shared' })).store.deleteByPrefix(prefix);
    await ctx.close();
  }
  return rows;
}

/** The rows as an aligned text table. */
export function formatRows(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.benchmark, r.store, r.unit === 'ms' ? r.value.toFixed(2) : Math.round(r.value).toLocaleString('en-US'), r.unit, r.ratio]);
  const head = ['benchmark', 'store', 'value', 'unit', 'ratio'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 2 || i === 4 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Prints the decorator and tag table (the bench contract of `npm run bench`). */
export async function run(): Promise<void> {
  console.log(formatRows(await measureDecorators()));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
