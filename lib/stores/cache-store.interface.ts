import type { CodecOptions } from '../codec/codec.options.js';
import type { OutageLog } from './resilience/outage-log.js';
import type { QuotaSink } from './quota/tenant-quota.js';

/** What a store can do; the service checks these before an operation and raises a clear error when one is missing. */
export interface StoreCapabilities {
  /** Shared by several processes (Redis): process-local state such as cached generations must expire. */
  readonly distributed: boolean;
  /** `add`, `incr`, `touch` are atomic on the server. */
  readonly atomic: boolean;
  /** `scan` and `deleteByPrefix` are available. */
  readonly scan: boolean;
  /** `ttl` reports remaining time. */
  readonly ttl: boolean;
  /** Longest physical key the store accepts. */
  readonly maxKeyLength: number;
  /** Characters the store accepts in keys; `undefined` = any. Keys with others are hashed. */
  readonly allowedKey?: RegExp;
  /** Largest value, in bytes, the store accepts in one item. */
  readonly maxValueBytes: number;
}

/**
 * A page of keys found on one node of a store spread over several servers (`RedisStore.scanPerNode`: `node`
 * is the `host:port` of a cluster master), so that an admin purge can report per server.
 */
export interface NodePage {
  readonly node: string;
  readonly keys: string[];
}

/** One key/value to write in a batch. `ttl` in ms; `undefined` or 0 = no expiry. */
export interface StoreEntry {
  key: string;
  value: Buffer;
  ttl?: number;
}

/**
 * The contract a cache backend implements. Keys arrive fully built (prefixed, tenant-encoded);
 * values arrive encoded. TTLs are milliseconds, `undefined`/`0` meaning no expiry.
 * Implement it to plug another backend in; run `runStoreConformanceSuite` against it.
 */
export interface CacheStore {
  /** Name used in logs and errors (the alias, once registered). */
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /**
   * In-process stores with `getSync`: every reader of an entry gets the same decoded value, deep-frozen,
   * rather than a copy (see `MemoryStoreOptions.shareReads`).
   */
  readonly shareReads?: boolean;

  get(key: string): Promise<Buffer | undefined>;
  /**
   * A synchronous `get`, for in-process stores that hold their values: the service then answers a hit
   * without a store promise, and may keep decoded immutable values (numbers, booleans) beside the bytes,
   * because the same bytes come back for the same entry. A string is a text entry kept as `setText` got
   * it. Remote stores leave it out.
   */
  getSync?(key: string): Buffer | string | undefined;
  /**
   * `get` with its outcome mapped inside the store's own promise: `onValue` on an answer, `onError` on a
   * failure (the promise then resolves to what it returns). Saves remote stores a promise on every read.
   */
  /**
   * The value an in-process tier in front of a remote store holds for `key`, without a promise, when it can
   * vouch for it; `undefined` means "ask `get`" (not "absent"). For tiered stores (an L1 kept coherent with
   * its L2); a plain in-process store has `getSync` instead.
   */
  peekLocal?(key: string): Buffer | string | undefined;
  /**
   * A tier's view of its remote store alone (`l1: false` calls): reads skip the L1 and do not fill it,
   * writes reach the remote store and drop the L1 copies (this instance's and the others').
   */
  readonly remoteTier?: CacheStore;
  getThen?<R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R>;
  set(key: string, value: Buffer, ttl?: number): Promise<void>;
  /** A synchronous `set`, for in-process stores (see `getSync`); a string only where `setText` exists. */
  setSync?(key: string, value: Buffer | string, ttl?: number): void;
  /**
   * Writes the UTF-8 bytes of `text` (`get` returns those bytes). For stores that can take a string as it
   * is (a client that sends strings, an in-process map): a text entry then needs no Buffer.
   */
  setText?(key: string, text: string, ttl?: number): Promise<void>;
  /**
   * `set` (of bytes, or of a string's UTF-8 when the store has `setText`) with a failure handed to
   * `onError` inside the store's own promise, which then resolves (or rejects with what `onError` throws).
   */
  setThen?(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void>;
  /** Writes only when the key is absent; true when it wrote. */
  add(key: string, value: Buffer, ttl?: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  mget(keys: readonly string[]): Promise<(Buffer | undefined)[]>;
  mset(entries: readonly StoreEntry[]): Promise<void>;
  /** Deletes keys; resolves to how many existed. */
  mdel(keys: readonly string[]): Promise<number>;
  /**
   * Adds `by` to the integer at `key` (missing = 0) and returns the result. `ttl` applies only when the
   * call created the key.
   */
  incr(key: string, by: number, ttl?: number): Promise<number>;
  /** Sets a new TTL on an existing key; false when the key is missing. */
  touch(key: string, ttl?: number): Promise<boolean>;
  /** Remaining ms; `Infinity` for no expiry; `undefined` when missing. */
  ttl(key: string): Promise<number | undefined>;
  /** Pages of keys starting with the literal `prefix`; never blocks the server. */
  scan(prefix: string, pageSize?: number): AsyncIterable<string[]>;
  /** Deletes every key starting with the literal `prefix`, in batches; resolves to how many. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** Adds members to a set (tag index); `ttl` extends the set to at least that long. */
  sadd?(key: string, members: readonly string[], ttl?: number): Promise<void>;
  /** Pages of a set's members, then the set is gone when `remove` is true. */
  sscan?(key: string, pageSize?: number): AsyncIterable<string[]>;
  /**
   * Cluster-wide single-flight (a store shared by several processes): takes the lease at `key` for `token`
   * for `ttl` ms unless another token holds it (`SET NX PX`). Resolves to 0 when taken, else the ms left on
   * the holder's lease. Implement the four lease members together, or none (see docs/stores.md).
   */
  takeLease?(key: string, token: string, ttl: number): Promise<number>;
  /** Extends the lease at `key` to `ttl` ms from now if `token` still holds it; false when it does not (expired, revoked). */
  renewLease?(key: string, token: string, ttl: number): Promise<boolean>;
  /** Ends the lease at `key` if `token` holds it (compare-and-delete), and wakes its waiters on every instance. */
  releaseLease?(key: string, token: string): Promise<boolean>;
  /**
   * Calls `onRelease(key)` for each lease released on any instance (at most once each; a message may be lost,
   * so waiters also wake when the lease expires). Resolves once listening; rejects when it cannot listen now.
   */
  watchLeases?(onRelease: (key: string) => void): Promise<void>;
  /** Empties the whole store, every tenant. Admin only: the service calls it `flushAllTenants`. */
  flush(): Promise<void>;
  /** Releases connections and timers. Called on application shutdown. */
  close(): Promise<void>;
}

/** A store factory as written in `stores: { alias: memoryStore() }`; created lazily by the registry. */
/** What the application hands a store when it creates it. */
export interface StoreContext {
  /** The application's rate-limited log of store failures (breaker changes are reported to it). */
  readonly outages: OutageLog;
  /** The module's `keyPrefix`: a store that accounts per tenant parses keys with it (keys/key-layout.ts). */
  readonly keyPrefix?: string;
  /** Reports a tenant over its quota in the store; the module emits it as `quota:exceeded`. */
  readonly quotaExceeded?: QuotaSink;
}

export interface StoreDefinition {
  /**
   * Builds the store; called once, on first use or at start-up. `context` carries what the application
   * shares with its stores (give `context.outages` to a `ResilientStore` you build, so that its breaker is
   * logged with the other store failures).
   */
  create(alias: string, context?: StoreContext): CacheStore | Promise<CacheStore>;
  /**
   * When set, the store belongs to this tenant alone and keys skip the tenant segment. Any other
   * tenant routed to it is refused. This is the only way to turn tenant prefixing off.
   */
  readonly dedicatedTenant?: string;
  /** Options shown in start-up errors. */
  readonly description: string;
  /** The store lives in one process (memory): start-up refuses options that need a shared store (`singleFlight.scope: 'cluster'`). */
  readonly processLocal?: boolean;
  /**
   * Codec of this store's entries, over the module's `codec` (e.g. encrypt only the shared Redis):
   * `{ ...redisStore({ url }), codec: { encryption: { secrets } } }`.
   */
  readonly codec?: CodecOptions;
}
