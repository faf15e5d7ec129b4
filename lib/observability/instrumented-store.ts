import type { Attributes, Histogram, Tracer } from '@opentelemetry/api';
import type { CacheStore } from '../stores/cache-store.interface.js';
import type { Otel } from './otel-api.js';

/** The Redis command behind each store member (`db.operation.name`); pipelines and scripts named as sent. */
const REDIS_COMMANDS: Readonly<Record<string, string>> = {
  get: 'GET',
  getThen: 'GET',
  set: 'SET',
  setText: 'SET',
  setThen: 'SET',
  add: 'SET',
  delete: 'UNLINK',
  has: 'EXISTS',
  mget: 'MGET',
  mset: 'SET',
  mdel: 'UNLINK',
  incr: 'EVAL',
  touch: 'PEXPIRE',
  ttl: 'PTTL',
  sadd: 'EVAL',
  deleteByPrefix: 'UNLINK',
  flush: 'FLUSHDB',
};

/** The members that make one round trip (or a batch of them) and settle a promise. */
const TIMED = new Set(Object.keys(REDIS_COMMANDS));

/** Where a store's calls are reported: a histogram of round trips, a tracer for spans. */
export interface StoreSinks {
  readonly otel: Otel;
  readonly duration?: Histogram;
  readonly tracer?: Tracer;
  /** Record the physical key on spans (`db.query.text` is never recorded). */
  readonly recordKeys: boolean;
}

/**
 * A remote store whose calls are timed (`tenant_cache.store.duration`) and traced (a client span per call,
 * with the OpenTelemetry database conventions: `db.system.name`, `db.operation.name`). In-process stores
 * are returned as they are: their reads are not round trips. Every other member (and every trait the
 * engine reads) is the store's own, so the engine sees the same fast paths.
 */
export function instrumentStore(store: CacheStore, alias: string, tier: string, sinks: StoreSinks): CacheStore {
  if (typeof store.getSync === 'function' || (sinks.duration === undefined && sinks.tracer === undefined)) return store;
  const redis = tier === 'redis';
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(prop);
      if (fn === undefined) {
        const member = value as (...args: unknown[]) => unknown;
        fn = TIMED.has(prop as string) ? timed(target, member, prop as string, alias, tier, redis, sinks) : member.bind(target);
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

function timed(
  target: CacheStore,
  member: (...args: unknown[]) => unknown,
  name: string,
  alias: string,
  tier: string,
  redis: boolean,
  sinks: StoreSinks,
): (...args: unknown[]) => unknown {
  const attributes: Attributes = { store: alias, tier, operation: name };
  const command = redis ? REDIS_COMMANDS[name]! : name;
  const spanAttributes: Attributes = redis
    ? { 'db.system.name': 'redis', 'db.operation.name': command, 'tenant_cache.store': alias }
    : { 'db.operation.name': command, 'tenant_cache.store': alias };
  const { otel, duration, tracer } = sinks;
  return (...args: unknown[]) => {
    const started = performance.now();
    const span =
      tracer === undefined
        ? undefined
        : tracer.startSpan(redis ? command : `${tier} ${command}`, {
            kind: otel.SpanKind.CLIENT,
            attributes: sinks.recordKeys && typeof args[0] === 'string' ? { ...spanAttributes, 'tenant_cache.key': args[0] } : spanAttributes,
          });
    const done = (error?: unknown) => {
      duration?.record((performance.now() - started) / 1000, attributes);
      if (span === undefined) return;
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
      }
      span.end();
    };
    // NOTE: the `...Then` members settle through their callbacks: wrapped so that no promise is added.
    const onError = name === 'getThen' ? 2 : name === 'setThen' ? 3 : -1;
    if (onError > 0) {
      const handle = args[onError] as (error: unknown) => unknown;
      args[onError] = (error: unknown) => {
        done(error);
        return handle(error);
      };
      if (name === 'getThen') {
        const onValue = args[1] as (value: unknown) => unknown;
        args[1] = (value: unknown) => {
          done();
          return onValue(value);
        };
      }
    }
    let result: unknown;
    try {
      result = member.apply(target, args);
    } catch (error) {
      done(error);
      throw error;
    }
    if (name === 'getThen') return result;
    if (result instanceof Promise) {
      result.then(
        () => done(),
        (error: unknown) => done(error),
      );
    } else done();
    return result;
  };
}
