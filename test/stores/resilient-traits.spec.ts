import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type CacheStore,
  MemoryStore,
  ResilientStore,
  type StoreDefinition,
  TenantCacheModule,
  TenantCacheService,
  TenantContext,
  UnsupportedOperationError,
  keyvStore,
} from '../../lib/index.js';
import { storeTraits } from '../../lib/stores/store-traits.js';

/** A module over one store built by `build` (a bare store or a wrapper around it). */
async function serviceOver(build: () => CacheStore | Promise<CacheStore>) {
  const definition: StoreDefinition = { description: 'test store', create: () => build() };
  const moduleRef = await Test.createTestingModule({ imports: [TenantCacheModule.forRoot({ stores: { default: definition } })] }).compile();
  await moduleRef.init();
  return { cache: moduleRef.get(TenantCacheService), close: () => moduleRef.close() };
}

const as = <T>(tenant: string, fn: () => Promise<T>) => TenantContext.run(tenant, fn);
const keyvInner = () => keyvStore(new Keyv()).create('keyv');

describe('ResilientStore keeps the traits of the store it wraps', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it.each([
    ['bare', async () => keyvInner()],
    ['wrapped in ResilientStore', async () => new ResilientStore(await keyvInner())],
  ])('a store without sets (%s): invalidateTag of a plain tag refuses, the entry is not silently kept', async (_name, build) => {
    const service = await serviceOver(build);
    close = service.close;
    const { cache } = service;
    await as('a', () => cache.set('p', 1, { tags: ['x'] }));
    await expect(as('a', () => cache.invalidateTag('x'))).rejects.toBeInstanceOf(UnsupportedOperationError);
    await as('a', () => cache.clear());
  });

  it('a wrapper exposes no set or fast-path member its store lacks', async () => {
    const inner = await keyvInner();
    const wrapped: CacheStore = new ResilientStore(inner);
    for (const member of ['sadd', 'sscan', 'getSync', 'setSync', 'getThen', 'setThen', 'setText', 'shareReads'] as const) {
      expect(wrapped[member] === undefined, member).toBe(inner[member] === undefined);
    }
    expect(storeTraits(wrapped)).toEqual(storeTraits(inner));
    expect(storeTraits(wrapped).hasSets).toBe(false);
    await wrapped.close();
  });

  it('around a memory store: plain tags invalidate, and reads and writes take its synchronous paths', async () => {
    const inner = new MemoryStore('memory');
    const getSync = vi.spyOn(inner, 'getSync');
    const setSync = vi.spyOn(inner, 'setSync');
    const get = vi.spyOn(inner, 'get');
    const wrapped: CacheStore = new ResilientStore(inner);
    for (const member of ['sadd', 'sscan', 'getSync', 'setSync', 'setText'] as const) expect(wrapped[member], member).toBeTypeOf('function');
    expect(storeTraits(wrapped)).toEqual(storeTraits(inner));
    const service = await serviceOver(() => wrapped);
    close = service.close;
    const { cache } = service;

    await as('a', () => cache.set('k', { n: 1 }));
    expect(setSync).toHaveBeenCalled();
    // The tenant's generation counter was read (once) by the write; the entry's read is synchronous.
    get.mockClear();
    expect(await as('a', () => cache.get('k'))).toEqual({ n: 1 });
    expect(getSync).toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();

    await as('a', () => cache.set('t', 'tagged', { tags: ['x'] }));
    expect(await as('a', () => cache.get('t'))).toBe('tagged');
    expect(await as('a', () => cache.invalidateTag('x'))).toBe(1);
    expect(await as('a', () => cache.get('t'))).toBeUndefined();
  });

  it('around a store that shares reads: the flag is kept', async () => {
    const inner = new MemoryStore('memory', { shareReads: true });
    const wrapped: CacheStore = new ResilientStore(inner);
    expect(wrapped.shareReads).toBe(true);
    expect(storeTraits(wrapped).sharesReads).toBe(true);
    await wrapped.close();
  });
});
