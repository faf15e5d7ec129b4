import 'reflect-metadata';
import { afterEach, describe, expect, it } from 'vitest';
import { type BreakerState, StoreUnavailableError, TenantCacheService, TenantContext, redisStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis store when the server dies or hangs (real redis-server)', () => {
  let server: RedisServerHandle | undefined;
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    await server?.stop();
  });

  async function boot(onWriteError: 'throw' | 'ignore' = 'throw') {
    server = await startRedisServer();
    const states: BreakerState[] = [];
    const moduleRef = await bootCache({
      stores: {
        default: redisStore({
          url: server.url,
          commandTimeout: 200,
          breaker: { failureThreshold: 3, resetAfter: 300 },
          onBreakerChange: (s) => states.push(s),
        }),
      },
      onWriteError,
      versionCacheTtl: 60_000,
    });
    close = () => moduleRef.close();
    const cache = moduleRef.get(TenantCacheService);
    const events: string[] = [];
    cache.events.on('store:error', (e) => events.push(`${e.operation}:${e.tenant}`));
    return { cache, states, events };
  }

  it('a frozen server costs each call at most the command timeout, then the breaker fails fast, then recovers', async () => {
    const { cache, states, events } = await boot();
    await TenantContext.run('acme', () => cache.set('k', 'v'));
    server!.pause();

    const started = Date.now();
    expect(await TenantContext.run('acme', () => cache.get('k'))).toBeUndefined(); // read degrades to a miss
    const firstCall = Date.now() - started;
    expect(firstCall).toBeGreaterThanOrEqual(150);
    expect(firstCall).toBeLessThan(2000);
    await expect(TenantContext.run('acme', () => cache.set('k', 'w'))).rejects.toBeInstanceOf(StoreUnavailableError);
    await TenantContext.run('acme', () => cache.get('k'));
    expect(states).toContain('open');

    const fast = Date.now();
    expect(await TenantContext.run('acme', () => cache.get('k'))).toBeUndefined();
    expect(Date.now() - fast).toBeLessThan(100); // open breaker: nothing sent, no waiting
    expect(events.length).toBeGreaterThanOrEqual(4);
    expect(events.every((e) => e.endsWith(':acme'))).toBe(true);

    server!.resume();
    await sleep(350);
    // A timed-out write was already on the wire: Redis may still apply it once it wakes up.
    expect(['v', 'w']).toContain(await TenantContext.run('acme', () => cache.get('k')));
    expect(states.at(-1)).toBe('closed');
    await TenantContext.run('acme', () => cache.set('k', 'after'));
    expect(await TenantContext.run('acme', () => cache.get('k'))).toBe('after');
  });

  it('a killed server: reads are misses, writes fail fast with a typed error or are dropped per option', async () => {
    const { cache } = await boot('ignore');
    await TenantContext.run('acme', () => cache.set('k', 'v'));
    await server!.stop();
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      expect(await TenantContext.run('acme', () => cache.get('k'))).toBeUndefined();
      await TenantContext.run('acme', () => cache.set('k', i)); // dropped, logged
    }
    expect(await TenantContext.run('acme', () => cache.getOrSet('k', () => 'computed'))).toBe('computed');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses a write with StoreUnavailableError when the server is gone and onWriteError is throw', async () => {
    const { cache } = await boot('throw');
    await TenantContext.run('acme', () => cache.set('k', 'v'));
    await server!.stop();
    await expect(TenantContext.run('acme', () => cache.set('k', 'w'))).rejects.toMatchObject({
      code: 'E_STORE_UNAVAILABLE',
      store: 'default',
    });
  });
});
