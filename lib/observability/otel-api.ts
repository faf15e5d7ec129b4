import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module, as loaded. */
export type Otel = typeof OtelApi;

/**
 * `@opentelemetry/api` when it is installed, else `undefined`. Loaded on demand (an optional peer): an
 * application without it never loads it. The API keeps its providers in a process-wide registry, so this
 * copy sees the provider the application registered whichever way it imported the API.
 */
export function loadOtel(): Otel | undefined {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as Otel;
  } catch {
    return undefined;
  }
}

/**
 * Which OpenTelemetry providers the application registered, read from the API's process-wide registry
 * without loading the API (`@opentelemetry/api` 1.x keeps it under this symbol).
 */
export function registeredProviders(): { metrics: boolean; trace: boolean } {
  const registry = (globalThis as Record<symbol, { metrics?: unknown; trace?: unknown } | undefined>)[Symbol.for('opentelemetry.js.api.1')];
  return { metrics: registry?.metrics !== undefined, trace: registry?.trace !== undefined };
}

/** Whether the application registered a meter provider (the API answers a no-op one otherwise). */
export function hasMeterProvider(otel: Otel): boolean {
  return otel.metrics.getMeterProvider().constructor.name !== 'NoopMeterProvider';
}

/** Whether the application registered a tracer provider (the API's proxy delegates to a no-op one otherwise). */
export function hasTracerProvider(otel: Otel): boolean {
  const provider = otel.trace.getTracerProvider() as OtelApi.TracerProvider & { getDelegate?: () => OtelApi.TracerProvider };
  const delegate = provider.getDelegate?.() ?? provider;
  return delegate.constructor.name !== 'NoopTracerProvider';
}

/**
 * Histogram buckets in seconds, from 1 microsecond (an in-process read) to 10 s (a slow loader), about
 * three per decade.
 */
export const SECONDS_BUCKETS: readonly number[] = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
