import { randomInt } from 'node:crypto';
import type { CacheStore } from '../stores/cache-store.interface.js';

/**
 * Counters that version key spaces: a tenant's generation (`invalidateAll`) and versioned tags.
 * A counter starts at a random value, is changed only by the store's atomic increment, and is written
 * without expiry, so an evicted or expired counter restarts somewhere random instead of at a value old
 * entries still carry. Processes cache counters of shared stores for `ttl` ms; their own increments
 * are seen at once.
 */
export class VersionCounters {
  private readonly cache = new Map<string, { value: number; at: number }>();

  constructor(private readonly ttl: number) {}

  async read(store: CacheStore, key: string): Promise<number> {
    const cacheKey = `${store.name}\u0000${key}`;
    const cached = this.cache.get(cacheKey);
    const now = Date.now();
    if (cached && (!store.capabilities.distributed || now - cached.at < this.ttl)) return cached.value;
    let raw = await store.get(key);
    if (raw === undefined) {
      await store.add(key, Buffer.from(String(randomStart()), 'latin1'));
      raw = await store.get(key);
    }
    const value = parse(raw);
    this.remember(cacheKey, value);
    return value;
  }

  /** Atomically moves the counter on; entries that embed the old value become unreachable. */
  async bump(store: CacheStore, key: string): Promise<number> {
    await store.add(key, Buffer.from(String(randomStart()), 'latin1'));
    const value = await store.incr(key, 1);
    this.remember(`${store.name}\u0000${key}`, value);
    return value;
  }

  /** Forgets the cached copy (e.g. when another instance announced a change). */
  forget(store: CacheStore, key: string): void {
    this.cache.delete(`${store.name}\u0000${key}`);
  }

  private remember(cacheKey: string, value: number): void {
    // NOTE: bounded so that a process serving many tenants does not grow this map without limit.
    if (this.cache.size >= 100_000) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(cacheKey, { value, at: Date.now() });
  }
}

function randomStart(): number {
  return randomInt(1, 2 ** 40);
}

function parse(raw: Buffer | undefined): number {
  const n = raw === undefined ? Number.NaN : Number(raw.toString('latin1'));
  // A counter that is not a number (overwritten by hand) is treated as a fresh random start.
  return Number.isSafeInteger(n) ? n : randomStart();
}
