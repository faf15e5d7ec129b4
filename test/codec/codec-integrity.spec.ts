import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheValueTooLargeError,
  InvalidCacheValueError,
  InvalidOptionsError,
  MemoryStore,
  type TenantCacheModuleOptions,
  TenantCacheError,
  TenantContext,
  memoryStore,
} from '../../lib/index.js';
import { hasZstd } from '../../lib/codec/codec.options.js';
import { chaosStore } from '../support/chaos-store.js';
import { bootCache } from '../support/test-module.js';
import {
  ADVERSARIAL_KEYS,
  ADVERSARIAL_TENANTS,
  type Booted,
  SECRET_1,
  SECRET_2,
  boot,
  chunkKeys,
  codecStores,
  compressible,
  incompressible,
  tenant,
  uniquePrefix,
} from './codec-fixtures.js';

const flip = (buf: Buffer, at: number): Buffer => {
  const out = Buffer.from(buf);
  out[at] = out[at]! ^ 0x01;
  return out;
};

/** Collects `entry:corrupt` reasons of an app. */
function corruptions(app: Booted): string[] {
  const out: string[] = [];
  app.engine.events.on('entry:corrupt', (e) => out.push(e.reason));
  return out;
}

describe.each(codecStores())('codec integrity on $name', (store) => {
  describe('encrypted entries', () => {
    let app: Booted;
    let reasons: string[];
    const prefix = uniquePrefix('int');
    beforeAll(async () => {
      app = await boot({ stores: { default: store.open()() }, keyPrefix: prefix, codec: { encryption: { secrets: [SECRET_1] }, chunkSize: 4096 } });
      reasons = corruptions(app);
    });
    afterAll(() => app.close());

    it('a tampered byte anywhere in an inline entry (header, key id, nonce, ciphertext, tag) is a miss and the entry is removed', async () => {
      const scope = tenant('tamper');
      await TenantContext.run('tamper', () => app.cache.set('k', 'top secret'));
      const { resolved, key } = await app.physical(scope, 'k');
      const good = (await resolved.store.get(key))!;
      expect(good.includes('top secret')).toBe(false);
      for (const at of [2, 5, 12, 17, 30, good.length - 20, good.length - 1]) {
        await resolved.store.set(key, flip(good, at));
        const before = reasons.length;
        expect(await TenantContext.run('tamper', () => app.cache.get('k'))).toBeUndefined();
        expect(await resolved.store.get(key)).toBeUndefined();
        expect(reasons.length).toBe(before + 1);
      }
      // Untouched bytes read back: the loop above did not pass because everything fails.
      await resolved.store.set(key, good);
      expect(await TenantContext.run('tamper', () => app.cache.get('k'))).toBe('top secret');
    });

    it('a tampered, missing or truncated chunk makes the whole entry a miss and removes the rest', async () => {
      const scope = tenant('chunks');
      const value = incompressible(20_000);
      const cases: [
        string,
        (chunks: string[], s: MemoryStore | { set: MemoryStore['set']; delete: MemoryStore['delete']; get: MemoryStore['get'] }) => Promise<unknown>,
      ][] = [
        ['flipped', async (c, s) => s.set(c[1]!, flip((await s.get(c[1]!))!, 7))],
        ['missing', async (c, s) => s.delete(c[2]!)],
        ['truncated', async (c, s) => s.set(c[0]!, (await s.get(c[0]!))!.subarray(0, 100))],
      ];
      for (const [label, damage] of cases) {
        await TenantContext.run('chunks', () => app.cache.set('big', value));
        const { resolved, key } = await app.physical(scope, 'big');
        const chunks = chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope)));
        expect(chunks.length, label).toBe(5);
        await damage(chunks, resolved.store as MemoryStore);
        expect(await TenantContext.run('chunks', () => app.cache.get('big')), label).toBeUndefined();
        expect(await resolved.store.get(key), label).toBeUndefined();
        expect(chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope))), label).toEqual([]);
      }
    });

    it('an entry of tenant A copied under tenant B fails authentication: a miss for B, removed, A unaffected', async () => {
      for (const [size, label] of [
        [100, 'inline'],
        [20_000, 'chunked'],
      ] as const) {
        const value = incompressible(size);
        await TenantContext.run('tenant-a', () => app.cache.set(`doc-${label}`, value));
        const a = await app.physical(tenant('tenant-a'), `doc-${label}`);
        const b = await app.physical(tenant('tenant-b'), `doc-${label}`);
        const raw = (await a.resolved.store.get(a.key))!;
        await b.resolved.store.set(b.key, raw);
        expect(await TenantContext.run('tenant-b', () => app.cache.get(`doc-${label}`)), label).toBeUndefined();
        expect(await b.resolved.store.get(b.key), label).toBeUndefined();
        const back = await TenantContext.run('tenant-a', () => app.cache.get<Buffer>(`doc-${label}`));
        expect(Buffer.compare(back!, value), label).toBe(0);
      }
    });

    it("the key is the tenant's: bytes decoded for another scope fail even under the same physical key", async () => {
      // Directly at the codec, with the physical key (the AAD) held fixed, so only the derived key differs.
      const resolved = await app.engine.store(tenant('x'));
      const physical = resolved.keys.entryKey(tenant('same-key'), 1, 'k');
      const scopes = [...ADVERSARIAL_TENANTS.map(tenant), { kind: 'shared' as const }];
      for (const from of scopes) {
        const bytes = resolved.codec.encode({ v: 1 }, physical, 'k', from) as Buffer;
        for (const to of scopes) {
          const result = await resolved.codec.decode(bytes, physical, to);
          expect(result.ok, `${JSON.stringify(from)} -> ${JSON.stringify(to)}`).toBe(from === to);
        }
      }
    });

    it('an unknown entry format, or a plaintext entry where encryption is required, is a miss and removed', async () => {
      const scope = tenant('formats');
      const { resolved, key } = await app.physical(scope, 'f');
      const header = Buffer.alloc(20);
      header[0] = 0xc7;
      header[1] = 3;
      await resolved.store.set(key, header);
      expect(await TenantContext.run('formats', () => app.cache.get('f'))).toBeUndefined();
      expect(reasons.at(-1)).toMatch(/format 3/);
      expect(await resolved.store.get(key)).toBeUndefined();
      // A format-1 (plaintext) record planted by whoever can write to the store.
      const plain = Buffer.concat([Buffer.from([0xc7, 1, 0]), Buffer.alloc(8), Buffer.from(new Uint8Array([0xff, 0x0f, 0x49, 0x02]))]);
      await resolved.store.set(key, plain);
      expect(await TenantContext.run('formats', () => app.cache.get('f'))).toBeUndefined();
      expect(reasons.at(-1)).toMatch(/requires encryption/);
      // A plaintext text entry likewise.
      await resolved.store.set(key, Buffer.from('\u001e1-1700000000000:planted'));
      expect(await TenantContext.run('formats', () => app.cache.get('f'))).toBeUndefined();
      expect(reasons.at(-1)).toMatch(/requires encryption/);
      expect(await resolved.store.get(key)).toBeUndefined();
    });

    it('keeps adversarial tenants and keys apart, concurrently, with their chunks in their own scope', async () => {
      await Promise.all(ADVERSARIAL_TENANTS.flatMap((t) => ADVERSARIAL_KEYS.map((k) => TenantContext.run(t, () => app.cache.set(k, `${t}|${k}|${compressible(5000)}`)))));
      await Promise.all(
        ADVERSARIAL_TENANTS.map((t) =>
          TenantContext.run(t, async () => {
            for (const k of ADVERSARIAL_KEYS) expect((await app.cache.get<string>(k))?.startsWith(`${t}|${k}|`)).toBe(true);
            expect((await app.cache.keys()).sort()).toEqual([...ADVERSARIAL_KEYS].sort());
          }),
        ),
      );
      await TenantContext.run('a', () => app.cache.clear());
      expect(await TenantContext.run('a', () => app.cache.keys())).toEqual([]);
      expect(await TenantContext.run('a:b', () => app.cache.get<string>('b:c'))).toMatch(/^a:b\|b:c\|/);
    });

    it('gives a chunked manifest a TTL no longer than its chunks', async () => {
      const scope = tenant('ttl');
      await TenantContext.run('ttl', () => app.cache.set('big', incompressible(20_000), 60_000));
      const { resolved, key } = await app.physical(scope, 'big');
      // Chunks read first: time passing before the manifest's read can only lower the manifest's TTL.
      const chunkTtls: number[] = [];
      for (const c of chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(scope)))) chunkTtls.push((await resolved.store.ttl(c))!);
      const manifestTtl = (await resolved.store.ttl(key))!;
      expect(chunkTtls.length).toBe(5);
      // A few ms of tolerance: Redis starts a TTL when the command arrives, and each command has its own latency.
      for (const t of chunkTtls) expect(t).toBeGreaterThanOrEqual(manifestTtl - 3);
      expect(manifestTtl).toBeGreaterThan(50_000);
    });
  });

  describe('secret rotation', () => {
    it('old secrets still decrypt, the newest encrypts, a retired secret makes its entries misses', async () => {
      const shared = store.open();
      const keyPrefix = uniquePrefix('rot');
      const at = (secrets: string[]) => boot({ stores: { default: shared() }, keyPrefix, codec: { encryption: { secrets }, chunkSize: 4096 } });
      const v1 = await at([SECRET_1]);
      const both = await at([SECRET_2, SECRET_1]);
      const v2 = await at([SECRET_2]);
      try {
        const big = incompressible(10_000);
        await TenantContext.run('rot', async () => {
          await v1.cache.set('small', 'one');
          await v1.cache.set('big', big);
          // Rotated: the old entries still read.
          expect(await both.cache.get('small')).toBe('one');
          expect(Buffer.compare((await both.cache.get<Buffer>('big'))!, big)).toBe(0);
          await both.cache.set('fresh', 'two');
          // Written with the newest secret: readable without the old one, not by the old-only instance.
          expect(await v2.cache.get('fresh')).toBe('two');
          // The old secret retired: old entries are misses, and are removed.
          expect(await v2.cache.get('small')).toBeUndefined();
          expect(await v2.cache.get('big')).toBeUndefined();
          expect(await both.cache.get('small')).toBeUndefined();
        });
        const reasons = corruptions(v1);
        expect(await TenantContext.run('rot', () => v1.cache.get('fresh'))).toBeUndefined();
        expect(reasons[0]).toMatch(/secret that is not configured/);
      } finally {
        for (const app of [v1, both, v2]) await app.close();
      }
    });
  });

  describe('sizes', () => {
    it('a value above codec.maxValueBytes throws CacheValueTooLargeError and writes nothing (set, add, mset); getOrSet returns it uncached', async () => {
      const app = await boot({ stores: { default: store.open()() }, keyPrefix: uniquePrefix('max'), codec: { maxValueBytes: 64 * 1024, chunkSize: 4096 } });
      try {
        const scope = tenant('max');
        await TenantContext.run('max', async () => {
          const error = await app.cache.set('big', incompressible(100_000)).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(CacheValueTooLargeError);
          expect(error).toBeInstanceOf(InvalidCacheValueError);
          expect(error).toBeInstanceOf(TenantCacheError);
          expect((error as CacheValueTooLargeError).limit).toBe(64 * 1024);
          expect((error as CacheValueTooLargeError).bytes).toBeGreaterThan(100_000);
          expect((error as Error).message).toMatch(/codec\.maxValueBytes/);
          await expect(app.cache.add('big', incompressible(100_000))).rejects.toBeInstanceOf(CacheValueTooLargeError);
          await expect(app.cache.mset({ ok: 1, big: incompressible(100_000) })).rejects.toBeInstanceOf(CacheValueTooLargeError);
          expect(await app.cache.getOrSet('loaded', async () => 'x'.repeat(100_000))).toHaveLength(100_000);
          expect(await app.cache.get('loaded')).toBeUndefined();
          // Just under the limit: chunked and stored.
          await app.cache.set('fits', incompressible(60_000));
          expect(((await app.cache.get<Buffer>('fits')) ?? Buffer.alloc(0)).length).toBe(60_000);
        });
        const left = (await app.rawKeys()).filter((k) => !k.endsWith(':gen'));
        const { resolved } = await app.physical(scope, 'fits');
        const entryPrefix = resolved.keys.entryPrefix(scope, await app.engine.generation(resolved, scope));
        // Only the entry that fits (its manifest and chunks): the refused values left nothing behind.
        expect(left.length).toBeGreaterThan(1);
        expect(left.every((k) => k.startsWith(entryPrefix))).toBe(true);
        expect(await TenantContext.run('max', () => app.cache.keys())).toEqual(['fits']);
      } finally {
        await app.close();
      }
    });

    it("without chunking, a value above the store's item limit throws (also when compressed on the thread pool), nothing written", async () => {
      const app = await boot({
        stores: { default: store.open({ maxValueBytes: 64 * 1024 })() },
        keyPrefix: uniquePrefix('nochunk'),
        codec: { chunkSize: false, compression: { algorithm: 'gzip' } },
      });
      try {
        await TenantContext.run('nochunk', async () => {
          const sync = await app.cache.set('a', incompressible(70_000)).catch((e: unknown) => e);
          expect(sync).toBeInstanceOf(CacheValueTooLargeError);
          expect((sync as Error).message).toMatch(/store "default"/);
          await expect(app.cache.set('b', incompressible(300_000))).rejects.toBeInstanceOf(CacheValueTooLargeError);
          // Compressible: fits once compressed.
          await app.cache.set('c', compressible(300_000));
          expect(await app.cache.get('c')).toBe(compressible(300_000));
          expect((await app.cache.keys()).sort()).toEqual(['c']);
        });
        expect(chunkKeys(await app.rawKeys())).toEqual([]);
      } finally {
        await app.close();
      }
    });

    it('with chunking (default), values above the store item limit are split to fit it', async () => {
      const app = await boot({ stores: { default: store.open({ maxValueBytes: 16 * 1024 })() }, keyPrefix: uniquePrefix('fit') });
      try {
        const value = incompressible(100_000);
        await TenantContext.run('fit', () => app.cache.set('v', value));
        expect(Buffer.compare((await TenantContext.run('fit', () => app.cache.get<Buffer>('v')))!, value)).toBe(0);
        const { resolved } = await app.physical(tenant('fit'), 'v');
        const chunks = chunkKeys(await app.rawKeys());
        expect(chunks.length).toBe(7);
        for (const c of chunks) expect((await resolved.store.get(c))!.length).toBeLessThanOrEqual(16 * 1024);
      } finally {
        await app.close();
      }
    });

    it('refuses a compression bomb: an entry inflating past maxValueBytes is a miss', async () => {
      const app = await boot({ stores: { default: store.open()() }, keyPrefix: uniquePrefix('bomb'), codec: { maxValueBytes: 1024 * 1024 } });
      try {
        const reasons = corruptions(app);
        const { resolved, key } = await app.physical(tenant('bomb'), 'b');
        const header = Buffer.alloc(12);
        header[0] = 0xc7;
        header[1] = 2;
        header[3] = 1; // gzip
        await resolved.store.set(key, Buffer.concat([header, gzipSync(Buffer.alloc(64 * 1024 * 1024))]));
        expect(await TenantContext.run('bomb', () => app.cache.get('b'))).toBeUndefined();
        expect(reasons[0]).toMatch(/corrupt payload/);
        expect(await resolved.store.get(key)).toBeUndefined();
      } finally {
        await app.close();
      }
    });
  });

  describe('per store and per call', () => {
    let app: Booted;
    const prefix = uniquePrefix('call');
    beforeAll(async () => {
      app = await boot({
        stores: {
          default: store.open()(),
          vault: { ...store.open()(), codec: { encryption: { secrets: [SECRET_1], required: false } } },
        },
        storeFor: (t) => (t === 'bank' ? 'vault' : undefined),
        keyPrefix: prefix,
      });
    });
    afterAll(() => app.close());

    it('a store codec applies to that store only', async () => {
      await TenantContext.run('bank', () => app.cache.set('iban', 'DE00 1234'));
      await TenantContext.run('shop', () => app.cache.set('iban', 'DE00 1234'));
      const bank = await app.physical(tenant('bank'), 'iban');
      const shop = await app.physical(tenant('shop'), 'iban');
      expect(bank.resolved.alias).toBe('vault');
      expect((await bank.resolved.store.get(bank.key))!.includes('DE00')).toBe(false);
      expect((await shop.resolved.store.get(shop.key))!.includes('DE00')).toBe(true);
      expect(await TenantContext.run('bank', () => app.cache.get('iban'))).toBe('DE00 1234');
    });

    it('getOrSet takes a per-call codec (compression, chunk size, encryption) and refuses a bad one before loading', async () => {
      const text = compressible(10_000);
      await TenantContext.run('shop', async () => {
        expect(await app.cache.getOrSet('brotli', async () => text, { codec: { compression: { algorithm: 'brotli', threshold: 0 } } })).toBe(text);
        const { resolved, key } = await app.physical(tenant('shop'), 'brotli');
        const raw = (await resolved.store.get(key))!;
        expect([raw[1], raw[3]]).toEqual([2, 3]);
        expect(raw.length).toBeLessThan(1000);
        expect(await app.cache.get('brotli')).toBe(text);

        await app.cache.getOrSet('chunky', async () => incompressible(5000), { codec: { chunkSize: 1024 } });
        expect(chunkKeys(await app.rawKeys(resolved.keys.scopePrefix(tenant('shop')))).length).toBe(5);

        let calls = 0;
        const loader = async () => ++calls;
        await expect(app.cache.getOrSet('enc', loader, { codec: { encrypt: true } })).rejects.toBeInstanceOf(InvalidOptionsError);
        await expect(app.cache.getOrSet('enc', loader, { codec: { chunkSize: 10 } })).rejects.toThrow(/chunkSize/);
        await expect(app.cache.getOrSet('enc', loader, { codec: { secrets: [] } as never })).rejects.toThrow(/cannot be set per call/);
        expect(calls).toBe(0);
      });
      await TenantContext.run('bank', async () => {
        // required: false lets a call opt out; the entry is then plain and still readable.
        await app.cache.getOrSet('public', async () => 'hello', { codec: { encrypt: false } });
        const { resolved, key } = await app.physical(tenant('bank'), 'public');
        expect((await resolved.store.get(key))!.includes('hello')).toBe(true);
        expect(await app.cache.get('public')).toBe('hello');
      });
    });
  });

  describe('plain text entries', () => {
    let app: Booted;
    let reasons: string[];
    beforeAll(async () => {
      app = await boot({ stores: { default: store.open()() }, keyPrefix: uniquePrefix('txt') });
      reasons = corruptions(app);
    });
    afterAll(() => app.close());

    it('a malformed or truncated text entry is a miss and is removed; a well-formed one reads back', async () => {
      const scope = tenant('text');
      const { resolved, key } = await app.physical(scope, 't');
      const bad: [string, RegExp][] = [
        ['\u001e', /unknown format/],
        ['\u001e3-1:x', /unknown format/],
        ['\u001e2-1:x', /corrupt payload/], // a JSON text entry whose JSON does not parse
        ['\u001e1?1:x', /unknown flag/],
        ['\u001e1-12a:x', /truncated/],
        ['\u001e1-:x', /truncated/],
        ['\u001e1-123', /truncated/],
        ['\u001e1k1:99:short', /truncated key/],
        ['\u001e1-99999999999999999999:x', /truncated/],
      ];
      for (const [bytes, reason] of bad) {
        await resolved.store.set(key, Buffer.from(bytes));
        expect(await TenantContext.run('text', () => app.cache.get('t')), JSON.stringify(bytes)).toBeUndefined();
        expect(reasons.at(-1)).toMatch(reason);
        expect(await resolved.store.get(key)).toBeUndefined();
      }
      await resolved.store.set(key, Buffer.from('\u001e1k1700000000000:3:abcthe value ü'));
      expect(await TenantContext.run('text', () => app.cache.lookup('t'))).toEqual({ hit: true, value: 'the value ü', cachedAt: 1700000000000 });
    });

    it('strings and other values overwrite each other under one key, in either order', async () => {
      await TenantContext.run('mixed', async () => {
        await app.cache.set('m', 'text first');
        await app.cache.set('m', { now: 'an object' });
        expect(await app.cache.get('m')).toEqual({ now: 'an object' });
        await app.cache.set('m', 'text again');
        expect(await app.cache.get('m')).toBe('text again');
        expect(await app.cache.incr('n')).toBe(1);
        await app.cache.set('n', '41');
        expect(await app.cache.get('n')).toBe('41');
      });
    });
  });

  it('a store that fails while reading chunks is a miss with store:error, and the entry is kept', async () => {
    const { definition, control } = chaosStore(store.open()(), { error: (op) => new Error(`injected: ${op} failed`) });
    const app = await boot({
      stores: { default: definition },
      keyPrefix: uniquePrefix('down'),
      codec: { chunkSize: 1024 },
    });
    try {
      const errors: string[] = [];
      const reasons = corruptions(app);
      app.engine.events.on('store:error', (e) => errors.push(`${e.operation}: ${e.error.message}`));
      const value = incompressible(5000);
      await TenantContext.run('down', async () => {
        await app.cache.set('big', value);
        control.down(['mget']);
        expect(await app.cache.get('big')).toBeUndefined();
        expect(await app.cache.mget(['big'])).toEqual([undefined]);
        control.up();
        expect(Buffer.compare((await app.cache.get<Buffer>('big'))!, value)).toBe(0);
      });
      expect(errors).toEqual(['get: injected: mget failed', 'mget: injected: mget failed']);
      expect(reasons).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('never runs code or rebuilds classes from cache bytes', async () => {
    const app = await boot({ stores: { default: store.open()() }, keyPrefix: uniquePrefix('safe') });
    try {
      let ran = 0;
      class Account {
        balance = 10;
        get doubled() {
          ran++;
          return this.balance * 2;
        }
      }
      await TenantContext.run('safe', async () => {
        await app.cache.set('acct', new Account());
        const back = await app.cache.get<Record<string, unknown>>('acct');
        expect(back).toEqual({ balance: 10 });
        expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
        await expect(app.cache.set('fn', { run: () => 1 })).rejects.toBeInstanceOf(InvalidCacheValueError);
      });
      expect(ran).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('codec start-up errors', () => {
  const start = (options: TenantCacheModuleOptions) => bootCache(options);
  const cases: [string, TenantCacheModuleOptions, RegExp][] = [
    ['no secrets', { codec: { encryption: { secrets: [] } } }, /codec\.encryption\.secrets" is missing or empty/],
    ['an unset environment variable', { codec: { encryption: { secrets: process.env.NO_SUCH_SECRET_VARIABLE as string } } }, /missing or empty/],
    ['a short secret', { codec: { encryption: { secrets: ['too-short'] } } }, /secrets\[0\]" is too short \(9 bytes\)/],
    ['a repeated secret', { codec: { encryption: { secrets: [SECRET_1, SECRET_1] } } }, /repeats an earlier secret/],
    ['hashKeys without a secret', { codec: { hashKeys: true } }, /hashKeys" is true but no encryption secret/],
    ['a tiny chunk size', { codec: { chunkSize: 100 } }, /chunkSize" is 100/],
    ['an unknown algorithm', { codec: { compression: { algorithm: 'lz4' as never } } }, /algorithm" is "lz4"/],
    ['a level out of range', { codec: { compression: { algorithm: 'brotli', level: 12 } } }, /level" is 12.*0 to 11/],
    [
      'a bad store codec',
      { stores: { default: memoryStore(), redis: { ...memoryStore(), codec: { encryption: { secrets: ['x'] } } } } },
      /stores\.redis\.codec\.encryption\.secrets\[0\]" is too short/,
    ],
  ];
  it.each(cases)('fails boot on %s, naming the option', async (_label, options, message) => {
    const error = await start(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as Error).message).toMatch(message);
  });

  it(`zstd ${hasZstd() ? 'works on this Node' : 'is a start-up error on this Node (no zlib.zstdCompress)'}`, async () => {
    const options: TenantCacheModuleOptions = { codec: { compression: { algorithm: 'zstd' } } };
    if (!hasZstd()) {
      await expect(start(options)).rejects.toThrow(/"zstd", which this Node \(v\d+/);
      return;
    }
    const app = await boot({ ...options, keyPrefix: uniquePrefix('zstd') });
    await TenantContext.run('z', () => app.cache.set('k', compressible(5000)));
    expect(await TenantContext.run('z', () => app.cache.get('k'))).toBe(compressible(5000));
    await app.close();
  });
});
