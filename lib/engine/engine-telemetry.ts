import type { Tracer } from '@opentelemetry/api';
import { CacheMetrics } from '../observability/cache-metrics.js';
import type { CacheScope } from '../keys/key-builder.js';
import { BREAKER_CHANNEL, REQUEST_CHANNEL, ENTRY_CORRUPT_CHANNEL, ENTRY_STALE_CHANNEL, INVALIDATION_CHANNEL, STORE_ERROR_CHANNEL } from '../observability/diagnostics.js';
import { instrumentStore } from '../observability/instrumented-store.js';
import { ObservedCalls } from '../observability/observed-calls.js';
import { DEFAULT_METRICS } from '../observability/observability.options.js';
import { hasMeterProvider, hasTracerProvider, loadOtel, registeredProviders } from '../observability/otel-api.js';
import { StatsRecorder, type StoreInfo } from '../observability/stats-recorder.js';
import { describeStore } from '../observability/store-info.js';
import type { CacheStore } from '../stores/cache-store.interface.js';
import type { EngineOptions } from './engine.options.js';
import type { CacheLookup } from './entry-reader.js';
import type { InvalidationHooks } from './invalidation-hooks.js';
import type { FetchOptions, GetOrSetOptions, ReadThrough } from './read-through.js';
import type { StoreRegistry } from './store-registry.js';
import type { TenantCacheEvents } from './tenant-cache.events.js';

/**
 * The engine's observability, wired once: the in-process stats (`cache.stats()`), fed by the engine's
 * events and invalidation hooks; OpenTelemetry metrics and spans when `@opentelemetry/api` is installed
 * and the application registered a provider before the module started (otherwise the API is not even
 * loaded); `node:diagnostics_channel` messages while a channel has subscribers.
 */
export class EngineTelemetry {
  readonly stats: StatsRecorder;
  /** Read-throughs reported one by one (spans, the `tenant-cache:request` channel). */
  readonly calls: ObservedCalls;
  /** A tracer provider is registered: every read-through gets a span. */
  readonly tracing: boolean;
  private readonly metrics?: CacheMetrics;
  private readonly tracer?: Tracer;
  private readonly aliasOf: (scope: CacheScope, alias: string | undefined) => string;

  constructor(options: EngineOptions, registry: StoreRegistry, events: TenantCacheEvents, hooks: InvalidationHooks) {
    const settings = options.metrics ?? DEFAULT_METRICS;
    const stats = new StatsRecorder(settings, () => {
      const info = new Map<string, ReturnType<typeof describeStore>>();
      for (const alias of registry.aliases) {
        const resolved = registry.getNow(alias);
        if (resolved !== undefined) info.set(alias, describeStore(resolved.store, resolved.io.traits.inProcess));
      }
      return info;
    });
    this.stats = stats;
    const registered = settings.enabled ? registeredProviders() : { metrics: false, trace: false };
    const otel = registered.metrics || registered.trace ? loadOtel() : undefined;
    if (otel !== undefined && registered.metrics && hasMeterProvider(otel)) this.metrics = new CacheMetrics(otel, stats, settings);
    if (otel !== undefined && registered.trace && hasTracerProvider(otel)) this.tracer = otel.trace.getTracer('nestjs-tenant-cache');
    this.tracing = this.tracer !== undefined;
    const recordKeys = settings.recordKeys;
    this.aliasOf = (scope, explicit) => {
      try {
        return registry.aliasFor(scope, explicit);
      } catch {
        return explicit ?? 'default'; // an unknown alias: the call itself rejects with the reason
      }
    };
    this.calls = new ObservedCalls(otel, this.tracer, recordKeys, (scope, explicit) => {
      const alias = this.aliasOf(scope, explicit);
      const resolved = registry.getNow(alias);
      return { store: alias, tier: resolved === undefined ? 'unknown' : describeStore(resolved.store, resolved.io.traits.inProcess).tier };
    });
    if (otel !== undefined && (this.metrics !== undefined || this.tracer !== undefined)) {
      const sinks = {
        otel,
        duration: this.metrics?.storeDuration,
        operations: this.metrics?.storeOperations,
        sampling: settings.storeDurationSampling,
        tracer: this.tracer,
        recordKeys,
      };
      registry.instrument = (store: CacheStore, alias: string) => instrumentStore(store, alias, describeStore(store, false).tier, sinks);
    }

    const key = (k: string) => (recordKeys ? { key: k } : {});
    events.on('store:error', (e) => {
      stats.storeFailed(e.store, e.tenant, e.error);
      if (STORE_ERROR_CHANNEL.hasSubscribers) STORE_ERROR_CHANNEL.publish(e);
    });
    events.on('entry:stale', (e) => {
      if (ENTRY_STALE_CHANNEL.hasSubscribers) ENTRY_STALE_CHANNEL.publish({ store: e.store, reason: e.reason, tenant: e.tenant, error: e.error, ...key(e.key) });
    });
    events.on('entry:corrupt', (e) => {
      if (ENTRY_CORRUPT_CHANNEL.hasSubscribers) ENTRY_CORRUPT_CHANNEL.publish({ store: e.store, reason: e.reason, tenant: e.tenant, ...key(e.key) });
    });
    hooks.add((e) => {
      stats.invalidated(e.store, e.scope, e.kind);
      if (INVALIDATION_CHANNEL.hasSubscribers) {
        INVALIDATION_CHANNEL.publish({ store: e.store, tenant: e.scope.kind === 'tenant' ? e.scope.tenantId : undefined, kind: e.kind });
      }
    });
    registry.outages.onBreaker = (store, state) => {
      stats.breakerChanged(store, state);
      if (BREAKER_CHANNEL.hasSubscribers) BREAKER_CHANNEL.publish({ store, state });
    };
  }

  /**
   * A hit its caller read with `lookupNow` and served (the interceptor's synchronous hit): counted, and
   * reported like a read-through while someone listens.
   */
  servedNow(scope: CacheScope, key: string, alias: string | undefined, operation: string): void {
    this.stats.counters(this.aliasOf(scope, alias), scope).fetch.hit++;
    if (this.tracing || REQUEST_CHANNEL.hasSubscribers) this.calls.hitNow(operation, scope, key, alias);
  }

  /** `getOrSet` reported as a span and a `tenant-cache:request` message (only while someone listens: `CacheEngine.getOrSet`). */
  getOrSet<T>(rt: ReadThrough, scope: CacheScope, key: string, loader: () => T | Promise<T>, opts?: GetOrSetOptions<T>): Promise<T> {
    const call = (l: () => T | Promise<T>) => rt.getOrSetLookup(scope, key, l, opts);
    return this.calls.run('getOrSet', scope, key, opts?.store, false, loader, call).then((found) => found.value as T);
  }

  /** `fetch` reported like `getOrSet`, under the caller's operation name. */
  fetch<T>(rt: ReadThrough, scope: CacheScope, key: string, loader: () => T | Promise<T>, opts?: FetchOptions<T>): Promise<CacheLookup<T>> {
    const call = (l: () => T | Promise<T>) => rt.fetch(scope, key, l, opts);
    return this.calls.run(opts?.operation ?? 'fetch', scope, key, opts?.store, opts?.force === true, loader, call);
  }

  /** What a created store tells of itself (tier, entries, breaker), for health checks; `undefined` before it is created. */
  storeInfo(alias: string): StoreInfo | undefined {
    return this.stats.storeInfo().get(alias);
  }

  /** Stops the metrics' observation (application shutdown). */
  close(): void {
    this.metrics?.close();
  }
}
