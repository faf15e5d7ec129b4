import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { StoreUnavailableError } from '../../errors/store-unavailable.error.js';
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
import type { KeyvLike, KeyvStoreAdapterLike } from './adapter-types.js';
import { CommandGuard } from '../resilience/command-guard.js';
import type { StoreCapabilities, StoreContext, StoreDefinition, StoreEntry } from '../cache-store.interface.js';
import { TextValueStore } from './text-value.store.js';
import { optionKeys } from '../../tenant-cache.option-keys.js';
import { ADAPTER_KEYS, assertStoreOptions } from '../store-option-keys.js';

/** Options of `keyvStore`. */
export type KeyvStoreOptions = AdapterStoreOptions;

const NO_LISTING_HINT =
  'This Keyv store cannot iterate its keys: use invalidateAll() (needs no listing), a Keyv store that supports iteration (Map, @keyv/redis, ...), or redisStore().';

/**
 * A `CacheStore` over a Keyv instance. Values are stored as base64 text; TTLs come from Keyv's own
 * `expires`. Keyv has no atomic add/incr: they read then write, serialized per key in this process only
 * (`capabilities.atomic` is false on a shared backend). Listing uses Keyv's iterator, which walks the
 * whole namespace; without one, `scan`/`deleteByPrefix` fail with `UnsupportedOperationError`.
 * No sets: plain tags cannot be indexed here (use versioned tags).
 */
export class KeyvStore extends TextValueStore {
  readonly capabilities: StoreCapabilities;
  private readonly io: CommandGuard;

  constructor(
    name: string,
    private readonly keyv: KeyvLike,
    options: KeyvStoreOptions = {},
    context?: StoreContext,
  ) {
    super(name);
    const distributed = options.distributed ?? !isInProcessMap(keyv.store);
    this.capabilities = adapterCapabilities(options, distributed, typeof keyv.iterator === 'function');
    this.io = new CommandGuard(name, { ...options, bounded: distributed, outages: context?.outages });
  }

  protected readRaw(key: string): Promise<unknown> {
    return this.io.run('get', () => this.keyv.get(key));
  }

  protected async writeRaw(key: string, value: unknown, ttl: number): Promise<void> {
    if (!(await this.io.run('set', () => this.keyv.set(key, value, ttl)))) throw this.failed('set');
  }

  protected readManyRaw(keys: readonly string[]): Promise<unknown[]> {
    return this.io.run('getMany', () => this.keyv.getMany([...keys]));
  }

  protected async removeRaw(keys: readonly string[]): Promise<void> {
    await this.io.run('deleteMany', () => this.keyv.deleteMany([...keys]));
  }

  async mset(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const list = entries.map((e) => ({ key: e.key, value: toText(e.value), ttl: backendTtl(e.ttl) }));
    const results = await this.io.run('setMany', () => this.keyv.setMany(list));
    // NOTE: Keyv resolves to booleans, or to nothing when the store writes the batch itself.
    if (Array.isArray(results) && results.some((ok) => ok === false)) throw this.failed('setMany');
  }

  async ttl(key: string): Promise<number | undefined> {
    const raw = await this.io.run('getRaw', () => this.keyv.getRaw(key));
    return raw === undefined ? undefined : remaining(raw.expires);
  }

  scan(prefix: string, pageSize = 500): AsyncIterable<string[]> {
    const iterator = this.keyv.iterator;
    if (typeof iterator !== 'function') return unsupportedScan(this.name, NO_LISTING_HINT);
    return keyvKeyPages([() => (iterator as KeyvListing).call(this.keyv)], prefix, pageSize, this.io);
  }

  /** Clears the Keyv namespace (every tenant). Admin only. */
  async flush(): Promise<void> {
    await this.io.run('clear', () => this.keyv.clear());
  }

  /** Leaves the Keyv instance open: it is the application's (disconnect it yourself). */
  async close(): Promise<void> {}

  private failed(operation: string): StoreUnavailableError {
    return new StoreUnavailableError(this.name, `Keyv ${operation} reported a failure (set throwOnErrors: true on the Keyv instance to see why)`);
  }
}

/** Whether `input` is a Keyv instance rather than a bare Keyv store adapter (duck-typed: two copies of keyv may be loaded). */
function isKeyv(input: object): input is KeyvLike {
  const k = input as Partial<KeyvLike>;
  return typeof k.getRaw === 'function' && typeof k.setMany === 'function' && typeof k.hooks === 'object';
}

const KEYV_STORE_KEYS = optionKeys<KeyvStoreOptions>(ADAPTER_KEYS);

/**
 * A store over a Keyv instance, or over a Keyv store such as `@keyv/redis`'s `KeyvRedis` (wrapped in a
 * `Keyv` with `throwOnErrors`). The instance stays yours: it is not disconnected on shutdown.
 * Capabilities: ttl yes; listing only where Keyv can iterate; add/incr atomic only in one process; no tag sets.
 *
 * @example
 * import KeyvRedis from '@keyv/redis';
 * TenantCacheModule.forRoot({ stores: { default: keyvStore(new Keyv({ store: new KeyvRedis(url), namespace: 'app' })) } })
 */
export function keyvStore(keyv: KeyvLike | KeyvStoreAdapterLike | Map<unknown, unknown>, options: KeyvStoreOptions = {}): StoreDefinition {
  assertStoreOptions('keyvStore', options, KEYV_STORE_KEYS);
  if (typeof keyv !== 'object' || keyv === null) {
    throw new InvalidOptionsError('keyvStore(keyv)', `got ${keyv === null ? 'null' : typeof keyv}`, 'Pass a Keyv instance or a Keyv store (e.g. new KeyvRedis(url)).');
  }
  return {
    async create(alias, context) {
      let instance: KeyvLike;
      if (isKeyv(keyv)) instance = keyv;
      else {
        const { Keyv: KeyvClass } = await import('keyv');
        instance = new KeyvClass({ store: keyv, throwOnErrors: true });
      }
      return new KeyvStore(alias, instance, options, context);
    },
    dedicatedTenant: options.dedicatedTenant,
    description: `keyvStore(${isKeyv(keyv) ? 'Keyv' : (keyv.constructor?.name ?? 'store')})`,
  };
}
