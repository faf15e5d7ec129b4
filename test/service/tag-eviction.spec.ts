import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantCacheService, memoryStore, redisStore } from '../../lib/index.js';
import type { CacheScope } from '../../lib/keys/key-builder.js';
import { CacheEngine } from '../../lib/engine/cache-engine.js';
import { ADVERSARIAL_TENANTS, as, boot, gate, sleep } from '../decorators/fixtures.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { SECRET_1 } from '../codec/codec-fixtures.js';

const HOT = 200;
const tenant = (id: string): CacheScope => ({ kind: 'tenant', tenantId: id });

/** Reads every hot entry once; resolves to how many were hits. */
async function readHot(cache: TenantCacheService, tenantId: string): Promise<number> {
  return as(tenantId, async () => {
    let hits = 0;
    for (let i = 0; i < HOT; i++) if ((await cache.get(`hot:${i}`)) !== undefined) hits++;
    return hits;
  });
}

async function writeHot(cache: TenantCacheService, tenantId: string): Promise<void> {
  await as(tenantId, async () => {
    for (let i = 0; i < HOT; i++) {
      if (i % 2 === 0) await cache.set(`hot:${i}`, { i }, { ttl: 600_000, tags: ['hot', `hot:${i}`] });
      else await cache.getOrSet(`hot:${i}`, () => ({ i }), { ttl: 600_000, tags: ['hot', `hot:${i}`] });
    }
  });
}

describe.each(['allkeys-lru', 'volatile-lru'])('plain tags when Redis evicts the tag index (%s)', (policy) => {
  let server: RedisServerHandle;
  let raw: Redis;
  let cache: TenantCacheService;
  let engine: CacheEngine;
  let close: () => Promise<void>;

  beforeAll(async () => {
    server = await startRedisServer(['--maxmemory', '4mb', '--maxmemory-policy', policy, '--maxmemory-samples', '10']);
    raw = new Redis(server.url);
    let moduleRef;
    ({ moduleRef, cache, close } = await boot(redisStore({ url: server.url, commandTimeout: 5000 }), [], { versionCacheTtl: 50 }));
    engine = moduleRef.get(CacheEngine);
  }, 30_000);
  afterAll(async () => {
    await close();
    raw.disconnect();
    await server.stop();
  });

  it('invalidateTag leaves 0 hot entries readable after the index was evicted', async () => {
    await writeHot(cache, 'acme');
    expect(await readHot(cache, 'acme')).toBe(HOT);
    const resolved = await engine.store(tenant('acme'));
    const index = engine.tagIndex.indexKey(resolved, tenant('acme'), 'hot');
    expect(await raw.exists(index)).toBe(1);
    // A filler (another app on the same Redis) pushes memory over maxmemory while the hot entries are read.
    const filler = 'f'.repeat(16 * 1024);
    let round = 0;
    while ((await raw.exists(index)) === 1 && round < 2000) {
      const batch = raw.pipeline();
      for (let j = 0; j < 10; j++) batch.set(`filler:${round}:${j}`, filler, 'PX', 600_000);
      await batch.exec();
      // Redis' LRU clock ticks once a second: spread the fill over seconds so that "hot" means something.
      await sleep(100);
      await readHot(cache, 'acme');
      round++;
    }
    expect(await raw.exists(index)).toBe(0);
    const before = await readHot(cache, 'acme');
    expect(before).toBeGreaterThan(HOT / 2); // the hot entries outlived their index
    await as('acme', () => cache.invalidateTag('hot'));
    expect(await readHot(cache, 'acme')).toBe(0);
    // Through getOrSet too: every hot key loads again.
    let loads = 0;
    await as('acme', async () => {
      for (let i = 0; i < HOT; i++) await cache.getOrSet(`hot:${i}`, () => ++loads, { ttl: 600_000, tags: ['hot'] });
    });
    expect(loads).toBe(HOT);
  }, 120_000);
});

describe('plain tags on the memory store under eviction pressure', () => {
  it('invalidateTag leaves 0 hot entries readable while a filler churns the store', async () => {
    const { cache, close } = await boot(memoryStore({ maxEntries: 600 }), []);
    await writeHot(cache, 'acme');
    for (let round = 0; round < 50; round++) {
      await as('acme', async () => {
        for (let j = 0; j < 100; j++) await cache.set(`filler:${round}:${j}`, 'x', { ttl: 600_000 });
      });
      await readHot(cache, 'acme');
    }
    expect(await readHot(cache, 'acme')).toBe(HOT);
    await as('acme', () => cache.invalidateTag('hot'));
    expect(await readHot(cache, 'acme')).toBe(0);
    await close();
  });
});

describe('plain-tag versions are per tenant', () => {
  let server: RedisServerHandle;
  let raw: Redis;
  let cache: TenantCacheService;
  let close: () => Promise<void>;
  const TAGS = ['products', 'a:b', '*', 'm:tp:k:products', 'ü租户', 'x'.repeat(300), 'k:products'];

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.url);
    ({ cache, close } = await boot(redisStore({ url: server.url, commandTimeout: 5000 }), []));
  }, 30_000);
  afterAll(async () => {
    await close();
    raw.disconnect();
    await server.stop();
  });

  it("tenant A's invalidateTag never reaches tenant B, nor A's other tags, with every index gone (adversarial ids and names)", async () => {
    for (const t of ADVERSARIAL_TENANTS) {
      await as(t, async () => {
        for (const [n, tag] of TAGS.entries()) await cache.set(`item:${n}`, `${t}/${tag}`, { ttl: 600_000, tags: [tag] });
      });
    }
    // Only the versions are left to find the entries.
    const indexes = (await raw.keys('*')).filter((k) => k.includes('m:ti:'));
    expect(indexes.length).toBe(ADVERSARIAL_TENANTS.length * TAGS.length);
    await raw.del(...indexes);
    for (const [n, tag] of TAGS.entries()) {
      const a = ADVERSARIAL_TENANTS[n % ADVERSARIAL_TENANTS.length]!;
      await as(a, () => cache.invalidateTag(tag));
      for (const t of ADVERSARIAL_TENANTS) {
        for (const [m, other] of TAGS.entries()) {
          const gone = t === a && m === n;
          const seen = await as(t, () => cache.get(`item:${m}`));
          expect(seen, `${t} ${other} after ${a} invalidated ${tag}`).toBe(
            gone || (m < n && ADVERSARIAL_TENANTS[m % ADVERSARIAL_TENANTS.length] === t) ? undefined : `${t}/${other}`,
          );
        }
      }
    }
  }, 60_000);

  it('invalidateTagInAllTenants reaches every tenant with the index gone, and nothing else', async () => {
    for (const t of ADVERSARIAL_TENANTS) {
      await as(t, async () => {
        await cache.set('all:p', t, { ttl: 600_000, tags: ['everywhere'] });
        await cache.set('all:q', t, { ttl: 600_000, tags: ['elsewhere'] });
      });
    }
    const indexes = (await raw.keys('*')).filter((k) => k.includes('m:ti:'));
    await raw.del(...indexes);
    expect(await cache.invalidateTagInAllTenants('everywhere')).toBe(0); // nothing listed: the versions did it
    for (const t of ADVERSARIAL_TENANTS) {
      expect(await as(t, () => cache.get('all:p'))).toBeUndefined();
      expect(await as(t, () => cache.get('all:q'))).toBe(t);
    }
  }, 60_000);
});

describe.each([
  { label: 'plain records (text and V8), hashed keys', codec: {} },
  { label: 'compressed, encrypted, chunked', codec: { chunkSize: 1024, compression: { algorithm: 'gzip' as const, threshold: 0 }, encryption: { secrets: [SECRET_1] } } },
])('plain tags are checked on every entry format: $label', ({ codec }) => {
  it.each(['memory', 'redis'])(
    '%s: stamped entries round-trip, and an invalidated tag misses without its index',
    async (kind) => {
      const server = kind === 'redis' ? await startRedisServer() : undefined;
      const raw = server ? new Redis(server.url) : undefined;
      const store = server ? redisStore({ url: server.url, commandTimeout: 5000 }) : memoryStore();
      const { moduleRef, cache, close } = await boot(store, [], { codec });
      const engine = moduleRef.get(CacheEngine);
      try {
        const values: Record<string, unknown> = {
          text: 'a string value',
          object: { n: 1, when: new Date(0), list: [1, 2, 3] },
          big: randomBytes(30_000).toString('base64') + 'ü',
          ['h'.repeat(300)]: 'a hashed key',
        };
        if (raw && 'chunkSize' in codec) {
          // A stamped manifest is still known as one: deleting the entry removes its chunks.
          await as('acme', () => cache.set('gone', values.big, { ttl: 600_000, tags: ['t'] }));
          const chunks = async () => (await raw.keys('*')).filter((k) => /:g\d+:c:/.test(k)).length;
          expect(await chunks()).toBeGreaterThan(10);
          expect(await as('acme', () => cache.delete('gone'))).toBe(true);
          expect(await chunks()).toBe(0);
        }
        await as('acme', async () => {
          for (const [k, v] of Object.entries(values)) await cache.set(k, v, { ttl: 600_000, tags: ['t', 'ü-tag'] });
          for (const [k, v] of Object.entries(values)) expect(await cache.get(k)).toEqual(v);
          expect(await cache.mget(Object.keys(values))).toEqual(Object.values(values));
          expect((await collectKeys(cache.keys())).sort()).toEqual(Object.keys(values).sort());
        });
        // Drop the indexes: only the stamps can find the entries now.
        const resolved = await engine.store(tenant('acme'));
        for (const tag of ['t', 'ü-tag']) {
          const index = engine.tagIndex.indexKey(resolved, tenant('acme'), tag);
          if (raw) await raw.del(index);
          else await resolved.store.delete(index);
        }
        await as('acme', async () => {
          expect(await cache.invalidateTag('ü-tag')).toBe(0); // nothing listed: the version did the work
          for (const k of Object.keys(values)) expect(await cache.get(k)).toBeUndefined();
          expect(await cache.mget(Object.keys(values))).toEqual(Object.keys(values).map(() => undefined));
          expect(await cache.getOrSet('big', () => 'loaded', { tags: ['t'] })).toBe('loaded');
          expect(await cache.get('big')).toBe('loaded');
        });
      } finally {
        await close();
        raw?.disconnect();
        await server?.stop();
      }
    },
    30_000,
  );
});

async function collectKeys(keys: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of keys) out.push(key);
  return out;
}

describe('plain tags across instances (no bus)', () => {
  it('a load that started before another instance invalidated its tag is not served once versions are re-read', async () => {
    const server = await startRedisServer();
    const keyPrefix = 'shared-app:';
    const options = { keyPrefix, versionCacheTtl: 50 };
    const a = await boot(redisStore({ url: server.url, commandTimeout: 5000 }), [], options);
    const b = await boot(redisStore({ url: server.url, commandTimeout: 5000 }), [], options);
    try {
      await as('acme', () => b.cache.set('warm', 1, { tags: ['catalog'] }));
      const started = gate();
      const release = gate();
      const pending = as('acme', () =>
        b.cache.getOrSet(
          'p',
          async () => {
            started.open();
            await release.promise;
            return 'old';
          },
          { ttl: 600_000, tags: ['catalog'] },
        ),
      );
      await started.promise;
      await as('acme', () => a.cache.invalidateTag('catalog'));
      release.open();
      expect(await pending).toBe('old');
      await sleep(100); // past versionCacheTtl on both
      expect(await as('acme', () => a.cache.get('p'))).toBeUndefined();
      expect(await as('acme', () => b.cache.get('p'))).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
      await server.stop();
    }
  }, 30_000);
});
