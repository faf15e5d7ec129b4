import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type QuotaExceededEvent, memoryStore, redisStore, tieredStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { type TestModule, bootCache } from '../support/test-module.js';

/**
 * `perTenant` on the memory store that is a tier's L1: a loud tenant is bounded in the L1 (and reported),
 * and every value still reads back from Redis. The quiet tenant keeps its L1 entries.
 */
describe('tieredStore with a perTenant L1', () => {
  let server: RedisServerHandle;
  let app: TestModule;
  const events: QuotaExceededEvent[] = [];

  beforeAll(async () => {
    server = await startRedisServer();
    app = await bootCache({
      keyPrefix: 'tier-fair:',
      stores: { default: tieredStore({ l1: memoryStore({ maxEntries: 1000, perTenant: { maxEntries: 5 } }), l2: redisStore({ url: server.url }) }) },
    });
    app.cache.events.on('quota:exceeded', (e) => events.push(e));
  }, 30_000);
  afterAll(async () => {
    await app?.close();
    await server?.stop();
  });

  it('bounds the loud tenant in the L1 and reports it by tenant; values read back from Redis; the quiet tenant is untouched', async () => {
    const loud = app.cache.forTenant('loud');
    const quiet = app.cache.forTenant('loud2');
    for (let i = 0; i < 3; i++) await quiet.set(`k${i}`, `q${i}`, 60_000);
    for (let i = 0; i < 50; i++) await loud.set(`k${i}`, `l${i}`, 60_000);
    expect(events.some((e) => e.tenant === 'loud')).toBe(true);
    expect(events.some((e) => e.tenant === 'loud2')).toBe(false);
    for (let i = 0; i < 50; i++) expect(await loud.get(`k${i}`)).toBe(`l${i}`);
    for (let i = 0; i < 3; i++) expect(await quiet.get(`k${i}`)).toBe(`q${i}`);
  });
});
