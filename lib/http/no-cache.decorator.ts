import { NO_CACHE_METADATA } from './http.constants.js';

/**
 * Never serve this route (or controller) from the response cache, nor store it: `X-Cache: BYPASS`.
 * Wins over `@CacheResponse` on the controller. A guard or handler can do the same for one request
 * with `request.doNotCache = true`.
 *
 * @example
 * @NoCache() @Get('live') live() { ... }
 */
export function NoCache(): ClassDecorator & MethodDecorator {
  return (target: object, propertyKey?: string | symbol, descriptor?: PropertyDescriptor) => {
    Reflect.defineMetadata(NO_CACHE_METADATA, true, descriptor?.value ?? target);
    return descriptor as never;
  };
}
