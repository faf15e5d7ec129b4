import { isDeepStrictEqual } from 'node:util';
import type { Cache } from 'cache-manager';
import { type TenantCacheService, versioned } from '../../lib/index.js';
import type { RunningApp } from '../http/http-app.js';
import { FaultCatalog } from './fault-app.js';

/** What an operation of the table acts on: one booted application, for one tenant. */
export interface FaultContext {
  cache: TenantCacheService;
  /** The drop-in `CACHE_MANAGER`. */
  manager: Cache;
  /** A provider with a `@CacheResult` and a `@CacheEvict` method. */
  catalog: FaultCatalog;
  http: RunningApp;
  tenant: string;
}

/**
 * One public operation of the library, as the fault matrix sweeps it.
 *
 * - `read`: never rejects; while the store is down it resolves to what `down` accepts (a miss).
 * - `write`: with `onWriteError: 'throw'` it rejects with `StoreUnavailableError` while the store is down;
 *   with `'ignore'` it resolves to what `down` accepts (dropped).
 * - `counter`: resolves to a value only the store can give (`incr`/`decr`): `StoreUnavailableError`
 *   whatever `onWriteError` says.
 * - `method`: a decorated method, which a failing cache never fails: resolves to what `down` accepts.
 *
 * Later features add their operations here (a new entry point, a new option of `getOrSet`, ...): every
 * fault of the matrix then covers them.
 */
export interface FaultOperation {
  name: string;
  kind: 'read' | 'write' | 'counter' | 'method';
  /** Runs inside `TenantContext.run(tenant)` (HTTP operations send the tenant as a header). */
  run(c: FaultContext): Promise<unknown>;
  /** Whether a result is the answer expected while the store is down (a miss, or a dropped write). */
  down(result: unknown): boolean;
  /** How the expected answer reads in a failure message. */
  expect: string;
}

const is =
  (expected: unknown) =>
  (result: unknown): boolean =>
    isDeepStrictEqual(result, expected);

const read = (name: string, run: FaultOperation['run'], expected: unknown): FaultOperation => ({
  name,
  kind: 'read',
  run,
  down: is(expected),
  expect: JSON.stringify(expected) ?? 'undefined',
});
const write = (name: string, run: FaultOperation['run'], dropped: unknown): FaultOperation => ({
  name,
  kind: 'write',
  run,
  down: is(dropped),
  expect: JSON.stringify(dropped) ?? 'undefined',
});

/** A miss of `@CacheResponse` over HTTP: the handler's answer, 200, never from the cache. */
function httpMiss(result: unknown): boolean {
  const r = result as { status: number; cache: string | undefined };
  return r.status === 200 && (r.cache === 'MISS' || r.cache === 'BYPASS');
}

export const OPERATIONS: readonly FaultOperation[] = [
  // TenantCacheService reads
  read('get', (c) => c.cache.get('k'), undefined),
  read('get (versioned tag)', (c) => c.cache.get('kv', { tags: [versioned('v')] }), undefined),
  read('lookup', async (c) => (await c.cache.lookup('k')).hit, false),
  read('has', (c) => c.cache.has('k'), false),
  // In-process counters: answer whatever the store does (the failures show in storeErrors).
  read('stats()', async (c) => [typeof c.cache.stats().requests.hit, c.cache.forTenant(c.tenant).stats().tenant === c.tenant], ['number', true]),
  read('mget', (c) => c.cache.mget(['k', 'k2']), [undefined, undefined]),
  read('ttl', (c) => c.cache.ttl('k'), undefined),
  read('getOrSet', (c) => c.cache.getOrSet('gos', () => 'loaded'), 'loaded'),
  read('getOrSet (l1: false)', (c) => c.cache.getOrSet('gosl', () => 'loaded', { l1: false }), 'loaded'),
  read('getOrSet (tags)', (c) => c.cache.getOrSet('gost', () => 'loaded', { tags: ['t', versioned('v')] }), 'loaded'),
  // Cluster single-flight: a failing lease command (or a frozen Redis) falls back to this process's load, uncached.
  read(
    'getOrSet (singleFlight cluster)',
    (c) => c.cache.getOrSet('gosc', () => 'loaded', { singleFlight: { scope: 'cluster', leaseTtl: 1000, waitTimeout: 2000 } }),
    'loaded',
  ),
  // Fail-safe: with the store down there is no stale value to serve (no tier yet): the loader's value, uncached.
  read('getOrSet (grace, timeouts)', (c) => c.cache.getOrSet('gosg', () => 'loaded', { ttl: 60_000, grace: 60_000, timeout: { soft: 50, hard: 5000 } }), 'loaded'),
  read(
    'getOrSet (staleWhileRevalidate, refreshAhead, ttlJitter)',
    (c) => c.cache.getOrSet('goss', () => 'loaded', { ttl: 60_000, staleWhileRevalidate: 30_000, refreshAhead: 0.8, ttlJitter: 0.1 }),
    'loaded',
  ),
  read('keys', (c) => c.cache.keys(), []),
  read('shared().get', (c) => c.cache.shared().get('k'), undefined),
  read(
    'memoizeIterable',
    async (c) => {
      const items: number[] = [];
      for await (const item of c.cache.memoizeIterable('it', () => [1, 2, 3])) items.push(item);
      return items;
    },
    [1, 2, 3],
  ),
  // The handle of a @CacheResult method
  read('method().peek', async (c) => (await c.cache.method(FaultCatalog, 'product').peek('p1')).hit, false),
  read('method().lookup', async (c) => (await c.cache.method(FaultCatalog, 'product').lookup('p1')).hit, false),
  {
    name: 'method().refresh',
    kind: 'method',
    run: (c) => c.cache.method(FaultCatalog, 'product').refresh('p1'),
    down: (r) => typeof r === 'string' && /^p1#\d+$/.test(r),
    expect: 'the method result "p1#<n>"',
  },
  write('method().invalidate', (c) => c.cache.method(FaultCatalog, 'product').invalidate('p1'), false),
  write('method().invalidateAll', (c) => c.cache.method(FaultCatalog, 'product').invalidateAll(), 0),
  write('method().purgeOldVersions', (c) => c.cache.method(FaultCatalog, 'product').purgeOldVersions(), 0),
  // TenantCacheService writes
  write('set', (c) => c.cache.set('k', 'v'), undefined),
  write('set (tags)', (c) => c.cache.set('kt', 'v', { tags: ['t', versioned('v')] }), undefined),
  write('add', (c) => c.cache.add('a', 1), false),
  write('delete', (c) => c.cache.delete('k'), false),
  write('touch', (c) => c.cache.touch('k', 60_000), false),
  write('expire', (c) => c.cache.expire('k'), false),
  write('expire (versioned tag)', (c) => c.cache.expire('kv', { tags: [versioned('v')] }), false),
  write('mset', (c) => c.cache.mset([{ key: 'm1', value: 1 }]), undefined),
  write('mdel', (c) => c.cache.mdel(['m1']), 0),
  write('deleteByPrefix', (c) => c.cache.deleteByPrefix('m'), 0),
  write('clear', (c) => c.cache.clear(), undefined),
  write('invalidateTag', (c) => c.cache.invalidateTag('t'), 0),
  write('invalidateTag (versioned)', (c) => c.cache.invalidateTag(versioned('v')), 0),
  write('invalidateTags', (c) => c.cache.invalidateTags(['t', versioned('v')]), [0, 0]),
  write('invalidateTag (soft)', (c) => c.cache.invalidateTag('t', { soft: true }), 0),
  write('invalidateTags (soft)', (c) => c.cache.invalidateTags(['t', 't2'], { soft: true }), [0, 0]),
  write('invalidateAll', (c) => c.cache.invalidateAll(), undefined),
  // Admin calls of every tenant
  write('invalidateTagInAllTenants', (c) => c.cache.invalidateTagInAllTenants('t'), 0),
  write('invalidateTagInAllTenants (soft)', (c) => c.cache.invalidateTagInAllTenants('t', undefined, { soft: true }), 0),
  write('flushAllTenants', (c) => c.cache.flushAllTenants(), undefined),
  // Resolves to the report's `complete`: false while the store is down (with onWriteError 'ignore').
  write('purgeTenant', async (c) => (await c.cache.purgeTenant(`${c.tenant}-gone`)).complete, false),
  { name: 'incr', kind: 'counter', run: (c) => c.cache.incr('n'), down: () => false, expect: 'StoreUnavailableError' },
  { name: 'decr', kind: 'counter', run: (c) => c.cache.decr('n'), down: () => false, expect: 'StoreUnavailableError' },
  // Decorators
  {
    name: '@CacheResult',
    kind: 'method',
    run: (c) => c.catalog.product('p1'),
    down: (r) => typeof r === 'string' && /^p1#\d+$/.test(r),
    expect: 'the method result "p1#<n>"',
  },
  {
    name: '@CacheResult (grace, staleWhileRevalidate, refreshAhead, ttlJitter, timeouts)',
    kind: 'method',
    run: (c) => c.catalog.resilientProduct('p1'),
    down: (r) => typeof r === 'string' && /^p1#\d+$/.test(r),
    expect: 'the method result "p1#<n>"',
  },
  {
    name: '@CacheResult (l1: false)',
    kind: 'method',
    run: (c) => c.catalog.remoteProduct('p1'),
    down: (r) => typeof r === 'string' && /^p1#\d+$/.test(r),
    expect: 'the method result "p1#<n>"',
  },
  { name: '@CacheEvict', kind: 'method', run: (c) => c.catalog.update('p1'), down: is('updated p1'), expect: '"updated p1"' },
  { name: '@CacheEvict (key and tags)', kind: 'method', run: (c) => c.catalog.retag('p1'), down: is('retagged p1'), expect: '"retagged p1"' },
  // The interceptor, over real HTTP
  {
    name: 'GET /report (@CacheResponse)',
    kind: 'method',
    run: async (c) => {
      const r = await c.http.call('/report', { headers: { 'x-tenant-id': c.tenant } });
      return { status: r.status, cache: r.headers['x-cache'] };
    },
    down: httpMiss,
    expect: 'HTTP 200 with X-Cache MISS or BYPASS',
  },
  {
    name: 'GET /stale-report (@CacheResponse staleIfError, tags)',
    kind: 'method',
    run: async (c) => {
      const r = await c.http.call('/stale-report', { headers: { 'x-tenant-id': c.tenant } });
      return { status: r.status, cache: r.headers['x-cache'] };
    },
    down: httpMiss,
    expect: 'HTTP 200 with X-Cache MISS or BYPASS',
  },
  {
    name: 'GET /remote-report (@CacheResponse l1: false)',
    kind: 'method',
    run: async (c) => {
      const r = await c.http.call('/remote-report', { headers: { 'x-tenant-id': c.tenant } });
      return { status: r.status, cache: r.headers['x-cache'] };
    },
    down: httpMiss,
    expect: 'HTTP 200 with X-Cache MISS or BYPASS',
  },
  {
    name: 'GET /grace-report (@CacheResponse grace, timeouts)',
    kind: 'method',
    run: async (c) => {
      const r = await c.http.call('/grace-report', { headers: { 'x-tenant-id': c.tenant } });
      return { status: r.status, cache: r.headers['x-cache'] };
    },
    down: httpMiss,
    expect: 'HTTP 200 with X-Cache MISS or BYPASS',
  },
  {
    name: 'GET /swr-report (@CacheResponse cacheControl.staleWhileRevalidate)',
    kind: 'method',
    run: async (c) => {
      const r = await c.http.call('/swr-report', { headers: { 'x-tenant-id': c.tenant } });
      return { status: r.status, cache: r.headers['x-cache'] };
    },
    down: httpMiss,
    expect: 'HTTP 200 with X-Cache MISS or BYPASS',
  },
  // The drop-in CACHE_MANAGER
  read('CACHE_MANAGER.get', (c) => c.manager.get('k'), undefined),
  read('CACHE_MANAGER.mget', (c) => c.manager.mget(['k', 'k2']), [undefined, undefined]),
  read('CACHE_MANAGER.ttl', (c) => c.manager.ttl('k'), undefined),
  read('CACHE_MANAGER.wrap', (c) => c.manager.wrap('wr', async () => 'loaded', 60_000), 'loaded'),
  read(
    'CACHE_MANAGER.wrap (TTL function)',
    (c) =>
      c.manager.wrap(
        'wrf',
        async () => 'loaded',
        (v) => String(v).length * 10_000,
      ),
    'loaded',
  ),
  read('CACHE_MANAGER.wrap (raw)', async (c) => (await c.manager.wrap('wrr', async () => 'loaded', { ttl: 60_000, raw: true }))?.value, 'loaded'),
  write('CACHE_MANAGER.set', (c) => c.manager.set('k', 'v'), 'v'),
  write('CACHE_MANAGER.del', (c) => c.manager.del('k'), true),
  write('CACHE_MANAGER.mset', async (c) => (await c.manager.mset([{ key: 'm1', value: 1 }])).length, 1),
];
