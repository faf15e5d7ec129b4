import type { Type } from '@nestjs/common';
import type { MethodName } from '../service/cached-method.handle.js';
import type { TagSpec } from '../engine/tags.js';
import type { AcceptsArguments } from './cache-result.decorator.js';
import { CACHE_EVICT_METADATA } from './tenant-cache-decorators.constants.js';

/**
 * Options of `@CacheEvict`. `A` is the decorated (writing) method's parameter tuple; `T` the class of
 * the cached method to evict from (default: the decorated method's own class); `N` that method's
 * name; `R` its parameter tuple.
 */
export interface CacheEvictOptions<
  A extends readonly unknown[] = readonly unknown[],
  T extends object = never,
  N extends string = never,
  R extends readonly unknown[] = never,
> {
  /** Class of the cached method, or a function returning it (for classes defined later). Default: this method's class. */
  target?: Type<T> | (() => Type<T>);
  /** The `@CacheResult` method whose entries to invalidate. */
  method?: N;
  /** Invalidate the entry of the call with these arguments (computed from this method's). Default: the same arguments. */
  args?: (...args: A) => R;
  /** Invalidate a partition instead: values of the method's partition fields, by field name. */
  partition?: (...args: A) => Readonly<Record<string, unknown>>;
  /** Invalidate every entry of the method (in the current tenant). */
  allEntries?: boolean;
  /** Tags to invalidate: names, `versioned(name)`, or functions of this method's arguments. */
  tags?: readonly TagSpec<A>[];
  /** Scope of `tags`: `tenant` (default) or `shared`. */
  scope?: 'tenant' | 'shared';
  /** Store alias of `tags`; default the tenant's route. */
  store?: string;
  /** Invalidate before the method runs (and whether it fails). Default false: only after it succeeds. */
  beforeInvocation?: boolean;
}

type EvictTargetCheck<T, N extends string, R extends readonly unknown[]> = [N] extends [never]
  ? object
  : [T] extends [never]
    ? { [K in N]: (...args: R) => unknown }
    : object;

/** The decorator `@CacheEvict(...)` returns; the compiler checks the method name and the arguments it maps to. */
export type CacheEvictDecorator<A extends readonly unknown[], T, N extends string, R extends readonly unknown[]> = <
  M extends (...args: never[]) => unknown,
  C extends EvictTargetCheck<T, N, [R] extends [never] ? Parameters<M> : R> & AcceptsArguments<A, M>,
>(
  target: C,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

/**
 * Invalidates cache entries when a (writing) method succeeds: entries of a cached method addressed by
 * arguments, a partition, all of its entries, and/or tags. Eviction targets are computed from the
 * arguments before the method runs (so a bad tag function fails the call before any write), and
 * applied after it resolves; a method that throws evicts nothing unless `beforeInvocation` is set.
 * A cache that is down does not fail the method: the eviction is logged and emitted instead.
 * Several `@CacheEvict` may decorate one method.
 *
 * @example
 * @CacheEvict({ method: 'getProduct', args: (id: string) => [id], tags: [versioned('catalog')] })
 * async updateProduct(id: string, dto: UpdateProductDto) { ... }
 */
export function CacheEvict<A extends readonly unknown[] = readonly unknown[], T extends object = never, N extends string = never>(
  options: CacheEvictOptions<A, T, N, never> & { method: NoInfer<MethodOf<T, N>> } & (
      { partition: (...args: A) => Readonly<Record<string, unknown>> } | { allEntries: true }
    ),
): CacheEvictDecorator<A, T, N, never[]>;
export function CacheEvict<A extends readonly unknown[] = readonly unknown[], T extends object = never, N extends string = never, R extends readonly unknown[] = never>(
  options: CacheEvictOptions<A, T, N, R> & { method?: NoInfer<MethodOf<T, N>>; partition?: undefined; allEntries?: false },
): CacheEvictDecorator<A, T, N, R>;
export function CacheEvict(options: CacheEvictOptions<readonly unknown[], object, string, readonly unknown[]>): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const fn = descriptor.value;
    const previous = (Reflect.getMetadata(CACHE_EVICT_METADATA, target, propertyKey) as unknown[] | undefined) ?? [];
    const all = [...previous, options];
    if (typeof fn === 'function') Reflect.defineMetadata(CACHE_EVICT_METADATA, all, fn);
    Reflect.defineMetadata(CACHE_EVICT_METADATA, all, target, propertyKey);
  };
}

type MethodOf<T, N extends string> = [T] extends [never] ? N : MethodName<T>;
