import 'reflect-metadata';
import diagnosticsChannel from 'node:diagnostics_channel';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Injectable, Module, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  CacheResponse,
  CacheResult,
  TENANT_CACHE_CHANNELS,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  TenantGuard,
  type TenantRequestMessage,
  fromHeader,
  memoryStore,
  redisStore,
} from '../../lib/index.js';
import { as, boot, gate, sleep } from '../decorators/fixtures.js';
import { sharedRedisUrl } from '../support/redis-server.js';
import { startApp } from '../http/http-app.js';
import { type TracesHarness, registerTracerProvider } from './otel-support.js';

// Spans (issue 15, item 3) against the SDK's BasicTracerProvider and InMemorySpanExporter, and the
// node:diagnostics_channel messages.

let otel: TracesHarness;
let closers: (() => Promise<void>)[] = [];
beforeEach(() => {
  otel = registerTracerProvider();
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

const named = (name: string) => otel.spans().filter((s) => s.name === name);
const attrs = (s: ReadableSpan) => ({ ...s.attributes });

describe('spans', () => {
  it('getOrSet: a miss with its loader as a child span, then a hit; no key recorded by default', async () => {
    const { cache } = await start(memoryStore(), []);
    await as('acme', () => cache.getOrSet('user:42:email', () => sleep(5).then(() => 'x@example.com')));
    await as('acme', () => cache.getOrSet('user:42:email', () => 'never'));
    const [miss, hit] = named('tenant_cache getOrSet');
    expect(attrs(miss!)).toMatchObject({
      'tenant_cache.operation': 'getOrSet',
      'tenant_cache.tenant': 'acme',
      'tenant_cache.store': 'default',
      'tenant_cache.tier': 'memory',
      'tenant_cache.hit': false,
      'tenant_cache.result': 'miss',
      'tenant_cache.stale': false,
      'tenant_cache.single_flight.joined': false,
    });
    expect(attrs(hit!)).toMatchObject({ 'tenant_cache.hit': true, 'tenant_cache.result': 'hit' });
    const [loader] = named('tenant_cache loader');
    expect(named('tenant_cache loader')).toHaveLength(1);
    expect(loader!.parentSpanContext?.spanId).toBe(miss!.spanContext().spanId);
    expect(loader!.spanContext().traceId).toBe(miss!.spanContext().traceId);
    expect(JSON.stringify(otel.spans().map(attrs))).not.toContain('user:42');
  });

  it('records the key only with recordKeys; a failing loader marks both spans as errors', async () => {
    const { cache } = await start(memoryStore(), [], { metrics: { recordKeys: true } });
    await expect(as('acme', () => cache.getOrSet('k1', () => Promise.reject(new Error('db down'))))).rejects.toThrow('db down');
    const [call] = named('tenant_cache getOrSet');
    expect(attrs(call!)).toMatchObject({ 'tenant_cache.key': 'k1', 'tenant_cache.result': 'error' });
    expect(call!.status.code).toBe(SpanStatusCode.ERROR);
    expect(named('tenant_cache loader')[0]!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'db down' });
  });

  it('single-flight: the callers that joined a load say so, and only one loader span exists', async () => {
    const { cache } = await start(memoryStore(), []);
    const open = gate<number>();
    const calls = [1, 2, 3].map(() => as('acme', () => cache.getOrSet('k', () => open.promise)));
    await sleep(20);
    open.open(1);
    await Promise.all(calls);
    const joined = named('tenant_cache getOrSet').map((s) => s.attributes['tenant_cache.single_flight.joined']);
    expect(joined.sort()).toEqual([false, true, true]);
    expect(named('tenant_cache loader')).toHaveLength(1);
  });

  it('a stale serve: stale true, hit false', async () => {
    const { cache } = await start(memoryStore(), []);
    await as('acme', () => cache.getOrSet('p', () => 1, { ttl: 40, grace: 60_000 }));
    await sleep(90);
    otel.reset();
    await as('acme', () => cache.getOrSet('p', () => Promise.reject(new Error('down')), { ttl: 40, grace: 60_000 }));
    expect(attrs(named('tenant_cache getOrSet')[0]!)).toMatchObject({ 'tenant_cache.stale': true, 'tenant_cache.hit': false, 'tenant_cache.result': 'stale' });
  });

  it('@CacheResult is named CacheResult', async () => {
    @Injectable()
    class Prices {
      @CacheResult({ ttl: 60_000 })
      async price(id: string) {
        return id.length;
      }
    }
    const { moduleRef } = await start(memoryStore(), [Prices]);
    await as('acme', () => moduleRef.get(Prices).price('abc'));
    await as('acme', () => moduleRef.get(Prices).price('abc'));
    expect(named('tenant_cache CacheResult').map((s) => s.attributes['tenant_cache.hit'])).toEqual([false, true]);
  });

  it('Redis commands are client spans with db.system.name and db.operation.name, under the getOrSet span', async () => {
    const { cache } = await start(redisStore({ url: sharedRedisUrl() }), []);
    await as('acme', () => cache.getOrSet('k', () => 1));
    const gets = otel.spans().filter((s) => s.attributes['db.operation.name'] === 'GET');
    expect(gets.length).toBeGreaterThan(0);
    expect(gets[0]!.kind).toBe(SpanKind.CLIENT);
    expect(attrs(gets[0]!)).toMatchObject({ 'db.system.name': 'redis', 'db.operation.name': 'GET', 'tenant_cache.store': 'default' });
    expect(otel.spans().some((s) => s.attributes['db.operation.name'] === 'SET')).toBe(true);
    expect(JSON.stringify(otel.spans().map(attrs))).not.toContain(':k'); // no key
  });
});

describe('@CacheResponse spans', () => {
  it('a route: miss then hit, named CacheResponse', async () => {
    @Controller()
    @UseInterceptors(TenantCacheInterceptor)
    class Pages {
      @CacheResponse({ ttl: 60_000 })
      @Get('page')
      page() {
        return { tenant: TenantContext.current() };
      }
    }
    @Module({
      imports: [TenantCacheModule.forRoot({ keyPrefix: `obs-${randomUUID().slice(0, 8)}:`, tenant: { resolver: fromHeader('x-tenant') } })],
      controllers: [Pages],
      providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
    })
    class AppModule {}
    const app = await startApp('express', AppModule);
    closers.push(app.close);
    expect((await app.call('/page', { headers: { 'x-tenant': 'acme' } })).body).toEqual({ tenant: 'acme' });
    await app.call('/page', { headers: { 'x-tenant': 'acme' } });
    const spans = named('tenant_cache CacheResponse');
    expect(spans.map((s) => [s.attributes['tenant_cache.tenant'], s.attributes['tenant_cache.hit']])).toEqual([
      ['acme', false],
      ['acme', true],
    ]);
    // The second answer is the interceptor's synchronous hit: counted in stats like any other.
    expect(app.app.get(TenantCacheService).forTenant('acme').stats().byOperation.fetch).toMatchObject({ miss: 1, hit: 1 });
  });
});

describe('node:diagnostics_channel', () => {
  it('publishes one tenant-cache:request message per read-through, with the tenant and result, no key', async () => {
    await otel.stop(); // no tracer: the channel alone turns the reports on
    otel = { spans: () => [], reset: () => {}, stop: async () => {} };
    const { cache } = await start(memoryStore(), []);
    const messages: TenantRequestMessage[] = [];
    const listener = (m: unknown) => messages.push(m as TenantRequestMessage);
    diagnosticsChannel.subscribe(TENANT_CACHE_CHANNELS.request, listener);
    const invalidations: unknown[] = [];
    const onInvalidation = (m: unknown) => invalidations.push(m);
    diagnosticsChannel.subscribe(TENANT_CACHE_CHANNELS.invalidation, onInvalidation);
    try {
      await as('a:b', () => cache.getOrSet('secret', () => 1));
      await as('a:b', () => cache.getOrSet('secret', () => 1));
      await as('a:b', () => cache.invalidateTag('t'));
    } finally {
      diagnosticsChannel.unsubscribe(TENANT_CACHE_CHANNELS.request, listener);
      diagnosticsChannel.unsubscribe(TENANT_CACHE_CHANNELS.invalidation, onInvalidation);
    }
    await as('a:b', () => cache.getOrSet('secret', () => 1)); // unsubscribed: not seen
    expect(messages.map((m) => [m.operation, m.tenant, m.store, m.result, m.joined])).toEqual([
      ['getOrSet', 'a:b', 'default', 'miss', false],
      ['getOrSet', 'a:b', 'default', 'hit', false],
    ]);
    expect(messages.every((m) => m.key === undefined && m.durationMs >= 0)).toBe(true);
    expect(invalidations).toEqual([{ store: 'default', tenant: 'a:b', kind: 'tag' }]);
  });
});
