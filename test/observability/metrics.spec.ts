import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Histogram } from '@opentelemetry/sdk-metrics';
import { memoryStore, redisStore } from '../../lib/index.js';
import { as, boot, sleep } from '../decorators/fixtures.js';
import { sharedRedisUrl } from '../support/redis-server.js';
import { type MetricsHarness, registerMeterProvider, series } from './otel-support.js';

// OpenTelemetry metrics (issue 15, items 1 and 2) against the SDK's real MeterProvider and a pull reader.

let otel: MetricsHarness;
let closers: (() => Promise<void>)[] = [];
beforeEach(() => {
  otel = registerMeterProvider();
});
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
  await otel.stop();
});

async function start(...args: Parameters<typeof boot>) {
  const app = await boot(...args);
  closers.push(app.close);
  return app;
}

describe('tenant_cache.* metrics', () => {
  it('N hits and M misses give exactly those series, labelled by tenant with tenantLabel: top', async () => {
    const { cache } = await start(memoryStore(), [], { metrics: { tenantLabel: 'top' } });
    for (let i = 0; i < 4; i++) await as('acme', () => cache.getOrSet(`k${i}`, () => i)); // 4 misses
    for (let i = 0; i < 7; i++) await as('acme', () => cache.getOrSet('k1', () => -1)); // 7 hits
    const requests = series(await otel.points('tenant_cache.requests'));
    const base = { store: 'default', tenant: 'acme', tier: 'memory', operation: 'getOrSet' };
    expect(requests).toEqual(
      expect.arrayContaining([
        { attributes: { ...base, result: 'hit' }, value: 7 },
        { attributes: { ...base, result: 'miss' }, value: 4 },
      ]),
    );
    expect(requests).toHaveLength(2);
    expect(series(await otel.points('tenant_cache.loads'))).toEqual([{ attributes: { store: 'default', tenant: 'acme', outcome: 'ok' }, value: 4 }]);
    // A second collection reports the same cumulative counts (nothing happened in between).
    expect(series(await otel.points('tenant_cache.requests'))).toEqual(requests);
  });

  it('tenantLabel none (the default) has no tenant label', async () => {
    const { cache } = await start(memoryStore(), []);
    for (const t of ['a', 'b', 'c']) await as(t, () => cache.getOrSet('k', () => t));
    expect(series(await otel.points('tenant_cache.requests'))).toEqual([
      { attributes: { store: 'default', tier: 'memory', operation: 'getOrSet', result: 'miss' }, value: 3 },
    ]);
  });

  it('with 10,000 tenants, the 50 busiest get their own series and the rest share other: at most 51 tenant labels per metric', async () => {
    const { cache } = await start(memoryStore({ maxEntries: 50_000 }), [], { metrics: { tenantLabel: 'top' } });
    // 60 busy tenants (busy-i makes 100 - i requests) among 10,000 tenants that make one request each.
    let light = 0;
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 60; i++) if (round < 100 - i) await as(`busy-${i}`, () => cache.getOrSet('k', () => i));
      for (let j = 0; j < 100; j++, light++) await as(`t${light}`, () => cache.getOrSet('k', () => j));
    }
    const requests = await otel.points('tenant_cache.requests');
    const tenants = new Set(requests.map((p) => p.attributes.tenant));
    expect([...tenants].sort()).toEqual([...Array.from({ length: 50 }, (_, i) => `busy-${i}`), 'other'].sort());
    const count = (tenant: string, result: string) => requests.find((p) => p.attributes.tenant === tenant && p.attributes.result === result)?.value;
    expect([count('busy-0', 'miss'), count('busy-0', 'hit')]).toEqual([1, 99]); // its counts from the window it got its slot in
    expect([count('busy-49', 'miss'), count('busy-49', 'hit')]).toEqual([1, 50]);
    expect(count('other', 'miss')).toBe(10_000 + 10); // the light tenants and busy-50..59
    expect(requests.reduce((n, p) => n + (p.value as number), 0)).toBe(10_000 + 4230);
    for (const name of ['tenant_cache.loads', 'tenant_cache.loader.duration']) {
      expect(new Set((await otel.points(name)).map((p) => p.attributes.tenant)).size, name).toBeLessThanOrEqual(51);
    }

    // Slots are kept: a tenant that becomes the busiest later stays in other, and the series do not grow.
    for (let n = 0; n < 300; n++) await as('late', () => cache.getOrSet('k', () => n));
    const after = await otel.points('tenant_cache.requests');
    expect(new Set(after.map((p) => p.attributes.tenant))).toEqual(tenants);
    expect(after.find((p) => p.attributes.tenant === 'other' && p.attributes.result === 'hit')?.value).toBe(445 + 299);
  }, 60_000);

  it('tenants equally busy: none stands out, all share other (one series per result)', async () => {
    const { cache } = await start(memoryStore({ maxEntries: 50_000 }), [], { metrics: { tenantLabel: 'top' } });
    for (let i = 0; i < 2000; i++) await as(`t${i}`, () => cache.getOrSet('k', () => i));
    for (let i = 0; i < 2000; i++) await as(`t${i}`, () => cache.getOrSet('k', () => -1));
    expect(series(await otel.points('tenant_cache.requests'))).toEqual(
      expect.arrayContaining([
        { attributes: { store: 'default', tenant: 'other', tier: 'memory', operation: 'getOrSet', result: 'miss' }, value: 2000 },
        { attributes: { store: 'default', tenant: 'other', tier: 'memory', operation: 'getOrSet', result: 'hit' }, value: 2000 },
      ]),
    );
    expect(await otel.points('tenant_cache.requests')).toHaveLength(2);
  }, 60_000);

  it('a tenantLabel function maps tenants to a small set of labels', async () => {
    const plan = (tenant: string) => (tenant.startsWith('pro-') ? 'pro' : 'free');
    const { cache } = await start(memoryStore(), [], { metrics: { tenantLabel: plan, topTenants: 1 } });
    for (const t of ['pro-1', 'pro-2', 'free-1', 'free-2', 'free-3']) await as(t, () => cache.getOrSet('k', () => t));
    const byTenant = Object.fromEntries(series(await otel.points('tenant_cache.requests')).map((s) => [s.attributes.tenant, s.value]));
    expect(byTenant).toEqual({ pro: 2, free: 3 });
  });

  it('a stale serve is counted as stale, never as a hit', async () => {
    const { cache } = await start(memoryStore(), [], { metrics: { tenantLabel: 'top' } });
    await as('acme', () => cache.getOrSet('p', () => 1, { ttl: 40, grace: 60_000 }));
    await sleep(90);
    expect(await as('acme', () => cache.getOrSet('p', () => Promise.reject(new Error('down')), { ttl: 40, grace: 60_000 }))).toBe(1);
    const results = Object.fromEntries(series(await otel.points('tenant_cache.requests')).map((s) => [s.attributes.result, s.value]));
    expect(results).toEqual({ miss: 1, stale: 1 });
    expect(series(await otel.points('tenant_cache.loads')).map((s) => [s.attributes.outcome, s.value])).toEqual(
      expect.arrayContaining([
        ['ok', 1],
        ['error', 1],
      ]),
    );
  });

  it('loader durations are a histogram in seconds with buckets from 1 microsecond', async () => {
    const { cache } = await start(memoryStore(), []);
    await as('acme', () => cache.getOrSet('slow', () => sleep(30).then(() => 1)));
    const [point] = await otel.points('tenant_cache.loader.duration');
    const h = point!.value as Histogram;
    expect(h.count).toBe(1);
    expect(h.sum).toBeGreaterThan(0.02);
    expect(h.sum).toBeLessThan(5);
    expect(h.buckets.boundaries[0]).toBe(0.000001);
    expect(point!.attributes).toEqual({ store: 'default', outcome: 'ok' });
  });

  it('memory stores report entries and bytes as gauges, and evictions', async () => {
    const { cache } = await start(memoryStore({ maxEntries: 5 }), []);
    for (let i = 0; i < 8; i++) await as('acme', () => cache.set(`k${i}`, 'x'.repeat(10)));
    const entries = series(await otel.points('tenant_cache.store.entries'));
    expect(entries).toEqual([{ attributes: { store: 'default', tier: 'memory' }, value: 5 }]);
    const [bytes] = series(await otel.points('tenant_cache.store.bytes'));
    expect(bytes!.value).toBeGreaterThan(50);
    expect(series(await otel.points('tenant_cache.evictions'))).toEqual([{ attributes: { store: 'default', tier: 'memory', reason: 'size' }, value: 4 }]);
  });

  it('Redis round trips are a histogram by operation; invalidations are counted by kind', async () => {
    // NOTE: every round trip timed (the default times one in 16): store-operations.spec.ts tests the sampling.
    const { cache } = await start(redisStore({ url: sharedRedisUrl() }), [], { metrics: { tenantLabel: 'top', storeDurationSampling: 1 } });
    await as('acme', () => cache.getOrSet('k', () => 1));
    await as('acme', () => cache.getOrSet('k', () => 1));
    await as('acme', () => cache.invalidateTag('news'));
    const durations = await otel.points('tenant_cache.store.duration');
    const gets = durations.find((p) => p.attributes.operation === 'getThen' || p.attributes.operation === 'get');
    expect(gets, JSON.stringify(series(durations).map((s) => s.attributes))).toBeDefined();
    expect((gets!.value as Histogram).count).toBeGreaterThanOrEqual(2);
    expect(gets!.attributes).toMatchObject({ store: 'default', tier: 'redis' });
    expect(series(await otel.points('tenant_cache.invalidations'))).toEqual([{ attributes: { store: 'default', tenant: 'acme', kind: 'tag' }, value: 1 }]);
  });

  it('metrics: false registers nothing', async () => {
    const { cache } = await start(memoryStore(), [], { metrics: false });
    await as('acme', () => cache.getOrSet('k', () => 1));
    expect(await otel.collect()).toEqual([]);
    expect(cache.stats().requests.miss).toBe(1); // stats stay on
  });
});
