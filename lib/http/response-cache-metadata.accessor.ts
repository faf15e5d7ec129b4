import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { CacheResponseOptions } from './cache-response.decorator.js';
import { CACHE_RESPONSE_METADATA, NO_CACHE_METADATA } from './http.constants.js';

/** Nest's metadata keys (strings: `@nestjs/common/constants` is not a public entry point). */
const ROUTE_ARGS_METADATA = '__routeArguments__';
const RESPONSE_PASSTHROUGH_METADATA = '__responsePassthrough__';
/** Handlers Nest answers in its own way (`@Sse()`, `@Render()`, `@Redirect()`): nothing to store or replay. */
const SELF_ANSWERING_METADATA = ['__sse__', '__renderTemplate__', '__redirect__'];
const RESPONSE_PARAM = 1;
const NEXT_PARAM = 2;

/**
 * The one place the response cache reads route metadata, through Nest's `Reflector`: `@CacheResponse`
 * and `@NoCache()` (on the method, else the controller), and Nest's own marks of a handler that sends
 * its response itself.
 */
@Injectable()
export class ResponseCacheMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  /** The `@CacheResponse` options of a route: the method's, else the controller's. */
  cacheResponse(handler: Function, type: Function): CacheResponseOptions | undefined {
    return this.reflector.getAllAndOverride<CacheResponseOptions | undefined>(CACHE_RESPONSE_METADATA, [handler, type]);
  }

  /** The `@CacheResponse` options recorded on one target (a method function or a controller class). */
  cacheResponseOn(target: Function): CacheResponseOptions | undefined {
    return this.reflector.get<CacheResponseOptions | undefined>(CACHE_RESPONSE_METADATA, target);
  }

  /** `@NoCache()` on the method or the controller. */
  noCache(handler: Function, type: Function): boolean {
    return this.reflector.getAllAndOverride<boolean>(NO_CACHE_METADATA, [handler, type]) === true;
  }

  /**
   * Whether a handler sends its response itself: it injects the response (`@Res()`) or `@Next()` without
   * `passthrough`, or is an `@Sse()`, `@Render()` or `@Redirect()` route. There is nothing the interceptor
   * could store or replay: it passes through (`X-Cache: BYPASS`).
   */
  ownsResponse(type: abstract new (...args: never[]) => unknown, methodName: string): boolean {
    const fn = (type.prototype as Record<string, unknown>)[methodName];
    if (typeof fn === 'function' && SELF_ANSWERING_METADATA.some((key) => Reflect.getMetadata(key, fn) !== undefined)) return true;
    let owner: object | null = type.prototype as object;
    while (owner && !Object.prototype.hasOwnProperty.call(owner, methodName)) owner = Object.getPrototypeOf(owner) as object | null;
    const host = (owner as { constructor?: object } | null)?.constructor ?? type;
    const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, host, methodName) as Record<string, unknown> | undefined;
    if (!args) return false;
    const injects = Object.keys(args).some((k) => k.startsWith(`${RESPONSE_PARAM}:`) || k.startsWith(`${NEXT_PARAM}:`));
    return injects && Reflect.getMetadata(RESPONSE_PASSTHROUGH_METADATA, host, methodName) !== true;
  }
}
