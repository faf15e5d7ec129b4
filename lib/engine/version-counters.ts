import { randomInt } from 'node:crypto';
import type { CacheStore } from '../stores/cache-store.interface.js';
import type { StoreIo } from '../stores/store-io.js';

/**
 * Counters that version key spaces: a tenant's generation (`invalidateAll`) and versioned tags.
 * A counter starts at a random value, is changed only by the store's atomic increment, and is written
 * without expiry, so an evicted or expired counter restarts somewhere random instead of at a value old
 * entries still carry. Processes cache counters of shared stores for `ttl` ms; their own increments
 * are seen at once.
 */
export class VersionCounters {
  /** By store name, then counter key: the key strings are reused by the key builder, so lookups hash nothing new. */
  private readonly cache = new Map<string, Map<string, { value: number; at: number }>>();
  private size = 0;
  /** Counter values parsed once by the bytes a store holds (`peekDirect`): weak, so it holds nothing the store dropped. */
  private readonly parsed = new WeakMap<Buffer, number>();

  constructor(private readonly ttl: number) {}

  /** How many counter values this process keeps. */
  get cached(): number {
    return this.size;
  }

  /** The cached value when it is still fresh (no store call), else `undefined`: the fast path of `read`. */
  peek(store: CacheStore, key: string): number | undefined {
    const cached = this.cache.get(store.name)?.get(key);
    if (cached && (!store.capabilities.distributed || Date.now() - cached.at < this.ttl)) return cached.value;
    return undefined;
  }

  /**
   * `peek` for counters this process need not keep (plain-tag versions, one per tag ever used): an
   * in-process store is read directly through its `io`, so those counters live in the store alone,
   * within its bounds.
   */
  peekDirect(store: CacheStore, key: string, io: StoreIo): number | undefined {
    if (!isDirect(store, io)) return this.peek(store, key);
    let raw: Buffer | string | undefined;
    try {
      raw = io.readNow(key);
    } catch {
      // NOTE: not known now; the caller then reads through `read`, whose failure reaches the operation's failure policy.
      return undefined;
    }
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string') {
      const known = this.parsed.get(raw);
      if (known !== undefined) return known;
    }
    const n = Number(typeof raw === 'string' ? raw : raw.toString('latin1'));
    if (!Number.isSafeInteger(n)) return undefined;
    if (typeof raw !== 'string') this.parsed.set(raw, n);
    return n;
  }

  /** The counter's value, created at a random start when missing. `direct` (the store's io): see `peekDirect`. */
  async read(store: CacheStore, key: string, direct?: StoreIo): Promise<number> {
    const cached = direct !== undefined ? this.peekDirect(store, key, direct) : this.peek(store, key);
    if (cached !== undefined) return cached;
    let raw = await store.get(key);
    if (raw === undefined) {
      await store.add(key, Buffer.from(String(randomStart()), 'latin1'));
      raw = await store.get(key);
    }
    const value = parse(raw);
    if (direct === undefined || !isDirect(store, direct)) this.remember(store.name, key, value);
    return value;
  }

  /** Atomically moves the counter on; entries that embed the old value become unreachable. */
  async bump(store: CacheStore, key: string, direct?: StoreIo): Promise<number> {
    await store.add(key, Buffer.from(String(randomStart()), 'latin1'));
    const value = await store.incr(key, 1);
    if (direct === undefined || !isDirect(store, direct)) this.remember(store.name, key, value);
    return value;
  }

  /** Forgets the cached counters of `store` whose keys start with `prefix` (a purged scope): the next read asks the store. */
  forget(store: CacheStore, prefix: string): void {
    const counters = this.cache.get(store.name);
    if (counters === undefined) return;
    for (const key of counters.keys()) {
      if (key.startsWith(prefix)) {
        counters.delete(key);
        this.size--;
      }
    }
  }

  private remember(storeName: string, key: string, value: number): void {
    let counters = this.cache.get(storeName);
    if (!counters) this.cache.set(storeName, (counters = new Map()));
    if (!counters.has(key)) {
      // NOTE: bounded so that a process serving many tenants does not grow these maps without limit.
      if (this.size >= 100_000) this.evictOldest();
      this.size++;
    }
    counters.set(key, { value, at: Date.now() });
  }

  private evictOldest(): void {
    for (const counters of this.cache.values()) {
      const oldest = counters.keys().next();
      if (!oldest.done) {
        counters.delete(oldest.value);
        this.size--;
        return;
      }
    }
  }
}

/**
 * An in-process store read synchronously: its counters are as cheap to read as a copy kept here. Also a
 * local tier (L1 kept coherent with its L2 across processes): a counter another process moves is dropped
 * from the L1 within the tier's coherence delay, instead of being kept here for `ttl`.
 */
export function isDirect(store: CacheStore, io: StoreIo): boolean {
  return (io.traits.inProcess && !store.capabilities.distributed) || io.traits.localTier;
}

function randomStart(): number {
  return randomInt(1, 2 ** 40);
}

function parse(raw: Buffer | undefined): number {
  const n = raw === undefined ? Number.NaN : Number(raw.toString('latin1'));
  // A counter that is not a number (overwritten by hand) is treated as a fresh random start.
  return Number.isSafeInteger(n) ? n : randomStart();
}
