import type { CacheScope } from '../keys/key-builder.js';
import type { BreakerState } from '../stores/resilience/circuit-breaker.js';
import type { CacheStats, RequestStats, ScopeStats, StoreStats } from './cache-stats.js';
import type { NormalizedMetricsOptions } from './observability.options.js';
import { TopTenants } from './top-tenants.js';
import { COUNTED_OPERATIONS, INVALIDATION_KINDS, type InvalidationKind, RESULTS, type ResultCounters, ScopeCounters } from './scope-counters.js';

/** What the engine tells about a created store, for stats and gauges. */
export interface StoreInfo {
  readonly tier: string;
  readonly entries?: number;
  readonly bytes?: number;
  readonly evictions?: number;
  readonly breaker?: 'closed' | 'open' | 'half-open';
}

/** Counts of tenants without a slot, folded into `into` (`other` or a label's bucket) at the next window's end. */
interface Folding {
  readonly label: string | undefined;
  readonly into: ScopeCounters;
  readonly counts: ScopeCounters;
}

/** The counters of one store: its tracked tenants, the other tenants, the shared namespace. */
export class StoreCounters {
  readonly tenants = new Map<string, ScopeCounters>();
  readonly shared = new ScopeCounters();
  readonly other = new ScopeCounters();
  /** With `tenantLabel` a function: the untracked tenants by label (at most `MAX_LABELS`). */
  readonly labels = new Map<string, ScopeCounters>();
  /** This window's candidates for a slot (see `TopTenants`), counted apart until the window ends. */
  readonly candidates = new Map<string, ScopeCounters>();
  /**
   * The candidates of the window before that got no slot: counted as `other` (or their label) already, and
   * added to it at the next window's end, so that a request still running when its tenant was passed over
   * is not lost.
   */
  folding: Folding[] = [];

  /** The counters of the tenants without a slot, by `tenant` label (`undefined`: `other`). */
  untracked(): [string | undefined, ScopeCounters][] {
    return [
      [undefined, this.other],
      ...[...this.labels].map(([label, c]): [string, ScopeCounters] => [label, c]),
      ...this.folding.map((f): [string | undefined, ScopeCounters] => [f.label, f.counts]),
      ...[...this.candidates.values()].map((c): [undefined, ScopeCounters] => [undefined, c]),
    ];
  }
}

/** Labels a `tenantLabel` function may give before further ones count as `other`. */
const MAX_LABELS = 100;

/**
 * The in-process counters of one module instance, by store and scope. Memory is bounded: the
 * `topTenants` busiest tenants get counters of their own (kept for the life of the process, so metric
 * series never churn; see `TopTenants`); the others share `other` (or, with a `tenantLabel` function, one
 * bucket per label). A tenant's counts of the window in which it got its slot are its own; those before
 * stay in `other`.
 */
export class StatsRecorder {
  readonly stores = new Map<string, StoreCounters>();
  /** The last failure of each store (health checks, `stats().stores`). */
  readonly lastErrors = new Map<string, { readonly message: string; readonly at: number }>();
  /** Circuit breaker changes by store and new state. */
  readonly breakerChanges = new Map<string, Record<BreakerState, number>>();
  /** Told of each loader call's duration (the loader histogram, when metrics are on); `undefined` otherwise. */
  onLoad: ((alias: string, scope: CacheScope, seconds: number, ok: boolean) => void) | undefined = undefined;
  private readonly top: TopTenants;

  constructor(
    readonly options: NormalizedMetricsOptions,
    /** The created stores (alias -> what they tell), for `stats().stores` and the gauges. */
    readonly storeInfo: () => ReadonlyMap<string, StoreInfo> = () => new Map(),
  ) {
    this.top = new TopTenants(options.topTenants);
  }

  /**
   * The counters of `scope` in store `alias`, found inline: those of a tracked tenant, a candidate or the
   * shared namespace cost two or three map reads and no call.
   */
  of(alias: string, scope: CacheScope): ScopeCounters {
    const store = this.stores.get(alias);
    const own = store === undefined ? undefined : scope.kind === 'tenant' ? (store.tenants.get(scope.tenantId) ?? store.candidates.get(scope.tenantId)) : store.shared;
    return own ?? this.counters(alias, scope);
  }

  /** The counters of `scope` in store `alias`, created on first use (see the class). */
  counters(alias: string, scope: CacheScope): ScopeCounters {
    const store = this.store(alias);
    if (scope.kind !== 'tenant') return store.shared;
    const tenant = scope.tenantId;
    const own = store.tenants.get(tenant) ?? store.candidates.get(tenant);
    if (own !== undefined) return own;
    if (this.top.has(tenant)) {
      const created = new ScopeCounters();
      store.tenants.set(tenant, created);
      return created;
    }
    if (this.top.admit(tenant)) {
      const candidate = new ScopeCounters();
      store.candidates.set(tenant, candidate);
      return candidate;
    }
    return this.untrackedBucket(store, tenant)[1];
  }

  /**
   * Ends the window of `TopTenants`: its busiest candidates get their slot (and keep the window's counts),
   * the others' counts go to `other`. Run before the counters are read (a collection, `stats()`).
   */
  endWindow(): void {
    const requests = new Map<string, number>();
    for (const store of this.stores.values()) {
      for (const [tenant, counts] of store.candidates) requests.set(tenant, (requests.get(tenant) ?? 0) + requestsOf(counts));
    }
    const promoted = this.top.endWindow(requests);
    for (const store of this.stores.values()) {
      for (const f of store.folding) f.into.add(f.counts);
      store.folding = [];
      for (const [tenant, counts] of store.candidates) {
        if (promoted.has(tenant)) {
          store.tenants.set(tenant, counts);
          continue;
        }
        const [label, into] = this.untrackedBucket(store, tenant);
        store.folding.push({ label, into, counts });
      }
      store.candidates.clear();
    }
  }

  /** Where the counts of `tenant` go while it has no slot: `other`, or its label's bucket (`tenantLabel` a function). */
  private untrackedBucket(store: StoreCounters, tenant: string): [string | undefined, ScopeCounters] {
    const label = this.options.tenantLabel;
    if (typeof label !== 'function') return [undefined, store.other];
    const name = labelOf(label, tenant);
    let bucket = store.labels.get(name);
    if (bucket === undefined) {
      if (store.labels.size >= MAX_LABELS) return [undefined, store.other];
      bucket = new ScopeCounters();
      store.labels.set(name, bucket);
    }
    return [name, bucket];
  }

  /** The counters of store `alias`, created on first use. */
  store(alias: string): StoreCounters {
    let store = this.stores.get(alias);
    if (store === undefined) {
      store = new StoreCounters();
      this.stores.set(alias, store);
    }
    return store;
  }

  /** Whether `tenant` has counters of its own. */
  isTracked(tenant: string): boolean {
    return this.top.has(tenant);
  }

  /** An invalidation of `scope` in `alias` (the engine's invalidation hooks). */
  invalidated(alias: string, scope: CacheScope, kind: InvalidationKind): void {
    this.counters(alias, scope).invalidations[kind]++;
  }

  /** A circuit breaker of `alias` moved to `state`. */
  breakerChanged(alias: string, state: BreakerState): void {
    let changes = this.breakerChanges.get(alias);
    if (changes === undefined) {
      changes = { closed: 0, open: 0, 'half-open': 0 };
      this.breakerChanges.set(alias, changes);
    }
    changes[state]++;
  }

  /** A store failure (the engine's `store:error` event). */
  storeFailed(alias: string, tenant: string | undefined, error?: Error): void {
    if (error !== undefined) this.lastErrors.set(alias, { message: error.message, at: Date.now() });
    this.counters(alias, tenant === undefined ? { kind: 'shared' } : { kind: 'tenant', tenantId: tenant }).storeErrors++;
  }

  /** The counters of one scope, every store together. */
  scopeStats(scope: CacheScope): ScopeStats {
    this.endWindow();
    if (scope.kind !== 'tenant') return summarize([...this.stores.values()].map((s) => s.shared));
    const tenant = scope.tenantId;
    const own = [...this.stores.values()].flatMap((s) => s.tenants.get(tenant) ?? []);
    return { tenant, tracked: this.top.has(tenant), ...summarize(own) };
  }

  /** Everything: totals, by tenant, other tenants, shared, by store. */
  stats(): CacheStats {
    this.endWindow();
    const stores = [...this.stores];
    const all = stores.flatMap(([, s]) => everyScope(s));
    const tenants: Record<string, ScopeStats> = {};
    for (const tenant of this.top.names) tenants[tenant] = summarize(stores.flatMap(([, s]) => s.tenants.get(tenant) ?? []));
    const info = this.storeInfo();
    const byStore: Record<string, StoreStats> = {};
    for (const alias of new Set([...this.stores.keys(), ...info.keys()])) {
      const counted = this.stores.get(alias);
      const lastError = this.lastErrors.get(alias);
      const changes = this.breakerChanges.get(alias);
      byStore[alias] = {
        tier: 'unknown',
        ...info.get(alias),
        ...summarize(counted === undefined ? [] : everyScope(counted)),
        ...(lastError === undefined ? {} : { lastError: { message: lastError.message, at: new Date(lastError.at).toISOString() } }),
        ...(changes === undefined ? {} : { breakerChanges: { ...changes } }),
      };
    }
    return {
      ...summarize(all),
      tenants,
      otherTenants: summarize(stores.flatMap(([, s]) => s.untracked().map(([, c]) => c))),
      shared: summarize(stores.map(([, s]) => s.shared)),
      stores: byStore,
    };
  }
}

/** Every counters object of a store. */
export function everyScope(store: StoreCounters): ScopeCounters[] {
  return [...store.tenants.values(), store.shared, ...store.untracked().map(([, c]) => c)];
}

/** A `tenantLabel` function's label; a throwing or non-string one is `other`. */
export function labelOf(label: (tenantId: string) => string, tenant: string): string {
  try {
    const name = label(tenant);
    return typeof name === 'string' && name !== '' ? name : 'other';
  } catch {
    return 'other';
  }
}

function requestStats(counts: readonly ResultCounters[]): RequestStats {
  const sums = { hit: 0, miss: 0, stale: 0, bypass: 0, error: 0 };
  for (const c of counts) for (const r of RESULTS) sums[r] += c[r];
  const total = RESULTS.reduce((n, r) => n + sums[r], 0);
  return { ...sums, hitRatio: total === 0 ? 0 : sums.hit / total };
}

/** Every request counted in `c`, whatever its operation and result. */
function requestsOf(c: ScopeCounters): number {
  let n = 0;
  for (const operation of COUNTED_OPERATIONS) for (const r of RESULTS) n += c[operation][r];
  return n;
}

/** Sums counters into stats. */
export function summarize(counters: readonly ScopeCounters[]): ScopeStats {
  const invalidations = Object.fromEntries(INVALIDATION_KINDS.map((k) => [k, 0])) as Record<InvalidationKind, number>;
  let ok = 0;
  let error = 0;
  let seconds = 0;
  let joined = 0;
  let storeErrors = 0;
  for (const c of counters) {
    ok += c.loadOk;
    error += c.loadError;
    seconds += c.loadSeconds;
    joined += c.joined;
    storeErrors += c.storeErrors;
    for (const k of INVALIDATION_KINDS) invalidations[k] += c.invalidations[k];
  }
  return {
    requests: requestStats(counters.flatMap((c) => [c.getOrSet, c.fetch, c.get])),
    byOperation: {
      getOrSet: requestStats(counters.map((c) => c.getOrSet)),
      fetch: requestStats(counters.map((c) => c.fetch)),
      get: requestStats(counters.map((c) => c.get)),
    },
    loads: { ok, error, meanMs: ok + error === 0 ? 0 : (seconds * 1000) / (ok + error) },
    singleFlightJoined: joined,
    invalidations,
    storeErrors,
  };
}
