import type { CodecCallOptions } from '../codec/codec.options.js';
import type { FailSafeOptions } from '../engine/fail-safe.js';
import type { SingleFlightOption } from '../engine/single-flight.options.js';
import type { KeyConstructorType, KeyFunction } from '../keys/key-constructor.js';
import type { TagSpec } from '../engine/tags.js';
import type { InvalidationRule } from '../invalidation/invalidation-rule.js';
import { CACHE_RESULT_METADATA } from './tenant-cache-decorators.constants.js';

/** Options of `@CacheResult`. `A` is the method's parameter tuple, `R` its (awaited) result. */
export interface CacheResultOptions<A extends readonly unknown[] = readonly unknown[], R = unknown> extends FailSafeOptions {
  /**
   * How the key is built: a `KeyConstructor` subclass (checked against the method's parameters), or a
   * function of the arguments returning a string. Default: every argument, canonically encoded.
   * Keys are always namespaced by the method (`ClassName.methodName`) and the tenant.
   */
  key?: KeyConstructorType<A> | KeyFunction<A>;
  /** Namespace of the keys when `key` is a function or omitted (a key constructor sets its own). */
  namespace?: string;
  /** Where concurrent misses share one load: `'process'` or `'cluster'` (or options), over the module's `singleFlight`. */
  singleFlight?: SingleFlightOption;
  /** TTL in ms. Omitted: the module's `defaultTtl`. `0` or `Infinity`: no expiry. */
  ttl?: number;
  /** Tags of every entry: names, `versioned(name)`, or functions of the arguments returning some. */
  tags?: readonly TagSpec<A>[];
  /** Return true to keep a result out of the cache (it is still returned). */
  unless?: (result: R) => boolean;
  /** Return false to call the method without the cache at all (no read, no write). */
  condition?: (...args: A) => boolean;
  /** Cache `null` and `undefined` results too. Default false. */
  cacheNullish?: boolean;
  /** `tenant` (default): one entry per tenant. `shared`: one entry for all tenants (no tenant needed). */
  scope?: 'tenant' | 'shared';
  /** Store alias; default the tenant's route. */
  store?: string;
  /** Compression, encryption or chunk size of this method's entries, over the store's codec. */
  codec?: CodecCallOptions;
  /** `false`: on a `tieredStore`, read and write Redis only (see `GetOrSetOptions.l1`). */
  l1?: boolean;
  /**
   * The method returns an async iterable (e.g. an `async *` generator): its items are streamed to the
   * caller while stored, and replayed page by page on a hit (see `memoizeIterable`). `true` or
   * `{ pageBytes }`. Not combinable with `tags`, `unless` and `cacheNullish`.
   */
  iterable?: boolean | { pageBytes?: number };
  /**
   * Entity changes that make this method's entries stale (see docs/invalidation.md): each rule names
   * an entity, the events, and how the row addresses entries (`fields: { keyField: 'column' }`).
   */
  invalidatesOn?: readonly InvalidationRule[];
}

/** The decorator `@CacheResult({ iterable: true, ... })` returns: accepts only methods returning an async iterable. */
export type CacheIterableDecorator<A extends readonly unknown[]> = <M extends (...args: never[]) => AsyncIterable<unknown>>(
  target: AcceptsArguments<A, M>,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

/**
 * Fails the compile, with this property's name as the message, when the option functions (key, tags,
 * condition) cannot take the decorated method's arguments.
 */
export type AcceptsArguments<A extends readonly unknown[], M> = M extends (...args: infer P) => unknown
  ? ((...args: A) => unknown) extends (...args: P) => unknown
    ? object
    : { "the key or option functions do not take this method's parameters": never }
  : never;

/**
 * Fails the compile when the method is declared to return a plain `T`: the wrapper returns a Promise,
 * so the declaration must say `Promise<T>` (or `T | Promise<T>`).
 */
export type ReturnsPromise<M> = M extends (...args: never[]) => infer T
  ? Promise<Awaited<T>> extends T
    ? object
    : { 'a cached method returns a Promise: declare its result as Promise<T> or T | Promise<T>': never }
  : never;

/** The decorator `@CacheResult(...)` returns: accepts only methods whose parameters match the key's. */
export type CacheResultDecorator<A extends readonly unknown[], R> = <M extends (...args: never[]) => R | PromiseLike<R>>(
  target: AcceptsArguments<A, M> & ReturnsPromise<M>,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

/**
 * Caches a provider method's result per tenant. Only records metadata: the module's explorer wraps the
 * method of each provider instance at start-up, so `new MyService()` outside Nest stays uncached.
 * The wrapped method always returns a Promise; concurrent calls with the same key share one run; a
 * cache that is down makes the method run uncached (logged, and emitted as `store:error`).
 *
 * @example
 * @CacheResult({ key: ProductKey, ttl: 60_000, tags: ['products', (id: string) => `product:${id}`] })
 * async getProduct(id: string): Promise<Product> { ... }
 */
export function CacheResult<A extends readonly unknown[] = readonly unknown[]>(
  options: Omit<CacheResultOptions<A>, 'iterable' | 'tags' | 'unless' | 'cacheNullish'> & { iterable: true | { pageBytes?: number } },
): CacheIterableDecorator<A>;
export function CacheResult<A extends readonly unknown[] = readonly unknown[], R = unknown>(options?: CacheResultOptions<A, R>): CacheResultDecorator<A, R>;
export function CacheResult(options: CacheResultOptions = {}): (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => void {
  return (target, propertyKey, descriptor) => {
    // NOTE: recorded on the function (what Reflector reads) and on (prototype, name), which survives
    // a later decorator replacing the function.
    if (typeof descriptor.value === 'function') Reflect.defineMetadata(CACHE_RESULT_METADATA, options, descriptor.value);
    Reflect.defineMetadata(CACHE_RESULT_METADATA, options, target, propertyKey);
  };
}
