/** The HTTP request as the guard sees it (Express or Fastify), narrowed to what resolvers read. */
export interface TenantRequest {
  headers: Record<string, string | string[] | undefined>;
  hostname?: string;
  host?: string;
  params?: Record<string, string | undefined>;
  user?: unknown;
  [key: string]: unknown;
}

/** Finds the tenant id of a request; `undefined` when this resolver has no answer. */
export type TenantResolver = (request: TenantRequest) => string | undefined | Promise<string | undefined>;

/** Checks that an authenticated user may act for a tenant (runs when `request.user` is set). */
export type TenantAuthorizer = (user: unknown, tenantId: string, request: TenantRequest) => boolean | Promise<boolean>;
