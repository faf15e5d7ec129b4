import type { CodecCallOptions } from '../codec/codec.options.js';
import type { TagStamp } from '../codec/tag-stamp.js';
import type { LoadMark } from './load-marks.js';
import type { Lease } from './single-flight.options.js';
import type { ResolvedTags } from './tags.js';
import type { Target } from './target.js';

/** The options of a read-through a load reads (`FetchOptions` is assignable to it). */
export interface LoadOptions<T> {
  shouldCache?: (value: T) => boolean;
  ttlOf?: (value: T) => number | undefined;
  codec?: CodecCallOptions;
}

/** One load of a read-through's miss (or refresh): where it goes, what runs, for how long, with which tags. */
export interface LoadRequest<T, O extends LoadOptions<T> = LoadOptions<T>> {
  readonly t: Target;
  /** The logical key. */
  readonly key: string;
  readonly loader: () => T | Promise<T>;
  readonly opts: O;
  /** The call's TTL (ms), before `ttlOf`; `undefined`: none. */
  readonly ttl: number | undefined;
  readonly tags: ResolvedTags;
}

/** How a load runs in its single flight. */
export interface FlightLoad {
  /** The caller's read of the store failed: the write-back runs in the background. */
  readonly failed: boolean;
  /** Keeps the flight open until the promise settles (see `SingleFlight.run`). */
  readonly hold: (until: Promise<unknown>) => void;
  /** The flight key of the load (released by an invalidation that marks it). */
  readonly flight: string;
  /** The cluster lease the load holds (`singleFlight: 'cluster'`): its write is fenced on it. */
  readonly fence?: Lease;
}

/** A loader's value, and its write-back when it is stored (`undefined`: not stored). */
export interface Loaded<T> {
  readonly value: T;
  readonly writing: Promise<void> | undefined;
}

/**
 * Runs a load's loader and starts its write-back (`ReadThrough.loadValue`), for `keep(ttl)` in the store
 * when given (a fail-safe call keeps the entry past its TTL).
 */
export type LoadValue = <T>(r: LoadRequest<T>, mark: LoadMark, keep?: (ttl: number | undefined) => number | undefined) => Promise<Loaded<T>>;

/** One write-back of a loaded value (`ReadThrough.storeLoaded`). */
export interface WriteBack {
  readonly t: Target;
  readonly key: string;
  readonly value: unknown;
  /** The store TTL (ms). */
  readonly ttl: number | undefined;
  readonly plainTags: readonly string[];
  readonly mark: LoadMark;
  readonly codec: CodecCallOptions | undefined;
  /** The tag versions read before the loader ran. */
  readonly stamps: readonly TagStamp[] | Promise<readonly TagStamp[]> | undefined;
}
