import { Injectable, type NestMiddleware } from '@nestjs/common';
import { TenantContext } from './tenant-context.js';

/**
 * Opens an empty tenant scope around the rest of each HTTP request (Express and Fastify), which
 * `TenantGuard` then fills. `TenantCacheModule` applies it to every route unless
 * `tenant.middleware: false`. It uses `AsyncLocalStorage.run`, never `enterWith`, so a request
 * can never observe the tenant of an earlier one on the same connection.
 *
 * @example
 * consumer.apply(TenantContextMiddleware).forRoutes('{*splat}') // only needed with tenant.middleware: false
 */
@Injectable()
export class TenantContextMiddleware implements NestMiddleware {
  use(_request: unknown, _response: unknown, next: (error?: unknown) => void): void {
    TenantContext.openScope(() => next());
  }
}
