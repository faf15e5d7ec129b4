import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CacheStore, NodePage } from './cache-store.interface.js';
import { type StoreTraits, storeTraits } from './store-traits.js';

export type { StoreTraits } from './store-traits.js';

/**
 * The one seam between the layers above and a store's optional members (`getSync`, `peekLocal`, `remoteTier`, `getThen`, `setSync`,
 * `setText`, `setThen`, `shareReads`, `sadd`, `sscan`, the lease members): each read or write takes the fastest variant the
 * store has, and nothing else tests for those members.
 */
export interface StoreIo {
  /** What the store can do beyond the required members, read once. */
  readonly traits: StoreTraits;
  /**
   * Reads `key` and maps the outcome inside the read's own promise: `onValue` gets the value (`undefined`
   * when absent), `onError` the store's failure (a synchronous throw included).
   */
  read<R>(key: string, onValue: (raw: Buffer | string | undefined) => R | Promise<R>, onError: (error: unknown) => R): Promise<R>;
  /**
   * The value at `key` without a promise, on an in-process store (`traits.inProcess`); on a local tier
   * (`traits.localTier`) the L1's value, `undefined` meaning "ask `read`"; `undefined` elsewhere. Throws what the store throws.
   */
  readNow(key: string): Buffer | string | undefined;
  /**
   * Writes one record; a failure goes to `onError` (its own throw rejects the write). A string is written
   * as text where the store takes text, else as its UTF-8 bytes.
   */
  write(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void>;
  /** The store's remote tier alone (`remoteTier`, on a tier), for calls that skip the L1 (`l1: false`); `undefined` elsewhere. */
  readonly remoteTier: CacheStore | undefined;
  /** Adds members to the set at `key`. Throws `UnsupportedOperationError` on a store without sets. */
  addToSet(key: string, members: readonly string[], ttl?: number): Promise<void>;
  /** The members of the set at `key`, page by page. Throws `UnsupportedOperationError` on a store without sets. */
  scanSet(key: string, pageSize?: number): AsyncIterable<string[]>;
  /** The store's leases (cluster-wide single-flight), when it has them (`traits.leases`), else `undefined`. */
  readonly leases: StoreLeases | undefined;
  /** Pages of keys under `prefix`, each with its node: `scanPerNode` where the store has it, else `scan` (one node, the alias). */
  scanPerNode(prefix: string, pageSize?: number): AsyncIterable<NodePage>;
}

/** The lease members of a store (see `CacheStore.takeLease`), bound to it. */
export interface StoreLeases {
  take(key: string, token: string, ttl: number): Promise<number>;
  renew(key: string, token: string, ttl: number): Promise<boolean>;
  release(key: string, token: string): Promise<boolean>;
  watch(onRelease: (key: string) => void): Promise<void>;
}

/** What a synchronous write resolves to: one settled promise, shared (it carries no value). */
const WRITTEN: Promise<void> = Promise.resolve();

/**
 * The I/O of a store: its fast paths where it has them (per its traits, read once), the required members
 * otherwise. Members are looked up at each call, so a wrapper (or a test double) may change them later.
 */
export function storeIo(store: CacheStore, alias: string = store.name): StoreIo {
  const traits = storeTraits(store);
  const noSets = (operation: string) =>
    new UnsupportedOperationError(alias, operation, 'The store has no sets (sadd/sscan): tag entries with versioned(name) instead, which needs no index.');

  function read<R>(key: string, onValue: (raw: Buffer | string | undefined) => R | Promise<R>, onError: (error: unknown) => R): Promise<R> {
    if (traits.inProcess) {
      let raw: Buffer | string | undefined;
      try {
        raw = store.getSync!(key);
      } catch (error) {
        return Promise.resolve(onError(error));
      }
      return Promise.resolve(onValue(raw));
    }
    try {
      const pending = traits.mapsReads ? store.getThen!(key, onValue, onError) : store.get(key).then(onValue, onError);
      return pending as Promise<R>;
    } catch (error) {
      return Promise.resolve(onError(error));
    }
  }

  function write(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void> {
    if (traits.writesSync) {
      try {
        store.setSync!(key, value, ttl);
        return WRITTEN;
      } catch (error) {
        return Promise.reject(error).catch(onError);
      }
    }
    if (traits.mapsWrites) return store.setThen!(key, value, ttl, onError);
    let pending: Promise<void>;
    try {
      if (typeof value !== 'string') pending = store.set(key, value, ttl);
      else pending = traits.takesText ? store.setText!(key, value, ttl) : store.set(key, Buffer.from(value, 'utf8'), ttl);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.catch(onError);
  }

  const leases: StoreLeases | undefined = traits.leases
    ? {
        take: (key, token, ttl) => store.takeLease!(key, token, ttl),
        renew: (key, token, ttl) => store.renewLease!(key, token, ttl),
        release: (key, token) => store.releaseLease!(key, token),
        watch: (onRelease) => store.watchLeases!(onRelease),
      }
    : undefined;

  return {
    traits,
    leases,
    read,
    readNow: traits.inProcess ? (key) => store.getSync!(key) : traits.localTier ? (key) => store.peekLocal!(key) : () => undefined,
    write,
    remoteTier: store.remoteTier,
    addToSet: (key, members, ttl) => (traits.hasSets ? store.sadd!(key, members, ttl) : Promise.reject(noSets('sadd'))),
    scanSet: (key, pageSize) => {
      if (!traits.hasSets) throw noSets('sscan');
      return store.sscan!(key, pageSize);
    },
    scanPerNode: (prefix, pageSize) => {
      // NOTE: not a member of the contract: a wrapper that does not forward it makes the store report one node.
      const perNode = (store as { scanPerNode?: (prefix: string, pageSize?: number) => AsyncIterable<NodePage> }).scanPerNode;
      return typeof perNode === 'function' ? perNode.call(store, prefix, pageSize) : onOneNode(alias, store.scan(prefix, pageSize));
    },
  };
}

async function* onOneNode(node: string, pages: AsyncIterable<string[]>): AsyncIterable<NodePage> {
  for await (const keys of pages) yield { node, keys };
}
