import 'reflect-metadata';
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { TenantCacheService, TenantContext, redisStore } from '../../lib/index.js';
import { openRedisConnection } from '../../lib/stores/redis/redis-connection.js';
import { startRedisServer } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

// The owned connection of redisStore({ url }) under faults that last: what a caller is told while Redis is frozen,
// and what a long outage leaves behind in the process (abort listeners, warnings).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redisStore({ url }) connection under lasting faults (real redis-server)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('frozen Redis (handshake unanswered): the failure reported is the timeout or "not connected", never a TypeError of the dropped client', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    redis.pause();
    const m = await bootCache({
      stores: {
        default: redisStore({ url: redis.url, commandTimeout: 200, connectTimeout: 300, breaker: { failureThreshold: 1000, resetAfter: 100 } }),
      },
      onWriteError: 'throw',
    });
    cleanups.push(() => m.close());
    const cache = m.get(TenantCacheService);
    const messages: string[] = [];
    cache.events.on('store:error', (e) => {
      for (let error: unknown = e.error; error instanceof Error; error = error.cause) messages.push(`${error.name}: ${error.message}`);
    });
    // Several attempts time out (300 ms each) and are dropped; calls land both during an attempt and between two.
    const until = Date.now() + 3500;
    while (Date.now() < until) {
      await TenantContext.run('acme', () => cache.set('k', 'v')).catch(() => undefined);
      await sleep(40);
    }
    expect(messages.length).toBeGreaterThan(10);
    expect(messages.filter((m) => /TypeError|Cannot read properties/.test(m))).toEqual([]);
    expect(messages.some((m) => /not connected to .*\(no answer within connectTimeout \(300 ms\)\)/.test(m))).toBe(true);

    redis.resume();
    const up = Date.now();
    let hitAfter = Infinity;
    while (Date.now() - up < 8000) {
      await TenantContext.run('acme', () => cache.set('k', 'cached')).catch(() => undefined);
      if ((await TenantContext.run('acme', () => cache.get('k'))) === 'cached') {
        hitAfter = Date.now() - up;
        break;
      }
      await sleep(50);
    }
    expect(hitAfter).toBeLessThan(2500);
  });

  it('Redis down for 9 s (many reconnect attempts): no MaxListenersExceededWarning, abort listeners stay bounded, hits resume after a restart', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));

    let redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    // The signals node-redis was handed, to count the abort listeners left on them.
    const signals = new Set<AbortSignal>();
    const clientModule = import('@redis/client').then((mod) => ({
      ...mod,
      createClient: ((options: Parameters<typeof mod.createClient>[0]) => {
        const signal = (options?.socket as { signal?: AbortSignal } | undefined)?.signal;
        if (signal) signals.add(signal);
        return mod.createClient(options);
      }) as typeof mod.createClient,
    }));
    const connection = await openRedisConnection(redis.url, { alias: 'default', target: redis.url, connectTimeout: 300, commandTimeout: 200 }, clientModule);
    cleanups.push(() => connection.close());
    const listeners = () => [...signals].reduce((n, s) => n + getEventListeners(s, 'abort').length, 0);
    expect(await connection.attempted()).toBe(true);
    expect(String(await connection.commander.call(['PING']))).toBe('PONG');

    await redis.stop();
    const down = Date.now();
    let most = 0;
    let failed = 0;
    while (Date.now() - down < 9000) {
      await connection.commander.call(['GET', 'k']).catch(() => failed++);
      most = Math.max(most, listeners());
      await sleep(100);
    }
    expect(failed).toBeGreaterThan(50);
    expect(warnings.filter((w) => w.includes('MaxListenersExceededWarning'))).toEqual([]);
    // Only the socket of the attempt in flight holds listeners (Node's net puts up to two on its signal: one when it
    // creates the socket, one when it connects); before the fix, every attempt's socket left one behind.
    expect(most).toBeLessThanOrEqual(2);

    redis = await startRedisServer([], { port: redis.port });
    const up = Date.now();
    let pong = '';
    while (Date.now() - up < 5000 && pong !== 'PONG') {
      pong = String(await connection.commander.call(['PING']).catch(() => ''));
      if (pong !== 'PONG') await sleep(50);
    }
    expect(pong).toBe('PONG');
    expect(Date.now() - up).toBeLessThan(2500);
    expect(listeners()).toBeLessThanOrEqual(2);
    expect(warnings.filter((w) => w.includes('MaxListenersExceededWarning'))).toEqual([]);
    await connection.close();
    expect(listeners()).toBe(0);
  }, 40_000);
});
