import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import {
  type AdapterStoreOptions,
  type KeyvListing,
  adapterCapabilities,
  backendTtl,
  isInProcessMap,
  keyvKeyPages,
  remaining,
  toText,
  unsupportedScan,
} from './adapter-support.js';
import type { CacheManagerLike } from './adapter-types.js';
import { CommandGuard } from '../resilience/command-guard.js';
import type { StoreCapabilities, StoreContext, StoreDefinition, StoreEntry } from '../cache-store.interface.js';
import { TextValueStore } from './text-value.store.js';
import { optionKeys } from '../../tenant-cache.option-keys.js';
import { ADAPTER_KEYS, assertStoreOptions } from '../store-option-keys.js';

/** Options of `cacheManagerStore`. */
export type CacheManagerStoreOptions = AdapterStoreOptions;

const NO_LISTING_HINT =
  'Not every Keyv store of this cache-manager Cache can iterate its keys: use invalidateAll() (needs no listing), Keyv stores that iterate (Map, @keyv/redis), or redisStore().';

/**
 * A `CacheStore` over a cache-manager v7 `Cache` (`createCache({ stores: [...] })`), tiers included:
 * reads go through the Cache (first tier that has the entry), writes to every tier. Values are stored
 * as base64 text. The Cache has no add/incr/touch: they read then write, serialized per key in this
 * process only. Listing walks every tier's Keyv iterator (when all tiers have one). No tag sets.
 * An entry written without TTL is stored with TTL 0 (no expiry), so the Cache's default `ttl` does
 * not apply to it.
 */
export class CacheManagerStore extends TextValueStore {
  readonly capabilities: StoreCapabilities;
  private readonly io: CommandGuard;

  constructor(
    name: string,
    private readonly cache: CacheManagerLike,
    options: CacheManagerStoreOptions = {},
    context?: StoreContext,
  ) {
    super(name);
    const tiers = cache.stores ?? [];
    const distributed = options.distributed ?? !tiers.every((k) => isInProcessMap(k.store));
    const scan = tiers.length > 0 && tiers.every((k) => typeof k.iterator === 'function');
    this.capabilities = adapterCapabilities(options, distributed, scan);
    this.io = new CommandGuard(name, { ...options, bounded: distributed, outages: context?.outages });
  }

  protected readRaw(key: string): Promise<unknown> {
    return this.io.run('get', () => this.cache.get(key));
  }

  protected async writeRaw(key: string, value: unknown, ttl: number): Promise<void> {
    await this.io.run('set', () => this.cache.set(key, value, ttl));
  }

  protected readManyRaw(keys: readonly string[]): Promise<unknown[]> {
    return this.io.run('mget', () => this.cache.mget([...keys]));
  }

  protected async removeRaw(keys: readonly string[]): Promise<void> {
    await this.io.run('mdel', () => this.cache.mdel([...keys]));
  }

  async mset(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const list = entries.map((e) => ({ key: e.key, value: toText(e.value), ttl: backendTtl(e.ttl) }));
    await this.io.run('mset', () => this.cache.mset(list));
  }

  async ttl(key: string): Promise<number | undefined> {
    // cache-manager's ttl() is the expiry time, and undefined both for "missing" and "no expiry".
    const expires = await this.io.run('ttl', () => this.cache.ttl(key));
    if (expires !== undefined) return remaining(expires);
    return (await this.has(key)) ? Infinity : undefined;
  }

  scan(prefix: string, pageSize = 500): AsyncIterable<string[]> {
    if (!this.capabilities.scan) return unsupportedScan(this.name, NO_LISTING_HINT);
    // A key may sit in several tiers: each is listed once.
    const listings = this.cache.stores.map((tier) => () => (tier.iterator as KeyvListing).call(tier));
    return keyvKeyPages(listings, prefix, pageSize, this.io);
  }

  /** `cache.clear()`: clears every tier's namespace (every tenant). Admin only. */
  async flush(): Promise<void> {
    await this.io.run('clear', () => this.cache.clear());
  }

  /** Leaves the Cache open: it is the application's (call `cache.disconnect()` yourself). */
  async close(): Promise<void> {}
}

const CACHE_MANAGER_STORE_KEYS = optionKeys<CacheManagerStoreOptions>(ADAPTER_KEYS);

/**
 * A store over a cache-manager v7 `Cache` you already have, so that its Keyv stores (memory, Redis,
 * tiers) hold the tenant-isolated entries. The Cache stays yours: it is not disconnected on shutdown.
 * Capabilities: ttl yes; listing when every tier can iterate; add/incr atomic only in one process; no tag sets.
 *
 * @example
 * const cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(url), namespace: 'app' })] });
 * TenantCacheModule.forRoot({ stores: { default: cacheManagerStore(cache) } })
 */
export function cacheManagerStore(cache: CacheManagerLike, options: CacheManagerStoreOptions = {}): StoreDefinition {
  assertStoreOptions('cacheManagerStore', options, CACHE_MANAGER_STORE_KEYS);
  const c = cache as Partial<CacheManagerLike> | null | undefined;
  if (typeof c !== 'object' || c === null || typeof c.get !== 'function' || typeof c.mget !== 'function' || typeof c.ttl !== 'function') {
    throw new InvalidOptionsError(
      'cacheManagerStore(cache)',
      'is not a cache-manager v7 Cache (get, mget, ttl, stores)',
      'Pass createCache({ stores: [...] }) from cache-manager 7; for a cache-manager v5 store use legacyStore(store).',
    );
  }
  return {
    create: (alias, context) => new CacheManagerStore(alias, cache, options, context),
    dedicatedTenant: options.dedicatedTenant,
    description: 'cacheManagerStore(cache)',
  };
}
