import type { Keyv, KeyvStoreAdapter } from 'keyv';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import {
  type AdapterStoreOptions,
  BackendGuard,
  KeyedLock,
  type KeyvListing,
  adapterCapabilities,
  backendTtl,
  fromText,
  isInProcessMap,
  nextCounter,
  remaining,
  toText,
  unsupportedScan,
} from './adapter-support.js';
import type { CacheStore, StoreCapabilities, StoreDefinition, StoreEntry } from './cache-store.interface.js';

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
export class KeyvStore implements CacheStore {
  readonly capabilities: StoreCapabilities;
  private readonly lock = new KeyedLock();
  private readonly io: BackendGuard;

  constructor(
    readonly name: string,
    private readonly keyv: Keyv,
    options: KeyvStoreOptions = {},
  ) {
    const distributed = options.distributed ?? !isInProcessMap(keyv.store);
    this.capabilities = adapterCapabilities(options, distributed, typeof keyv.iterator === 'function');
    this.io = new BackendGuard(name, options, distributed);
  }

  async get(key: string): Promise<Buffer | undefined> {
    return fromText(await this.read(key));
  }

  async set(key: string, value: Buffer, ttl?: number): Promise<void> {
    await this.write(key, value, ttl);
  }

  add(key: string, value: Buffer, ttl?: number): Promise<boolean> {
    return this.lock.run(key, async () => {
      if ((await this.read(key)) !== undefined) return false;
      await this.write(key, value, ttl);
      return true;
    });
  }

  async delete(key: string): Promise<boolean> {
    // NOTE: Keyv's delete resolves true for missing keys on some stores: ask first.
    const existed = (await this.read(key)) !== undefined;
    await this.io.run('delete', () => this.keyv.delete(key));
    return existed;
  }

  async has(key: string): Promise<boolean> {
    return (await this.read(key)) !== undefined;
  }

  async mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    const values: unknown[] = await this.io.run('getMany', () => this.keyv.getMany([...keys]));
    return keys.map((_, i) => fromText(values[i]));
  }

  async mset(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const list = entries.map((e) => ({ key: e.key, value: toText(e.value), ttl: backendTtl(e.ttl) }));
    const results = await this.io.run('setMany', () => this.keyv.setMany(list));
    // NOTE: Keyv resolves to booleans, or to nothing when the store writes the batch itself.
    if (Array.isArray(results) && results.some((ok) => ok === false)) throw this.failed('setMany');
  }

  async mdel(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const present: unknown[] = await this.io.run('getMany', () => this.keyv.getMany([...keys]));
    const existing = keys.filter((_, i) => present[i] !== undefined);
    if (existing.length > 0) await this.io.run('deleteMany', () => this.keyv.deleteMany(existing));
    return existing.length;
  }

  incr(key: string, by: number, ttl?: number): Promise<number> {
    return this.lock.run(key, async () => {
      const raw = await this.io.run('getRaw', () => this.keyv.getRaw<unknown>(key));
      const current = raw === undefined ? undefined : fromText(raw.value);
      const next = nextCounter(key, current, by);
      // An existing counter keeps its expiry; `ttl` applies only to a counter this call creates.
      await this.write(key, next, raw === undefined ? ttl : expiryToTtl(raw.expires));
      return Number(next.toString('latin1'));
    });
  }

  touch(key: string, ttl?: number): Promise<boolean> {
    return this.lock.run(key, async () => {
      const value = await this.read(key);
      if (value === undefined) return false;
      if (!(await this.io.run('set', () => this.keyv.set(key, value, backendTtl(ttl))))) throw this.failed('set');
      return true;
    });
  }

  async ttl(key: string): Promise<number | undefined> {
    const raw = await this.io.run('getRaw', () => this.keyv.getRaw(key));
    return raw === undefined ? undefined : remaining(raw.expires);
  }

  scan(prefix: string, pageSize = 500): AsyncIterable<string[]> {
    const iterator = this.keyv.iterator;
    if (typeof iterator !== 'function') return unsupportedScan(this.name, NO_LISTING_HINT);
    const keyv = this.keyv;
    const io = this.io;
    return (async function* () {
      let page: string[] = [];
      // NOTE: Keyv iterates the whole namespace (and reads each value); the prefix is filtered here.
      const entries = (iterator as KeyvListing).call(keyv)[Symbol.asyncIterator]();
      for (;;) {
        const next = await io.run('iterator', () => entries.next());
        if (next.done) break;
        const [key] = next.value;
        if (typeof key !== 'string' || !key.startsWith(prefix)) continue;
        page.push(key);
        if (page.length >= pageSize) {
          yield page;
          page = [];
        }
      }
      if (page.length > 0) yield page;
    })();
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    // Collected first: deleting while Keyv iterates a remote store's cursor could skip keys.
    const doomed: string[] = [];
    for await (const page of this.scan(prefix)) doomed.push(...page);
    let n = 0;
    for (let i = 0; i < doomed.length; i += 500) {
      const batch = doomed.slice(i, i + 500);
      await this.io.run('deleteMany', () => this.keyv.deleteMany(batch));
      n += batch.length;
    }
    return n;
  }

  /** Clears the Keyv namespace (every tenant). Admin only. */
  async flush(): Promise<void> {
    await this.io.run('clear', () => this.keyv.clear());
  }

  /** Leaves the Keyv instance open: it is the application's (disconnect it yourself). */
  async close(): Promise<void> {}

  private read(key: string): Promise<unknown> {
    return this.io.run('get', () => this.keyv.get(key));
  }

  private async write(key: string, value: Buffer, ttl: number | undefined): Promise<void> {
    if (!(await this.io.run('set', () => this.keyv.set(key, toText(value), backendTtl(ttl))))) throw this.failed('set');
  }

  private failed(operation: string): StoreUnavailableError {
    return new StoreUnavailableError(this.name, `Keyv ${operation} reported a failure (set throwOnErrors: true on the Keyv instance to see why)`);
  }
}

function expiryToTtl(expires: number | null | undefined): number | undefined {
  const left = remaining(expires);
  return left === Infinity ? undefined : left;
}

/** Whether `input` is a Keyv instance rather than a bare Keyv store adapter (duck-typed: two copies of keyv may be loaded). */
function isKeyv(input: object): input is Keyv {
  const k = input as Partial<Keyv>;
  return typeof k.getRaw === 'function' && typeof k.setMany === 'function' && typeof k.hooks === 'object';
}

/**
 * A store over a Keyv instance, or over a Keyv store such as `@keyv/redis`'s `KeyvRedis` (wrapped in a
 * `Keyv` with `throwOnErrors`). The instance stays yours: it is not disconnected on shutdown.
 * Capabilities: ttl yes; listing only where Keyv can iterate; add/incr atomic only in one process; no tag sets.
 *
 * @example
 * import KeyvRedis from '@keyv/redis';
 * TenantCacheModule.forRoot({ stores: { default: keyvStore(new Keyv({ store: new KeyvRedis(url), namespace: 'app' })) } })
 */
export function keyvStore(keyv: Keyv | KeyvStoreAdapter | Map<unknown, unknown>, options: KeyvStoreOptions = {}): StoreDefinition {
  if (typeof keyv !== 'object' || keyv === null) {
    throw new InvalidOptionsError('keyvStore(keyv)', `got ${keyv === null ? 'null' : typeof keyv}`, 'Pass a Keyv instance or a Keyv store (e.g. new KeyvRedis(url)).');
  }
  return {
    async create(alias) {
      let instance: Keyv;
      if (isKeyv(keyv)) instance = keyv;
      else {
        const { Keyv: KeyvClass } = await import('keyv');
        instance = new KeyvClass({ store: keyv, throwOnErrors: true });
      }
      return new KeyvStore(alias, instance, options);
    },
    dedicatedTenant: options.dedicatedTenant,
    description: `keyvStore(${isKeyv(keyv) ? 'Keyv' : (keyv.constructor?.name ?? 'store')})`,
  };
}
