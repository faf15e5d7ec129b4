/**
 * What the codec needs of a store, declared here so that lib/codec depends on no store module: a
 * `CacheStore` has every member of `CodecStore`, and the engine's `StoreIo` is a `CodecStoreIo`.
 */

/** One record of a batch write (a `StoreEntry` of the store contract). */
export interface CodecStoreEntry {
  key: string;
  value: Buffer;
  ttl?: number;
}

/** The store calls that chunked entries make (their parts, their manifest, their clean-up). */
export interface CodecStore {
  readonly name: string;
  /** The largest record the store takes (a manifest must fit in one). */
  readonly capabilities: { readonly maxValueBytes: number };
  get(key: string): Promise<Buffer | undefined>;
  set(key: string, value: Buffer, ttl?: number): Promise<void>;
  add(key: string, value: Buffer, ttl?: number): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  mget(keys: readonly string[]): Promise<(Buffer | undefined)[]>;
  mset(entries: readonly CodecStoreEntry[]): Promise<void>;
  mdel(keys: readonly string[]): Promise<number>;
  touch(key: string, ttl?: number): Promise<boolean>;
  /** Remaining ms, `Infinity` without expiry, `undefined` when missing. */
  ttl(key: string): Promise<number | undefined>;
}

/** The traits of a store the codec reads (see `StoreTraits`). */
export interface CodecStoreTraits {
  /** The same bytes come back for the same entry, so decoded values may be kept beside them. */
  readonly sameBytesOnRead: boolean;
  /** Every reader of an entry gets the same decoded value, deep-frozen. */
  readonly sharesReads: boolean;
  /** A text entry is written as a string. */
  readonly takesText: boolean;
}

/** The store's I/O seam, as far as the codec uses it (`StoreIo` is one). */
export interface CodecStoreIo {
  readonly traits: CodecStoreTraits;
  /** Writes one record (a string as text where the store takes text); a failure goes to `onError`. */
  write(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void>;
}
