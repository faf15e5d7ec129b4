import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CodecOptions, type StoreDefinition, TenantContext } from '../../lib/index.js';
import { chaosStore } from '../support/chaos-store.js';
import { ADVERSARIAL_TENANTS, type Booted, SECRET_1, boot, chunkKeys, codecStores, tenant, uniquePrefix } from './codec-fixtures.js';

interface Row {
  id: number;
  name: string;
  at: Date;
}

const row = (id: number): Row => ({ id, name: `row ${id}`, at: new Date(1_700_000_000_000 + id) });

/** An async source that counts runs and how far it got, and whether it was closed. */
function source(count: number, options: { failAt?: number; tag?: string } = {}) {
  const stats = { runs: 0, produced: 0, closed: 0 };
  const loader = () => {
    stats.runs++;
    return (async function* () {
      try {
        for (let i = 0; i < count; i++) {
          if (options.failAt === i) throw new Error(`boom at ${i}`);
          if (i % 50 === 0) await new Promise((r) => setImmediate(r));
          stats.produced++;
          yield { ...row(i), name: `${options.tag ?? 'row'} ${i}` };
        }
      } finally {
        stats.closed++;
      }
    })();
  };
  return { loader, stats };
}

async function collect<T>(iterable: AsyncIterable<T>, limit = Infinity): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

/** The store, with the keys of each `mget` recorded (to see how much a hit reads at once); every `mset` fails when `fail.mset`. */
function recording(def: StoreDefinition, log: string[][], fail?: { mset: boolean }): StoreDefinition {
  const { definition, control } = chaosStore(def, {
    error: () => new Error('injected: store write failed'),
    onCall: (op, args) => {
      if (op === 'mget') log.push([...(args[0] as readonly string[])]);
    },
  });
  if (fail?.mset) control.down(['mset']);
  return definition;
}

const codecs: { label: string; codec: CodecOptions }[] = [
  { label: 'plain', codec: {} },
  { label: 'gzip + aes + hmac keys', codec: { compression: { algorithm: 'gzip', threshold: 64 }, encryption: { secrets: [SECRET_1] }, hashKeys: true } },
  { label: 'brotli + 1 KiB chunks', codec: { compression: { algorithm: 'brotli' }, chunkSize: 1024 } },
];

describe.each(codecStores())('memoizeIterable on $name', (store) => {
  describe.each(codecs)('$label', ({ codec }) => {
    let app: Booted;
    const mgets: string[][] = [];
    beforeAll(async () => {
      app = await boot({ stores: { default: recording(store.open()(), mgets) }, keyPrefix: uniquePrefix('iter'), codec });
    });
    afterAll(() => app.close());
    const cache = () => app.cache;

    it('yields items as produced, stores them only once complete, and a hit streams them back without the loader', async () => {
      await TenantContext.run('complete', async () => {
        const { loader, stats } = source(1000);
        const seen: Row[] = [];
        for await (const item of cache().memoizeIterable('rows', loader, { pageBytes: 2048 })) {
          seen.push(item);
          // Produced one by one: the caller never waits for the whole iterable.
          expect(stats.produced).toBe(seen.length);
          // Not visible before completion.
          if (seen.length === 500) expect(await cache().has('rows')).toBe(false);
        }
        expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => row(i)));
        expect(await cache().has('rows')).toBe(true);
        const again = await collect(cache().memoizeIterable('rows', loader));
        expect(again).toEqual(seen);
        expect(again[3]!.at).toBeInstanceOf(Date);
        expect(stats.runs).toBe(1);
        // `get` of a memoized iterable is its items.
        expect(await cache().get('rows')).toEqual(seen);
      });
    });

    it('a hit reads one page at a time (and prefetches the next), never the whole entry at once', async () => {
      await TenantContext.run('pages', async () => {
        const { loader } = source(2000);
        await collect(cache().memoizeIterable('paged', loader, { pageBytes: 1024 }));
        mgets.length = 0;
        const iterator = cache().memoizeIterable('paged', loader)[Symbol.asyncIterator]();
        expect((await iterator.next()).value).toEqual(row(0));
        const early = mgets.flat().length;
        let rest = 1;
        while (!(await iterator.next()).done) rest++;
        expect(rest).toBe(2000);
        const pages = mgets.length;
        expect(pages).toBeGreaterThan(20);
        // Before the first item: the first page and the prefetched second one, out of more than 20.
        expect(early).toBeGreaterThan(0);
        expect(early).toBeLessThanOrEqual(mgets[0]!.length + mgets[1]!.length);
        expect(early * 10).toBeLessThan(mgets.flat().length);
      });
    });

    it('an iteration that throws stores nothing and passes the error through', async () => {
      await TenantContext.run('throws', async () => {
        const { loader, stats } = source(300, { failAt: 150 });
        const got: Row[] = [];
        const error = await (async () => {
          for await (const item of cache().memoizeIterable('failing', loader, { pageBytes: 512 })) got.push(item);
        })().catch((e: unknown) => e);
        expect((error as Error).message).toBe('boom at 150');
        expect(got).toHaveLength(150);
        expect(await cache().has('failing')).toBe(false);
        const scope = tenant('throws');
        const resolved = await app.engine.store(scope);
        expect(chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope)))).toEqual([]);
        // Nothing cached: the next call runs the loader again.
        await collect(cache().memoizeIterable('failing', loader), 10);
        expect(stats.runs).toBe(2);
      });
    });

    it('an abandoned iteration (break) closes the source and stores nothing', async () => {
      await TenantContext.run('abandoned', async () => {
        const { loader, stats } = source(1000);
        const got = await collect(cache().memoizeIterable('partial', loader, { pageBytes: 512 }), 300);
        expect(got).toHaveLength(300);
        expect(stats.closed).toBe(1);
        expect(stats.produced).toBeLessThan(1000);
        expect(await cache().has('partial')).toBe(false);
        const scope = tenant('abandoned');
        const resolved = await app.engine.store(scope);
        expect(chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope)))).toEqual([]);
        expect(await collect(cache().memoizeIterable('partial', loader))).toHaveLength(1000);
        expect(stats.runs).toBe(2);
      });
    });

    it('keeps tenants apart, also when they iterate the same key concurrently', async () => {
      await Promise.all(
        ADVERSARIAL_TENANTS.map((t) =>
          TenantContext.run(t, async () => {
            const { loader } = source(120, { tag: t });
            expect((await collect(cache().memoizeIterable('shared-name', loader, { pageBytes: 256 }))).map((r) => r.name)).toEqual(
              Array.from({ length: 120 }, (_, i) => `${t} ${i}`),
            );
          }),
        ),
      );
      await Promise.all(
        ADVERSARIAL_TENANTS.map((t) =>
          TenantContext.run(t, async () => {
            const { loader, stats } = source(120, { tag: 'recomputed' });
            const names = (await collect(cache().memoizeIterable('shared-name', loader))).map((r) => r.name);
            expect(names[119]).toBe(`${t} 119`);
            expect(stats.runs).toBe(0);
          }),
        ),
      );
    });
  });

  describe('edge cases', () => {
    let app: Booted;
    const mgets: string[][] = [];
    beforeAll(async () => {
      app = await boot({ stores: { default: recording(store.open()(), mgets) }, keyPrefix: uniquePrefix('iter-edge'), codec: { maxValueBytes: 64 * 1024 } });
    });
    afterAll(() => app.close());

    it('a page lost mid-stream: the loader takes over after the last item yielded, and the entry is rewritten', async () => {
      await TenantContext.run('lost', async () => {
        const { loader, stats } = source(500);
        await collect(app.cache.memoizeIterable('lossy', loader, { pageBytes: 512 }));
        const scope = tenant('lost');
        const resolved = await app.engine.store(scope);
        const chunks = chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope))).sort((a, b) => Number(a.split(':').at(-1)) - Number(b.split(':').at(-1)));
        expect(chunks.length).toBeGreaterThan(10);
        await resolved.store.delete(chunks[8]!);
        const items = await collect(app.cache.memoizeIterable('lossy', loader));
        expect(items).toEqual(Array.from({ length: 500 }, (_, i) => row(i)));
        expect(stats.runs).toBe(2);
        expect(await collect(app.cache.memoizeIterable('lossy', loader))).toHaveLength(500);
        expect(stats.runs).toBe(2);
      });
    });

    it('items above maxValueBytes, or that cannot be serialized, are yielded but not stored', async () => {
      await TenantContext.run('unstorable', async () => {
        const big = async function* () {
          for (let i = 0; i < 100; i++) yield 'x'.repeat(1000) + i;
        };
        expect(await collect(app.cache.memoizeIterable('big', big, { pageBytes: 4096 }))).toHaveLength(100);
        expect(await app.cache.has('big')).toBe(false);
        const odd = function* () {
          yield 1;
          yield { run: () => 2 };
          yield 3;
        };
        expect((await collect(app.cache.memoizeIterable('odd', odd))).length).toBe(3);
        expect(await app.cache.has('odd')).toBe(false);
      });
      const scope = tenant('unstorable');
      const resolved = await app.engine.store(scope);
      expect(chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope)))).toEqual([]);
    });

    it('an empty iterable and a sync iterable are memoized too', async () => {
      await TenantContext.run('shapes', async () => {
        let runs = 0;
        const empty = () => {
          runs++;
          return [];
        };
        expect(await collect(app.cache.memoizeIterable('empty', empty))).toEqual([]);
        expect(await collect(app.cache.memoizeIterable('empty', empty))).toEqual([]);
        expect(runs).toBe(1);
        expect(await collect(app.cache.memoizeIterable('array', () => [1, null, 'three', { four: 4 }]))).toEqual([1, null, 'three', { four: 4 }]);
        expect(await collect(app.cache.memoizeIterable<unknown>('array', () => ['recomputed']))).toEqual([1, null, 'three', { four: 4 }]);
      });
    });

    it('a key deleted while its iterable is produced is not stored', async () => {
      await TenantContext.run('raced', async () => {
        const { loader } = source(300);
        let n = 0;
        for await (const _ of app.cache.memoizeIterable('raced', loader, { pageBytes: 512 })) {
          if (++n === 100) await app.cache.delete('raced');
        }
        expect(n).toBe(300);
        expect(await app.cache.has('raced')).toBe(false);
      });
    });

    it('rejects bad options at the first step', async () => {
      await TenantContext.run('bad', async () => {
        await expect(collect(app.cache.memoizeIterable('x', () => [1], { pageBytes: 0 }))).rejects.toThrow(/pageBytes/);
        await expect(collect(app.cache.memoizeIterable('x', () => [1], { ttl: -1 }))).rejects.toThrow(/TTL|ttl/);
        await expect(collect(app.cache.memoizeIterable('x', () => [1], { codec: { encrypt: true } }))).rejects.toThrow(/no encryption secrets/);
      });
      expect(() => app.cache.memoizeIterable('x', () => [1])).toThrow(/TenantContextMissing|tenant/i);
    });
  });

  it('a store that fails while storing: every item still reaches the caller, nothing is stored, store:error is emitted', async () => {
    const app = await boot({ stores: { default: recording(store.open()(), [], { mset: true }) }, keyPrefix: uniquePrefix('iter-fail') });
    try {
      const errors: string[] = [];
      app.engine.events.on('store:error', (e) => errors.push(e.operation));
      await TenantContext.run('down', async () => {
        const { loader } = source(400);
        expect(await collect(app.cache.memoizeIterable('r', loader, { pageBytes: 512 }))).toHaveLength(400);
        expect(await app.cache.has('r')).toBe(false);
      });
      expect(errors).toContain('set');
    } finally {
      await app.close();
    }
  });
});
