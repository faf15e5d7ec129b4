import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { CacheEvictOptions } from './cache-evict.decorator.js';
import type { CacheResultOptions } from './cache-result.decorator.js';
import { CACHE_EVICT_METADATA, CACHE_RESULT_METADATA } from './tenant-cache-decorators.constants.js';

/** Options as recorded by the decorators, before validation. */
export type RecordedCacheResult = CacheResultOptions<readonly unknown[], unknown>;
export type RecordedCacheEvict = CacheEvictOptions<readonly unknown[], object, string, readonly unknown[]>;

/**
 * The one place decorator metadata is read, through Nest's `Reflector`: from the method function
 * first, then from (prototype, method name), where it survives another decorator replacing the function.
 */
@Injectable()
export class TenantCacheMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  cacheResult(prototype: object, methodName: string): RecordedCacheResult | undefined {
    return this.read<RecordedCacheResult>(CACHE_RESULT_METADATA, prototype, methodName);
  }

  cacheEvict(prototype: object, methodName: string): readonly RecordedCacheEvict[] | undefined {
    return this.read<readonly RecordedCacheEvict[]>(CACHE_EVICT_METADATA, prototype, methodName);
  }

  /** The parameter types TypeScript emitted for a method (`design:paramtypes`), when it did. */
  paramTypes(prototype: object, methodName: string): readonly unknown[] | undefined {
    return Reflect.getMetadata('design:paramtypes', prototype, methodName) as unknown[] | undefined;
  }

  private read<T>(key: string, prototype: object, methodName: string): T | undefined {
    const fn = (prototype as Record<string, unknown>)[methodName];
    const onFunction = typeof fn === 'function' ? this.reflector.get<T>(key, fn) : undefined;
    if (onFunction !== undefined) return onFunction;
    // Only the class that defines the method counts: an override without the decorator is not cached.
    let owner: object | null = prototype;
    while (owner && !Object.prototype.hasOwnProperty.call(owner, methodName)) owner = Object.getPrototypeOf(owner) as object | null;
    return owner ? (Reflect.getOwnMetadata(key, owner, methodName) as T | undefined) : undefined;
  }
}
