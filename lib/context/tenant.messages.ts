/** Texts of the tenant guard's responses and logs, kept in one place. */
export const TenantMessages = {
  missing: (sources: readonly string[]) => `Missing tenant: this route needs a tenant id from ${sources.join(' or ')}.`,
  /** Added to `missing` when a trusted source (the verified user) had nothing because no user is set yet. */
  noUserYet: () =>
    ' The request has no authenticated user (yet): if an auth guard sets request.user, it must run before ' +
    'TenantGuard for the tenant to be read from it (register it as an APP_GUARD before TenantGuard, or write ' +
    '@UseGuards(AuthGuard, TenantGuard)).',
  invalid: (source: string, reason: string) => `${reason} (from ${source}).`,
  unknown: (tenantId: string) => `Unknown tenant ${quote(tenantId)}.`,
  notAuthorized: (tenantId: string) => `The authenticated user may not act for tenant ${quote(tenantId)}.`,
  untrustedRefused: (tenantId: string, source: string) =>
    `Tenant ${quote(tenantId)} comes from ${source}, which the client controls, and the server has no check ` +
    'that the authenticated user may act for it (tenant.authorize), so the request is refused.',
  untrustedLog: (source: string) =>
    `An authenticated request chose its tenant through ${source}, which the client controls, and ` +
    'tenant.authorize is not configured. TenantGuard refuses such requests (403) so that a spoofed value can ' +
    "neither read nor write another tenant's cache. Fix: configure tenant.authorize: (user, tenantId) => " +
    'boolean, or resolve the tenant from the verified token with fromJwtClaim(). (Logged once.)',
  scopeMissing: (tenantId: string) =>
    `TenantGuard resolved tenant ${quote(tenantId)} but no tenant scope is open for this request: the ` +
    'middleware is off (tenant.middleware: false). Turn it back on, apply TenantContextMiddleware to these routes, ' +
    'or hand in a nestjs-cls context whose middleware is mounted (tenant.cls = { store: clsService }).',
};

function quote(tenantId: string): string {
  return JSON.stringify(tenantId.length > 64 ? `${tenantId.slice(0, 64)}...` : tenantId);
}
