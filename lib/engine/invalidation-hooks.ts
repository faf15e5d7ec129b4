import { AsyncLocalStorage } from 'node:async_hooks';
import type { CacheScope } from '../keys/key-builder.js';

/**
 * An invalidation that just happened in this process, as logical operations on one scope of one store.
 * Listeners see it after the local store was updated: CDN backends purge tags, the cross-instance bus
 * publishes it to the other app instances. `soft`: the entries were expired (`expire(key)`,
 * `invalidateTag(tag, { soft: true })`), not removed: they may still be served stale within a grace.
 */
export type InvalidationEvent = { readonly scope: CacheScope; readonly store: string } & (
  | { readonly kind: 'keys'; readonly keys: readonly string[]; readonly versionedTags?: readonly string[]; readonly soft?: boolean }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'partition'; readonly prefix: string; readonly matches?: (logicalKey: string) => boolean }
  | { readonly kind: 'tag'; readonly tag: string; readonly versioned: boolean; readonly soft?: boolean }
  | { readonly kind: 'all' }
  | { readonly kind: 'purge'; readonly receipt: PurgeReceipt }
  // The tenant's data key was destroyed (`shredTenant`): other instances drop their copy of it.
  | { readonly kind: 'shred' }
);

/**
 * What listeners of a `purge` (see `TenantCacheService.purgeTenant`) report back to it, filled in by them;
 * one receipt for all the stores of one purge.
 */
export interface PurgeReceipt {
  /** By store alias: whether the bus published the purge, how many subscribers PUBLISH reached, which instances acknowledged. */
  bus?: Record<string, PurgeBusResult>;
  /** One result per CDN backend (the tenant's surrogate key is purged once per purge, not per store). */
  cdn?: PurgeCdnResult[];
}

/** The cross-instance bus's part of a purge of one store. */
export interface PurgeBusResult {
  readonly published: boolean;
  /** What PUBLISH answered: subscribers of the channel, this instance's own subscription included. */
  readonly subscribers?: number;
  /** Ids of the instances that purged their own store and said so in time. */
  readonly acknowledged?: readonly string[];
  readonly error?: string;
}

/** One CDN backend's part of a purge. */
export interface PurgeCdnResult {
  readonly backend: string;
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * Where an invalidation started: `local` (this instance's code) or `remote` (replayed here for another
 * instance, by the cross-instance bus). Shared side effects such as CDN purges act on `local` only.
 */
export type InvalidationOrigin = 'local' | 'remote';

/** Called after each invalidation; a failure is logged, never raised to the caller. */
export type InvalidationListener = (event: InvalidationEvent, origin: InvalidationOrigin) => void | Promise<void>;

/** The listeners of one module instance (lives on the engine: no global state). */
export class InvalidationHooks {
  private readonly listeners: InvalidationListener[] = [];
  // NOTE: per module instance, not module state: marks invalidations replayed for another instance.
  private readonly replay = new AsyncLocalStorage<true>();

  constructor(private readonly onError: (error: Error, event: InvalidationEvent) => void) {}

  /** Registers a listener; returns a function that removes it. */
  add(listener: InvalidationListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /** Runs `fn`, whose invalidations replay another instance's: listeners see them as `remote`. */
  replaying<T>(fn: () => Promise<T>): Promise<T> {
    return this.replay.run(true, fn);
  }

  /** Awaits every listener; failures are reported through `onError`. */
  async notify(event: InvalidationEvent): Promise<void> {
    if (this.listeners.length === 0) return;
    const origin: InvalidationOrigin = this.replay.getStore() ? 'remote' : 'local';
    await Promise.all(
      this.listeners.map(async (listener) => {
        try {
          await listener(event, origin);
        } catch (error) {
          this.onError(error instanceof Error ? error : new Error(String(error)), event);
        }
      }),
    );
  }
}
