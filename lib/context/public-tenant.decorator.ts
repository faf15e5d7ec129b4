import { SetMetadata } from '@nestjs/common';
import { METADATA_PREFIX } from '../tenant-cache.constants.js';

/** Metadata key of the tenant requirement of a route or controller. */
export const TENANT_ROUTE_MODE = `${METADATA_PREFIX}tenant_route_mode`;

/** `skip`: the guard does nothing; `optional`: a tenant is used when sent, and its absence is no error. */
export type TenantRouteMode = 'skip' | 'optional';

/**
 * Marks a route or controller as tenant-less (health checks, login, public pages): `TenantGuard`
 * lets it through without resolving a tenant, and cache calls there need `shared()` or `forTenant()`.
 * A method's marker beats its controller's.
 *
 * @example
 * @SkipTenant() @Get('health') health() { return 'ok'; }
 */
export const SkipTenant = (): MethodDecorator & ClassDecorator => SetMetadata(TENANT_ROUTE_MODE, 'skip' satisfies TenantRouteMode);

/**
 * Marks a route or controller whose tenant is optional: when the request names one it is validated,
 * authorized and put in context as usual (a bad one is still refused); when it names none the
 * route runs without a tenant.
 *
 * @example
 * @TenantOptional() @Get('catalogue') list(@CurrentTenant({ optional: true }) tenant?: string) {}
 */
export const TenantOptional = (): MethodDecorator & ClassDecorator => SetMetadata(TENANT_ROUTE_MODE, 'optional' satisfies TenantRouteMode);
