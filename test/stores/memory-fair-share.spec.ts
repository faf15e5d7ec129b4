import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidOptionsError, MemoryStore, type QuotaExceededEvent, type StoreContext, memoryStore } from '../../lib/index.js';
import { type CacheScope, KeyBuilder } from '../../lib/keys/key-builder.js';
import { parsePhysicalKey } from '../../lib/keys/key-layout.js';
import { keyOwner } from '../../lib/stores/quota/tenant-quota.js';
import { OutageLog } from '../../lib/stores/resilience/outage-log.js';
import { runStoreConformanceSuite } from '../../lib/testing/index.js';
import { bootCache } from '../support/test-module.js';
import { FAIR_SHARE_CASES, runFairShare } from './memory-fair-share.workload.js';

const tenant = (tenantId: string): CacheScope => ({ kind: 'tenant', tenantId });
const value = (text: string) => Buffer.from(text);

/** A store with `perTenant`, the keys the module would build for it, and the events it reported. */
function fairStore(options: ConstructorParameters<typeof MemoryStore>[1], prefix = 'tc:') {
  const events: QuotaExceededEvent[] = [];
  const outages = new OutageLog();
  const context: StoreContext = { outages, keyPrefix: prefix, quotaExceeded: (e) => events.push(e) };
  const store = new MemoryStore('mem', options, context);
  outages.close();
  const keys = new KeyBuilder(prefix, store.capabilities);
  const key = (t: string, k: string, generation = 1) => keys.entryKey(tenant(t), generation, k);
  const held = (t: string, ks: readonly string[]) => ks.filter((k) => store.getSync(key(t, k)) !== undefined);
  return { store, keys, key, held, events };
}

const range = (n: number, p = 'k') => Array.from({ length: n }, (_, i) => `${p}${i}`);

afterEach(() => {
  vi.useRealTimers();
});

// The store keeps its contract with tenant pools on (bounds large enough for the suite's keys).
runStoreConformanceSuite('memory (perTenant)', { test: { describe, it, beforeAll, afterAll }, store: memoryStore({ perTenant: { maxEntries: 10_000 } }), flush: true });
runStoreConformanceSuite('memory (perTenant, reject)', {
  test: { describe, it, beforeAll, afterAll },
  store: memoryStore({ perTenant: { maxEntries: 10_000 }, overQuota: 'reject' }),
  flush: true,
});

describe('memoryStore perTenant: a noisy neighbour (issue 16, "Done when")', () => {
  it("keeps the quiet tenants' hit ratio within 5 points of their solo baseline, where a shared LRU does not", () => {
    const [solo, shared, fair] = FAIR_SHARE_CASES.slice(0, 3).map(runFairShare) as [ReturnType<typeof runFairShare>, ...ReturnType<typeof runFairShare>[]];
    // The workload really is noisy: without perTenant, the loud tenant costs the quiet ones more than 5 points.
    expect(solo.quiet - shared!.quiet).toBeGreaterThan(0.05);
    expect(Math.abs(solo.quiet - fair!.quiet)).toBeLessThanOrEqual(0.05);
    expect(solo.worstQuiet - fair!.worstQuiet).toBeLessThanOrEqual(0.05);
    // The loud tenant is held to its bound (64 MiB / 10).
    expect(fair!.loudBytes).toBeLessThanOrEqual((64 * 1024 * 1024) / 10);
  }, 120_000);
});

describe('memoryStore perTenant bounds', () => {
  it("'evict': a tenant over its bound loses its own least recently used entries, and quota:exceeded names it", async () => {
    const { store, key, held, events } = fairStore({ perTenant: { maxEntries: 3 } });
    for (const k of ['a', 'b', 'c']) await store.set(key('B', k), value(k));
    for (const k of ['a', 'b', 'c']) await store.set(key('A', k), value(k));
    expect(await store.get(key('A', 'a'))).toEqual(value('a')); // read: `a` is now A's most recent
    await store.set(key('A', 'd'), value('d'));
    await store.set(key('A', 'e'), value('e'));
    expect(held('A', ['a', 'b', 'c', 'd', 'e'])).toEqual(['a', 'd', 'e']);
    expect(held('B', ['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(events).toEqual([{ store: 'mem', tenant: 'A', scope: 't1:A:', limit: 'entries', action: 'evict', count: 1 }]);
  });

  it("'reject': the write is dropped (a miss, add answers false, no error), counters are still written", async () => {
    const { store, keys, key, held, events } = fairStore({ perTenant: { maxBytes: 300 }, overQuota: 'reject' });
    const big = Buffer.alloc(150);
    await store.set(key('A', 'x'), big);
    await expect(store.set(key('A', 'y'), big)).resolves.toBeUndefined();
    expect(held('A', ['x', 'y'])).toEqual(['x']);
    expect(await store.add(key('A', 'z'), big)).toBe(false);
    expect(await store.get(key('A', 'z'))).toBeUndefined();
    // Overwriting a held key with a value of the same size fits.
    await store.set(key('A', 'x'), Buffer.alloc(150, 1));
    expect(await store.get(key('A', 'x'))).toEqual(Buffer.alloc(150, 1));
    // A tag version (meta key) is never refused: over the bound it evicts the tenant's own entries instead.
    const tagVersion = keys.tagVersionKey(tenant('A'), keys.tagId('t'));
    expect(await store.incr(tagVersion, 5)).toBe(5);
    expect(await store.incr(tagVersion, 100_000_000)).toBe(100_000_005);
    expect(await store.get(tagVersion)).toEqual(Buffer.from('100000005'));
    expect(events[0]).toEqual({ store: 'mem', tenant: 'A', scope: 't1:A:', limit: 'bytes', action: 'reject', count: 1 });
    // Another tenant writes as much as it likes within its own bound.
    await store.set(key('B', 'y'), big);
    expect(held('B', ['y'])).toEqual(['y']);
  });

  it('reports at most one quota:exceeded a second per tenant, with the count in between', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const { store, key, events } = fairStore({ perTenant: { maxEntries: 1 }, overQuota: 'reject' });
    for (let i = 0; i < 6; i++) await store.set(key('A', `k${i}`), value('v'));
    await store.set(key('B', 'k0'), value('v'));
    await store.set(key('B', 'k1'), value('v'));
    expect(events.map((e) => [e.tenant, e.count])).toEqual([
      ['A', 1],
      ['B', 1],
    ]);
    vi.setSystemTime(1_001_001);
    await store.set(key('A', 'again'), value('v'));
    expect(events.map((e) => [e.tenant, e.count])).toEqual([
      ['A', 1],
      ['B', 1],
      ['A', 5],
    ]);
  });

  it('takes plans: a function of the tenant, called once while the tenant holds entries', async () => {
    const asked: string[] = [];
    const { store, key, held } = fairStore({
      perTenant: {
        maxEntries: (t) => {
          asked.push(t);
          return t === 'gold' ? 10 : 2;
        },
      },
    });
    for (const k of range(20)) {
      await store.set(key('gold', k), value(k));
      await store.set(key('free', k), value(k));
    }
    expect(held('gold', range(20))).toEqual(range(20).slice(10));
    expect(held('free', range(20))).toEqual(['k18', 'k19']);
    expect(asked.sort()).toEqual(['free', 'gold']);
  });

  it("without bounds (perTenant: {}), a full store takes from the tenant furthest over its share, not from a quiet tenant's LRU", async () => {
    const { store, key, held } = fairStore({ maxEntries: 100, perTenant: {} });
    for (const k of range(20)) await store.set(key('quiet', k), value(k));
    for (const k of range(1000)) await store.set(key('loud', k), value(k));
    expect(store.size).toBe(100);
    expect(held('quiet', range(20))).toEqual(range(20));
    expect(held('loud', range(1000))).toEqual(range(1000).slice(920));
    // Then the quiet tenant grows: the loud one gives way until they are level, then each keeps half.
    for (const k of range(70, 'n')) await store.set(key('quiet', k), value(k));
    const usage = store.tenantUsage();
    expect(usage.get('t5:quiet:')!.entries + usage.get('t4:loud:')!.entries).toBe(100);
    expect(Math.abs(usage.get('t5:quiet:')!.entries - usage.get('t4:loud:')!.entries)).toBeLessThanOrEqual(1);
    expect(held('quiet', range(70, 'n')).slice(-40)).toEqual(range(70, 'n').slice(-40));
  });

  it("never evicts a generation counter with the tenant's entries; bookkeeping leaves with the last entry", async () => {
    const { store, keys, key } = fairStore({ perTenant: { maxEntries: 2 } });
    const gen = keys.generationKey(tenant('A'));
    await store.add(gen, value('12345'));
    for (const k of range(10)) await store.set(key('A', k, 12345), value(k));
    expect(await store.get(gen)).toEqual(value('12345'));
    expect(store.tenantUsage().get('t1:A:')).toEqual({ tenant: 'A', entries: 2, bytes: expect.any(Number) });
    expect(store.tenantUsage().get(undefined)!.entries).toBe(1); // the counter: no tenant's
    await store.deleteByPrefix(keys.entryPrefix(tenant('A'), 12345));
    expect(store.tenantUsage().has('t1:A:')).toBe(false);
  });
});

describe('memoryStore perTenant: adversarial tenant ids', () => {
  const ids = ['a', 'a:', 'a:b', 'ab', '1:a', 't1:a', 't1:a:', '%41', 'A', 'ä', 'a\u0000', 'T'.repeat(64), 'x'.repeat(65), `${'x'.repeat(65)}y`, 's', 'gen', 'm:tp'];

  it('charges each key to its own tenant: one tenant filling its bound never touches another, whatever their ids', async () => {
    const { store, key, held, events } = fairStore({ perTenant: { maxEntries: 2 } });
    for (const id of ids) for (const k of ['k0', 'k1']) await store.set(key(id, k), value(k));
    for (const id of ids) {
      for (const k of range(50, 'loud')) await store.set(key(id, k), value(k));
      for (const other of ids) if (other !== id) expect(held(other, ['k0', 'k1']), `${JSON.stringify(id)} evicted ${JSON.stringify(other)}`).toEqual(['k0', 'k1']);
      // Put this tenant's two entries back for the next round.
      for (const k of ['k0', 'k1']) await store.set(key(id, k), value(k));
    }
    const usage = store.tenantUsage();
    expect(usage.size).toBe(ids.length);
    for (const u of usage.values()) expect(u.entries).toBe(2);
    // Literal ids come back as they were; hashed ones (over 64 characters) are reported by segment only.
    const literal = ids.filter((id) => !id.startsWith('x'));
    expect(
      [...usage.values()]
        .map((u) => u.tenant)
        .filter((t) => !t!.startsWith('T') || t === 'T'.repeat(64))
        .sort(),
    ).toEqual([...literal].sort());
    expect(new Set(events.map((e) => e.scope)).size).toBe(ids.length);
    expect(events.filter((e) => e.tenant === undefined).map((e) => e.scope)).toEqual([
      expect.stringMatching(/^T[0-9a-f]{64}:$/),
      expect.stringMatching(/^T[0-9a-f]{64}:$/),
    ]);
  });

  it('classifies keys as the key layout parses them (parsePhysicalKey), for every kind of key and id', () => {
    const keys = new KeyBuilder('p:', { maxKeyLength: 1024 });
    const scopes: CacheScope[] = [...ids.map(tenant), { kind: 'shared' }];
    const generations = [0, 1, -5, 123456789];
    const samples: string[] = ['p:', 'p:t1:a:', 'p:t1:a:g', 'p:t1:a:g01:k2:x', 'p:t1:a:g-0:k2:x', 'p:t1:a:g1:x2:x', 'p:t1:a:gen2', 'p:t2:a:g1:k2:x', 'q:t1:a:g1:k2:x'];
    for (const scope of scopes) {
      samples.push(keys.generationKey(scope), keys.metaKey(scope, 'tv', '\u0000t'), keys.tagVersionKey(scope, keys.tagId('t')));
      for (const g of generations) {
        const entry = keys.entryKey(scope, g, 'k:1');
        samples.push(entry, keys.entryKey(scope, g, 'x'.repeat(300)), keys.chunkKeyBase(entry, scope, Buffer.from('ab', 'hex')) + '0');
      }
    }
    for (const k of samples) {
      const parsed = parsePhysicalKey(k, 'p:');
      const owner = keyOwner(k, 'p:', undefined, new Map());
      const expected = parsed === undefined || parsed.kind === 'generation' || parsed.scope === 's:' ? undefined : parsed.scope;
      expect(owner.scope, k).toBe(expected);
      if (expected !== undefined) expect(owner.entry, k).toBe(parsed!.kind === 'entry' || parsed!.kind === 'chunk');
    }
  });

  it('keeps shared entries and keys of another prefix out of every tenant', async () => {
    const { store, keys, key } = fairStore({ perTenant: { maxEntries: 1 } }, 'app:');
    await store.set(keys.entryKey({ kind: 'shared' }, 1, 'k'), value('s'));
    await store.set('tc:t1:A:g1:k2:k', value('other prefix'));
    await store.set('app:t1:A:g1:k2:k', value('A'));
    await store.set(key('A', 'k2'), value('A2'));
    expect(await store.get('tc:t1:A:g1:k2:k')).toEqual(value('other prefix'));
    expect(await store.get(keys.entryKey({ kind: 'shared' }, 1, 'k'))).toEqual(value('s'));
    expect(await store.get('app:t1:A:g1:k2:k')).toBeUndefined();
    expect(store.tenantUsage().get(undefined)!.entries).toBe(2);
  });
});

describe('memoryStore perTenant through the module', () => {
  async function boot(overQuota: 'evict' | 'reject') {
    let store: MemoryStore | undefined;
    const def = memoryStore({ perTenant: { maxEntries: (t) => (t === 'big' ? 100 : 3) }, overQuota });
    const app = await bootCache(
      {
        keyPrefix: 'fair:',
        stores: { default: { ...def, create: (alias, context) => (store = def.create(alias, context) as MemoryStore) } },
        tenant: { middleware: false },
      },
      { logger: false },
    );
    const events: QuotaExceededEvent[] = [];
    app.cache.events.on('quota:exceeded', (e) => events.push(e));
    return { app, events, store: () => store! };
  }

  it("'evict': writes never fail, the newest entries stay, invalidateAll still works, and the event reaches cache.events", async () => {
    const { app, events, store } = await boot('evict');
    try {
      const a = app.cache.forTenant('a.b');
      for (const k of range(10)) await a.set(k, k);
      expect(await Promise.all(range(10).map((k) => a.get(k)))).toEqual([...Array(7).fill(undefined), 'k7', 'k8', 'k9']);
      expect(events[0]).toMatchObject({ store: 'default', tenant: 'a.b', limit: 'entries', action: 'evict' });
      const big = app.cache.forTenant('big');
      for (const k of range(10)) await big.set(k, k);
      expect(await Promise.all(range(10).map((k) => big.get(k)))).toEqual(range(10));
      await a.invalidateAll();
      expect(await a.get('k9')).toBeUndefined();
      expect(await big.get('k9')).toBe('k9');
      // The old generation's entries still hold memory, charged to the tenant: its new entries push them out first.
      for (const k of range(3, 'new')) await a.set(k, k);
      expect(await Promise.all(range(3, 'new').map((k) => a.get(k)))).toEqual(range(3, 'new'));
      expect(store().tenantUsage().get('t3:a.b:')!.entries).toBe(3);
    } finally {
      await app.close();
    }
  });

  it("'reject': an over-quota set resolves, reads as a miss, and getOrSet still answers the loader's value", async () => {
    const { app, events } = await boot('reject');
    try {
      const a = app.cache.forTenant('a');
      for (const k of range(3)) await a.set(k, k);
      await expect(a.set('k3', 'k3')).resolves.toBeUndefined();
      expect(await a.get('k3')).toBeUndefined();
      expect(await a.getOrSet('k4', async () => 'loaded')).toBe('loaded');
      expect(await a.get('k0')).toBe('k0');
      expect(events[0]).toMatchObject({ tenant: 'a', action: 'reject' });
    } finally {
      await app.close();
    }
  });
});

describe('memoryStore perTenant with tags and dedicated stores', () => {
  it("'reject' with plain tags: a dropped entry leaves no member in the tag index, and invalidateTag counts only what is held", async () => {
    let store: MemoryStore | undefined;
    const def = memoryStore({ perTenant: { maxEntries: 4 }, overQuota: 'reject' });
    const app = await bootCache(
      { stores: { default: { ...def, create: (alias, context) => (store = def.create(alias, context) as MemoryStore) } }, tenant: { middleware: false } },
      { logger: false },
    );
    try {
      const a = app.cache.forTenant('a');
      for (const k of range(8)) await a.set(k, k, { tags: ['t'] });
      const held = (await Promise.all(range(8).map((k) => a.get(k)))).filter((v) => v !== undefined);
      expect(held.length).toBeGreaterThan(0);
      expect(held.length).toBeLessThan(8);
      expect(store!.tagSetSize.members).toBe(held.length);
      expect(await a.invalidateTag('t')).toBe(held.length);
      expect((await Promise.all(range(8).map((k) => a.get(k)))).filter((v) => v !== undefined)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('charges a dedicated store (`d:` keys) to its tenant', async () => {
    const events: QuotaExceededEvent[] = [];
    const outages = new OutageLog();
    outages.close();
    const store = new MemoryStore(
      'ded',
      { dedicatedTenant: 'acme', perTenant: { maxEntries: (t) => (t === 'acme' ? 2 : 1000) } },
      { outages, quotaExceeded: (e) => events.push(e) },
    );
    const keys = new KeyBuilder('tc:', store.capabilities, 'acme');
    for (const k of range(5)) await store.set(keys.entryKey(tenant('acme'), 1, k), value(k));
    expect(store.tenantUsage().get('d:')).toEqual({ tenant: 'acme', entries: 2, bytes: expect.any(Number) });
    expect(events[0]).toMatchObject({ tenant: 'acme', scope: 'd:', action: 'evict' });
  });
});

describe('memoryStore perTenant options', () => {
  it('are checked when the store is declared', () => {
    expect(() => memoryStore({ perTenant: { maxEntires: 3 } as never })).toThrow(/memoryStore\.perTenant\.maxEntires.*maxEntries/);
    expect(() => memoryStore({ perTenant: { maxBytes: 0 } })).toThrow(InvalidOptionsError);
    expect(() => memoryStore({ perTenant: {}, overQuota: 'drop' as never })).toThrow(/memoryStore\.overQuota/);
    expect(() => memoryStore({ overQuota: 'reject' })).toThrow(/without perTenant/);
  });
});
