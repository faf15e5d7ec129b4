import 'reflect-metadata';
import { createClient } from '@redis/client';
import { type Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { redisStore } from '../../lib/index.js';
import type { CacheStore } from '../../lib/stores/cache-store.interface.js';
import { as, boot } from '../decorators/fixtures.js';
import { sharedRedisUrl, startRedisServer } from '../support/redis-server.js';
import { type MetricsHarness, type TracesHarness, registerMeterProvider, registerTracerProvider } from './otel-support.js';

// Remote store round trips (issue 15): counted exactly in `tenant_cache.store.operations`, timed one in
// `metrics.storeDurationSampling` in `tenant_cache.store.duration`; real Redis, the SDK's real providers.

let meters: MetricsHarness | undefined;
let traces: TracesHarness | undefined;
let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
  await meters?.stop();
  await traces?.stop();
  meters = traces = undefined;
});

async function start(url: string, metrics: Record<string, unknown> = {}) {
  const app = await boot(redisStore({ url }), [], { metrics });
  closers.push(app.close);
  return app;
}

/** `operation` -> value of a metric's series (one store here): a count, or a histogram's count. */
async function byOperation(name: string): Promise<Record<string, number>> {
  const points = await meters!.points(name);
  return Object.fromEntries(points.map((p) => [p.attributes.operation as string, typeof p.value === 'number' ? p.value : (p.value as Histogram).count]));
}

/** Calls of a Redis command so far (`INFO commandstats`), on a server no other test uses. */
async function commandCalls(url: string, command: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const info = (await client.sendCommand(['INFO', 'commandstats'])) as string;
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  } finally {
    await client.close();
  }
}

describe('tenant_cache.store.operations', () => {
  it('N getOrSet hits on Redis are N GET round trips, counted exactly (the server agrees)', async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    meters = registerMeterProvider();
    const { cache } = await start(redis.url);
    await as('acme', () => cache.getOrSet('k', () => 1)); // the miss: generation and entry written
    const before = await byOperation('tenant_cache.store.operations');
    const getsBefore = await commandCalls(redis.url, 'get');
    const n = 37;
    for (let i = 0; i < n; i++) expect(await as('acme', () => cache.getOrSet('k', () => -1))).toBe(1);
    const after = await byOperation('tenant_cache.store.operations');
    expect(after.getThen! - (before.getThen ?? 0)).toBe(n);
    expect(await commandCalls(redis.url, 'get')).toBe(getsBefore + n);
    // Nothing else made a round trip for a hit.
    expect(Object.entries(after).filter(([op, v]) => op !== 'getThen' && v !== before[op])).toEqual([]);
    const [operation] = await meters.points('tenant_cache.store.operations');
    expect(operation!.attributes).toMatchObject({ store: 'default', tier: 'redis' });
    // Read-throughs on an instrumented store carry the store's own tier.
    expect(cache.stats().stores.default).toMatchObject({ tier: 'redis', breaker: 'closed' });
    const requests = await meters.points('tenant_cache.requests');
    expect(requests.map((p) => [p.attributes.tier, p.attributes.result, p.value])).toEqual(
      expect.arrayContaining([
        ['redis', 'hit', n],
        ['redis', 'miss', 1],
      ]),
    );
  });

  it('storeDurationSampling: 1 times every round trip: the histogram counts equal the operation counts', async () => {
    meters = registerMeterProvider();
    const { cache } = await start(sharedRedisUrl(), { storeDurationSampling: 1 });
    for (let i = 0; i < 5; i++) await as('acme', () => cache.getOrSet(`k${i % 3}`, () => i));
    await as('acme', () => cache.set('s', 'v'));
    await as('acme', () => cache.delete('s'));
    await as('acme', () => cache.invalidateTag('news'));
    const operations = await byOperation('tenant_cache.store.operations');
    expect(operations.getThen).toBeGreaterThanOrEqual(5); // a miss reads again before it loads
    expect(Object.keys(operations).length).toBeGreaterThan(3);
    expect(await byOperation('tenant_cache.store.duration')).toEqual(operations);
  });

  it.each([
    [4, 17, 5],
    [undefined, 40, 3], // the default: one in 16
  ])('storeDurationSampling %s times the 1st call of each member, then one in N (%i reads: %i timed)', async (sampling, reads, timed) => {
    meters = registerMeterProvider();
    const { cache } = await start(sharedRedisUrl(), sampling === undefined ? {} : { storeDurationSampling: sampling });
    for (let i = 0; i < reads; i++) await as('acme', () => cache.get(`k${i}`));
    const operations = await byOperation('tenant_cache.store.operations');
    const durations = await byOperation('tenant_cache.store.duration');
    expect(operations.getThen).toBe(reads);
    expect(durations.getThen).toBe(timed);
    const every = sampling ?? 16;
    for (const [op, n] of Object.entries(operations)) expect(durations[op], op).toBe(Math.ceil(n / every));
  });

  it('with a tracer registered every round trip is a span; the histogram is still sampled', async () => {
    meters = registerMeterProvider();
    traces = registerTracerProvider();
    const { cache } = await start(sharedRedisUrl(), { storeDurationSampling: 4 });
    for (let i = 0; i < 8; i++) await as('acme', () => cache.get(`k${i}`));
    const operations = await byOperation('tenant_cache.store.operations');
    expect(operations.getThen).toBe(8);
    expect((await byOperation('tenant_cache.store.duration')).getThen).toBe(2);
    const gets = traces.spans().filter((s) => s.name === 'GET');
    expect(gets).toHaveLength(operations.getThen! + (operations.get ?? 0));
    expect(gets.every((s) => s.attributes['db.system.name'] === 'redis')).toBe(true);
  });

  it('the instrumented store reads the Redis store live, and writes reach the Redis store, never the wrapper', async () => {
    meters = registerMeterProvider();
    let created: CacheStore | undefined;
    const definition = redisStore({ url: sharedRedisUrl() });
    const app = await boot({ ...definition, create: async (alias, context) => (created = await definition.create(alias, context)) }, []);
    closers.push(app.close);
    const { cache, moduleRef } = app;
    await as('acme', () => cache.get('k'));
    const wrapped = (await moduleRef.get(StoreRegistry).get('default')).store as unknown as Record<string, unknown> & { capabilities: CacheStore['capabilities'] };
    const target = created as CacheStore & Record<string, unknown>;
    expect(wrapped).not.toBe(target);
    expect(wrapped.constructor).toBe(target.constructor);
    expect(wrapped instanceof (target.constructor as new () => unknown)).toBe(true);
    expect(wrapped.capabilities).toBe(target.capabilities);
    expect(wrapped.state).toBe('closed');
    // An existing property and a new one, written through the wrapper: both land on the store.
    wrapped.capabilities = { ...target.capabilities, maxKeyLength: 99 };
    wrapped.addedLater = 1;
    expect(target.capabilities.maxKeyLength).toBe(99);
    expect(target.addedLater).toBe(1);
    expect(Object.keys(wrapped)).not.toContain('addedLater');
    target.addedLater = 2;
    expect(wrapped.addedLater).toBe(2);
    expect(typeof wrapped.getSync).toBe('undefined');
  });
});
