import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CachedMethodRegistry } from '../engine/cached-method.registry.js';
import type { CacheLookup } from '../engine/entry-reader.js';
import { CachedMethodDefinition, type ScopeResolver } from './cached-method.js';

/** The `@CacheResult` method `type.methodName` of the application, when there is one. */
export function cachedMethodOf(methods: CachedMethodRegistry, type: Function, methodName: string): CachedMethodDefinition | undefined {
  return methods.get(type, methodName, CachedMethodDefinition);
}

/** Names of the methods of `T` (the only names `cache.method(Type, name)` accepts). */
export type MethodName<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;

/**
 * Operations on the entries of one `@CacheResult` method, typed by its parameters and result. Got from
 * `cache.method(Type, 'name')`; acts for the tenant of the view it came from (the ambient tenant for
 * `TenantCacheService`, or `forTenant(id)`), or in the shared namespace for methods cached with
 * `scope: 'shared'`.
 *
 * @example
 * const profile = cache.method(UserService, 'getProfile');
 * await profile.invalidate(userId);
 * const { hit, cachedAt } = await profile.peek(userId);
 */
export class CachedMethod<A extends readonly unknown[], R, P extends object = Readonly<Record<string, unknown>>> {
  /** @internal */
  constructor(
    private readonly definition: CachedMethodDefinition,
    private readonly scopeOf: ScopeResolver,
  ) {}

  /** A call through the cache, with whether it was a hit and when the entry was written. A cached `null` is a hit. */
  async lookup(...args: A): Promise<CacheLookup<R>> {
    const def = this.valueMethod('lookup()');
    return (await def.fetch(def.instance, [...args], def.scopeFrom(this.scopeOf, 'lookup'), false)) as CacheLookup<R>;
  }

  /** The entry of a call, without running the method on a miss. */
  async peek(...args: A): Promise<CacheLookup<R>> {
    return (await this.valueMethod('peek()').peek([...args], this.definition.scopeFrom(this.scopeOf, 'peek'))) as CacheLookup<R>;
  }

  /** Deletes the entry of one call; true when it existed. A load of it in flight is not stored. */
  async invalidate(...args: A): Promise<boolean> {
    return this.definition.invalidate([...args], this.definition.scopeFrom(this.scopeOf, 'invalidate'));
  }

  /** Runs the method, stores the result (subject to `unless`/`cacheNullish`) and returns it. */
  async refresh(...args: A): Promise<R> {
    return (await this.valueMethod('refresh()').refresh([...args], this.definition.scopeFrom(this.scopeOf, 'refresh'))) as R;
  }

  /** Runs the method without reading or writing the cache. */
  async bypass(...args: A): Promise<R> {
    return (await this.definition.bypass([...args], this.definition.scopeFrom(this.scopeOf, 'bypass'))) as R;
  }

  /** The definition, refusing operations that read or write a single value on an `iterable` method. */
  private valueMethod(operation: string): CachedMethodDefinition {
    const def = this.definition;
    if (def.config.iterable) {
      throw new UnsupportedOperationError(
        def.config.store ?? 'default',
        `${operation} on ${def.name}`,
        'It caches an iterable: call the method to stream it, or invalidate(...args) to drop its entry.',
      );
    }
    return def;
  }

  /**
   * Deletes every entry sharing the given values of partition fields (any subset of them, by field
   * name); values are matched exactly, never as patterns. Resolves to how many entries existed.
   */
  async invalidatePartition(values: P): Promise<number> {
    return this.definition.invalidatePartition(values as Readonly<Record<string, unknown>>, this.definition.scopeFrom(this.scopeOf, 'invalidatePartition'));
  }

  /** Deletes every entry of the method in this scope; resolves to how many existed. */
  async invalidateAll(): Promise<number> {
    return this.definition.invalidateAll(this.definition.scopeFrom(this.scopeOf, 'invalidateAll'));
  }

  /** Deletes the entries left by earlier versions (or shapes) of the method's key constructor. */
  async purgeOldVersions(): Promise<number> {
    return this.definition.purgeOldVersions(this.definition.scopeFrom(this.scopeOf, 'purgeOldVersions'));
  }
}
