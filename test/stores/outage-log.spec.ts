import 'reflect-metadata';
import { Logger, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EntityChangeBus, OutageLog, StoreUnavailableError, TenantCacheModule, TenantCacheService, TenantContext, redisStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps what it is given. */
function recorder() {
  const lines: { level: string; message: string; context?: string }[] = [];
  const at =
    (level: string) =>
    (message: unknown, ...rest: unknown[]) =>
      lines.push({ level, message: String(message), context: rest.at(-1) as string | undefined });
  const logger: LoggerService = { log: at('log'), warn: at('warn'), error: at('error'), debug: at('debug'), verbose: at('verbose') };
  return { lines, logger };
}

describe('OutageLog: one line when a store starts failing, periodic summaries, one line when it recovers', () => {
  it('logs the first failure with its tenant, the breaker opening once, a summary with counts, and the recovery', async () => {
    const { lines, logger } = recorder();
    const log = new OutageLog({ every: 100, logger: { warn: (m: string) => logger.warn(m), log: (m: string) => logger.log(m) } });
    const error = new StoreUnavailableError('redis', 'GET timed out');
    log.failure('redis', 'get', 'acme', error);
    expect(error.tenant).toBe('acme'); // the error handed on (events, callers) names the tenant
    log.breaker('redis', 'open');
    for (let i = 0; i < 50; i++) log.failure('redis', i % 2 ? 'set' : 'get', i % 3 ? 'acme' : 'globex', new Error('ECONNREFUSED'));
    log.breaker('redis', 'half-open');
    log.breaker('redis', 'open'); // a failed probe: not logged again
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn']);
    expect(lines[0]!.message).toMatch(/"redis" failed on get \(tenant acme\).*GET timed out.*summarized every 0\.1 s/);
    expect(lines[1]!.message).toMatch(/"redis" circuit open/);

    await sleep(160);
    expect(lines).toHaveLength(3);
    expect(lines[2]!.message).toMatch(/"redis" still failing: 26 reads missed, 25 writes failed since .*tenants acme, globex.*last error: ECONNREFUSED/);

    log.failure('redis', 'get', 'acme', new Error('ECONNREFUSED'));
    log.breaker('redis', 'closed');
    expect(lines).toHaveLength(4);
    expect(lines[3]!).toMatchObject({ level: 'log' });
    expect(lines[3]!.message).toMatch(/"redis" recovered \(circuit closed.*\): 27 reads missed, 25 writes failed since/);
    await sleep(250);
    expect(lines).toHaveLength(4); // no summary timer left
  });

  it('without a breaker (in-process adapters), an outage ends after a whole period without failures; close() stops every timer', async () => {
    const { lines, logger } = recorder();
    const log = new OutageLog({ every: 80, logger: { warn: (m: string) => logger.warn(m), log: (m: string) => logger.log(m) } });
    log.failure('keyv', 'set', undefined, new Error('boom'));
    log.failure('keyv', 'set', undefined, new Error('boom'));
    await sleep(100); // summary of the 2nd failure
    await sleep(80); // a quiet period: recovered
    expect(lines.map((l) => l.message.match(/failed on|still failing|recovered/)?.[0])).toEqual(['failed on', 'still failing', 'recovered']);
    log.failure('keyv', 'get', 'acme', new Error('boom')); // a new outage: logged again
    expect(lines).toHaveLength(4);
    log.close();
    log.failure('keyv', 'get', 'acme', new Error('abandoned: the store was closed')); // after shutdown: no new outage
    log.breaker('keyv', 'open');
    await sleep(200);
    expect(lines).toHaveLength(4);
  });
});

describe('a Redis outage logs a few lines, not one per operation (real redis-server, real Nest module)', () => {
  let server: RedisServerHandle | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await server?.stop();
    Logger.overrideLogger(new (await import('@nestjs/common')).ConsoleLogger());
  });

  it('Redis killed: 60 failed reads and writes log 3 warnings, every failure is emitted with its tenant, and the recovery is one line with the counts', async () => {
    server = await startRedisServer();
    const { lines, logger } = recorder();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TenantCacheModule.forRoot({
          stores: { default: redisStore({ url: server.url, commandTimeout: 200, breaker: { failureThreshold: 3, resetAfter: 200 } }) },
          onWriteError: 'ignore',
          versionCacheTtl: 60_000,
        }),
      ],
    }).compile();
    Logger.overrideLogger(logger);
    await moduleRef.init();
    close = () => moduleRef.close();
    const cache = moduleRef.get(TenantCacheService);
    const events: { operation: string; tenant?: string; errorTenant?: string }[] = [];
    cache.events.on('store:error', (e) => events.push({ operation: e.operation, tenant: e.tenant, errorTenant: (e.error as { tenant?: string }).tenant }));
    const acme = <T>(fn: () => Promise<T>) => TenantContext.run('acme', fn);
    // Healthy first (a loaded machine may time the very first commands out: onWriteError 'ignore' drops them).
    const healthy = Date.now() + 5000;
    do await acme(() => cache.set('k', 'v'));
    while ((await acme(() => cache.get('k'))) !== 'v' && Date.now() < healthy);
    expect(await acme(() => cache.get('k'))).toBe('v');
    events.length = 0;
    lines.length = 0;

    await server.stop();
    for (let i = 0; i < 30; i++) {
      expect(await acme(() => cache.get('k'))).toBeUndefined();
      await acme(() => cache.set('k', i));
      await sleep(10);
    }
    const warnings = lines.filter((l) => l.level === 'warn' && l.context === 'TenantCache');
    // The connection lost, the first failed operation (with its tenant), the breaker opening.
    expect(warnings.length).toBeLessThanOrEqual(3);
    expect(warnings.some((w) => /failed on (get|set) \(tenant acme\)/.test(w.message))).toBe(true);
    expect(events.length).toBe(60);
    expect(events.every((e) => e.tenant === 'acme' && e.errorTenant === 'acme')).toBe(true);

    server = await startRedisServer([], { port: server.port });
    const deadline = Date.now() + 5000;
    while ((await acme(() => cache.get('k'))) !== 'w' && Date.now() < deadline) {
      await acme(() => cache.set('k', 'w'));
      await sleep(50);
    }
    expect(await acme(() => cache.get('k'))).toBe('w');
    const recovered = lines.filter((l) => /recovered/.test(l.message));
    expect(recovered).toHaveLength(1);
    expect(recovered[0]!.message).toMatch(/"default" recovered \(circuit closed.*\): \d+ reads missed, \d+ writes failed since/);
  });
  it('Redis killed: entity changes whose invalidation rules fail log no line each (the outage log has them), and every failure is emitted', async () => {
    class Product {
      id = 0;
      tenantId = '';
    }
    server = await startRedisServer();
    const { lines, logger } = recorder();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TenantCacheModule.forRoot({
          stores: { default: redisStore({ url: server.url, commandTimeout: 200, breaker: { failureThreshold: 3, resetAfter: 200 } }) },
          versionCacheTtl: 60_000,
          invalidation: {
            rules: [
              { name: 'product-pages', entity: Product, tenantField: 'tenantId', tags: ['products', (p) => `product:${String(p.id)}`] },
              { name: 'product-catalog', entity: Product, tenantField: 'tenantId', tags: ['catalog'] },
            ],
          },
        }),
      ],
    }).compile();
    Logger.overrideLogger(logger);
    await moduleRef.init();
    close = () => moduleRef.close();
    const cache = moduleRef.get(TenantCacheService);
    const bus = moduleRef.get(EntityChangeBus);
    let emitted = 0;
    cache.events.on('store:error', () => emitted++);
    await TenantContext.run('acme', () => cache.set('k', 'v'));

    await server.stop();
    for (let i = 0; i < 20; i++) {
      await bus.publish({ entity: Product, event: 'update', data: Object.assign(new Product(), { id: i, tenantId: 'acme' }) });
      await sleep(10);
    }
    const logged = lines.filter((l) => l.context === 'TenantCache' && (l.level === 'warn' || l.level === 'error'));
    expect(logged.filter((l) => /Invalidation rule/.test(l.message))).toEqual([]);
    // The connection lost, the first failed operation, the breaker opening, and once what failed invalidations mean.
    expect(logged.length).toBeLessThanOrEqual(4);
    const lost = logged.filter((l) => /failed an invalidation/.test(l.message));
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toMatch(/rule "product-(pages|catalog)", tenant acme\).*may be served after the store answers again/);
    expect(emitted).toBeGreaterThanOrEqual(20);
  });
});
