import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CacheResult,
  EntityChangeBus,
  InvalidOptionsError,
  KeyConstructor,
  LoaderTimeoutError,
  type StaleReason,
  type StoreDefinition,
  TenantCacheErrorCode,
  type TenantCacheService,
  memoryStore,
  redisStore,
  versioned,
} from '../../lib/index.js';
import { ADVERSARIAL_TENANTS, as, boot, failingOnOpen, gate, sleep } from '../decorators/fixtures.js';
import { chaosStore } from '../support/chaos-store.js';
import { sharedRedisUrl } from '../support/redis-server.js';

// Fail-safe of the read-through (issue 13, items 3 and 4): grace, graceBackoff, soft and hard timeouts.
// TTLs are short (TTL ms) so entries expire within the test; grace is long so they stay stale.

const TTL = 80;
const GRACE = 30_000;
const PAST_TTL = TTL + 40;

const STORES: { name: string; definition: () => StoreDefinition }[] = [
  { name: 'memory', definition: () => memoryStore() },
  { name: 'redis', definition: () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) },
];

const fail = (message = 'the database is down') => {
  throw new Error(message);
};

class ListKey extends KeyConstructor.params('org', 'id')<[org: string, id: string]> {
  org = this.arg('org', { partition: true });
  id = this.arg('id');
}

@Injectable()
class Catalog {
  calls = 0;
  failing = false;
  delay = 0;
  version = 1;

  @CacheResult({ key: ListKey, ttl: TTL, grace: GRACE, tags: ['items'], invalidatesOn: [{ entity: 'Item', fields: { org: 'org', id: 'id' } }] })
  async item(org: string, id: string): Promise<string> {
    this.calls++;
    if (this.delay > 0) await sleep(this.delay);
    if (this.failing) throw new Error('the database is down');
    return `${org}/${id} v${this.version}`;
  }

  @CacheResult({ ttl: 300, grace: GRACE, timeout: { soft: 30, hard: 2000 } })
  async slow(id: string): Promise<string> {
    this.calls++;
    await sleep(this.delay);
    return `${id} v${this.version}`;
  }
}

for (const store of STORES) {
  describe(`fail-safe grace and loader timeouts (${store.name})`, () => {
    let close: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await close?.();
      close = undefined;
    });

    async function start(options: Parameters<typeof boot>[2] = {}, definition = store.definition()) {
      const app = await boot(definition, [Catalog], options);
      close = app.close;
      const stale: { reason: StaleReason; tenant?: string }[] = [];
      app.cache.events.on('entry:stale', (e) => stale.push({ reason: e.reason, tenant: e.tenant }));
      return { ...app, catalog: app.moduleRef.get(Catalog), stale };
    }

    /** An entry of `key` written with grace, now expired. */
    async function expired(cache: TenantCacheService, key: string, value = 'old', extra: object = {}) {
      expect(await cache.getOrSet(key, () => value, { ttl: TTL, grace: GRACE, ...extra })).toBe(value);
      await sleep(PAST_TTL);
    }

    it('a fresh entry is a hit; an expired one with the loader OK is reloaded; with the loader failing it is served stale', async () => {
      const { cache, stale } = await start();
      await as('acme', async () => {
        await cache.getOrSet('k', () => 'v1', { ttl: TTL, grace: GRACE });
        expect(await cache.getOrSet('k', fail, { ttl: TTL, grace: GRACE })).toBe('v1'); // fresh: the loader is not called
        await sleep(PAST_TTL);
        expect(await cache.getOrSet('k', () => 'v2', { ttl: TTL, grace: GRACE })).toBe('v2');
        await sleep(PAST_TTL);
        const looked = await cache.fetch('k', fail, { ttl: TTL, grace: GRACE });
        expect(looked).toMatchObject({ hit: false, stale: true, value: 'v2' });
        expect(looked.cachedAt).toBeLessThan(Date.now() - TTL);
      });
      expect(stale).toEqual([{ reason: 'loader-error', tenant: 'acme' }]);
    });

    it('without grace an expired entry is gone, and the loader error reaches the caller (grace 0 = before)', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        await cache.getOrSet('k', () => 'v1', { ttl: TTL });
        await sleep(PAST_TTL);
        await expect(cache.getOrSet('k', fail, { ttl: TTL })).rejects.toThrow('the database is down');
        expect(await cache.get('k')).toBeUndefined();
      });
    });

    it('the module default grace applies to calls that give none', async () => {
      const { cache } = await start({ grace: GRACE });
      await as('acme', async () => {
        await cache.getOrSet('k', () => 'v1', { ttl: TTL });
        await sleep(PAST_TTL);
        expect(await cache.getOrSet('k', fail, { ttl: TTL })).toBe('v1');
        // A call can still opt out.
        await expect(cache.getOrSet('k', fail, { ttl: TTL, grace: 0 })).rejects.toThrow('the database is down');
      });
    });

    it('calls the failing loader at most once per graceBackoff, serving stale meanwhile', async () => {
      const { cache, stale } = await start();
      const backoff = 400;
      let calls = 0;
      const failing = () => {
        calls++;
        return fail();
      };
      await as('acme', async () => {
        await expired(cache, 'k');
        const started = Date.now();
        const served: string[] = [];
        while (Date.now() - started < backoff - 100) {
          served.push(await cache.getOrSet('k', failing, { ttl: TTL, grace: GRACE, graceBackoff: backoff }));
          await sleep(10);
        }
        console.log(`[fail-safe] ${store.name}: ${served.length} calls in ${backoff - 100} ms of a ${backoff} ms backoff, loader called ${calls} time(s)`);
        expect(served.length).toBeGreaterThan(10);
        expect(served.every((v) => v === 'old')).toBe(true);
        expect(calls).toBe(1);
        await sleep(backoff);
        expect(await cache.getOrSet('k', failing, { ttl: TTL, grace: GRACE, graceBackoff: backoff })).toBe('old');
        expect(calls).toBe(2);
        // The loader recovers after the backoff: its value is fresh again.
        await sleep(backoff);
        expect(await cache.getOrSet('k', () => 'new', { ttl: TTL, grace: GRACE, graceBackoff: backoff })).toBe('new');
      });
      expect(stale.filter((s) => s.reason === 'loader-error')).toHaveLength(2);
      expect(stale.filter((s) => s.reason === 'backoff').length).toBeGreaterThan(9);
    });

    describe('an invalidated entry is gone, never stale', () => {
      const opts = { ttl: TTL, grace: GRACE };
      it('also during a graceBackoff: the loader runs again and its error is returned', async () => {
        const { cache } = await start();
        let calls = 0;
        const failing = () => {
          calls++;
          return fail();
        };
        await as('acme', async () => {
          await expired(cache, 'k', 'old', { tags: ['t'] });
          const o = { ...opts, tags: ['t'], graceBackoff: 60_000 };
          expect(await cache.getOrSet('k', failing, o)).toBe('old');
          expect(await cache.getOrSet('k', failing, o)).toBe('old');
          expect(calls).toBe(1);
          await cache.invalidateTag('t');
          await expect(cache.getOrSet('k', failing, o)).rejects.toThrow('the database is down');
          expect(calls).toBe(2);
        });
      });

      it('by key', async () => {
        const { cache } = await start();
        await as('acme', async () => {
          await expired(cache, 'k');
          await cache.delete('k');
          await expect(cache.getOrSet('k', fail, opts)).rejects.toThrow('the database is down');
        });
      });

      it('by plain tag (BentoCache #71: deleteByTag + grace returned the old value)', async () => {
        const { cache } = await start();
        await as('acme', async () => {
          await expired(cache, 'k', 'old', { tags: ['products'] });
          await cache.invalidateTag('products');
          await expect(cache.getOrSet('k', fail, { ...opts, tags: ['products'] })).rejects.toThrow('the database is down');
          // Also before expiry: an invalidated fresh entry is not served stale either.
          await cache.getOrSet('f', () => 'old', { ...opts, ttl: 60_000, tags: ['products'] });
          await cache.invalidateTag('products');
          await expect(cache.getOrSet('f', fail, { ...opts, ttl: 60_000, tags: ['products'] })).rejects.toThrow('the database is down');
        });
      });

      it('by versioned tag', async () => {
        const { cache } = await start();
        await as('acme', async () => {
          await expired(cache, 'k', 'old', { tags: [versioned('catalog')] });
          await cache.invalidateTag(versioned('catalog'));
          await expect(cache.getOrSet('k', fail, { ...opts, tags: [versioned('catalog')] })).rejects.toThrow('the database is down');
        });
      });

      it('by generation (invalidateAll)', async () => {
        const { cache } = await start();
        await as('acme', async () => {
          await expired(cache, 'k');
          await cache.invalidateAll();
          await expect(cache.getOrSet('k', fail, opts)).rejects.toThrow('the database is down');
        });
      });

      it('by partition and by entity rule (@CacheResult)', async () => {
        const { cache, catalog, moduleRef } = await start();
        await as('acme', async () => {
          expect(await catalog.item('o1', 'a')).toBe('o1/a v1');
          expect(await catalog.item('o2', 'b')).toBe('o2/b v1');
          expect(await catalog.item('o3', 'c')).toBe('o3/c v1');
          await sleep(PAST_TTL);
          catalog.failing = true;
          // Expired, not invalidated: stale.
          expect(await catalog.item('o3', 'c')).toBe('o3/c v1');
          await cache.method(Catalog, 'item', ListKey).invalidatePartition({ org: 'o1' });
          await expect(catalog.item('o1', 'a')).rejects.toThrow('the database is down');
          await moduleRef.get(EntityChangeBus).publish({ entity: 'Item', event: 'update', data: { org: 'o2', id: 'b' } });
          await expect(catalog.item('o2', 'b')).rejects.toThrow('the database is down');
          await cache.invalidateTag('items');
          await expect(catalog.item('o3', 'c')).rejects.toThrow('the database is down');
        });
      });

      it('while the loader runs: the stale value read before the invalidation is not served', async () => {
        const { cache } = await start();
        await as('acme', async () => {
          await expired(cache, 'k', 'old', { tags: ['products'] });
          const running = gate();
          const call = cache.getOrSet(
            'k',
            async () => {
              await running.promise;
              return fail();
            },
            { ...opts, tags: ['products'] },
          );
          await sleep(20);
          await cache.invalidateTag('products');
          running.open();
          await expect(call).rejects.toThrow('the database is down');
        });
      });
    });

    it('past the soft timeout returns stale; the one background load stores its value', async () => {
      const { cache, stale } = await start();
      let calls = 0;
      const slowLoader = async () => {
        calls++;
        await sleep(300);
        return 'new';
      };
      const o = { ttl: 60_000, grace: GRACE, timeout: { soft: 40 } };
      await as('acme', async () => {
        await expired(cache, 'k', 'old', { ttl: TTL });
        let started = Date.now();
        expect(await cache.fetch('k', slowLoader, { ...o, ttl: TTL })).toMatchObject({ stale: true, value: 'old' });
        const softMs = Date.now() - started;
        expect(softMs).toBeLessThan(250);
        // A caller meanwhile shares the background load (the flight stays open): stale, no second load.
        started = Date.now();
        expect(await cache.getOrSet('k', slowLoader, { ...o, ttl: TTL })).toBe('old');
        expect(Date.now() - started).toBeLessThan(100);
        expect(calls).toBe(1);
        await sleep(350);
        // Fresh for a call whose TTL is a minute (the call's TTL decides: see docs/decorators.md).
        expect(await cache.fetch('k', fail, o)).toMatchObject({ hit: true, value: 'new' });
        expect(calls).toBe(1);
      });
      // One event per load served stale: the caller that shared the flight shared its result.
      expect(stale.map((s) => s.reason)).toEqual(['timeout-soft']);
    });

    it('a background load overtaken by an invalidation is not stored', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        await expired(cache, 'k', 'old', { tags: ['t'] });
        const o = { ttl: TTL, grace: GRACE, tags: ['t'], timeout: { soft: 20 } };
        expect(await cache.getOrSet('k', () => sleep(150).then(() => 'new'), o)).toBe('old');
        await cache.invalidateTag('t');
        await sleep(200);
        expect(await cache.get('k', { tags: ['t'] })).toBeUndefined();
      });
    });

    it('an invalidation while a background load holds the key open: later callers do not get the stale value', async () => {
      const { cache } = await start();
      await as('acme', async () => {
        await expired(cache, 'k', 'old', { tags: ['t'] });
        const o = { ttl: TTL, grace: GRACE, tags: ['t'], timeout: { soft: 20 } };
        expect(await cache.getOrSet('k', () => sleep(300).then(() => 'new'), o)).toBe('old');
        // The background load still runs: a caller meanwhile shares its flight (stale, no load).
        expect(await cache.getOrSet('k', fail, o)).toBe('old');
        await cache.invalidateTag('t');
        await expect(cache.getOrSet('k', fail, o)).rejects.toThrow('the database is down');
        await sleep(320);
        expect(await cache.get('k', { tags: ['t'] })).toBeUndefined();
      });
    });

    it('past the hard timeout fails with LoaderTimeoutError, or returns stale when there is one', async () => {
      const { cache, stale } = await start();
      const o = { ttl: TTL, grace: GRACE, timeout: { hard: 50 } };
      await as('acme', async () => {
        const started = Date.now();
        const error = await cache.getOrSet('none', () => sleep(300).then(() => 'late'), o).catch((e: unknown) => e);
        expect(Date.now() - started).toBeLessThan(250);
        expect(error).toBeInstanceOf(LoaderTimeoutError);
        expect(error).toMatchObject({ code: TenantCacheErrorCode.LoaderTimeout, timeout: 50, key: 'none' });
        // The load went on: its value lands.
        await sleep(350);
        expect(await cache.get('none')).toBe('late');

        await expired(cache, 'k');
        expect(await cache.getOrSet('k', () => sleep(300).then(() => 'late'), o)).toBe('old');
      });
      expect(stale.map((s) => s.reason)).toEqual(['timeout-hard']);
      // A hard timeout with no grace at all.
      await as('acme', async () => {
        await expect(cache.getOrSet('x', () => sleep(200).then(() => 1), { timeout: { hard: 20 } })).rejects.toBeInstanceOf(LoaderTimeoutError);
      });
    });

    it('@CacheResult: grace serves stale on a failing method, soft timeout serves stale while the method finishes', async () => {
      const { catalog } = await start();
      await as('acme', async () => {
        expect(await catalog.item('o', 'a')).toBe('o/a v1');
        await sleep(PAST_TTL);
        catalog.failing = true;
        expect(await catalog.item('o', 'a')).toBe('o/a v1');
        catalog.failing = false;

        catalog.delay = 0;
        expect(await catalog.slow('s')).toBe('s v1');
        await sleep(320);
        catalog.delay = 200;
        catalog.version = 2;
        catalog.calls = 0;
        expect(await catalog.slow('s')).toBe('s v1');
        await sleep(230);
        expect(await catalog.slow('s')).toBe('s v2'); // fresh: the background load stored it
        expect(catalog.calls).toBe(1);
      });
    });

    it('every caller of a failing load gets the stale value within its grace, also one that joined a load without it', async () => {
      const { cache, stale } = await start();
      await as('acme', async () => {
        await expired(cache, 'k');
        const held = failingOnOpen();
        // The first caller has no grace (its entry is gone: it gets the error); the second joins its load.
        const first = cache.getOrSet('k', held.loader, { ttl: TTL, grace: 0 }).then(
          () => 'resolved',
          (error: Error) => error.message,
        );
        await sleep(30);
        const joined = cache.fetch('k', held.loader, { ttl: TTL, grace: GRACE });
        await sleep(30);
        held.open();
        expect(await first).toBe('the database is down');
        expect(await joined).toMatchObject({ hit: false, stale: true, value: 'old' });
        expect(held.calls).toBe(1);
        // Joined with a grace and past the hard timeout of a load that has no stale value: stale too.
        const slow = gate();
        const hanging = async () => {
          await slow.promise;
          return 'late';
        };
        const timedOut = cache.getOrSet('k', hanging, { ttl: TTL, grace: 0, timeout: { hard: 100 } }).catch((error: Error) => error.name);
        await sleep(20);
        const joinedLate = cache.getOrSet('k', hanging, { ttl: TTL, grace: GRACE });
        expect(await timedOut).toBe('LoaderTimeoutError');
        expect(await joinedLate).toBe('old');
        slow.open();
      });
      expect(stale.map((s) => s.reason)).toEqual(['loader-error', 'timeout-hard']);
    });

    it("tenant B never gets tenant A's stale value (adversarial tenant ids)", async () => {
      const { cache } = await start();
      for (const a of ADVERSARIAL_TENANTS) await as(a, () => cache.getOrSet('k', () => `value of ${a}`, { ttl: TTL, grace: GRACE }));
      await sleep(PAST_TTL);
      for (const a of ADVERSARIAL_TENANTS) {
        await as(a, async () => expect(await cache.getOrSet('k', fail, { ttl: TTL, grace: GRACE })).toBe(`value of ${a}`));
      }
      const b = `b-${randomUUID()}`;
      await as(b, async () => {
        await expect(cache.getOrSet('k', fail, { ttl: TTL, grace: GRACE })).rejects.toThrow('the database is down');
        await expect(cache.getOrSet('k', () => sleep(200).then(() => 'b'), { ttl: TTL, grace: GRACE, timeout: { soft: 10, hard: 30 } })).rejects.toBeInstanceOf(
          LoaderTimeoutError,
        );
      });
    });

    it('leaves no timer behind when a load settles before its timeouts', async () => {
      const { cache } = await start();
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      await as('acme', async () => {
        await expired(cache, 'k');
        const before = timers();
        for (let i = 0; i < 20; i++) await cache.getOrSet(`t${i}`, () => i, { ttl: TTL, grace: GRACE, timeout: { soft: 60_000, hard: 120_000 } });
        expect(await cache.getOrSet('k', () => 'new', { ttl: TTL, grace: GRACE, timeout: { soft: 60_000, hard: 120_000 } })).toBe('new');
        expect(timers()).toBeLessThanOrEqual(before);
      });
    });
  });
}

describe('fail-safe with the store down (no tier yet: no stale value to serve)', () => {
  it("returns the loader's value or error as before", async () => {
    const { definition, control } = chaosStore(memoryStore());
    const app = await boot(definition, []);
    try {
      await as('acme', async () => {
        await app.cache.getOrSet('k', () => 'old', { ttl: TTL, grace: GRACE });
        await sleep(PAST_TTL);
        control.down();
        expect(await app.cache.getOrSet('k', () => 'loaded', { ttl: TTL, grace: GRACE })).toBe('loaded');
        await expect(app.cache.getOrSet('k', fail, { ttl: TTL, grace: GRACE })).rejects.toThrow('the database is down');
        control.up();
      });
    } finally {
      await app.close();
    }
  });
});

describe('fail-safe options are validated', () => {
  it('per call: negative or non-finite numbers and unknown timeout keys are typed errors naming the option', async () => {
    const app = await boot(memoryStore(), []);
    try {
      await as('acme', async () => {
        for (const [opts, option] of [
          [{ grace: -1 }, 'grace'],
          [{ grace: Infinity }, 'grace'],
          [{ graceBackoff: Number.NaN }, 'graceBackoff'],
          [{ timeout: { soft: -5 } }, 'timeout.soft'],
          [{ timeout: { hrad: 5 } }, 'timeout.hrad'],
          [{ timeout: 100 }, 'timeout'],
          [{ timeout: { soft: 50, hard: 10 } }, 'timeout.soft'],
        ] as const) {
          let called = false;
          const error = await app.cache.getOrSet('k', () => (called = true), opts as never).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(InvalidOptionsError);
          expect(error).toMatchObject({ option });
          expect(called).toBe(false);
        }
      });
    } finally {
      await app.close();
    }
  });

  it('at start-up: the module grace and @CacheResult options', async () => {
    await expect(boot(memoryStore(), [], { grace: -1 })).rejects.toThrow(/grace/);
    @Injectable()
    class Bad {
      @CacheResult({ ttl: 1000, timeout: { sotf: 10 } as never })
      async m(): Promise<number> {
        return 1;
      }
    }
    await expect(boot(memoryStore(), [Bad])).rejects.toThrow(/timeout\.sotf.*Did you mean "timeout\.soft"/);
    @Injectable()
    class Bad2 {
      @CacheResult({ ttl: 1000, grace: Number.NaN })
      async m(): Promise<number> {
        return 1;
      }
    }
    await expect(boot(memoryStore(), [Bad2])).rejects.toThrow(/Bad2\.m: grace/);
  });
});
