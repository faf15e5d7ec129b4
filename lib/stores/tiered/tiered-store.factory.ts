import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { optionKeys } from '../../tenant-cache.option-keys.js';
import type { CacheStore, StoreDefinition } from '../cache-store.interface.js';
import { redisSourceOf } from '../redis/redis-source.js';
import { assertStoreOptions } from '../store-option-keys.js';
import { openCoherenceChannel } from './coherence-channel.js';
import { TieredStore } from './tiered.store.js';

/** Options of `tieredStore`. */
export interface TieredStoreOptions {
  /** The in-process tier: `memoryStore({ maxEntries?, maxBytes? })`. */
  l1: StoreDefinition;
  /** The shared tier: `redisStore({ url })` or `redisStore({ client })` (a client or a cluster). */
  l2: StoreDefinition;
  /**
   * Longest time an entry stays in the L1, ms (it never outlives its L2 entry either). Default: the L2 entry's
   * remaining TTL. Coherence does not depend on it: it bounds how long an L1 copy lives if a message is lost.
   */
  l1Ttl?: number;
  /** Pub/sub channel of the L1 coherence messages. Default `tenant-cache:l1:<store alias>`. Instances of one app share it. */
  channel?: string;
}

const TIERED_STORE_KEYS = optionKeys<TieredStoreOptions>({ l1: true, l2: true, l1Ttl: true, channel: true });

/** How long start-up waits for the coherence subscription (the L1 is bypassed until it is in place), ms at most. */
const SUBSCRIBE_WAIT_MS = 2000;

/**
 * Two tiers as one store: an in-process L1 (decoded-value fast path, no round trip on a hit) in front of
 * Redis. Writes and invalidations reach both; the other instances drop what changed from their L1 through a
 * Redis pub/sub channel (see docs/stores.md, "Tiers").
 *
 * @example
 * TenantCacheModule.forRoot({ stores: { default: tieredStore({ l1: memoryStore({ maxEntries: 50_000 }), l2: redisStore({ url }) }) } })
 */
export function tieredStore(options: TieredStoreOptions): StoreDefinition {
  assertStoreOptions('tieredStore', options, TIERED_STORE_KEYS, { ttl: 'Write `l1Ttl` for the L1 cap.', bus: 'Coherence uses the L2 Redis: give `channel` to name it.' });
  const problems = [];
  if (typeof options?.l1?.create !== 'function')
    problems.push({ option: 'tieredStore.l1', problem: 'is not a store definition', fix: 'Write `l1: memoryStore({ maxEntries })`.' });
  const source = typeof options?.l2?.create === 'function' ? redisSourceOf(options.l2) : undefined;
  if (source === undefined) {
    problems.push({
      option: 'tieredStore.l2',
      problem: 'is not a redisStore() definition',
      fix: 'Write `l2: redisStore({ url })` (or `{ client }`): the L1s of several instances are kept coherent over its pub/sub.',
    });
  }
  const { l1Ttl, channel } = options ?? {};
  if (l1Ttl !== undefined && !(typeof l1Ttl === 'number' && Number.isFinite(l1Ttl) && l1Ttl > 0)) {
    problems.push({ option: 'tieredStore.l1Ttl', problem: `is ${String(l1Ttl)}`, fix: 'Give a number of milliseconds above 0, or leave it out (the L2 TTL).' });
  }
  if (channel !== undefined && (typeof channel !== 'string' || channel.length === 0)) {
    problems.push({ option: 'tieredStore.channel', problem: `is ${JSON.stringify(channel)}`, fix: 'Give a non-empty string, or leave it out.' });
  }
  if (options?.l1?.dedicatedTenant !== undefined && options.l1.dedicatedTenant !== options.l2?.dedicatedTenant) {
    problems.push({ option: 'tieredStore.l1.dedicatedTenant', problem: 'differs from the L2', fix: 'Give `dedicatedTenant` to the L2 (redisStore) only.' });
  }
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return {
    create: async (alias, context) => {
      const l1 = await options.l1.create(`${alias}.l1`, context);
      if (typeof l1.getSync !== 'function' || typeof l1.setSync !== 'function') {
        await l1.close();
        throw new InvalidOptionsError('tieredStore.l1', `(${options.l1.description}) is not an in-process store`, 'Write `l1: memoryStore({ maxEntries })`.');
      }
      const l2 = await options.l2.create(alias, context);
      const store = new TieredStore(alias, l1 as CacheStore & Required<Pick<CacheStore, 'getSync' | 'setSync'>>, l2, { l1Ttl });
      try {
        store.attach(await openCoherenceChannel(source!, channel ?? `tenant-cache:l1:${alias}`, alias, store.listener));
      } catch (error) {
        await store.close();
        throw error;
      }
      // NOTE: bounded: without the subscription the store works, its L1 bypassed until it is in place.
      await store.whenCoherent(Math.min(source!.connectTimeout, SUBSCRIBE_WAIT_MS));
      return store;
    },
    dedicatedTenant: options.l2.dedicatedTenant,
    description: `tieredStore(${options.l1.description}, ${options.l2.description}${l1Ttl !== undefined ? `, l1Ttl ${l1Ttl}` : ''})`,
    codec: options.l2.codec,
  };
}
