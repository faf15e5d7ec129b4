export { TenantContext } from './tenant-context.js';
export { validateTenantId, DEFAULT_TENANT_ID_MAX_LENGTH, DEFAULT_TENANT_ID_PATTERN, type TenantIdRules } from './tenant-id.validator.js';
export type { TenantRequest, TenantResolver, TenantAuthorizer, TenantSource } from './tenant-resolver.interface.js';
export {
  fromHeader,
  fromSubdomain,
  fromJwtClaim,
  fromRouteParam,
  fromFunction,
  DEFAULT_TENANT_HEADER,
  type SubdomainResolverOptions,
  type FunctionResolverOptions,
} from './tenant-resolvers.js';
export { TenantGuard } from './tenant.guard.js';
export type { TenantOptions, TenantGuardOptions } from './tenant.options.js';
export { CurrentTenant, type CurrentTenantOptions } from './current-tenant.decorator.js';
export { SkipTenant, TenantOptional, TENANT_ROUTE_MODE, type TenantRouteMode } from './public-tenant.decorator.js';
export { TenantContextMiddleware } from './tenant-context.middleware.js';
export { DEFAULT_TENANT_CLS_KEY, type TenantClsStore } from './tenant-cls.js';
