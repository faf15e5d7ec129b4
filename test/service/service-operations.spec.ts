import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  InvalidCacheKeyError,
  InvalidCacheValueError,
  InvalidTenantIdError,
  InvalidTtlError,
  TenantCacheService,
  TenantContext,
  TenantContextMissingError,
  memoryStore,
} from '../../lib/index.js';
import { storeCases } from '../support/store-cases.js';
import { bootCache } from '../support/test-module.js';

const ADVERSARIAL_TENANTS = ['a:b', 'a', '*', '{x}', 'ü租户', 't'.repeat(200), 'a:b:c', 'tc:t1:a'];
const ADVERSARIAL_KEYS = ['b:c', '*', ' ', 'k:x', 'g1:k:b', 'x'.repeat(600), '4*', '42', 'ü'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(storeCases())('TenantCacheService on $name', ({ definition }) => {
  let cache: TenantCacheService;
  let close: () => Promise<void>;
  const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);

  beforeAll(async () => {
    ({ cache, close } = await bootCache({
      stores: { default: definition() },
      keyPrefix: `ops-${randomUUID().slice(0, 8)}:`,
      // Accept adversarial ids (anything but control characters) to prove the key layout keeps them apart.
      tenant: { pattern: /^[\s\S]+$/u, maxLength: 300 },
    }));
  });
  afterAll(() => close());

  it('round-trips values with their types; null, 0, false and "" are values', async () => {
    const value = {
      date: new Date('2026-01-02T03:04:05.006Z'),
      map: new Map<string, unknown>([
        ['a', 1],
        ['b', { c: [1, 2] }],
      ]),
      set: new Set([1, 'two']),
      big: 12345678901234567890n,
      buf: Buffer.from([0, 255, 7]),
      nested: { deep: { list: [null, undefined, 1.5] } },
    };
    await as('types', async () => {
      await cache.set('v', value);
      const back = await cache.get<typeof value>('v');
      expect(back).toEqual(value);
      expect(back?.date).toBeInstanceOf(Date);
      expect(back?.map).toBeInstanceOf(Map);
      expect(Buffer.isBuffer(back?.buf)).toBe(true);
      for (const falsy of [null, 0, false, '']) {
        await cache.set('f', falsy);
        expect(await cache.get('f')).toBe(falsy);
        expect(await cache.has('f')).toBe(true);
      }
      expect(await cache.get('missing')).toBeUndefined();
      expect(await cache.has('missing')).toBe(false);
    });
  });

  it('returns every string exactly as written: unicode, NUL, lone surrogates, long text', async () => {
    const strings = ['', ' ', 'plain', 'ü租户🎉', 'a\u0000b', '\ud800 lone high', 'lone low \udc00', '\udc00\ud800', 'é'.repeat(5000), 'x'.repeat(300_000)];
    await as('strings', async () => {
      for (const [i, text] of strings.entries()) await cache.set(`s${i}`, text);
      for (const [i, text] of strings.entries()) {
        // Twice: a repeated hit may be answered from a decoded copy.
        expect(await cache.get(`s${i}`)).toBe(text);
        expect(await cache.get(`s${i}`)).toBe(text);
      }
      expect(await cache.mget(strings.map((_, i) => `s${i}`))).toEqual(strings);
      await cache.set('s0', 'overwritten');
      expect(await cache.get('s0')).toBe('overwritten');
    });
    // Same keys, another tenant: nothing of the first one's strings.
    expect(await as('strings-2', () => cache.mget(strings.map((_, i) => `s${i}`)))).toEqual(strings.map(() => undefined));
  });

  it('hands each reader its own copy: changing a returned object changes nothing cached', async () => {
    await as('copies', async () => {
      await cache.set('doc', { n: 1, list: [1], map: new Map([['a', 1]]) });
      const first = await cache.get<{ n: number; list: number[]; map: Map<string, number> }>('doc');
      first!.n = 2;
      first!.list.push(2);
      first!.map.set('b', 2);
      expect(await cache.get('doc')).toEqual({ n: 1, list: [1], map: new Map([['a', 1]]) });
      const loaded = await cache.getOrSet('loaded', async () => ({ items: ['a'] }));
      loaded.items.push('b');
      expect(await cache.getOrSet('loaded', async () => ({ items: ['not called'] }))).toEqual({ items: ['a'] });
    });
  });

  it('add, delete, incr, decr, touch and ttl behave atomically and report what they did', async () => {
    await as('ops', async () => {
      expect(await cache.add('a', 1)).toBe(true);
      expect(await cache.add('a', 2)).toBe(false);
      expect(await cache.get('a')).toBe(1);
      expect(await cache.delete('a')).toBe(true);
      expect(await cache.delete('a')).toBe(false);
      expect(await cache.incr('n')).toBe(1);
      expect(await cache.incr('n', 5)).toBe(6);
      expect(await cache.decr('n', 2)).toBe(4);
      expect(await cache.get('n')).toBe(4);
      const counts = await Promise.all(Array.from({ length: 200 }, () => cache.incr('c')));
      expect(new Set(counts).size).toBe(200);
      expect(await cache.ttl('n')).toBe(Infinity);
      expect(await cache.touch('n', 60_000)).toBe(true);
      const left = await cache.ttl('n');
      expect(left).toBeGreaterThan(55_000);
      expect(left).toBeLessThanOrEqual(60_000);
      expect(await cache.touch('nope', 1000)).toBe(false);
      expect(await cache.ttl('nope')).toBeUndefined();
      await cache.set('str', 'text');
      await expect(cache.incr('str')).rejects.toBeInstanceOf(InvalidCacheValueError);
    });
  });

  it('expires entries after their TTL', async () => {
    await as('ttl', async () => {
      await cache.set('short', 'x', 60);
      await cache.set('long', 'y', 60_000);
      expect(await cache.get('short')).toBe('x');
      await sleep(120);
      expect(await cache.get('short')).toBeUndefined();
      expect(await cache.get('long')).toBe('y');
    });
  });

  it('mget, mset and mdel work in batches', async () => {
    await as('multi', async () => {
      await cache.mset([
        { key: 'm1', value: 1 },
        { key: 'm2', value: null },
        { key: 'm3', value: 'three', ttl: 60_000 },
      ]);
      await cache.mset({ m4: [4] });
      expect(await cache.mget(['m1', 'm2', 'm3', 'm4', 'm5'])).toEqual([1, null, 'three', [4], undefined]);
      expect(await cache.mdel(['m1', 'm2', 'm5'])).toBe(2);
      expect(await cache.mget(['m1', 'm3'])).toEqual([undefined, 'three']);
      await expect(
        cache.mset([
          { key: 'ok', value: 1 },
          { key: 'bad', value: () => 1 },
        ]),
      ).rejects.toBeInstanceOf(InvalidCacheValueError);
      expect(await cache.get('ok')).toBeUndefined();
    });
  });

  it('lists keys and deletes by a literal prefix (glob characters included), long keys too', async () => {
    await as('listing', async () => {
      const long = `4*${'z'.repeat(400)}`;
      await cache.mset([
        { key: '4*', value: 1 },
        { key: '4*a', value: 1 },
        { key: '42', value: 1 },
        { key: '4?', value: 1 },
        { key: long, value: 1 },
      ]);
      expect((await cache.keys()).sort()).toEqual(['4*', '4*a', '42', '4?', long].sort());
      expect((await cache.keys('4*')).sort()).toEqual(['4*', '4*a', long].sort());
      const streamed: string[] = [];
      for await (const k of cache.keys('4')) streamed.push(k);
      expect(streamed).toHaveLength(5);
      expect(await cache.deleteByPrefix('4*')).toBe(3);
      expect((await cache.keys()).sort()).toEqual(['42', '4?']);
    });
  });

  it('getOrSet runs the loader once for concurrent misses and caches null but not undefined', async () => {
    await as('getorset', async () => {
      let calls = 0;
      const loader = async () => {
        calls++;
        await sleep(20);
        return { n: calls };
      };
      const results = await Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('k', loader)));
      expect(calls).toBe(1);
      expect(results.every((r) => r.n === 1)).toBe(true);
      expect(await cache.getOrSet('k', loader)).toEqual({ n: 1 });
      expect(await cache.getOrSet('nul', async () => null)).toBeNull();
      expect(await cache.has('nul')).toBe(true);
      expect(await cache.getOrSet('undef', async () => undefined)).toBeUndefined();
      expect(await cache.has('undef')).toBe(false);
    });
  });

  it('does not store a load that an invalidation overtook (set-after-invalidate)', async () => {
    await as('race', async () => {
      let release!: () => void;
      let started!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const loading = new Promise<void>((r) => (started = r));
      const pending = cache.getOrSet('slow', async () => {
        started();
        await gate;
        return 'stale';
      });
      await loading;
      await cache.delete('slow');
      release();
      expect(await pending).toBe('stale');
      expect(await cache.has('slow')).toBe(false);
    });
  });

  it('clear and invalidateAll act on the current tenant only', async () => {
    await as('c1', () => cache.mset({ x: 1, y: 2 }));
    await as('c2', () => cache.mset({ x: 1, y: 2 }));
    await as('c1', () => cache.invalidateAll());
    expect(await as('c1', () => cache.mget(['x', 'y']))).toEqual([undefined, undefined]);
    expect(await as('c2', () => cache.mget(['x', 'y']))).toEqual([1, 2]);
    await as('c1', () => cache.set('after', 3));
    expect(await as('c1', () => cache.get('after'))).toBe(3);
    await as('c2', () => cache.clear());
    expect(await as('c2', () => cache.keys())).toEqual([]);
    expect(await as('c1', () => cache.get('after'))).toBe(3);
  });

  it('forTenant and shared() are explicit, separate namespaces', async () => {
    await cache.forTenant('explicit').set('k', 'tenant');
    await cache.shared().set('k', 'shared');
    expect(await as('explicit', () => cache.get('k'))).toBe('tenant');
    expect(await cache.shared().get('k')).toBe('shared');
    expect(await as('other', () => cache.get('k'))).toBeUndefined();
    await as('explicit', () => cache.clear());
    expect(await cache.shared().get('k')).toBe('shared');
  });

  it('nested TenantContext.run scopes: the inner tenant wins, the outer one is back after', async () => {
    await as('outer', async () => {
      await cache.set('who', 'outer');
      await TenantContext.run('inner', async () => {
        await cache.set('who', 'inner');
        expect(TenantContext.current()).toBe('inner');
      });
      expect(TenantContext.current()).toBe('outer');
      expect(await cache.get('who')).toBe('outer');
    });
  });

  describe('isolation between tenants for every operation (adversarial ids and keys)', () => {
    const pairs = ADVERSARIAL_TENANTS.flatMap((a, i) => ADVERSARIAL_TENANTS.slice(i + 1).map((b) => [a, b] as const));

    it.each(pairs)('%s vs %s', async (a, b) => {
      for (const key of ADVERSARIAL_KEYS) {
        await as(a, () => cache.set(key, `A:${key}`));
        await as(b, () => cache.set(key, `B:${key}`));
      }
      for (const key of ADVERSARIAL_KEYS) {
        expect(await as(a, () => cache.get(key))).toBe(`A:${key}`);
        expect(await as(b, () => cache.get(key))).toBe(`B:${key}`);
      }
      expect(await as(a, () => cache.mget(ADVERSARIAL_KEYS))).toEqual(ADVERSARIAL_KEYS.map((k) => `A:${k}`));
      expect(await as(b, () => cache.add(ADVERSARIAL_KEYS[0]!, 'x'))).toBe(false);
      expect((await as(a, () => cache.keys())).sort()).toEqual([...ADVERSARIAL_KEYS].sort());
      // b's deletions, counters, prefix deletes and clears never reach a.
      expect(await as(b, () => cache.delete('b:c'))).toBe(true);
      expect(await as(b, () => cache.mdel(['*', ' ']))).toBe(2);
      expect(await as(b, () => cache.deleteByPrefix('4'))).toBe(2);
      await as(b, () => cache.incr('counter', 10));
      expect(await as(a, () => cache.incr('counter'))).toBe(1);
      expect(await as(b, () => cache.touch('ü', 30_000))).toBe(true);
      expect(await as(a, () => cache.ttl('ü'))).toBe(Infinity);
      await as(b, () => cache.invalidateAll());
      await as(b, () => cache.clear());
      expect(await as(b, () => cache.keys())).toEqual([]);
      expect((await as(a, () => cache.mget(ADVERSARIAL_KEYS))).every((v, i) => v === `A:${ADVERSARIAL_KEYS[i]}`)).toBe(true);
      expect(await as(a, () => cache.has('42'))).toBe(true);
      await as(a, () => cache.clear());
    });

    it('holds under 1,000 interleaved concurrent operations of two tenants', async () => {
      const ops = Array.from({ length: 1000 }, async (_, i) => {
        const tenant = i % 2 === 0 ? 'even' : 'odd';
        return as(tenant, async () => {
          await cache.set(`k${i % 10}`, `${tenant}-${i}`);
          await sleep(Math.random() * 3);
          const v = await cache.get<string>(`k${i % 10}`);
          return { tenant, v };
        });
      });
      for (const { tenant, v } of await Promise.all(ops)) expect(v?.startsWith(`${tenant}-`)).toBe(true);
    });
  });

  describe('bad input gets a typed error and writes nothing', () => {
    it('refuses a missing tenant, invalid ids, bad keys, bad TTLs and unserializable values', async () => {
      await expect(cache.get('k')).rejects.toBeInstanceOf(TenantContextMissingError);
      await expect(cache.set('k', 1)).rejects.toBeInstanceOf(TenantContextMissingError);
      expect(() => TenantContext.run('', () => 1)).toThrow(InvalidTenantIdError);
      expect(() => TenantContext.run(42 as unknown as string, () => 1)).toThrow(InvalidTenantIdError);
      await expect(as('bell\u0007', () => cache.get('k'))).rejects.toBeInstanceOf(InvalidTenantIdError);
      expect(() => cache.forTenant('x'.repeat(301))).toThrow(InvalidTenantIdError);
      await as('bad', async () => {
        await expect(cache.set('', 1)).rejects.toBeInstanceOf(InvalidCacheKeyError);
        await expect(cache.get(7 as unknown as string)).rejects.toBeInstanceOf(InvalidCacheKeyError);
        await expect(cache.set('k', 1, -1)).rejects.toBeInstanceOf(InvalidTtlError);
        await expect(cache.set('k', 1, Number.NaN)).rejects.toBeInstanceOf(InvalidTtlError);
        await expect(cache.set('k', { f: () => 1 })).rejects.toBeInstanceOf(InvalidCacheValueError);
        await expect(cache.set('k', Symbol('s'))).rejects.toBeInstanceOf(InvalidCacheValueError);
        await expect(cache.set('k', undefined)).rejects.toBeInstanceOf(InvalidCacheValueError);
        await expect(cache.incr('k', 1.5)).rejects.toBeInstanceOf(InvalidCacheValueError);
        expect(await cache.has('k')).toBe(false);
      });
    });
  });
});

describe('TenantCacheModule options', () => {
  it('fails at start-up with a message naming the option and the fix', async () => {
    await expect(bootCache({ stores: { main: memoryStore() } })).rejects.toThrow(/"stores" has no "default" entry/);
    await expect(bootCache({ defaultTtl: -5 })).rejects.toThrow(/"defaultTtl" is -5\. Give milliseconds/);
    await expect(bootCache({ keyPrefix: 'bad prefix*' })).rejects.toThrow(/"keyPrefix"/);
    await expect(bootCache({ tenant: { pattern: /a/g } })).rejects.toThrow(/g or y flag/);
    await expect(bootCache({ tenant: { cls: { store: {} as never } } })).rejects.toThrow(/"tenant.cls" must be/);
  });

  it('routes tenants to stores by alias and refuses an alias that does not exist', async () => {
    const { cache, close } = await bootCache({
      stores: { default: memoryStore(), vip: memoryStore() },
      storeFor: (t) => (t === 'big' ? 'vip' : t === 'lost' ? 'nowhere' : undefined),
    });
    onTestFinished(close);
    await TenantContext.run('big', () => cache.set('k', 1));
    expect(await TenantContext.run('big', () => cache.get('k'))).toBe(1);
    await expect(TenantContext.run('lost', () => cache.get('k'))).rejects.toThrow(/No cache store named "nowhere"/);
  });

  it('lets a dedicated store skip the tenant segment only for its own tenant', async () => {
    const { cache, close } = await bootCache({
      stores: { default: memoryStore(), acme: memoryStore({ dedicatedTenant: 'acme' }) },
      storeFor: (t) => (t === 'acme' || t === 'intruder' ? 'acme' : undefined),
    });
    onTestFinished(close);
    await TenantContext.run('acme', () => cache.set('k', 'mine'));
    expect(await TenantContext.run('acme', () => cache.get('k'))).toBe('mine');
    await expect(TenantContext.run('intruder', () => cache.get('k'))).rejects.toBeInstanceOf(InvalidTenantIdError);
  });
});
