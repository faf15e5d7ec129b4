import { KeyedLock, backendTtl, fromText, nextCounter, toText } from './adapter-support.js';
import type { CacheStore, StoreCapabilities, StoreEntry } from '../cache-store.interface.js';

const DELETE_BATCH = 500;

/**
 * The shared part of the adapters over backends that store values as text and have no atomic
 * add/incr/touch (Keyv, cache-manager v7, cache-manager v5): values travel as base64 text, and
 * add/incr/touch read then write, serialized per key in this process. A subclass provides the
 * backend's primitives, listing and lifecycle.
 */
export abstract class TextValueStore implements CacheStore {
  abstract readonly capabilities: StoreCapabilities;
  private readonly lock = new KeyedLock();

  constructor(readonly name: string) {}

  /** The stored value (`undefined` or `null` when missing). */
  protected abstract readRaw(key: string): Promise<unknown>;
  /** Stores a value already in backend form; `ttl` as `backendTtl` gives it (0 = no expiry). */
  protected abstract writeRaw(key: string, value: unknown, ttl: number): Promise<void>;
  protected abstract readManyRaw(keys: readonly string[]): Promise<readonly unknown[]>;
  /** Deletes keys known to exist. */
  protected abstract removeRaw(keys: readonly string[]): Promise<void>;
  abstract ttl(key: string): Promise<number | undefined>;
  abstract mset(entries: readonly StoreEntry[]): Promise<void>;
  abstract scan(prefix: string, pageSize?: number): AsyncIterable<string[]>;
  abstract flush(): Promise<void>;
  abstract close(): Promise<void>;

  async get(key: string): Promise<Buffer | undefined> {
    return fromText(await this.readRaw(key));
  }

  set(key: string, value: Buffer, ttl?: number): Promise<void> {
    return this.writeRaw(key, toText(value), backendTtl(ttl));
  }

  add(key: string, value: Buffer, ttl?: number): Promise<boolean> {
    return this.lock.run(key, async () => {
      if (present(await this.readRaw(key))) return false;
      await this.set(key, value, ttl);
      return true;
    });
  }

  async delete(key: string): Promise<boolean> {
    // NOTE: backends' own delete results differ (some say true for missing keys): ask first.
    if (!present(await this.readRaw(key))) return false;
    await this.removeRaw([key]);
    return true;
  }

  async has(key: string): Promise<boolean> {
    return present(await this.readRaw(key));
  }

  async mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.readManyRaw(keys);
    return keys.map((_, i) => fromText(values[i]));
  }

  /**
   * Lists every key first, then removes them in batches: deleting while a backend's iterator walks a
   * remote cursor could skip keys. Resolves to how many were listed.
   */
  async deleteByPrefix(prefix: string): Promise<number> {
    const doomed: string[] = [];
    for await (const page of this.scan(prefix)) doomed.push(...page);
    for (let i = 0; i < doomed.length; i += DELETE_BATCH) await this.removeRaw(doomed.slice(i, i + DELETE_BATCH));
    return doomed.length;
  }

  async mdel(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const values = await this.readManyRaw(keys);
    const existing = keys.filter((_, i) => present(values[i]));
    if (existing.length > 0) await this.removeRaw(existing);
    return existing.length;
  }

  incr(key: string, by: number, ttl?: number): Promise<number> {
    return this.lock.run(key, async () => {
      const stored = await this.readRaw(key);
      const next = nextCounter(key, fromText(stored), by);
      // An existing counter keeps its expiry; `ttl` applies only to a counter this call creates.
      const keep = present(stored) ? await this.ttl(key) : ttl;
      await this.set(key, next, keep === Infinity ? undefined : keep);
      return Number(next.toString('latin1'));
    });
  }

  touch(key: string, ttl?: number): Promise<boolean> {
    return this.lock.run(key, async () => {
      const stored = await this.readRaw(key);
      if (!present(stored)) return false;
      await this.writeRaw(key, stored, backendTtl(ttl));
      return true;
    });
  }
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}
