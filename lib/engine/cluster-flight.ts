import { randomBytes } from 'node:crypto';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import {
  DEFAULT_SINGLE_FLIGHT,
  type Lease,
  type SingleFlightOption,
  type SingleFlightSettings,
  singleFlightProblems,
  singleFlightSettings,
} from './single-flight.options.js';
import { SingleFlightTimeoutError } from '../errors/single-flight-timeout.error.js';
import { entryPrefixOf } from '../keys/key-layout.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { StoreLeases } from '../stores/store-io.js';
import type { CacheLookup } from './entry-reader.js';
import type { ResolvedStore } from './store-registry.js';
import type { Target } from './target.js';

/** The lease key of an entry: `<scope>g<generation>:l:<entry>`. Tenant-scoped and carrying the generation, like the entry; never listed as an entry. */
export function leaseKeyOf(t: Target): string {
  const prefix = entryPrefixOf(t.key, t.resolved.keys.scopePrefix(t.scope));
  return `${prefix}${LEASE_SEGMENT}${t.key.slice(prefix.length)}`;
}

/** Marks a lease key after the entry prefix, where entry keys have `k2:` or `h2:` (see keys/key-layout.ts). */
const LEASE_SEGMENT = 'l:';

/** Slack past a lease's remaining time before a waiter tries to take it over (ms): the holder's expiry is the server's clock. */
const EXPIRY_SLACK_MS = 5;
/** Longest the first wait of a store waits for its release subscription (ms); until it is up, waiters wake on lease expiry. */
const SUBSCRIBE_WAIT_MS = 1000;
/** How long after a failed release subscription the next wait tries again (ms). */
const RESUBSCRIBE_AFTER_MS = 5000;
/** At most one "falls back to process-level" warning per store this often (ms). */
const WARN_EVERY_MS = 30_000;

/**
 * Cluster-wide single-flight: one load per key across the processes that share a store with leases.
 *
 * The first caller takes a lease (`SET NX PX` with a token of its own, through the store's command guard) and
 * loads; it renews the lease every `leaseTtl / 3` while loading and releases it (compare-and-delete) after its
 * write, which publishes the lease key. The others wait without polling: on the release message (one
 * subscription per store and process), or when the holder's lease expires (a timer at its remaining time,
 * which the failed `SET NX` returned), then read the entry; a miss takes the lease again. A holder that
 * crashed stops renewing, so its lease expires within `leaseTtl` and a waiter takes over.
 *
 * A store that fails a lease command falls back to the process-level flight the caller is already in (a
 * rate-limited warning); nothing waits past `waitTimeout`.
 */
export class ClusterFlight {
  private readonly id = randomBytes(6).toString('base64url');
  private sequence = 0;
  /** Waiters by lease key. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Per store alias: the subscription to lease releases (resolves false when it could not be made). */
  private readonly watching = new Map<string, Promise<boolean>>();
  private readonly warned = new Map<string, number>();

  /** The module's `singleFlight`, defaults applied. */
  readonly defaults: SingleFlightSettings;

  constructor(
    defaults: SingleFlightSettings | undefined,
    private readonly warn: (message: string) => void,
  ) {
    this.defaults = defaults ?? DEFAULT_SINGLE_FLIGHT;
  }

  /** Whether loads of the module fence their writes (the module's scope is `cluster`): invalidations then revoke leases. */
  get fencing(): boolean {
    return this.defaults.scope === 'cluster';
  }

  /** The settings of a call, or `undefined` when it loads with process-level single-flight only (no store call). */
  settings(option: SingleFlightOption | undefined, resolved: ResolvedStore): SingleFlightSettings | undefined {
    if (option !== undefined && option !== 'process' && option !== 'cluster') {
      const problems = singleFlightProblems(option);
      if (problems.length > 0) throw new InvalidOptionsError(problems.map(([o, problem, fix]) => ({ option: o, problem, fix })));
    }
    const s = option === undefined ? this.defaults : singleFlightSettings(option, this.defaults);
    if (s.scope !== 'cluster') return undefined;
    if (resolved.io.leases === undefined) {
      this.fallback(resolved.alias, 'it has no leases (a store of one process, or a client without duplicate())');
      return undefined;
    }
    return s;
  }

  /**
   * Revokes the lease of `t` (an invalidation of its key): a load in flight on any instance then does not
   * keep its value (see `Lease.held`). Called before the entry is deleted.
   */
  async revoke(t: Target): Promise<void> {
    if (!this.fencing || t.resolved.io.leases === undefined) return;
    await t.resolved.store.delete(leaseKeyOf(t));
  }

  /** `revoke` for many keys of one scope (`mdel`, a partition's listed entries), before they are deleted. */
  async revokeKeys(resolved: ResolvedStore, scope: CacheScope, physicalKeys: readonly string[]): Promise<void> {
    if (!this.fencing || resolved.io.leases === undefined || physicalKeys.length === 0) return;
    await resolved.store.mdel(physicalKeys.map((key) => leaseKeyOf({ resolved, scope, key })));
  }

  /**
   * `revoke` for every lease of entries under `entryPrefix` + each of `rests` (a prefix deletion: its literal
   * keys, and every hashed key of the scope, which a prefix cannot select), before they are deleted.
   */
  async revokePrefixes(resolved: ResolvedStore, entryPrefix: string, rests: readonly string[]): Promise<void> {
    if (!this.fencing || resolved.io.leases === undefined) return;
    for (const rest of rests) await resolved.store.deleteByPrefix(`${entryPrefix}${LEASE_SEGMENT}${rest}`);
  }

  /**
   * Runs `load` once across the cluster: here with the lease, or on another instance, whose stored value
   * `readAgain` then finds (a waiter's answer). `logicalKey` names the key in a timeout error.
   */
  async run<T>(
    t: Target,
    s: SingleFlightSettings,
    logicalKey: string,
    readAgain: () => Promise<CacheLookup<T>>,
    load: (lease: Lease | undefined) => Promise<CacheLookup<T>>,
  ): Promise<CacheLookup<T>> {
    const leases = t.resolved.io.leases!;
    const key = leaseKeyOf(t);
    const token = `${this.id}:${++this.sequence}`;
    const deadline = Date.now() + s.waitTimeout;
    const subscribed = await this.watch(t.resolved, leases);
    for (;;) {
      // NOTE: listening before the lease is tried: a release between a failed try and the wait is not missed.
      const wake = this.listen(key);
      let left: number;
      try {
        left = await leases.take(key, token, s.leaseTtl);
      } catch (error) {
        wake.cancel();
        this.fallback(t.resolved.alias, `a lease command failed: ${(error as Error).message}`);
        return load(undefined);
      }
      if (left === 0) {
        wake.cancel();
        return this.lead(leases, key, token, s, async (lease) => {
          // NOTE: another instance may have stored the value and released between this caller's read and its lease.
          const found = await readAgain();
          return found.hit ? found : load(lease);
        });
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        wake.cancel();
        if (s.onWaitTimeout === 'throw') throw new SingleFlightTimeoutError(logicalKey, s.waitTimeout);
        return load(undefined);
      }
      // Woken by the release, else at the holder's expiry (no subscription: a release is seen then too, later).
      await wake.until(Math.min(remaining, left + EXPIRY_SLACK_MS), subscribed);
      const found = await readAgain();
      if (found.hit) return found;
      if (found.error !== undefined) return load(undefined); // the store failed a read: it answers nothing more now
    }
  }

  /** Loads holding the lease, renewing it, and releases it once the value is written. */
  private async lead<T>(
    leases: StoreLeases,
    key: string,
    token: string,
    s: SingleFlightSettings,
    load: (lease: Lease) => Promise<CacheLookup<T>>,
  ): Promise<CacheLookup<T>> {
    let lost = false;
    const renew = () =>
      leases.renew(key, token, s.leaseTtl).then(
        (held) => (lost ||= !held),
        () => false,
      );
    const timer = setInterval(() => void renew(), Math.max(5, Math.floor(s.leaseTtl / 3)));
    timer.unref();
    const lease: Lease = {
      held: async () => {
        if (lost) return false;
        // NOTE: a failed check keeps the value out (a fence that cannot be read is not passed).
        return leases.renew(key, token, s.leaseTtl).then(
          (held) => !(lost ||= !held),
          () => false,
        );
      },
    };
    try {
      return await load(lease);
    } finally {
      clearInterval(timer);
      // NOTE: not awaited by the caller's answer beyond one command: waiters on other instances wake on its message.
      await leases.release(key, token).catch(() => undefined);
    }
  }

  /** Subscribes to the releases of `resolved`'s leases once; resolves whether the subscription is up (bounded wait). */
  private watch(resolved: ResolvedStore, leases: StoreLeases): Promise<boolean> {
    let up = this.watching.get(resolved.alias);
    if (up === undefined) {
      const subscribing = leases
        .watch((key) => this.released(key))
        .then(
          () => true,
          (error: unknown) => {
            this.fallback(resolved.alias, `the release subscription failed (${(error as Error).message}); waiters wake when a lease expires`);
            // Tried again by a wait after RESUBSCRIBE_AFTER_MS, not by every wait meanwhile (no connection churn in an outage).
            const retry = setTimeout(() => {
              if (this.watching.get(resolved.alias) === subscribing) this.watching.delete(resolved.alias);
            }, RESUBSCRIBE_AFTER_MS);
            retry.unref();
            return false;
          },
        );
      let timer: NodeJS.Timeout | undefined;
      up = Promise.race([subscribing, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS)))]).finally(() =>
        clearTimeout(timer),
      );
      // Once up, later calls need not wait for it again.
      this.watching.set(resolved.alias, subscribing);
    }
    return up;
  }

  private released(key: string): void {
    const set = this.waiters.get(key);
    if (set === undefined) return;
    this.waiters.delete(key);
    for (const wake of set) wake();
  }

  /** A waiter on `key`'s release, registered now. */
  private listen(key: string): { until(ms: number, subscribed: boolean): Promise<void>; cancel(): void } {
    let wake!: () => void;
    let timer: NodeJS.Timeout | undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(key);
    if (set === undefined) this.waiters.set(key, (set = new Set()));
    set.add(wake);
    const cancel = () => {
      clearTimeout(timer);
      const current = this.waiters.get(key);
      current?.delete(wake);
      if (current?.size === 0) this.waiters.delete(key);
    };
    return {
      until: (ms) => {
        timer = setTimeout(wake, ms);
        return woken.finally(cancel);
      },
      cancel,
    };
  }

  /** One rate-limited warning per store: its loads are single-flight per process only for now. */
  private fallback(alias: string, why: string): void {
    const now = Date.now();
    if (now - (this.warned.get(alias) ?? -Infinity) < WARN_EVERY_MS) return;
    this.warned.set(alias, now);
    this.warn(`Cluster single-flight on store "${alias}" falls back to one load per process: ${why}.`);
  }
}
