import { UnsupportedOperationError } from '../../errors/unsupported-operation.error.js';
import type { StoreCapabilities } from '../cache-store.interface.js';
import type { CommandGuard, ResilienceOptions } from '../resilience/command-guard.js';

/** Options shared by the Keyv, cache-manager and legacy adapters. */
export interface AdapterStoreOptions extends ResilienceOptions {
  /**
   * Whether several processes share the backend (Redis behind Keyv, ...). Shared backends get short-lived
   * generation caches and timeouts + a circuit breaker. Default: true unless the backend is an in-process Map.
   */
  distributed?: boolean;
  /** Longest physical key the backend accepts; longer keys are hashed. Default 1024. */
  maxKeyLength?: number;
  /** Largest value in one item, in bytes before base64 (the backend sees 4/3 of it). Default 8 MiB. */
  maxValueBytes?: number;
  /** Reserve this store for one tenant (keys then skip the tenant segment). */
  dedicatedTenant?: string;
}

/** Capability flags of an adapter: read-modify-write operations are atomic only inside one process. */
export function adapterCapabilities(options: AdapterStoreOptions, distributed: boolean, scan: boolean): StoreCapabilities {
  return {
    distributed,
    // NOTE: add/incr/touch are serialized per key in this process; another process may interleave.
    atomic: !distributed,
    scan,
    ttl: true,
    maxKeyLength: options.maxKeyLength ?? 1024,
    maxValueBytes: options.maxValueBytes ?? 8 * 1024 * 1024,
  };
}

/**
 * Values cross Keyv and cache-manager as base64 text: every serializer (JSON included) keeps a string
 * intact, while a Buffer may come back as `{ type: 'Buffer', data: [...] }` or a plain object.
 */
export function toText(value: Buffer): string {
  return value.toString('base64');
}

/** The bytes of a stored text; anything else (written by another program) reads as an unreadable entry. */
export function fromText(stored: unknown): Buffer | undefined {
  if (stored === undefined || stored === null) return undefined;
  // NOTE: an empty buffer fails the codec's header check, so the engine drops the foreign entry as corrupt.
  return typeof stored === 'string' ? Buffer.from(stored, 'base64') : Buffer.alloc(0);
}

/** The next value of a counter stored as decimal text; throws on a value that is not an integer. */
export function nextCounter(key: string, current: Buffer | undefined, by: number): Buffer {
  let n = 0;
  if (current !== undefined) {
    const text = current.toString('latin1');
    if (!/^-?\d+$/.test(text)) throw new TypeError(`value at "${key}" is not an integer`);
    n = Number(text);
  }
  const next = n + by;
  if (!Number.isSafeInteger(next)) throw new RangeError(`incr at "${key}" would leave the safe integer range`);
  return Buffer.from(String(next), 'latin1');
}

/** Remaining ms of an absolute expiry (ms since epoch); `Infinity` without one. At least 1 while alive. */
export function remaining(expires: number | undefined | null): number {
  return typeof expires === 'number' && Number.isFinite(expires) && expires > 0 ? Math.max(1, expires - Date.now()) : Infinity;
}

/** `ttl` as the backends take it: 0 = no expiry (so a Keyv or Cache default TTL does not apply). */
export function backendTtl(ttl: number | undefined): number {
  return ttl === undefined || ttl === Infinity || ttl <= 0 ? 0 : Math.max(1, Math.round(ttl));
}

/**
 * Runs read-modify-write operations of one key one after the other, so that add/incr/touch are atomic
 * against each other inside this process. Keys without a pending operation cost one Map lookup.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const previous = this.tails.get(key);
    const result = previous === undefined ? fn() : previous.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** An async iterable that fails on first use with `UnsupportedOperationError` (for stores without listing). */
export function unsupportedScan(store: string, hint: string): AsyncIterable<string[]> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => Promise.reject(new UnsupportedOperationError(store, 'scan() (key listing)', hint)),
    }),
  };
}

/** Keyv's iterator as it behaves: it lists the instance's own namespace and ignores its argument. */
export type KeyvListing = (namespace?: string) => AsyncIterable<[string, unknown]>;

/**
 * Pages of the keys starting with `prefix` among what Keyv iterators list (each key once when there are
 * several, e.g. cache-manager tiers), every step bounded by `io`. Keyv iterates the whole namespace (and
 * reads each value): the prefix is filtered here.
 */
export async function* keyvKeyPages(
  listings: readonly (() => AsyncIterable<[unknown, unknown]>)[],
  prefix: string,
  pageSize: number,
  io: CommandGuard,
): AsyncGenerator<string[]> {
  const seen = listings.length > 1 ? new Set<string>() : undefined;
  let page: string[] = [];
  for (const listing of listings) {
    const entries = listing()[Symbol.asyncIterator]();
    for (;;) {
      const next = await io.run('iterator', () => entries.next());
      if (next.done) break;
      const [key] = next.value;
      if (typeof key !== 'string' || !key.startsWith(prefix) || seen?.has(key)) continue;
      seen?.add(key);
      page.push(key);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
  }
  if (page.length > 0) yield page;
}

/** Whether a Keyv-style store is an in-process Map (the Keyv default). */
export function isInProcessMap(store: unknown): boolean {
  return store instanceof Map || (typeof store === 'object' && store !== null && (store as { opts?: { dialect?: string } }).opts?.dialect === 'map');
}
