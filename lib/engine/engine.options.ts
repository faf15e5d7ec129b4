import type { NormalizedCodecOptions } from '../codec/codec.options.js';
import type { NormalizedMetricsOptions } from '../observability/observability.options.js';
import type { StoreDefinition } from '../stores/cache-store.interface.js';
import type { SingleFlightSettings } from './single-flight.options.js';

/**
 * The options the engine and its store registry read: a slice of the module's normalized options
 * (`NormalizedTenantCacheOptions` is assignable to it), so lib/engine does not import the module's
 * options file and everything that file pulls in.
 */
export interface EngineOptions {
  readonly stores: Readonly<Record<string, StoreDefinition>>;
  /** TTL in ms when a call gives none; 0 = no expiry. */
  readonly defaultTtl: number;
  readonly keyPrefix: string;
  readonly storeFor?: (tenantId: string) => string | undefined;
  readonly onWriteError: 'throw' | 'ignore';
  /** How long a process trusts its cached copy of a shared store's version counters (ms). */
  readonly versionCacheTtl: number;
  readonly tagIndex: 'store' | 'none';
  /** Codec of each store alias (module options merged with the store's). Missing = plain. */
  readonly codec?: Readonly<Record<string, NormalizedCodecOptions>>;
  /** Fail-safe grace of a read-through that gives none (ms); missing or 0 = none. */
  readonly grace?: number;
  /** Stale-while-revalidate window of a read-through that gives none (ms); missing or 0 = none. */
  readonly staleWhileRevalidate?: number;
  /** Refresh-ahead fraction of a read-through that gives none; missing or 0 = none. */
  readonly refreshAhead?: number;
  /** TTL jitter fraction of a read-through that gives none; missing or 0 = none. */
  readonly ttlJitter?: number;
  /** Where concurrent misses share one load (missing = per process). */
  readonly singleFlight?: SingleFlightSettings;
  /** Metrics, spans and per-tenant stats (missing = defaults: see `MetricsOptions`). */
  readonly metrics?: NormalizedMetricsOptions;
}
