import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResult, redisInvalidationBus, redisStore, versioned } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { as, boot, sleep } from '../decorators/fixtures.js';

/**
 * The ACL rules docs/compatibility.md ("Redis with ACLs") gives for managed Redis, checked against a
 * real redis-server: a user with exactly these rules runs every store operation and the bus with no
 * NOPERM; without `@scripting` (or `+eval`), counters and the tag index fail.
 */
const PASSWORD = 'acl-test-password';
/** Keys and channels: the module's key prefix only (the bus channel is `<keyPrefix>invalidation`). */
const keysAndChannels = (keyPrefix: string) => [`~${keyPrefix}*`, `&${keyPrefix}invalidation`];
/** The category rule (docs/compatibility.md). */
const CATEGORIES = '+@read +@write +@keyspace +@string +@set +@scripting +@pubsub +@connection -@dangerous';
/** The command rule (docs/compatibility.md). */
const COMMANDS = '+get +set +mget +exists +incrby +pexpire +persist +pttl +scan +sscan +sadd +unlink +eval +publish +subscribe';

@Injectable()
class Reports {
  runs = 0;
  @CacheResult({ ttl: 60_000, tags: ['reports', versioned('catalog')] })
  async report(id: string): Promise<string> {
    this.runs++;
    return `report ${id}`;
  }
}

async function setUser(url: string, name: string, keyPrefix: string, rules: string): Promise<void> {
  const admin = createClient({ url });
  await admin.connect();
  try {
    await admin.sendCommand(['ACL', 'SETUSER', name, 'reset', 'on', `>${PASSWORD}`, ...keysAndChannels(keyPrefix), ...rules.split(' ')]);
  } finally {
    await admin.close();
  }
}

/** Everything the service and the decorators do on the store, with the results checked. */
async function exercise(app: Awaited<ReturnType<typeof boot>>): Promise<void> {
  const reports = app.moduleRef.get(Reports);
  await as('acme', async () => {
    const { cache } = app;
    await cache.set('a', 1, 60_000);
    await cache.set('tagged', 't', { ttl: 60_000, tags: ['plain'] });
    await cache.mset(
      [
        { key: 'b', value: 2 },
        { key: 'c', value: 3 },
      ],
      60_000,
    );
    expect(await cache.get('a')).toBe(1);
    expect(await cache.mget(['a', 'b', 'c'])).toEqual([1, 2, 3]);
    expect(await cache.has('b')).toBe(true);
    expect(await cache.add('a', 9)).toBe(false);
    expect(await cache.incr('n', 2)).toBe(2);
    expect(await cache.decr('n')).toBe(1);
    expect(await cache.touch('a', 120_000)).toBe(true);
    expect(await cache.ttl('a')).toBeGreaterThan(60_000);
    expect(await cache.getOrSet('loaded', () => 'v', { ttl: 60_000 })).toBe('v');
    await cache.set('big', 'x'.repeat(5000));
    expect(await cache.get('big')).toBe('x'.repeat(5000));
    expect(await reports.report('1')).toBe('report 1');
    expect(await reports.report('1')).toBe('report 1');
    expect(reports.runs).toBe(1);
    expect((await cache.keys()).sort()).toEqual(['a', 'b', 'big', 'c', 'loaded', 'n', 'tagged']);
    expect(await cache.deleteByPrefix('b')).toBe(2);
    expect(await cache.delete('c')).toBe(true);
    expect(await cache.mdel(['n', 'loaded'])).toBe(2);
    expect(await cache.invalidateTag('plain')).toBe(1);
    expect(await cache.invalidateTag(versioned('catalog'))).toBeGreaterThan(0);
    expect(await reports.report('1')).toBe('report 1');
    expect(reports.runs).toBe(2);
    await cache.invalidateTag('reports');
    await cache.invalidateAll();
    expect(await cache.get('a')).toBeUndefined();
    await cache.set('after', 1);
    await cache.clear();
    expect(await cache.get('after')).toBeUndefined();
  });
  await app.cache.invalidateTagInAllTenants('reports');
}

describe('Redis with ACLs: the rules docs/compatibility.md gives', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const userUrl = (user: string) => `redis://${user}:${PASSWORD}@127.0.0.1:${redis.port}`;

  for (const [name, rules] of [
    ['categories', CATEGORIES],
    ['commands', COMMANDS],
  ] as const) {
    it(`a user with the ${name} rule runs every operation and the bus, with no NOPERM`, async () => {
      const user = `cache-${name}`;
      const keyPrefix = `acl-${randomUUID().slice(0, 6)}:`;
      await setUser(redis.url, user, keyPrefix, rules);
      const errors: string[] = [];
      const app = await boot(redisStore({ url: userUrl(user) }), [Reports], {
        keyPrefix,
        defaultTtl: 60_000, // counters with a TTL run a script
        invalidation: { bus: redisInvalidationBus({ url: userUrl(user), stores: ['default'] }) },
      });
      app.cache.events.on('store:error', (e) => errors.push(`${e.operation}: ${e.error.message}`));
      try {
        await exercise(app);
        await sleep(50);
      } finally {
        await app.close();
      }
      const noperm = [...errors, ...app.logger.lines.map((l) => l.message)].filter((line) => /NOPERM|permission/i.test(line));
      expect(noperm).toEqual([]);
      expect(errors).toEqual([]);
    });
  }

  it('without @scripting, counters and the tag index fail with NOPERM (the scripts need it)', async () => {
    const keyPrefix = `acl-${randomUUID().slice(0, 6)}:`;
    await setUser(redis.url, 'cache-noscript', keyPrefix, CATEGORIES.replace('+@scripting ', ''));
    const app = await boot(redisStore({ url: userUrl('cache-noscript') }), [Reports], { keyPrefix, defaultTtl: 60_000 });
    const errors: string[] = [];
    app.cache.events.on('store:error', (e) => errors.push(`${e.operation}: ${e.error.message}`));
    try {
      await as('acme', async () => {
        const failures: unknown[] = [];
        await app.cache.incr('n').catch((error: unknown) => failures.push(error));
        await app.cache.set('tagged', 't', { ttl: 60_000, tags: ['plain'] }).catch((error: unknown) => failures.push(error));
        errors.push(...failures.map((error) => String((error as Error).cause ?? error)));
      });
    } finally {
      await app.close();
    }
    expect([...errors, ...app.logger.lines.map((l) => l.message)].some((line) => /NOPERM/.test(line))).toBe(true);
  });
});
