import { createParamDecorator, type ExecutionContext, type PipeTransform, type Type } from '@nestjs/common';
import { TenantContextMissingError } from '../errors/tenant-context-missing.error.js';
import { TenantContext } from './tenant-context.js';
import { requestOf } from './tenant-request.js';

/** Options of `@CurrentTenant()`. */
export interface CurrentTenantOptions {
  /** Give `undefined` instead of throwing when the request has no tenant (routes marked `@TenantOptional()`). */
  optional?: boolean;
}

// Typed explicitly: the inferred type names `ParameterDecoratorOptions`, which Nest 11's
// @nestjs/common does not export, so the published .d.ts broke Nest 11 apps with skipLibCheck off.
/**
 * Injects the tenant id `TenantGuard` resolved for this request. Throws `TenantContextMissingError`
 * (a 500: the route is not behind the guard) when there is none, unless `{ optional: true }`.
 *
 * @example
 * @Get('me') me(@CurrentTenant() tenantId: string) { return { tenantId }; }
 */
export const CurrentTenant: (...dataOrPipes: (CurrentTenantOptions | PipeTransform | Type<PipeTransform> | undefined)[]) => ParameterDecorator = createParamDecorator(
  (options: CurrentTenantOptions | undefined, context: ExecutionContext) => {
    // NOTE: pipes run after every guard: an async check TenantGuard had to defer is awaited here (Nest awaits a promised argument).
    const pending = TenantContext.pendingCheck();
    if (pending !== undefined) return pending.then(() => currentTenant(options, context));
    return currentTenant(options, context);
  },
);

function currentTenant(options: CurrentTenantOptions | undefined, context: ExecutionContext): string | undefined {
  let tenantId = TenantContext.current();
  if (tenantId === undefined) {
    const fromRequest = requestOf(context)?.tenantId;
    if (typeof fromRequest === 'string') tenantId = fromRequest;
  }
  if (tenantId === undefined && options?.optional !== true) throw new TenantContextMissingError('@CurrentTenant()');
  return tenantId;
}
