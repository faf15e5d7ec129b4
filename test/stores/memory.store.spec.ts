import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { MemoryStore, TenantCacheService, TenantContext, memoryStore } from '../../lib/index.js';
import { CacheEngine } from '../../lib/engine/cache-engine.js';
import type { VersionCounters } from '../../lib/engine/version-counters.js';
import { bootCache } from '../support/test-module.js';

const bytes = (text: string) => Buffer.from(text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(pages: AsyncIterable<string[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const page of pages) out.push(...page);
  return out;
}

/** Which of `keys` the store still holds. */
function held(store: MemoryStore, keys: readonly string[]): string[] {
  return keys.filter((k) => store.getSync(k) !== undefined);
}

describe('MemoryStore bounds and eviction', () => {
  it('evicts the least recently used entry past maxEntries; a read keeps an entry', async () => {
    const store = new MemoryStore('m', { maxEntries: 4 });
    for (const k of ['a', 'b', 'c', 'd']) await store.set(k, bytes(k));
    expect(await store.get('a')).toEqual(bytes('a'));
    await store.set('e', bytes('e'));
    expect(store.size).toBe(4);
    expect(held(store, ['a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'c', 'd', 'e']);
  });

  it('keeps entries that are read often while a stream of new ones passes through', async () => {
    const store = new MemoryStore('m', { maxEntries: 1000 });
    const hot = Array.from({ length: 100 }, (_, i) => `hot${i}`);
    for (const k of hot) store.setSync(k, bytes(k));
    for (let i = 0; i < 5000; i++) {
      store.setSync(`cold${i}`, bytes('c'));
      store.getSync(hot[i % hot.length]!);
    }
    expect(store.size).toBe(1000);
    expect(held(store, hot)).toEqual(hot);
    // The oldest cold entries went first.
    expect(held(store, ['cold0', 'cold4099', 'cold4100', 'cold4999'])).toEqual(['cold4100', 'cold4999']);
  });

  it('never holds more than maxBytes of keys and values, dropping the oldest first', async () => {
    const store = new MemoryStore('m', { maxEntries: 1000, maxBytes: 10_000 });
    for (let i = 0; i < 50; i++) await store.set(`k${i}`, Buffer.alloc(1000, i));
    expect(store.totalBytes).toBeLessThanOrEqual(10_000);
    expect(store.size).toBeLessThan(10);
    expect(await store.get('k49')).toEqual(Buffer.alloc(1000, 49));
    expect(await store.get('k0')).toBeUndefined();
    // Overwrites and deletes give their bytes back.
    await store.set('k49', Buffer.alloc(10, 1));
    const after = store.totalBytes;
    await store.delete('k49');
    expect(store.totalBytes).toBe(after - (10 + 'k49'.length * 2));
  });

  it('does not keep a value larger than maxBytes, and keeps the rest', async () => {
    const store = new MemoryStore('m', { maxBytes: 1000 });
    await store.set('small', bytes('s'));
    await store.set('huge', Buffer.alloc(2000));
    expect(await store.get('huge')).toBeUndefined();
    expect(await store.get('small')).toEqual(bytes('s'));
  });

  it('expires entries on access, without a timer per key', async () => {
    const store = new MemoryStore('m');
    store.setSync('short', bytes('s'), 30);
    store.setSync('long', bytes('l'), 60_000);
    store.setSync('forever', bytes('f'));
    expect(await store.ttl('forever')).toBe(Infinity);
    await sleep(60);
    expect(store.getSync('short')).toBeUndefined();
    expect(await store.has('short')).toBe(false);
    expect(store.getSync('long')).toEqual(bytes('l'));
    expect(store.size).toBe(2);
  });

  it('getSync and setSync see the same entries as get and set', async () => {
    const store = new MemoryStore('m');
    store.setSync('a', bytes('1'));
    expect(await store.get('a')).toEqual(bytes('1'));
    await store.set('b', bytes('2'));
    expect(store.getSync('b')).toEqual(bytes('2'));
    expect(await store.mget(['a', 'b', 'c'])).toEqual([bytes('1'), bytes('2'), undefined]);
  });
});

describe('MemoryStore tag sets stay within the store bounds', () => {
  it('drops a member when its entry is deleted, evicted or found expired, and an empty set with it', async () => {
    const store = new MemoryStore('m', { maxEntries: 3 });
    await store.sadd('tag:a', ['x', 'y', 'z', 'w']);
    await store.sadd('tag:b', ['x']);
    for (const k of ['x', 'y']) await store.set(k, bytes(k));
    await store.set('z', bytes('z'), 20);
    expect(store.tagSetSize).toEqual({ sets: 2, members: 5 });
    await store.delete('x');
    expect(store.tagSetSize).toEqual({ sets: 1, members: 3 }); // tag:b was left empty
    await sleep(30);
    expect(await store.get('z')).toBeUndefined(); // expired, seen on access
    expect(store.tagSetSize).toEqual({ sets: 1, members: 2 });
    // 'w' is written, then evicted by newer entries
    await store.set('w', bytes('w'));
    for (const k of ['p', 'q', 'r']) await store.set(k, bytes(k));
    expect(store.tagSetSize).toEqual({ sets: 0, members: 0 });
    expect(await collect(store.sscan('tag:a'))).toEqual([]);
  });

  it('counts set bytes in maxBytes', async () => {
    const store = new MemoryStore('m', { maxEntries: 1000, maxBytes: 10_000 });
    await store.set('e', bytes('e'));
    const before = store.totalBytes;
    await store.sadd('tag', ['e']);
    expect(store.totalBytes).toBe(before + 'tag'.length * 2 + 'e'.length * 2);
    await store.delete('tag');
    expect(store.totalBytes).toBe(before);
  });

  it('keeps the plain-tag index bounded by maxEntries under the README pattern (one tag per product, short TTL)', async () => {
    const store = new MemoryStore('default', { maxEntries: 1000 });
    const moduleRef = await bootCache({ stores: { default: { create: () => store, description: 'memory' } } });
    const cache = moduleRef.get(TenantCacheService);
    await TenantContext.run('acme', async () => {
      for (let i = 0; i < 20_000; i++) await cache.set(`product:${i}`, { id: i }, { ttl: 500, tags: [`product:${i}`] });
    });
    // Before the fix: 20,000 sets, one per tag ever written.
    expect(store.size).toBeLessThanOrEqual(1000);
    expect(store.tagSetSize.sets).toBeLessThanOrEqual(1000);
    expect(store.tagSetSize.members).toBeLessThanOrEqual(1000);
    // The tags' versions live in the store (within maxEntries), not in a per-process copy beside it.
    // The engine's version-counter cache (internal: see lib/engine/engine-wiring.ts).
    const engine = moduleRef.get(CacheEngine) as unknown as { p: { resolver: { counters: VersionCounters } } };
    expect(engine.p.resolver.counters.cached).toBeLessThanOrEqual(10);
    await sleep(600);
    // Everything expired: each entry found expired leaves the index with it.
    await TenantContext.run('acme', async () => {
      for (let i = 0; i < 20_000; i++) await cache.get(`product:${i}`);
    });
    expect(store.tagSetSize).toEqual({ sets: 0, members: 0 });
    await moduleRef.close();
  });
});

describe('memoryStore({ shareReads: true })', () => {
  async function boot(shareReads: boolean) {
    const moduleRef = await bootCache({ stores: { default: memoryStore({ shareReads }) }, tenant: { middleware: false } });
    return { cache: moduleRef.get(TenantCacheService), close: () => moduleRef.close() };
  }

  it('hands every reader the same frozen value; changing it throws and changes nothing', async () => {
    const { cache, close } = await boot(true);
    await TenantContext.run('acme', async () => {
      const written = { n: 1, nested: { list: [1, 2] }, when: new Date(0) };
      await cache.set('doc', written);
      written.n = 99; // the writer's own object: not what was cached
      const a = await cache.get<typeof written>('doc');
      const b = await cache.get<typeof written>('doc');
      expect(a).toBe(b);
      expect(a).toEqual({ n: 1, nested: { list: [1, 2] }, when: new Date(0) });
      expect(Object.isFrozen(a) && Object.isFrozen(a!.nested) && Object.isFrozen(a!.nested.list)).toBe(true);
      expect(() => {
        a!.n = 2;
      }).toThrow(TypeError);
      expect(() => a!.nested.list.push(3)).toThrow(TypeError);
      expect((await cache.get<typeof written>('doc'))!.nested.list).toEqual([1, 2]);
      // An overwrite is a new value; getOrSet hits share it too.
      await cache.set('doc', { n: 2 });
      const c = await cache.getOrSet('doc', async () => ({ n: -1 }));
      expect(c).toEqual({ n: 2 });
      expect(await cache.getOrSet('doc', async () => ({ n: -1 }))).toBe(c);
    });
    // Another tenant never gets that object.
    expect(await TenantContext.run('globex', () => cache.get('doc'))).toBeUndefined();
    await close();
  });

  it('is off by default: each read is a copy of its own', async () => {
    const { cache, close } = await boot(false);
    await TenantContext.run('acme', async () => {
      await cache.set('doc', { n: 1 });
      const a = await cache.get<{ n: number }>('doc');
      expect(a).not.toBe(await cache.get('doc'));
      expect(Object.isFrozen(a)).toBe(false);
    });
    await close();
  });
});
