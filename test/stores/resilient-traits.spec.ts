import 'reflect-metadata';
import { Keyv } from 'keyv';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type CacheStore,
  MemoryStore,
  ResilientStore,
  type StoreDefinition,
  StoreUnavailableError,
  TenantCacheService,
  TenantContext,
  UnsupportedOperationError,
  keyvStore,
} from '../../lib/index.js';
import { storeTraits } from '../../lib/stores/store-traits.js';
import { bootCache } from '../support/test-module.js';
import { EveryMemberStore } from '../support/chaos-store-error-paths.js';
import { OPTIONAL_OPERATIONS } from '../support/chaos-store.js';

/** A module over one store built by `build` (a bare store or a wrapper around it). */
async function serviceOver(build: () => CacheStore | Promise<CacheStore>) {
  const definition: StoreDefinition = { description: 'test store', create: () => build() };
  const moduleRef = await bootCache({ stores: { default: definition } });
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

  it.each([
    ['memory', () => new MemoryStore('memory')],
    ['memory, shareReads', () => new MemoryStore('memory', { shareReads: true })],
    ['memory with getThen/setThen', () => new EveryMemberStore('every')],
    ['keyv', () => keyvInner()],
  ])('around %s: exactly the optional members of the store, with the same shareReads', async (_name, build) => {
    const inner: CacheStore = await build();
    const wrapped: CacheStore = new ResilientStore(inner);
    for (const member of OPTIONAL_OPERATIONS) expect(typeof wrapped[member], member).toBe(typeof inner[member]);
    expect(wrapped.shareReads).toBe(inner.shareReads);
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

/** A remote-like store with the mapped fast paths, whose calls can be made to fail. */
class MappedStore extends MemoryStore {
  failing = false;
  override get(key: string): Promise<Buffer | undefined> {
    return this.failing ? Promise.reject(new Error('ECONNRESET')) : super.get(key);
  }
  override set(key: string, value: Buffer, ttl?: number): Promise<void> {
    return this.failing ? Promise.reject(new Error('ECONNRESET')) : super.set(key, value, ttl);
  }
  getThen<R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R> {
    return this.get(key).then(onValue, onError);
  }
  setThen(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void> {
    const write = typeof value === 'string' ? this.setText(key, value, ttl) : this.set(key, value, ttl);
    return write.catch(onError);
  }
}

describe("ResilientStore's mapped fast paths, on failure", () => {
  it('hand a failure to onError as a StoreUnavailableError, count it for the breaker, and refuse while open', async () => {
    const inner = new MappedStore('mapped');
    const store: CacheStore = new ResilientStore(inner, { breaker: { failureThreshold: 2, resetAfter: 60_000 } });
    await store.setThen!('k', Buffer.from('v'), undefined, () => expect.fail('no failure expected'));
    expect(
      await store.getThen!(
        'k',
        (v) => v?.toString(),
        () => 'failed',
      ),
    ).toBe('v');

    inner.failing = true;
    const errors: unknown[] = [];
    await store.setThen!('k', Buffer.from('w'), undefined, (error) => void errors.push(error));
    expect(
      await store.getThen!(
        'k',
        () => 'value',
        (error) => (errors.push(error), 'failed'),
      ),
    ).toBe('failed');
    expect(errors).toHaveLength(2);
    expect(errors.every((e) => e instanceof StoreUnavailableError)).toBe(true);
    expect((store as ResilientStore).state).toBe('open');

    // Open: nothing is sent, the outcome still goes through onError.
    inner.failing = false;
    expect(
      await store.getThen!(
        'k',
        () => 'value',
        (error) => String(error),
      ),
    ).toMatch(/circuit open/);
    const rethrow = (error: unknown) => {
      throw error;
    };
    await expect(store.setThen!('k', 'text', undefined, rethrow)).rejects.toThrow(/circuit open/);
    await store.close();
  });
});
