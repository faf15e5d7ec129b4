import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { escapeGlob } from '../../keys/key-builder.js';
import { type AdapterStoreOptions, adapterCapabilities, backendTtl, toText, unsupportedScan } from './adapter-support.js';
import { CommandGuard } from '../resilience/command-guard.js';
import type { StoreCapabilities, StoreContext, StoreDefinition, StoreEntry } from '../cache-store.interface.js';
import { TextValueStore } from './text-value.store.js';
import { optionKeys } from '../../tenant-cache.option-keys.js';
import { ADAPTER_KEYS, assertStoreOptions } from '../store-option-keys.js';

/**
 * A cache-manager v5 store (`Store` of cache-manager 5, e.g. `cache-manager-redis-yet`'s `redisStore`):
 * TTLs in ms, `ttl(key)` the remaining ms (Redis `PTTL`: -1 = no expiry, -2 = missing).
 */
export interface LegacyCacheStore {
  get<T>(key: string): Promise<T | undefined>;
  set<T>(key: string, data: T, ttl?: number): Promise<void>;
  del(key: string): Promise<void>;
  reset(): Promise<void>;
  mset(args: Array<[string, unknown]>, ttl?: number): Promise<void>;
  mget(...args: string[]): Promise<unknown[]>;
  mdel(...args: string[]): Promise<void>;
  keys(pattern?: string): Promise<string[]>;
  ttl(key: string): Promise<number>;
}

/** Options of `legacyStore`. */
export interface LegacyStoreOptions extends AdapterStoreOptions {
  /**
   * List keys (`keys()`, `deleteByPrefix()`, physical removal on `clear()`) with the v5 store's
   * `keys(pattern)`. Off by default: on `cache-manager-redis-yet` that is Redis `KEYS`, which blocks the
   * server for the whole key space. Turn it on only for small or in-process v5 stores.
   */
  allowKeysListing?: boolean;
  /** Whether several processes share the store. Default true, except for cache-manager 5's memory store. */
  distributed?: boolean;
}

const NO_LISTING_HINT =
  'A cache-manager v5 store lists keys with keys(pattern), which is KEYS on Redis (blocks the server): use invalidateAll() (needs no listing), redisStore({ url }) for SCAN-based listing, or legacyStore(store, { allowKeysListing: true }) for a small store.';

/**
 * A `CacheStore` over a cache-manager v5 store, for apps that still run one (e.g. on
 * `cache-manager-redis-yet`). Values are stored as base64 text (v5 Redis stores JSON-encode values).
 * add/incr/touch read then write, serialized per key in this process only. No listing unless
 * `allowKeysListing`; no tag sets. `flush()` calls the store's `reset()`, which on
 * `cache-manager-redis-yet` is `FLUSHDB`: the whole Redis database, not only this library's keys.
 * Do not give the v5 store its own `keyPrefix`: `cache-manager-redis-yet` ignores it in `mget`, `mdel`
 * and `ttl` (use the module's `keyPrefix`).
 */
export class LegacyStore extends TextValueStore {
  readonly capabilities: StoreCapabilities;
  private readonly io: CommandGuard;

  constructor(
    name: string,
    private readonly store: LegacyCacheStore,
    options: LegacyStoreOptions = {},
    context?: StoreContext,
  ) {
    super(name);
    // cache-manager 5's own memory store names itself "memory": in-process, not shared.
    const distributed = options.distributed ?? (store as { name?: unknown }).name !== 'memory';
    this.capabilities = adapterCapabilities(options, distributed, options.allowKeysListing === true);
    this.io = new CommandGuard(name, { ...options, bounded: distributed, outages: context?.outages });
  }

  protected readRaw(key: string): Promise<unknown> {
    return this.io.run('get', () => this.store.get<unknown>(key));
  }

  protected async writeRaw(key: string, value: unknown, ttl: number): Promise<void> {
    await this.io.run('set', () => this.store.set(key, value, ttl));
  }

  protected readManyRaw(keys: readonly string[]): Promise<unknown[]> {
    return this.io.run('mget', () => this.store.mget(...keys));
  }

  protected async removeRaw(keys: readonly string[]): Promise<void> {
    // NOTE: one del per key (pipelined by the client): redis-yet's mdel drops its keyPrefix.
    await this.io.run('del', () => Promise.all(keys.map((k) => this.store.del(k))));
  }

  async mset(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // v5 mset takes one TTL for the batch: entries are grouped by TTL.
    const groups = new Map<number, Array<[string, unknown]>>();
    for (const e of entries) {
      const ttl = backendTtl(e.ttl);
      let group = groups.get(ttl);
      if (!group) groups.set(ttl, (group = []));
      group.push([e.key, toText(e.value)]);
    }
    for (const [ttl, group] of groups) await this.io.run('mset', () => this.store.mset(group, ttl));
  }

  async ttl(key: string): Promise<number | undefined> {
    const left = await this.io.run('ttl', () => this.store.ttl(key));
    // -1 (Redis) / Infinity (v5 memory): no expiry; -2 (Redis) / 0 (v5 memory): missing.
    if (left === -1 || left === Infinity) return Infinity;
    if (typeof left === 'number' && left > 0) return left;
    return undefined;
  }

  scan(prefix: string, pageSize = 500): AsyncIterable<string[]> {
    if (!this.capabilities.scan) return unsupportedScan(this.name, NO_LISTING_HINT);
    const store = this.store;
    const io = this.io;
    return (async function* () {
      const all = await io.run('keys', () => store.keys(`${escapeGlob(prefix)}*`));
      // Some v5 stores ignore the pattern: the literal prefix is checked here.
      const keys = all.filter((k) => k.startsWith(prefix));
      for (let i = 0; i < keys.length; i += pageSize) yield keys.slice(i, i + pageSize);
    })();
  }

  // NOTE: one `keys()` call lists everything up front; `mdel` counts only the keys still there.
  override async deleteByPrefix(prefix: string): Promise<number> {
    let n = 0;
    for await (const page of this.scan(prefix)) n += await this.mdel(page);
    return n;
  }

  /** The v5 store's `reset()`: on cache-manager-redis-yet, FLUSHDB (every key of the database). Admin only. */
  async flush(): Promise<void> {
    await this.io.run('reset', () => this.store.reset());
  }

  /** Leaves the v5 store (and its client) open: it is the application's. */
  async close(): Promise<void> {}
}

const LEGACY_STORE_KEYS = optionKeys<LegacyStoreOptions>({ ...ADAPTER_KEYS, allowKeysListing: true });

/**
 * A store over a cache-manager v5 store, e.g. `await redisStore({ url })` of `cache-manager-redis-yet`.
 * A bridge for migrating: `cache-manager-redis-yet` is superseded by `@keyv/redis`, and redisStore()
 * of this library gives atomic counters, SCAN listing and tag sets on the same Redis.
 * Capabilities: ttl yes; listing only with `allowKeysListing`; add/incr atomic only in one process; no tag sets.
 *
 * @example
 * import { redisStore as redisYet } from 'cache-manager-redis-yet';
 * TenantCacheModule.forRootAsync({ useFactory: async () => ({ stores: { default: legacyStore(await redisYet({ url })) } }) })
 */
export function legacyStore(store: LegacyCacheStore, options: LegacyStoreOptions = {}): StoreDefinition {
  assertStoreOptions('legacyStore', options, LEGACY_STORE_KEYS);
  const s = store as Partial<LegacyCacheStore> | null | undefined;
  const missing = (['get', 'set', 'del', 'mget', 'ttl', 'reset', 'keys'] as const).filter((m) => typeof s?.[m] !== 'function');
  if (missing.length > 0) {
    throw new InvalidOptionsError(
      'legacyStore(store)',
      `is not a cache-manager v5 store (missing ${missing.join(', ')})`,
      'Pass the resolved store, e.g. legacyStore(await redisStore({ url })) of cache-manager-redis-yet; for a cache-manager v7 Cache use cacheManagerStore(cache).',
    );
  }
  return {
    create: (alias, context) => new LegacyStore(alias, store, options, context),
    dedicatedTenant: options.dedicatedTenant,
    description: `legacyStore(${(store as { name?: string }).name ?? 'v5 store'})`,
  };
}
