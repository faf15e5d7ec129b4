/** The HTTP request as the guard sees it (Express or Fastify), narrowed to what resolvers read. */
export interface TenantRequest {
  headers: Record<string, string | string[] | undefined>;
  hostname?: string;
  host?: string;
  params?: Record<string, string | undefined>;
  user?: unknown;
  [key: string]: unknown;
}

/**
 * Where a resolver reads the tenant, for error messages and for the trust decision of `TenantGuard`.
 * `trusted` is true only when the value cannot be chosen by the client (e.g. a claim of a token the
 * app's auth guard has verified); headers, hosts and paths are client-controlled.
 */
export interface TenantSource {
  /** Human-readable origin, e.g. `header "x-tenant-id"`. */
  readonly description: string;
  readonly trusted: boolean;
}

/**
 * Finds the tenant id of a request; `undefined` when this resolver has no answer.
 * Plain (sync or async) functions are resolvers too; they count as client-controlled unless
 * wrapped with `fromFunction(fn, { trusted: true })`.
 */
export interface TenantResolver {
  (request: TenantRequest): string | undefined | Promise<string | undefined>;
  /** Set by the built-in resolvers; absent on plain functions. */
  readonly tenantSource?: TenantSource;
}

/**
 * Checks that an authenticated user may act for a tenant (runs when `request.user` is set). `TUser`
 * is the type of `request.user` (default `unknown`).
 *
 * @example
 * const authorize: TenantAuthorizer<JwtUser> = (user, tenantId) => user.orgs.includes(tenantId);
 */
export type TenantAuthorizer<TUser = unknown> = (user: TUser, tenantId: string, request: TenantRequest) => boolean | Promise<boolean>;
