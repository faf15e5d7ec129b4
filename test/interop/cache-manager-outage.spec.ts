import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError, TenantContext, redisStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the drop-in CACHE_MANAGER while Redis is down', () => {
  let server: RedisServerHandle | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await server?.stop();
    close = server = undefined;
  });

  async function boot(onWriteError: 'throw' | 'ignore') {
    server = await startRedisServer();
    const app = await bootCache({
      stores: { default: redisStore({ url: server.url, commandTimeout: 200, breaker: { failureThreshold: 3, resetAfter: 200 } }) },
      keyPrefix: `cm-outage-${randomUUID().slice(0, 8)}:`,
      versionCacheTtl: 100,
      onWriteError,
      provideCacheManager: true,
    });
    close = app.close;
    const manager = app.get<Cache>(CACHE_MANAGER);
    const storeErrors: string[] = [];
    app.cache.events.on('store:error', (e) => storeErrors.push(`${e.operation}:${e.tenant}`));
    const events: { name: string; data: { error?: unknown; value?: unknown; values?: unknown } }[] = [];
    for (const name of ['get', 'mget', 'set', 'del'] as const) manager.on(name, ((data: (typeof events)[number]['data']) => void events.push({ name, data })) as never);
    return { manager, storeErrors, events };
  }

  it('get and mget are misses whose events carry error, and the failures reach store:error', async () => {
    const { manager, storeErrors, events } = await boot('throw');
    await TenantContext.run('acme', () => manager.set('k', 'v'));
    expect(await TenantContext.run('acme', () => manager.get('k'))).toBe('v');
    await server!.stop();
    await sleep(250); // past versionCacheTtl: the generation counter is read from the store again
    events.length = 0;
    await TenantContext.run('acme', async () => {
      expect(await manager.get('k')).toBeUndefined();
      expect(await manager.mget(['k', 'x'])).toEqual([undefined, undefined]);
      expect(await manager.ttl('k')).toBeUndefined();
      expect(await manager.wrap('w', async () => 'loaded', 60_000)).toBe('loaded');
    });
    const get = events.find((e) => e.name === 'get');
    expect(get?.data.error).toBeInstanceOf(StoreUnavailableError);
    expect(events.find((e) => e.name === 'mget' && e.data.error !== undefined)?.data.error).toBeInstanceOf(StoreUnavailableError);
    expect(storeErrors.filter((e) => e.endsWith(':acme')).length).toBeGreaterThanOrEqual(4);
  });

  it('writes follow onWriteError: throw rejects with StoreUnavailableError (event with error); ignore drops them', async () => {
    const throwing = await boot('throw');
    await TenantContext.run('acme', () => throwing.manager.set('k', 'v'));
    await server!.stop();
    await sleep(250);
    await TenantContext.run('acme', async () => {
      await expect(throwing.manager.set('k', 'w')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(throwing.manager.del('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    });
    expect(throwing.events.find((e) => e.name === 'set' && e.data.error !== undefined)?.data.error).toBeInstanceOf(StoreUnavailableError);
    expect(throwing.events.find((e) => e.name === 'del' && e.data.error !== undefined)?.data.error).toBeInstanceOf(StoreUnavailableError);
    expect(throwing.storeErrors.length).toBeGreaterThanOrEqual(2);
    await close!();
    close = undefined;

    const ignoring = await boot('ignore');
    await TenantContext.run('acme', () => ignoring.manager.set('k', 'v'));
    await server!.stop();
    await sleep(250);
    await TenantContext.run('acme', async () => {
      await expect(ignoring.manager.set('k', 'w')).resolves.toBe('w');
      await expect(ignoring.manager.mset([{ key: 'a', value: 1 }])).resolves.toHaveLength(1);
      await expect(ignoring.manager.del('k')).resolves.toBe(true);
    });
    expect(ignoring.storeErrors.length).toBeGreaterThanOrEqual(3);
  });
});
