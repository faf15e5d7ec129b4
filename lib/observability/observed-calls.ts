import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { CacheScope } from '../keys/key-builder.js';
import { REQUEST_CHANNEL, type RequestMessage } from './diagnostics.js';
import type { Otel } from './otel-api.js';

/** What a read-through answered (the engine's `CacheLookup`, as far as it matters here). */
export interface Answer {
  readonly hit: boolean;
  readonly stale?: boolean;
}

/** Where a call's store is: its alias and tier. */
export type StoreOf = (scope: CacheScope, alias: string | undefined) => { store: string; tier: string };

/**
 * Read-throughs seen from outside: a span per call (`tenant_cache getOrSet`, `tenant_cache CacheResult`,
 * `tenant_cache CacheResponse`...) with hit, stale, tier and single-flight attributes and the loader as a
 * child span, and a `tenant-cache:request` diagnostics_channel message. The engine sends a call here only
 * while a tracer provider is registered or the channel has subscribers; otherwise nothing of this runs.
 */
export class ObservedCalls {
  constructor(
    private readonly otel: Otel | undefined,
    private readonly tracer: Tracer | undefined,
    private readonly recordKeys: boolean,
    private readonly storeOf: StoreOf,
  ) {}

  /** A hit served without a read-through (the interceptor's synchronous hit): reported as one. */
  hitNow(operation: string, scope: CacheScope, key: string, alias: string | undefined): void {
    void this.run(
      operation,
      scope,
      key,
      alias,
      false,
      () => undefined,
      () => Promise.resolve({ hit: true }),
    );
  }

  /**
   * Runs `call` (the read-through, given the loader to run) and reports it. `force`: a refresh (its load is
   * a `bypass`). The loader handed to `call` notes that it ran: a miss whose loader did not run joined
   * another caller's load.
   */
  run<T, A extends Answer>(
    operation: string,
    scope: CacheScope,
    key: string,
    alias: string | undefined,
    force: boolean,
    loader: () => T | Promise<T>,
    call: (loader: () => T | Promise<T>) => Promise<A>,
  ): Promise<A> {
    const started = performance.now();
    // NOTE: the store's tier is known once it was created: read again when the call ends.
    let { store, tier } = this.storeOf(scope, alias);
    const tenant = scope.kind === 'tenant' ? scope.tenantId : undefined;
    const { otel, tracer } = this;
    let span: Span | undefined;
    let context: Context | undefined;
    if (otel !== undefined && tracer !== undefined) {
      const attributes: Attributes = { 'tenant_cache.operation': operation, 'tenant_cache.store': store, 'tenant_cache.tier': tier };
      if (tenant !== undefined) attributes['tenant_cache.tenant'] = tenant;
      if (this.recordKeys) attributes['tenant_cache.key'] = key;
      span = tracer.startSpan(`tenant_cache ${operation}`, { kind: otel.SpanKind.INTERNAL, attributes });
      context = otel.trace.setSpan(otel.context.active(), span);
    }
    let loaderRan = false;
    const loaderSpan = (): T | Promise<T> => {
      loaderRan = true;
      if (otel === undefined || tracer === undefined || context === undefined) return loader();
      const child = tracer.startSpan('tenant_cache loader', { kind: otel.SpanKind.INTERNAL, attributes: { 'tenant_cache.operation': operation } }, context);
      return otel.context.with(otel.trace.setSpan(context, child), () => settle(otel, child, loader));
    };
    const finish = (found: A | undefined, error: unknown, failed: boolean) => {
      const result: RequestMessage['result'] = failed ? 'error' : found!.stale === true ? 'stale' : found!.hit ? 'hit' : force ? 'bypass' : 'miss';
      const joined = result === 'miss' && !loaderRan;
      if (tier === 'unknown') ({ store, tier } = this.storeOf(scope, alias));
      if (span !== undefined && otel !== undefined) {
        span.setAttributes({
          'tenant_cache.tier': tier,
          'tenant_cache.hit': result === 'hit',
          'tenant_cache.stale': result === 'stale',
          'tenant_cache.result': result,
          'tenant_cache.single_flight.joined': joined,
        });
        if (failed) fail(otel, span, error);
        span.end();
      }
      if (REQUEST_CHANNEL.hasSubscribers) {
        const message: RequestMessage = { operation, store, tenant, result, joined, durationMs: performance.now() - started, ...(this.recordKeys ? { key } : {}) };
        REQUEST_CHANNEL.publish(message);
      }
    };
    let pending: Promise<A>;
    try {
      pending = otel !== undefined && context !== undefined ? otel.context.with(context, () => call(loaderSpan)) : call(loaderSpan);
    } catch (error) {
      finish(undefined, error, true);
      throw error;
    }
    return pending.then(
      (found) => {
        finish(found, undefined, false);
        return found;
      },
      (error: unknown) => {
        finish(undefined, error, true);
        throw error;
      },
    );
  }
}

/** Runs `loader`, ending `span` when it settles (with its error). */
function settle<T>(otel: Otel, span: Span, loader: () => T | Promise<T>): T | Promise<T> {
  let value: T | Promise<T>;
  try {
    value = loader();
  } catch (error) {
    fail(otel, span, error);
    span.end();
    throw error;
  }
  if (!(value instanceof Promise)) {
    span.end();
    return value;
  }
  return value.then(
    (v) => {
      span.end();
      return v;
    },
    (error: unknown) => {
      fail(otel, span, error);
      span.end();
      throw error;
    },
  );
}

function fail(otel: Otel, span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: err.message });
  span.setAttribute('error.type', err.name);
}
