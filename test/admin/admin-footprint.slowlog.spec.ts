import 'reflect-metadata';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantCacheAdmin, redisStore } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { type TestModule, bootCache } from '../support/test-module.js';

const N = 100_000;

/**
 * The admin footprint of a tenant with 10^5 keys on a Redis of its own: it counts every key, and it never
 * blocks the server (SCAN and MGET in pages; SLOWLOG at 10 ms shows none of its commands, or only the rare
 * one a loaded machine descheduled, never one that did more than a page of work).
 */
describe('TenantCacheAdmin.footprint on 10^5 keys (real Redis, SLOWLOG)', () => {
  let server: RedisServerHandle;
  let app: TestModule;
  let raw: ReturnType<typeof createClient>;

  beforeAll(async () => {
    server = await startRedisServer();
    raw = createClient({ url: server.url });
    await raw.connect();
    app = await bootCache({ keyPrefix: 'fp:', stores: { default: redisStore({ url: server.url, commandTimeout: 5000 }) } }, { providers: [TenantCacheAdmin] });
    const view = app.cache.forTenant('acme');
    for (let i = 0; i < N; i += 2000) {
      await view.mset(
        Array.from({ length: Math.min(2000, N - i) }, (_, j) => ({ key: `item:${i + j}`, value: { n: i + j, name: `item ${i + j}` } })),
        600_000,
      );
    }
    // A look-alike tenant whose keys must not be counted.
    await app.cache.forTenant('acme2').mset(
      Array.from({ length: 100 }, (_, j) => ({ key: `item:${j}`, value: j })),
      600_000,
    );
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await raw?.close();
    await server?.stop();
  });

  it('counts every key of the tenant and no command of the scan shows in SLOWLOG beyond a page of work', async () => {
    await raw.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '10000', 'slowlog-max-len', '10000']);
    await raw.sendCommand(['SLOWLOG', 'RESET']);
    const started = Date.now();
    const f = await app.get(TenantCacheAdmin).footprint('acme');
    const ms = Date.now() - started;
    const log = (await raw.sendCommand(['SLOWLOG', 'GET', '10000'])) as unknown[][];
    const slow = log.map((e) => ({ micros: Number(e[2]), args: (e[3] as unknown[]).map(String) }));
    console.log(`[admin footprint] ${N} entries: ${f.keys} keys, ${f.bytes} bytes in ${ms} ms; SLOWLOG (10 ms): ${slow.length} entries`);
    expect(f.stores[0]!.entries).toBe(N);
    expect(f.keys).toBe(N + 1); // + the generation counter
    // Never KEYS or FLUSH*, and nothing that did more than one page (SCAN ... COUNT 500, MGET of 500 keys).
    expect(slow.filter((s) => ['KEYS', 'FLUSHDB', 'FLUSHALL'].includes(s.args[0]!.toUpperCase()))).toEqual([]);
    for (const s of slow) expect(s.args.length, `${s.args.slice(0, 3).join(' ')} (${s.micros} us)`).toBeLessThanOrEqual(503);
    // A loaded 2-core machine may deschedule Redis mid-command: a couple of entries, not one per page.
    expect(slow.length, JSON.stringify(slow.map((s) => `${s.args[0]} ${s.micros}us`))).toBeLessThanOrEqual(2);
  }, 120_000);
});
