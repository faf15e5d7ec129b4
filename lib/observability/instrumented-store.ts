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

type Member = (...args: unknown[]) => unknown;

/** The round trips one member of one store made, counted in process (`tenant_cache.store.operations`). */
export interface OperationCount {
  /** `store`, `tier`, `operation`. */
  readonly attributes: Attributes;
  count: number;
}

/** Where a store's calls are reported: counts of round trips, a histogram of some of them, a tracer for spans. */
export interface StoreSinks {
  readonly otel: Otel;
  readonly duration?: Histogram;
  /** Where each timed member adds its count (`CacheMetrics.storeOperations`); absent without a meter provider. */
  readonly operations?: OperationCount[];
  /** `metrics.storeDurationSampling`: each member times one call in this many (1: every call). */
  readonly sampling: number;
  readonly tracer?: Tracer;
  /** Record the physical key on spans (`db.query.text` is never recorded). */
  readonly recordKeys: boolean;
}

/**
 * A remote store whose round trips are counted (`tenant_cache.store.operations`), sampled for their
 * duration (`tenant_cache.store.duration`, one call in `sinks.sampling` per member) and traced (a client
 * span per call, with the OpenTelemetry database conventions: `db.system.name`, `db.operation.name`).
 * In-process stores are returned as they are: their reads are not round trips. Every other member (and
 * every trait the engine reads) is the store's own, so the engine sees the same fast paths.
 */
export function instrumentStore(store: CacheStore, alias: string, tier: string, sinks: StoreSinks): CacheStore {
  if (typeof store.getSync === 'function' || (sinks.duration === undefined && sinks.tracer === undefined)) return store;
  const redis = tier === 'redis';
  return forwardingStore(store, (name, member) => {
    if (typeof name !== 'string' || !TIMED.has(name)) return member.bind(store);
    const count: OperationCount = { attributes: { store: alias, tier, operation: name }, count: 0 };
    sinks.operations?.push(count);
    return counted(store, member, name, count, redis, sinks);
  });
}

/**
 * `target` behind an object built once, not a Proxy (whose trap would run on every member read of the hot
 * path): each method of the store (its own and its prototypes', as they are now: a method replaced on the
 * store later is not seen, as `storeTraits` reads a store's members once) as `wrap` returns it, each
 * other property as a getter and setter of the store's own, read live (`state`, `capabilities`, `name`...).
 * Whatever else is read or written (an absent optional member, a property the store gains later) goes to the
 * store through the object's prototype, so nothing is ever written on the wrapper, and `instanceof` holds.
 */
function forwardingStore(target: CacheStore, wrap: (name: string | symbol, member: Member) => Member): CacheStore {
  const store = target as unknown as Record<PropertyKey, unknown>;
  const rest = new Proxy(store, {
    get: (_, name) => store[name],
    set: (_, name, value) => {
      store[name] = value;
      return true;
    },
  });
  const wrapper = Object.create(rest) as object;
  const seen = new Set<PropertyKey>();
  for (let level: object | null = target; level !== null && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    for (const name of Reflect.ownKeys(level)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const own = Object.getOwnPropertyDescriptor(level, name)!;
      if (name !== 'constructor' && typeof own.value === 'function') {
        Object.defineProperty(wrapper, name, { value: wrap(name, own.value as Member), enumerable: own.enumerable });
      } else {
        const get = () => store[name];
        const set = (value: unknown) => {
          store[name] = value;
        };
        Object.defineProperty(wrapper, name, { get, set, enumerable: own.enumerable });
      }
    }
  }
  return Object.preventExtensions(wrapper) as CacheStore;
}

/**
 * `member`, counted on every call; one call in `sinks.sampling` is timed, and every call gets a span while
 * a tracer is registered. The other calls go straight to the store: no clock read, no closure, the
 * arguments as they came.
 */
function counted(target: CacheStore, member: Member, name: string, count: OperationCount, redis: boolean, sinks: StoreSinks): Member {
  const observe = observed(target, member, name, count.attributes, redis, sinks);
  const every = sinks.sampling;
  // NOTE: a countdown per member, not Math.random: its first call is timed, then its (every + 1)th, ...
  let countdown = 1;
  if (sinks.tracer === undefined) {
    return (...args: unknown[]) => {
      count.count++;
      if (--countdown !== 0) return member.apply(target, args);
      countdown = every;
      return observe(args, true);
    };
  }
  // Spans are sampled by the tracer's sampler, not here: every call is observed, one in `every` timed.
  return (...args: unknown[]) => {
    count.count++;
    const time = --countdown === 0;
    if (time) countdown = every;
    return observe(args, time);
  };
}

/** Runs `member` with a span (while a tracer is registered) and, when `time`, records its duration. */
function observed(
  target: CacheStore,
  member: Member,
  name: string,
  attributes: Attributes,
  redis: boolean,
  sinks: StoreSinks,
): (args: unknown[], time: boolean) => unknown {
  const alias = attributes.store as string;
  const tier = attributes.tier as string;
  const command = redis ? REDIS_COMMANDS[name]! : name;
  const spanAttributes: Attributes = redis
    ? { 'db.system.name': 'redis', 'db.operation.name': command, 'tenant_cache.store': alias }
    : { 'db.operation.name': command, 'tenant_cache.store': alias };
  const { otel, duration, tracer } = sinks;
  // NOTE: the `...Then` members settle through their callbacks: wrapped so that no promise is added.
  const onError = name === 'getThen' ? 2 : name === 'setThen' ? 3 : -1;
  return (args, time) => {
    const started = time ? performance.now() : 0;
    const span =
      tracer === undefined
        ? undefined
        : tracer.startSpan(redis ? command : `${tier} ${command}`, {
            kind: otel.SpanKind.CLIENT,
            attributes: sinks.recordKeys && typeof args[0] === 'string' ? { ...spanAttributes, 'tenant_cache.key': args[0] } : spanAttributes,
          });
    let ended = false;
    const done = (error?: unknown) => {
      // NOTE: a `setThen` whose `onError` ran also resolves its promise: the call ends once.
      if (ended) return;
      ended = true;
      if (time) duration?.record((performance.now() - started) / 1000, attributes);
      if (span === undefined) return;
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: otel.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        span.setAttribute('error.type', error instanceof Error ? error.name : 'Error');
      }
      span.end();
    };
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
