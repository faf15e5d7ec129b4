import type { CacheStore } from './cache-store.interface.js';

/**
 * What a store can do beyond the required members of `CacheStore`, read once from its optional members.
 * The engine, the codec and the registry ask these traits instead of testing members one by one, so a
 * store (or a wrapper) says what it can do in one place: its optional members.
 */
export interface StoreTraits {
  /** `getSync`: an in-process store, read without a promise. */
  readonly inProcess: boolean;
  /**
   * `peekLocal`: an in-process tier (L1) in front of a remote store, read without a promise; `undefined` there
   * means "ask the store". Its entries are kept coherent across processes, so counters may be read through it.
   */
  readonly localTier: boolean;
  /** `setSync`: written without a promise (in-process; a string only when `takesText`). */
  readonly writesSync: boolean;
  /** The same bytes come back for the same entry (`getSync`, `peekLocal`), so decoded values may be kept beside them. */
  readonly sameBytesOnRead: boolean;
  /** `setText`: a text entry is written as a string, with no Buffer. */
  readonly takesText: boolean;
  /** Every reader of an entry gets the same decoded value, deep-frozen (`shareReads` on an in-process store). */
  readonly sharesReads: boolean;
  /** `sadd` and `sscan`: plain tags are indexed and invalidated in the store. */
  readonly hasSets: boolean;
  /** `getThen`: a read's outcome is mapped inside the store's own promise. */
  readonly mapsReads: boolean;
  /** `setThen`: a write's failure is handled inside the store's own promise. */
  readonly mapsWrites: boolean;
  /** `takeLease`, `renewLease`, `releaseLease` and `watchLeases`: loads can be single-flight across processes. */
  readonly leases: boolean;
}

const known = new WeakMap<CacheStore, StoreTraits>();

/** The traits of a store, read once (a store's optional members do not change after it is created). */
export function storeTraits(store: CacheStore): StoreTraits {
  let traits = known.get(store);
  if (traits === undefined) {
    const inProcess = typeof store.getSync === 'function';
    const localTier = !inProcess && typeof store.peekLocal === 'function';
    traits = Object.freeze({
      inProcess,
      localTier,
      writesSync: typeof store.setSync === 'function',
      sameBytesOnRead: inProcess || localTier,
      takesText: typeof store.setText === 'function',
      sharesReads: (inProcess || localTier) && store.shareReads === true,
      hasSets: typeof store.sadd === 'function' && typeof store.sscan === 'function',
      mapsReads: typeof store.getThen === 'function',
      mapsWrites: typeof store.setThen === 'function',
      leases:
        typeof store.takeLease === 'function' &&
        typeof store.renewLease === 'function' &&
        typeof store.releaseLease === 'function' &&
        typeof store.watchLeases === 'function',
    });
    known.set(store, traits);
  }
  return traits;
}
