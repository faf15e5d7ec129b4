import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CodecOptions, TenantContext } from '../../lib/index.js';
import { type Booted, SECRET_1, boot, chunkKeys, codecStores, compressible, incompressible, tenant, uniquePrefix } from './codec-fixtures.js';

const compressions = [false, { algorithm: 'gzip' }, { algorithm: 'deflate' }, { algorithm: 'brotli' }] as const;
const encryptions = [false, { secrets: [SECRET_1] }] as const;
const chunkSizes = [undefined, 4096] as const;

interface Combo {
  label: string;
  codec: CodecOptions;
}

function combos(): Combo[] {
  const out: Combo[] = [];
  for (const compression of compressions) {
    for (const encryption of encryptions) {
      for (const chunkSize of chunkSizes) {
        for (const hashKeys of [false, true]) {
          const codec: CodecOptions = {
            compression: compression === false ? false : { ...compression, threshold: 256 },
            encryption,
            chunkSize,
            hashKeys: hashKeys ? (encryption ? true : { secret: SECRET_1 }) : false,
          };
          const label = [
            compression === false ? 'raw' : compression.algorithm,
            encryption ? 'aes' : 'clear',
            chunkSize ? `chunk ${chunkSize}` : 'chunk 1MiB',
            hashKeys ? 'hmac keys' : 'plain keys',
          ].join(' + ');
          out.push({ label, codec });
        }
      }
    }
  }
  return out;
}

const value = () => ({
  date: new Date('2026-01-02T03:04:05.006Z'),
  map: new Map<string, unknown>([
    ['a', 1],
    ['b', { c: [1, 2] }],
  ]),
  set: new Set([1, 'two']),
  big: 12345678901234567890n,
  nested: { list: [null, undefined, 1.5, '', false, 0] },
});

describe.each(codecStores())('codec round trips on $name', (store) => {
  describe.each(combos())('$label', ({ codec }) => {
    let app: Booted;
    const prefix = uniquePrefix('rt');

    beforeAll(async () => {
      app = await boot({ stores: { default: store.open()() }, keyPrefix: prefix, codec });
    });
    afterAll(() => app.close());

    it('round-trips small, compressible, incompressible and multi-chunk values through every operation', async () => {
      const medium = compressible(40_000);
      const noise = incompressible(20_000);
      const large = { text: compressible(1_500_000), bytes: incompressible(1_200_000) };
      await TenantContext.run('acme', async () => {
        const cache = app.cache;
        await cache.set('typed', value());
        await cache.set('medium', medium);
        await cache.set('noise', noise);
        await cache.set('large', large);
        expect(await cache.get('typed')).toEqual(value());
        expect(await cache.get('medium')).toBe(medium);
        expect(Buffer.compare((await cache.get<Buffer>('noise'))!, noise)).toBe(0);
        const back = await cache.get<typeof large>('large');
        expect(back?.text).toBe(large.text);
        expect(Buffer.compare(back!.bytes, large.bytes)).toBe(0);
        for (const falsy of [null, 0, false, '']) {
          await cache.set('falsy', falsy);
          expect(await cache.get('falsy')).toBe(falsy);
        }
        expect(await cache.getOrSet('loaded', async () => medium)).toBe(medium);
        expect(await cache.getOrSet('loaded', async () => 'not called')).toBe(medium);
        await cache.mset([
          { key: 'm1', value: medium },
          { key: 'm2', value: 7 },
        ]);
        const [m1, m2, nope, viaMget] = await cache.mget<unknown>(['m1', 'm2', 'nope', 'large']);
        expect([m1, m2, nope]).toEqual([medium, 7, undefined]);
        expect(Buffer.compare((viaMget as typeof large).bytes, large.bytes)).toBe(0);
        expect(await cache.add('large', 'x')).toBe(false);
        expect(await cache.add('added', large)).toBe(true);
        expect((await cache.get<typeof large>('added'))?.text).toBe(large.text);
        expect(await cache.has('large')).toBe(true);
        expect(await cache.touch('large', 60_000)).toBe(true);
        expect(await cache.ttl('large')).toBeGreaterThan(50_000);
        expect((await cache.get<typeof large>('large'))?.text).toBe(large.text);
        expect(await cache.incr('counter', 3)).toBe(3);
        expect(await cache.get('counter')).toBe(3);
        // NOTE: a counter is a raw integer (so that the store can add to it atomically): under HMAC keys its
        // logical key is nowhere, so it cannot be listed.
        const listed = ['added', 'falsy', 'large', 'loaded', 'm1', 'm2', 'medium', 'noise', 'typed'];
        if (!codec.hashKeys) listed.unshift('counter');
        expect((await cache.keys()).sort()).toEqual(listed.sort());
      });
    });

    it('stores what the options say: compressed, encrypted, hashed keys', async () => {
      const text = compressible(3000);
      await TenantContext.run('inspect-me', () => app.cache.set('secret-report', text));
      const { resolved, key } = await app.physical(tenant('inspect-me'), 'secret-report');
      const raw = (await resolved.store.get(key))!;
      // Without compression or encryption a string is a text entry (0x1E); otherwise a format-2 record.
      expect(raw[0]).toBe(codec.compression || codec.encryption ? 0xc7 : 0x1e);
      expect(raw[1]).toBe(codec.compression || codec.encryption ? 2 : 0x31);
      expect(raw.includes('Widget')).toBe(!codec.encryption && !codec.compression);
      if (codec.compression && !codec.encryption) expect(raw.length).toBeLessThan(text.length / 4);
      const all = (await app.rawKeys()).join('\n');
      expect(all.includes('inspect-me')).toBe(!codec.hashKeys);
      expect(all.includes('secret-report')).toBe(!codec.hashKeys);
      expect(await TenantContext.run('inspect-me', () => app.cache.keys())).toEqual(['secret-report']);
    });

    it('removes chunks with their entry on delete, mdel and overwrite, and never lists them', async () => {
      const scope = tenant('cleanup');
      const big = compressible(9000) + incompressible(9000).toString('base64');
      await TenantContext.run('cleanup', async () => {
        const cache = app.cache;
        await cache.set('a', big);
        await cache.set('b', big);
        await cache.set('c', big);
        const tenantPrefix = (await app.physical(scope, 'a')).resolved.keys.scopePrefix(scope);
        const before = chunkKeys(await app.rawKeys(tenantPrefix));
        // With 4 KiB chunks every value is chunked; with 1 MiB none is.
        expect(before.length > 0).toBe(codec.chunkSize === 4096);
        await cache.set('a', big + '!');
        expect(await cache.get('a')).toBe(big + '!');
        expect(chunkKeys(await app.rawKeys(tenantPrefix)).length).toBe(before.length);
        expect(await cache.delete('a')).toBe(true);
        expect(await cache.mdel(['b', 'c', 'missing'])).toBe(2);
        expect(chunkKeys(await app.rawKeys(tenantPrefix))).toEqual([]);
        expect(await cache.keys()).toEqual([]);
      });
    });
  });
});
