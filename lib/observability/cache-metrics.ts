import type { Attributes, BatchObservableResult, Histogram, Meter, Observable, ObservableCounter, ObservableGauge, ObservableResult } from '@opentelemetry/api';
import type { CacheScope } from '../keys/key-builder.js';
import type { NormalizedMetricsOptions } from './observability.options.js';
import type { OperationCount } from './instrumented-store.js';
import { type Otel, SECONDS_BUCKETS } from './otel-api.js';
import { COUNTED_OPERATIONS, INVALIDATION_KINDS, RESULTS, type ScopeCounters } from './scope-counters.js';
import { type StatsRecorder, type StoreCounters, labelOf } from './stats-recorder.js';

/** The `tenant` label of the shared namespace (parentheses: no valid default tenant id has them). */
export const SHARED_TENANT_LABEL = '(shared)';
/** The `tenant` label of the tenants without a series of their own. */
export const OTHER_TENANT_LABEL = 'other';

const METER = 'nestjs-tenant-cache';

/**
 * The OpenTelemetry instruments of one module instance. Counters are observable: they read the in-process
 * counters (`StatsRecorder`) when the reader collects, so a request costs nothing more with metrics on.
 * Histograms (`tenant_cache.store.duration`, `tenant_cache.loader.duration`) are recorded as they happen;
 * store round trips are counted exactly (`tenant_cache.store.operations`) and timed one in N.
 * Created only when `@opentelemetry/api` is installed and a meter provider is registered.
 */
export class CacheMetrics {
  /** Round trips of remote stores, seconds (`store`, `tier`, `operation`); sampled, see `storeOperations` for counts. */
  readonly storeDuration: Histogram;
  /** Round trips of remote stores, counted by the instrumented stores (instrumented-store.ts) and read at collection. */
  readonly storeOperations: OperationCount[] = [];
  private readonly meter: Meter;
  private readonly loaderDuration: Histogram;
  private readonly requests: ObservableCounter;
  private readonly loads: ObservableCounter;
  private readonly joined: ObservableCounter;
  private readonly invalidations: ObservableCounter;
  private readonly storeErrors: ObservableCounter;
  private readonly evictions: ObservableCounter;
  private readonly breakerChanges: ObservableCounter;
  private readonly operations: ObservableCounter;
  private readonly entries: ObservableGauge;
  private readonly bytes: ObservableGauge;
  private readonly observables: Observable[];
  private readonly callback = (result: BatchObservableResult) => this.observe(result);
  private readonly operationsCallback = (result: ObservableResult) => this.observeOperations(result);

  constructor(
    otel: Otel,
    private readonly stats: StatsRecorder,
    private readonly options: NormalizedMetricsOptions,
  ) {
    this.meter = otel.metrics.getMeter(METER);
    const counter = (name: string, description: string, unit: string) => this.meter.createObservableCounter(name, { description, unit });
    this.requests = counter('tenant_cache.requests', 'Read-throughs by result (hit, miss, stale, bypass, error); a stale serve is never a hit', '{request}');
    this.loads = counter('tenant_cache.loads', 'Loader calls by outcome (ok, error)', '{call}');
    this.joined = counter('tenant_cache.single_flight.joined', 'Callers that shared a load already running in this process', '{request}');
    this.invalidations = counter('tenant_cache.invalidations', 'Invalidations by kind (keys, prefix, partition, tag, all)', '{invalidation}');
    this.storeErrors = counter('tenant_cache.store.errors', 'Store failures (reads degraded to misses, writes failed)', '{error}');
    this.evictions = counter('tenant_cache.evictions', 'Entries a memory store evicted to stay within its bounds', '{entry}');
    this.breakerChanges = counter('tenant_cache.breaker.changes', 'Circuit breaker state changes, by the new state', '{change}');
    this.operations = counter('tenant_cache.store.operations', 'Round trips of remote stores (every one; the duration histogram times a sample)', '{operation}');
    this.entries = this.meter.createObservableGauge('tenant_cache.store.entries', { description: 'Entries held by a memory store', unit: '{entry}' });
    this.bytes = this.meter.createObservableGauge('tenant_cache.store.bytes', { description: 'Bytes held by a memory store', unit: 'By' });
    const histogram = (name: string, description: string) =>
      this.meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] } });
    this.storeDuration = histogram('tenant_cache.store.duration', 'Round trips of remote stores');
    this.loaderDuration = histogram('tenant_cache.loader.duration', 'Loader durations');
    this.observables = [this.requests, this.loads, this.joined, this.invalidations, this.storeErrors, this.evictions, this.breakerChanges, this.entries, this.bytes];
    this.meter.addBatchObservableCallback(this.callback, this.observables);
    this.operations.addCallback(this.operationsCallback);
    stats.onLoad = (alias, scope, seconds, ok) => this.loaderDuration.record(seconds, { store: alias, outcome: ok ? 'ok' : 'error', ...this.tenantOf(scope) });
  }

  /** Stops observing (application shutdown). */
  close(): void {
    this.meter.removeBatchObservableCallback(this.callback, this.observables);
    this.operations.removeCallback(this.operationsCallback);
    this.stats.onLoad = undefined;
  }

  /** The `tenant` attribute of a scope, by `tenantLabel` (none: no attribute). */
  private tenantOf(scope: CacheScope): Attributes {
    const mode = this.options.tenantLabel;
    if (mode === 'none') return {};
    if (scope.kind !== 'tenant') return { tenant: SHARED_TENANT_LABEL };
    if (typeof mode === 'function') return { tenant: labelOf(mode, scope.tenantId) };
    return { tenant: this.stats.isTracked(scope.tenantId) ? scope.tenantId : OTHER_TENANT_LABEL };
  }

  /** The counters of a store grouped by `tenant` label (one group without a label for `none`). */
  private groups(store: StoreCounters): Map<string | undefined, ScopeCounters[]> {
    const mode = this.options.tenantLabel;
    const groups = new Map<string | undefined, ScopeCounters[]>();
    const add = (label: string | undefined, c: ScopeCounters) => {
      const list = groups.get(label);
      if (list === undefined) groups.set(label, [c]);
      else list.push(c);
    };
    for (const [tenant, c] of store.tenants) add(mode === 'none' ? undefined : typeof mode === 'function' ? labelOf(mode, tenant) : tenant, c);
    for (const [label, c] of store.untracked()) add(mode === 'none' ? undefined : (label ?? OTHER_TENANT_LABEL), c);
    add(mode === 'none' ? undefined : SHARED_TENANT_LABEL, store.shared);
    return groups;
  }

  /** Reports every counter and gauge; series whose count is still 0 are left out. */
  private observe(result: BatchObservableResult): void {
    this.stats.endWindow();
    const info = this.stats.storeInfo();
    const observe = (instrument: ObservableCounter, value: number, attributes: Attributes) => {
      if (value > 0) result.observe(instrument, value, attributes);
    };
    for (const [alias, store] of this.stats.stores) {
      const tier = info.get(alias)?.tier ?? 'unknown';
      for (const [label, list] of this.groups(store)) {
        const base: Attributes = label === undefined ? { store: alias } : { store: alias, tenant: label };
        for (const operation of COUNTED_OPERATIONS) {
          for (const r of RESULTS)
            observe(
              this.requests,
              sum(list, (c) => c[operation][r]),
              { ...base, tier, operation, result: r },
            );
        }
        observe(
          this.loads,
          sum(list, (c) => c.loadOk),
          { ...base, outcome: 'ok' },
        );
        observe(
          this.loads,
          sum(list, (c) => c.loadError),
          { ...base, outcome: 'error' },
        );
        observe(
          this.joined,
          sum(list, (c) => c.joined),
          base,
        );
        observe(
          this.storeErrors,
          sum(list, (c) => c.storeErrors),
          base,
        );
        for (const kind of INVALIDATION_KINDS)
          observe(
            this.invalidations,
            sum(list, (c) => c.invalidations[kind]),
            { ...base, kind },
          );
      }
    }
    for (const [alias, changes] of this.stats.breakerChanges) {
      for (const [state, n] of Object.entries(changes)) observe(this.breakerChanges, n, { store: alias, state });
    }
    for (const [alias, store] of info) {
      const attributes = { store: alias, tier: store.tier };
      if (store.entries !== undefined) result.observe(this.entries, store.entries, attributes);
      if (store.bytes !== undefined) result.observe(this.bytes, store.bytes, attributes);
      if (store.evictions !== undefined) observe(this.evictions, store.evictions, { ...attributes, reason: 'size' });
    }
  }

  /** Reports `tenant_cache.store.operations`: one series per store and member that made a round trip. */
  private observeOperations(result: ObservableResult): void {
    for (const { attributes, count } of this.storeOperations) if (count > 0) result.observe(count, attributes);
  }
}

function sum(list: readonly ScopeCounters[], of: (c: ScopeCounters) => number): number {
  let n = 0;
  for (const c of list) n += of(c);
  return n;
}
