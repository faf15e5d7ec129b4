// Structural types of the Keyv and cache-manager objects the adapters take. They describe only the
// members the adapters use, so that the published declarations import neither `keyv` nor
// `cache-manager` (both optional peers): a real `Keyv`, a Keyv store such as `KeyvRedis` and a
// cache-manager v7 `createCache(...)` result fit them as they are.

/** Keyv's listing as it behaves: `[key, value]` pairs of the instance's own namespace (the argument is ignored). */
export type KeyvIteratorLike = (namespace?: string) => AsyncIterable<[string, unknown]>;

/** A raw Keyv entry (`getRaw`): `expires` is an absolute time in ms since the epoch, absent without TTL. */
export interface KeyvRawEntryLike {
  value?: unknown;
  expires?: number | null;
}

/** One entry of a batch write (`setMany` / `mset`); `ttl` in ms, 0 = no expiry. */
export interface KeyvEntryLike {
  key: string;
  value: unknown;
  ttl?: number;
}

/**
 * What `keyvStore` uses of a Keyv (v5) instance. `hooks` only tells a Keyv from a bare Keyv store;
 * `store` is inspected to detect an in-process Map; without `iterator` the store cannot list keys.
 */
export interface KeyvLike {
  readonly hooks: object;
  readonly store: unknown;
  iterator?: KeyvIteratorLike;
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl?: number): Promise<boolean>;
  getMany(keys: string[]): Promise<unknown[]>;
  /** Resolves to one boolean per entry, or to nothing when the underlying store writes the batch itself. */
  setMany(entries: KeyvEntryLike[]): Promise<boolean[] | void>;
  deleteMany(keys: string[]): Promise<unknown>;
  getRaw(key: string): Promise<KeyvRawEntryLike | undefined>;
  clear(): Promise<unknown>;
}

/**
 * A bare Keyv store adapter (e.g. `@keyv/redis`'s `KeyvRedis`): the members Keyv itself requires of a
 * store. `keyvStore` wraps it in a `Keyv` (loaded from the `keyv` package at run time).
 */
export interface KeyvStoreAdapterLike {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl?: number): unknown;
  delete(key: string): Promise<unknown>;
  clear(): Promise<unknown>;
}

/** One tier of a cache-manager Cache (a Keyv): its store and, when it can list keys, its iterator. */
export type CacheManagerTierLike = Pick<KeyvLike, 'store' | 'iterator'>;

/**
 * What `cacheManagerStore` uses of a cache-manager v7 `Cache` (`createCache({ stores: [...] })`).
 * `ttl` resolves to the absolute expiry time (ms since the epoch), undefined when missing or without expiry.
 */
export interface CacheManagerLike {
  readonly stores: readonly CacheManagerTierLike[];
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  mget(keys: string[]): Promise<unknown[]>;
  mset(list: KeyvEntryLike[]): Promise<unknown>;
  mdel(keys: string[]): Promise<unknown>;
  ttl(key: string): Promise<number | undefined>;
  clear(): Promise<unknown>;
}
