/**
 * The observability bench (issue 15): what metrics and spans cost a getOrSet hit, side by side in one run,
 * on memory and on Redis:
 * - `metrics: false`: no OpenTelemetry (the in-process `cache.stats()` counters are always on);
 * - metrics on, no provider registered: the module sees none at start-up and loads nothing;
 * - metrics on with a MeterProvider registered (the SDK's, with a reader): every store round trip counted,
 *   one in `metrics.storeDurationSampling` (default 16) timed for the duration histogram;
 * - the same with `storeDurationSampling: 1`: every round trip timed (the cost of exact timing);
 * - metrics and a TracerProvider registered (a span per call and per Redis command, exported to nowhere).
 * Ratios are against `metrics: false` of the same store. Goal: >= 0.99x without a provider, >= 0.95x
 * with a meter provider.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/observability.bench.ts`
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type SpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type StoreDefinition, type TenantCacheModuleOptions, TenantCacheModule, TenantCacheService, TenantContext, memoryStore, redisStore } from '../lib/index.js';
import { compare, formatOps, ratio } from './support/measure.js';
import { DEFAULT_REDIS_URL, redisReachable } from './support/redis.js';

const KEYS = 1000;

/** Drops every span: the bench measures making spans, not keeping them. */
const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };

class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

async function app(store: StoreDefinition, options: Partial<TenantCacheModuleOptions>) {
  @Module({ imports: [TenantCacheModule.forRoot({ stores: { default: store }, keyPrefix: `bench-obs-${randomUUID().slice(0, 8)}:`, ...options })] })
  class AppModule {}
  const ctx = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const cache = ctx.get(TenantCacheService);
  await TenantContext.run('acme', async () => {
    for (let i = 0; i < KEYS; i++) await cache.set(`k${i}`, { i, name: 'x'.repeat(100) });
  });
  let i = 0;
  const hit = () => TenantContext.run('acme', () => cache.getOrSet(`k${i++ % KEYS}`, () => ({ i: -1 })));
  return { hit, close: () => ctx.close() };
}

async function section(name: string, store: () => StoreDefinition, concurrency: number): Promise<void> {
  const off = await app(store(), { metrics: false });
  const noProvider = await app(store(), {});
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  const withMeter = await app(store(), {});
  const timedAll = await app(store(), { metrics: { storeDurationSampling: 1 } });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(dropSpans)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const withTracer = await app(store(), {});
  metrics.disable();
  trace.disable();
  try {
    const cases = [off, noProvider, withMeter, timedAll, withTracer];
    const ops = await compare(
      cases.map((c) => c.hit),
      { rounds: 9, ms: 200, concurrency, warmup: 3000 },
    );
    await reader.collect(); // the observable counters are read at collection, not per call
    const labels = ['metrics: false', 'metrics on, no provider', 'MeterProvider registered', 'MeterProvider, storeDurationSampling: 1', 'MeterProvider + TracerProvider'];
    console.table(labels.map((label, i) => ({ [`getOrSet hit, ${name}`]: label, 'ops/s': formatOps(ops[i]!), 'vs off': ratio(ops[i]!, ops[0]!) })));
  } finally {
    await Promise.all([off, noProvider, withMeter, timedAll, withTracer].map((c) => c.close()));
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  }
}

export async function run(): Promise<void> {
  Logger.overrideLogger(false);
  console.log('\nObservability: a getOrSet hit with metrics off, on without a provider, and with providers registered.');
  console.log('Goal: >= 0.99x without a provider and >= 0.95x with a meter provider (issue 15).');
  await section('memory', () => memoryStore(), 1);
  const url = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  if (process.env.BENCH_NO_REDIS !== '1' && (await redisReachable(url))) await section('redis', () => redisStore({ url }), 50);
  else console.log('Redis rows skipped: no Redis.');
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
