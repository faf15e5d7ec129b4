/**
 * Codec benchmarks, side by side in one run:
 * - throughput (MB/s of serialized value) of `set` and `get` through TenantCacheService for 1 KiB,
 *   100 KiB and 10 MiB values with each codec option (values above 1 MiB are chunked), against the
 *   plain codec of the same size; the value is JSON-like text, so compression has something to do;
 * - the hot path: a plain 100-byte `get`/`set` against a raw store read + format-1 decode;
 * - memoizeIterable: time to the first item and to the last of 10,000 rows, hit vs recompute (the
 *   loader waits 5 ms before its first row, like a database query).
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/codec.bench.ts` (set REDIS_URL to add
 * the Redis store). `npm run bench` (bench/run.ts) calls `run`.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type CodecOptions, type StoreDefinition, TenantCacheModule, TenantCacheService, TenantContext, memoryStore, redisStore } from '../lib/index.js';
import { hasZstd } from '../lib/codec/codec.options.js';
import { CacheEngine } from '../lib/engine/cache-engine.js';
import { compare, ratio } from './support/measure.js';

/** One line of the bench table. */
export interface Row {
  benchmark: string;
  store: string;
  value: number;
  unit: 'MB/s' | 'ops/s' | 'ms';
  /** Against the row's baseline (the plain codec of the same size and operation, or a raw read). */
  ratio: string;
}

const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const SIZES: [string, number][] = [
  ['1 KiB', 1024],
  ['100 KiB', 100 * 1024],
  ['10 MiB', 10 * 1024 * 1024],
];

function options(): [string, CodecOptions][] {
  const out: [string, CodecOptions][] = [
    ['plain', {}],
    ['gzip', { compression: { algorithm: 'gzip' } }],
    ['deflate', { compression: { algorithm: 'deflate' } }],
    ['brotli', { compression: { algorithm: 'brotli' } }],
  ];
  if (hasZstd()) out.push(['zstd', { compression: { algorithm: 'zstd' } }]);
  out.push(['aes-256-gcm', { encryption: { secrets: [SECRET] } }], ['gzip + aes-256-gcm', { compression: { algorithm: 'gzip' }, encryption: { secrets: [SECRET] } }]);
  return out;
}

function stores(): { name: string; definition: () => StoreDefinition }[] {
  const out: { name: string; definition: () => StoreDefinition }[] = [
    { name: 'memory', definition: () => memoryStore({ maxEntries: 100_000, maxBytes: 1024 ** 3, maxValueBytes: 16 * 1024 * 1024 }) },
  ];
  if (process.env.REDIS_URL) out.push({ name: 'redis', definition: () => redisStore({ url: process.env.REDIS_URL! }) });
  return out;
}

async function app(store: StoreDefinition, codec: CodecOptions) {
  const keyPrefix = `bench-codec-${randomUUID().slice(0, 8)}:`;
  @Module({ imports: [TenantCacheModule.forRoot({ stores: { default: store }, keyPrefix, tenant: { middleware: false }, codec })] })
  class CodecBenchModule {}
  const ctx = await NestFactory.createApplicationContext(CodecBenchModule, { logger: false });
  const close = ctx.close.bind(ctx);
  // A shared Redis outlives the bench: leave nothing behind.
  return Object.assign(ctx, {
    close: async () => {
      await (await ctx.get(CacheEngine).store({ kind: 'shared' })).store.deleteByPrefix(keyPrefix);
      await close();
    },
  });
}

/** JSON-like text of `bytes` characters (compresses about 10x with gzip). */
function text(bytes: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += `{"id":${i},"sku":"SKU-${(i * 7919) % 100_000}","name":"Product ${i}","price":${(i % 997) / 10},"stock":${i % 13}},`;
  return out.slice(0, bytes);
}

/** Mean ms per call of `fn`, run for about `budget` ms (at least 3 times). */
async function timePerCall(fn: () => Promise<unknown>, budget = 400): Promise<number> {
  await fn();
  let n = 0;
  const start = performance.now();
  while (n < 3 || performance.now() - start < budget) {
    await fn();
    n++;
  }
  return (performance.now() - start) / n;
}

async function throughput(store: { name: string; definition: () => StoreDefinition }, rows: Row[]): Promise<void> {
  const base = new Map<string, number>();
  for (const [size, bytes] of SIZES) {
    const value = text(bytes);
    for (const [label, codec] of options()) {
      const ctx = await app(store.definition(), codec);
      const cache = ctx.get(TenantCacheService).forTenant('bench');
      const budget = bytes > 1024 * 1024 ? 1500 : 400;
      const setMs = await timePerCall(() => cache.set('v', value), budget);
      const getMs = await timePerCall(() => cache.get('v'), budget);
      if ((await cache.get('v')) !== value) throw new Error(`${label}: round trip failed`);
      for (const [op, ms] of [
        ['set', setMs],
        ['get', getMs],
      ] as const) {
        const mbs = bytes / 1024 / 1024 / (ms / 1000);
        if (label === 'plain') base.set(`${size} ${op}`, mbs);
        rows.push({ benchmark: `${op} ${size}, ${label}`, store: store.name, value: mbs, unit: 'MB/s', ratio: ratio(mbs, base.get(`${size} ${op}`)!) });
      }
      await ctx.close();
    }
  }
}

async function hotPath(store: { name: string; definition: () => StoreDefinition }, rows: Row[]): Promise<void> {
  let raw = 0;
  for (const [label, codec] of [
    ['plain', {}],
    ['aes-256-gcm', { encryption: { secrets: [SECRET] } }],
  ] as [string, CodecOptions][]) {
    const ctx = await app(store.definition(), codec);
    const cache = ctx.get(TenantCacheService).forTenant('bench');
    const engine = ctx.get(CacheEngine);
    const value = { id: 42, name: 'product 42', tags: ['a', 'b'], price: 9.99 };
    await cache.set('p', value);
    const scope = { kind: 'tenant', tenantId: 'bench' } as const;
    const resolved = await engine.store(scope);
    const physical = resolved.keys.entryKey(scope, await engine.generation(resolved, scope), 'p');
    // The baseline: what a hand-written read of a plain entry costs (the store call and the format-1 decode),
    // measured in the same interleaved rounds as the service's get and set.
    const [rawOps, get, set] = (await compare(
      [
        async () => {
          const bytes = await resolved.store.get(physical);
          return bytes && engine.codec.decode(bytes);
        },
        () => cache.get('p'),
        () => cache.set('p', value),
      ],
      { rounds: 5, ms: 300 },
    )) as [number, number, number];
    if (label === 'plain') raw = rawOps;
    if (label === 'plain') rows.push({ benchmark: 'hot path: raw store get + format-1 decode', store: store.name, value: raw, unit: 'ops/s', ratio: '1.00x' });
    rows.push({ benchmark: `hot path: get 100 B, ${label}`, store: store.name, value: get, unit: 'ops/s', ratio: ratio(get, raw) });
    rows.push({ benchmark: `hot path: set 100 B, ${label}`, store: store.name, value: set, unit: 'ops/s', ratio: ratio(set, raw) });
    await ctx.close();
  }
}

async function iterables(store: { name: string; definition: () => StoreDefinition }, rows: Row[]): Promise<void> {
  const N = 10_000;
  const loader = async function* () {
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < N; i++) yield { id: i, sku: `SKU-${i}`, name: `Product ${i}`, price: (i % 997) / 10 };
  };
  for (const [label, codec] of [
    ['plain', {}],
    ['gzip + aes-256-gcm', { compression: { algorithm: 'gzip' }, encryption: { secrets: [SECRET] } }],
  ] as [string, CodecOptions][]) {
    const ctx = await app(store.definition(), codec);
    const cache = ctx.get(TenantCacheService);
    const measure = async (key: string) => {
      const start = performance.now();
      let first = 0;
      let n = 0;
      for await (const _ of cache.memoizeIterable(key, loader)) if (n++ === 0) first = performance.now() - start;
      if (n !== N) throw new Error(`memoizeIterable yielded ${n} items`);
      return { first, all: performance.now() - start };
    };
    await TenantContext.run('bench', async () => {
      const misses: { first: number; all: number }[] = [];
      const hits: { first: number; all: number }[] = [];
      for (let i = 0; i < 5; i++) {
        misses.push(await measure(`rows-${i}`));
        hits.push(await measure(`rows-${i}`));
      }
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const missFirst = median(misses.map((m) => m.first));
      const missAll = median(misses.map((m) => m.all));
      const hitFirst = median(hits.map((m) => m.first));
      const hitAll = median(hits.map((m) => m.all));
      rows.push({ benchmark: `memoizeIterable first item, recompute (${label})`, store: store.name, value: missFirst, unit: 'ms', ratio: '1.00x' });
      rows.push({ benchmark: `memoizeIterable first item, hit (${label})`, store: store.name, value: hitFirst, unit: 'ms', ratio: ratio(hitFirst, missFirst) });
      rows.push({ benchmark: `memoizeIterable all ${N} items, recompute + store (${label})`, store: store.name, value: missAll, unit: 'ms', ratio: '1.00x' });
      rows.push({ benchmark: `memoizeIterable all ${N} items, hit (${label})`, store: store.name, value: hitAll, unit: 'ms', ratio: ratio(hitAll, missAll) });
    });
    await ctx.close();
  }
}

/** Runs every case on every available store and returns the rows (ratios filled in). */
export async function measureCodec(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const store of stores()) {
    await hotPath(store, rows);
    await throughput(store, rows);
    await iterables(store, rows);
  }
  return rows;
}

/** The rows as an aligned text table. */
export function formatRows(rows: readonly Row[]): string {
  const cells = rows.map((r) => [
    r.benchmark,
    r.store,
    r.unit === 'ops/s' ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(r.unit === 'ms' ? 2 : 1),
    r.unit,
    r.ratio,
  ]);
  const head = ['benchmark', 'store', 'value', 'unit', 'ratio'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 2 || i === 4 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Prints the codec table (the bench contract of `npm run bench`). */
export async function run(): Promise<void> {
  console.log(formatRows(await measureCodec()));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
