import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStore, redisInvalidationBus } from '../../lib/index.js';
import { as, boot, sleep } from '../decorators/fixtures.js';
import { AppProcess } from '../support/app-process.js';
import { type RedisServerHandle, freePort, startRedisServer } from '../support/redis-server.js';

// The connections of redisInvalidationBus({ url }) as a user sees them: its Redis absent at boot, frozen, killed
// and restarted. Boot and app.close() stay bounded, the cache keeps working, the process exits by itself, and
// the subscriber comes back when Redis does.

const APP = fileURLToPath(new URL('./fixtures/bus-lifecycle.app.ts', import.meta.url));

describe('redisInvalidationBus({ url }) connection lifecycle (real redis-server)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function server(port?: number): Promise<RedisServerHandle> {
    const s = await startRedisServer([], { port });
    cleanups.push(() => s.stop());
    return s;
  }

  function app(env: Record<string, string>): AppProcess {
    const a = new AppProcess(APP, env);
    cleanups.push(() => a.kill());
    return a;
  }

  it('Redis absent at boot: boot is not held up, the cache works, app.close() returns within 2 s and the process exits by itself', async () => {
    const a = app({ BUS_URL: `redis://127.0.0.1:${await freePort()}` }); // nothing listens there
    expect((await a.next('listening')).ms).toBeLessThan(1000); // a refused connection fails at once
    const r = await a.next('request', 5000);
    expect(r.body).toBe('value of first');
    await sleep(1500); // the bus is retrying in the background
    a.send('second');
    expect((await a.next('request', 5000)).body).toBe('value of second');
    const { closeMs, exitMs } = await a.close();
    expect(closeMs).toBeLessThan(2000);
    expect(exitMs).toBeLessThan(2000); // was: the process lived on, on the bus's reconnect timer
  });

  it('Redis frozen (SIGSTOP) before boot: boot waits at most one connect attempt (2 s), the cache works, close is bounded', async () => {
    const redis = await server();
    redis.pause();
    const a = app({ BUS_URL: redis.url });
    expect((await a.next('listening')).ms).toBeLessThan(2000 + 1000); // 2 s connect timeout, plus Nest's own start-up
    expect((await a.next('request', 5000)).body).toBe('value of first');
    const { closeMs, exitMs } = await a.close();
    expect(closeMs).toBeLessThan(2000);
    expect(exitMs).toBeLessThan(2000);
  });

  it('Redis frozen (SIGSTOP) while connected: app.close() returns within 2 s and the process exits by itself', async () => {
    const redis = await server();
    const a = app({ BUS_URL: redis.url });
    await a.next('listening');
    expect((await a.next('request', 5000)).body).toBe('value of first');
    redis.pause();
    a.send('second'); // its publish stays unanswered
    expect((await a.next('request', 5000)).body).toBe('value of second');
    const { closeMs, exitMs } = await a.close(); // was: never returned (QUIT waits for a frozen Redis)
    expect(closeMs).toBeLessThan(2000);
    expect(exitMs).toBeLessThan(2000);
  });

  it('Redis killed, then restarted on the same port: invalidations travel again within ~2 s of the restart', async () => {
    let redis = await server();
    const port = redis.port;
    const channel = `tc-bus-lifecycle-${randomUUID()}`;
    const keyPrefix = `bus-${randomUUID().slice(0, 8)}:`;
    const bus = () => redisInvalidationBus({ url: `redis://127.0.0.1:${port}`, channel });
    const a = await boot(memoryStore(), [], { keyPrefix, invalidation: { bus: bus() } });
    cleanups.push(() => a.close());
    const b = await boot(memoryStore(), [], { keyPrefix, invalidation: { bus: bus() } });
    cleanups.push(() => b.close());

    const travels = async (key: string, withinMs: number): Promise<number> => {
      await as('acme', () => b.cache.set(key, 'x'));
      const t = Date.now();
      await as('acme', () => a.cache.delete(key));
      while ((await as('acme', () => b.cache.get(key))) !== undefined) {
        if (Date.now() - t > withinMs) return Infinity;
        await sleep(20);
      }
      return Date.now() - t;
    };
    expect(await travels('before', 2000)).toBeLessThan(2000);

    await redis.stop();
    await sleep(3300); // long enough for a doubling back-off to grow past the bound
    redis = await server(port);
    const restarted = Date.now();
    // Publish again until one arrives: each try is a fresh local invalidation.
    let i = 0;
    while ((await travels(`after-${i++}`, 200)) === Infinity) {
      if (Date.now() - restarted > 6000) break;
    }
    const back = Date.now() - restarted;
    expect(back).toBeLessThan(2500); // was: up to the 5 s back-off
  });
});
