import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Test } from '@nestjs/testing';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionsError, TenantCacheModule, TenantContext, type TenantCacheModuleOptions, TenantCacheService, redisStore } from '../../lib/index.js';
import { startRedisServer } from '../support/redis-server.js';
import { type MetricsHarness, type TracesHarness, registerMeterProvider, registerTracerProvider } from './otel-support.js';

// The `metrics` option (validated at start-up), and what observability does when nobody listens or the store fails.

async function bootError(options: TenantCacheModuleOptions): Promise<unknown> {
  try {
    const moduleRef = await Test.createTestingModule({ imports: [TenantCacheModule.forRoot(options)] }).compile();
    await moduleRef.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('metrics option', () => {
  it.each([
    [{ tenantLabel: 'tenant' }, 'metrics.tenantLabel'],
    [{ topTenants: 0 }, 'metrics.topTenants'],
    [{ topTenants: 1.5 }, 'metrics.topTenants'],
    [{ recordKeys: 'yes' }, 'metrics.recordKeys'],
    [{ tenantLable: 'top' }, 'metrics.tenantLable'],
    [{ storeDurationSampling: 0 }, 'metrics.storeDurationSampling'],
    [{ storeDurationSampling: 2.5 }, 'metrics.storeDurationSampling'],
    [{ storeDurationSampling: '16' }, 'metrics.storeDurationSampling'],
    [{ storeDurationSamplin: 16 }, 'metrics.storeDurationSamplin'],
    ['on', 'metrics'],
  ])('%j fails start-up naming %s', async (metrics, option) => {
    const error = await bootError({ metrics: metrics as never });
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).problems.map((p) => p.option)).toContain(option);
  });

  it('a misspelt key suggests the right one', async () => {
    const error = (await bootError({ metrics: { tenantLable: 'top' } as never })) as InvalidOptionsError;
    expect(error.message).toContain('Did you mean "metrics.tenantLabel"?');
  });

  it('storeDurationSampling: a misspelling suggests the name, a bad value says what to write', async () => {
    const typo = (await bootError({ metrics: { storeDurationSamplin: 16 } as never })) as InvalidOptionsError;
    expect(typo.message).toContain('Did you mean "metrics.storeDurationSampling"?');
    const zero = (await bootError({ metrics: { storeDurationSampling: 0 } })) as InvalidOptionsError;
    expect(zero.problems.find((p) => p.option === 'metrics.storeDurationSampling')?.fix).toContain('integer >= 1');
  });
});

describe('nobody listening', () => {
  it('without a provider, @opentelemetry/api is never required (a fresh process, its CommonJS cache)', () => {
    const app = fileURLToPath(new URL('./fixtures/no-provider-app.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--import', '@swc-node/register/esm-register', app], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 60_000,
    });
    const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, run.stderr).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ loaded: [], hits: 1 });
  }, 90_000);
});

describe('a frozen Redis with metrics and spans on', () => {
  let closers: (() => Promise<void>)[] = [];
  let meters: MetricsHarness | undefined;
  let traces: TracesHarness | undefined;
  afterEach(async () => {
    for (const c of closers.reverse()) await c();
    closers = [];
    await meters?.stop();
    await traces?.stop();
  });

  it('a read is a miss after commandTimeout, the failure is on the GET span and counted in tenant_cache.store.errors, close() returns', async () => {
    const redis = await startRedisServer();
    closers.push(() => redis.stop());
    meters = registerMeterProvider();
    traces = registerTracerProvider();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TenantCacheModule.forRoot({
          keyPrefix: `obs-${randomUUID().slice(0, 8)}:`,
          stores: { default: redisStore({ url: redis.url, commandTimeout: 200 }) },
          onWriteError: 'ignore',
        }),
      ],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    closers.push(() => moduleRef.close());
    const cache = moduleRef.get(TenantCacheService);
    await TenantContext.run('acme', () => cache.getOrSet('k', () => 1)); // connects, stores
    redis.pause();
    closers.push(async () => redis.resume()); // runs before close(): never leaves it frozen
    const started = performance.now();
    expect(await TenantContext.run('acme', () => cache.getOrSet('k', () => 2))).toBe(2);
    expect(performance.now() - started).toBeLessThan(200 * 2 + 1000);
    expect(cache.forTenant('acme').stats()).toMatchObject({ requests: { miss: 2, hit: 0 } });
    expect(cache.forTenant('acme').stats().storeErrors).toBeGreaterThanOrEqual(1);
    const failedGets = traces.spans().filter((s) => s.attributes['db.operation.name'] === 'GET' && s.status.code === SpanStatusCode.ERROR);
    expect(failedGets.length).toBeGreaterThanOrEqual(1);
    const errors = (await meters.points('tenant_cache.store.errors')).reduce((n, p) => n + (p.value as number), 0);
    expect(errors).toBeGreaterThanOrEqual(1);
    redis.resume();
    const closing = performance.now();
    await moduleRef.close();
    expect(performance.now() - closing).toBeLessThan(5000);
  }, 30_000);
});
