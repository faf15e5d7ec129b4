import type { CodecCallOptions } from '../codec/codec.options.js';
import type { FailSafeOptions } from './fail-safe.js';
import type { SingleFlightOption } from './single-flight.options.js';
import type { ResolvedTags, TagInput } from './tags.js';

/** Options of one read-through call. */
export interface GetOrSetOptions<T> extends FailSafeOptions {
  /** TTL in ms; default the module's `defaultTtl`. */
  ttl?: number;
  /** Store alias; default the tenant's route. */
  store?: string;
  /** Return false to keep a computed value out of the cache. */
  shouldCache?: (value: T) => boolean;
  /**
   * Tags of the entry: plain names are recorded in the tag index; `versioned(name)` tags put the tag's
   * version in the key, so the same tags must be given to read the entry again.
   */
  tags?: readonly TagInput[];
  /** Compression, encryption or chunk size for this entry, over the store's codec. */
  codec?: CodecCallOptions;
  /** Where concurrent misses share one load: `'process'` or `'cluster'` (or options), over the module's `singleFlight`. */
  singleFlight?: SingleFlightOption;
  /**
   * `false`: on a `tieredStore`, read and write Redis only (the L1 copies of the key are dropped), for data
   * that must always come from Redis. No effect on other stores. Default true.
   */
  l1?: boolean;
}

/** Options of `fetch`, the read-through call with metadata used by decorators. */
export interface FetchOptions<T> extends Omit<GetOrSetOptions<T>, 'tags'> {
  tags?: ResolvedTags;
  /** Skip the read: recompute and store (refresh). */
  force?: boolean;
  /**
   * The caller's own read of this key just failed (the failure was emitted): nothing more is read from
   * the store (no counter either), and the value is written back in the background.
   */
  readFailed?: boolean;
  /** The TTL of a loaded value, from the value (cache-manager's `wrap` with a TTL function); wins over `ttl`. */
  ttlOf?: (value: T) => number | undefined;
  /** The caller, as spans and diagnostics_channel messages name it (`CacheResult`, `CacheResponse`, `wrap`); default `fetch`. */
  operation?: string;
}
