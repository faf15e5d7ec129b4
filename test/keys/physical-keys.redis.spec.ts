import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { Injectable } from '@nestjs/common';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResult, KeyConstructor, redisStore, versioned } from '../../lib/index.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { as, boot } from '../decorators/fixtures.js';

class LookupKey extends KeyConstructor.params('term', 'page')<[term: string, page: number]> {
  term = this.arg('term', { partition: true });
  page = this.arg('page');
}

@Injectable()
class Lookups {
  /** Internal keys (`\u0000m@...`), as every @CacheResult method writes them. */
  @CacheResult({ ttl: 60_000, tags: ['lookups'] })
  async byName(name: string): Promise<string> {
    return `name:${name}`;
  }

  @CacheResult({ key: LookupKey, ttl: 60_000, tags: [versioned('terms')] })
  async byTerm(term: string, page: number): Promise<string> {
    return `${term}#${page}`;
  }
}

/** Characters an operator cannot copy from `redis-cli --scan`: controls, DEL, and (unquoted) space. */
const PRINTABLE = /^[\x21-\x7e]+$/;
const AWKWARD = ['plain', 'with space', 'nul\u0000inside', 'tab\tand\nnewline', 'ü租户', '%00m@looks-internal', '100%', 'emoji \u{1f600}'];

describe('physical keys in a real Redis are printable (redis-cli --scan, then GET what it printed)', () => {
  let redis: RedisServerHandle;
  let app: Awaited<ReturnType<typeof boot>>;

  beforeAll(async () => {
    redis = await startRedisServer();
    app = await boot(redisStore({ url: redis.url }), [Lookups], { codec: { chunkSize: 1024 } });
    const lookups = app.moduleRef.get(Lookups);
    for (const tenant of ['acme', 'a b', 'ü租户']) {
      await as(tenant, async () => {
        for (const text of AWKWARD) {
          await lookups.byName(text);
          await lookups.byTerm(text, 2);
          await app.cache.set(text, { text }, { ttl: 60_000, tags: ['user-tag', `tag ${text}`] });
        }
        await app.cache.set('big \u0000 value', 'x'.repeat(10_000)); // chunked: chunk keys too
        await app.cache.invalidateTag(versioned('terms'));
      });
    }
    await app.cache.shared().set('shared\u0000key', 1);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('SCAN finds only printable keys (no character below 0x21, no 0x7f, nothing beyond ASCII)', async () => {
    const client = createClient({ url: redis.url });
    await client.connect();
    const all: string[] = [];
    for await (const page of client.scanIterator({ MATCH: '*', COUNT: 1000 })) all.push(...page);
    await client.close();
    expect(all.length).toBeGreaterThan(3 * AWKWARD.length * 3);
    expect(all.filter((key) => !PRINTABLE.test(key))).toEqual([]);
  });

  it('every line redis-cli --scan prints is a distinct key that redis-cli can read back as printed', () => {
    const port = String(redis.port);
    const scan = spawnSync('redis-cli', ['-p', port, '--scan'], { encoding: 'utf8' });
    expect(scan.status).toBe(0);
    const lines = scan.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3 * AWKWARD.length * 3);
    expect(new Set(lines).size).toBe(lines.length);
    const unreadable: string[] = [];
    for (const line of lines) {
      const type = spawnSync('redis-cli', ['-p', port, 'TYPE', line], { encoding: 'utf8' }).stdout.trim();
      if (type === 'none') unreadable.push(line);
      else if (type === 'string' && spawnSync('redis-cli', ['-p', port, 'GET', line], { encoding: 'utf8' }).stdout.trim() === '') unreadable.push(line);
    }
    expect(unreadable).toEqual([]);
  });

  it('still reads every entry back through the service, and lists the logical keys', async () => {
    const lookups = app.moduleRef.get(Lookups);
    await as('a b', async () => {
      for (const text of AWKWARD) {
        expect(await app.cache.get(text)).toEqual({ text });
        expect(await lookups.byName(text)).toBe(`name:${text}`);
      }
      const listed: string[] = [];
      for await (const key of app.cache.keys()) listed.push(key);
      expect(listed.sort()).toEqual([...AWKWARD, 'big \u0000 value'].sort());
      const internal: string[] = [];
      for await (const key of app.cache.keys('\u0000')) internal.push(key);
      expect(internal.length).toBeGreaterThanOrEqual(2 * AWKWARD.length);
      expect(internal.every((key) => key.startsWith('\u0000'))).toBe(true);
      expect(await app.cache.deleteByPrefix('nul\u0000')).toBe(1);
      expect(await app.cache.get('nul\u0000inside')).toBeUndefined();
    });
  });
});
