import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';
import type { TenantRequest, TenantResolver, TenantSource } from './tenant-resolver.interface.js';

/** Default header of `fromHeader()`. */
export const DEFAULT_TENANT_HEADER = 'x-tenant-id';

/**
 * Reads the tenant from a request header (client-controlled). An empty header counts as absent;
 * a header sent twice is refused.
 *
 * @example
 * TenantCacheModule.forRoot({ tenant: { resolver: fromHeader('x-org') } })
 */
export function fromHeader(name: string = DEFAULT_TENANT_HEADER): TenantResolver {
  if (typeof name !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
    throw badResolver(`fromHeader(${JSON.stringify(name)}) names no valid header`, 'Write fromHeader("x-tenant-id").');
  }
  const header = name.toLowerCase();
  return withSource(
    (request) => {
      const value = request.headers[header];
      if (Array.isArray(value)) {
        throw new InvalidTenantIdError(`the "${header}" header was sent ${value.length} times`, value);
      }
      return value === '' ? undefined : value;
    },
    { description: `header "${header}"`, trusted: false },
  );
}

/** Options of `fromSubdomain`. */
export interface SubdomainResolverOptions {
  /**
   * The domain tenants live under: `acme.app.example.com` with `baseDomain: 'app.example.com'` is `acme`.
   * Exactly one label must precede it (`www.acme.app.example.com` and `app.example.com` have no tenant).
   */
  baseDomain?: string;
  /**
   * Without `baseDomain`: which label of the host is the tenant (0 = leftmost, the default).
   * Hosts with fewer than three labels have none.
   */
  index?: number;
}

/**
 * Reads the tenant from the request host (client-controlled: the `Host` header, or `X-Forwarded-Host`
 * behind a trusted proxy). IP addresses have no subdomain; the result is lower-cased.
 *
 * @example
 * fromSubdomain({ baseDomain: 'shop.example.com' }) // acme.shop.example.com -> "acme"
 */
export function fromSubdomain(options: SubdomainResolverOptions = {}): TenantResolver {
  const base = options.baseDomain?.toLowerCase().replace(/^\.+|\.+$/g, '');
  if (options.baseDomain !== undefined && (typeof options.baseDomain !== 'string' || !base)) {
    throw badResolver(`fromSubdomain({ baseDomain: ${JSON.stringify(options.baseDomain)} }) is empty`, 'Give the parent domain, e.g. "example.com".');
  }
  const index = options.index ?? 0;
  if (!Number.isInteger(index) || index < 0) {
    throw badResolver(`fromSubdomain({ index: ${String(options.index)} }) is not a label position`, 'Give an integer >= 0 (0 = leftmost label).');
  }
  return withSource(
    (request) => {
      const host = hostOf(request);
      if (host === undefined) return undefined;
      if (base !== undefined) {
        if (!host.endsWith(`.${base}`)) return undefined;
        const sub = host.slice(0, -base.length - 1);
        return sub === '' || sub.includes('.') ? undefined : sub;
      }
      const labels = host.split('.');
      if (labels.length < 3 || index >= labels.length - 2) return undefined;
      return labels[index] || undefined;
    },
    { description: base ? `subdomain of "${base}"` : `subdomain (label ${index} of the host)`, trusted: false },
  );
}

/**
 * Reads the tenant from a claim of `request.user`, the payload an auth guard (e.g. Passport's JWT
 * strategy) has already verified. It never decodes a token itself: without a verified user it has no
 * answer. This is the trusted source; `claim` may be a path (`['org', 'id']`). Numbers are stringified.
 *
 * @example
 * TenantCacheModule.forRoot({ tenant: { resolver: fromJwtClaim('tid') } })
 */
export function fromJwtClaim(claim: string | readonly string[] = 'tenantId'): TenantResolver {
  const path = typeof claim === 'string' ? [claim] : [...claim];
  if (path.length === 0 || path.some((p) => typeof p !== 'string' || p === '' || p in Object.prototype)) {
    throw badResolver(`fromJwtClaim(${JSON.stringify(claim)}) names no claim`, 'Write fromJwtClaim("tenantId").');
  }
  const name = path.join('.');
  return withSource(
    (request) => {
      let value: unknown = request.user;
      for (const segment of path) {
        // NOTE: `in`, not hasOwn: user classes may expose claims as getters. Object.prototype names are refused above.
        if (value === null || typeof value !== 'object' || !(segment in value)) return undefined;
        value = (value as Record<string, unknown>)[segment];
      }
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'string') return value;
      if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
      const kind = Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      throw new InvalidTenantIdError(`claim "${name}" of the authenticated user is ${kind}, not a string`, value);
    },
    { description: `claim "${name}" of the authenticated user`, trusted: true },
  );
}

/**
 * Reads the tenant from a route parameter (client-controlled), e.g. `/tenants/:tenantId/products`.
 *
 * @example
 * fromRouteParam('org')
 */
export function fromRouteParam(name = 'tenantId'): TenantResolver {
  if (typeof name !== 'string' || name === '') {
    throw badResolver(`fromRouteParam(${JSON.stringify(name)}) names no parameter`, 'Write fromRouteParam("tenantId").');
  }
  return withSource((request) => request.params?.[name] || undefined, {
    description: `route parameter ":${name}"`,
    trusted: false,
  });
}

/** Options of `fromFunction`. */
export interface FunctionResolverOptions {
  /** Shown in error messages, e.g. `"api key lookup"`. Default: the function's name. */
  description?: string;
  /**
   * True when the function reads only what the client cannot choose (e.g. a verified session).
   * Trusted sources skip the "authenticated user without `authorize`" refusal. Default false.
   */
  trusted?: boolean;
}

/**
 * A custom (sync or async) resolver with a description and a trust flag. A plain function works
 * too, but counts as client-controlled.
 *
 * @example
 * const byApiKey = async (req: TenantRequest) => (await apiKeys.find(req.headers['x-api-key']))?.tenantId;
 * fromFunction(byApiKey, { description: 'API key', trusted: true })
 */
export function fromFunction(fn: ResolveFn, options: FunctionResolverOptions = {}): TenantResolver {
  if (typeof fn !== 'function') throw badResolver('fromFunction() was given no function', 'Pass (request) => tenantId | undefined.');
  return withSource((request) => fn(request), {
    description: options.description ?? `resolver "${fn.name || 'anonymous'}"`,
    trusted: options.trusted === true,
  });
}

/** What the guard says about a resolver: its source, or a client-controlled custom source for plain functions. */
export function sourceOf(resolver: TenantResolver): TenantSource {
  return resolver.tenantSource ?? { description: `resolver "${resolver.name || 'anonymous'}"`, trusted: false };
}

type ResolveFn = (request: TenantRequest) => string | undefined | Promise<string | undefined>;

function withSource(fn: ResolveFn, source: TenantSource): TenantResolver {
  return Object.assign(fn, { tenantSource: Object.freeze(source) });
}

function badResolver(problem: string, fix: string): InvalidOptionsError {
  return new InvalidOptionsError('tenant.resolver', problem, fix);
}

function hostOf(request: TenantRequest): string | undefined {
  const raw = typeof request.hostname === 'string' && request.hostname !== '' ? request.hostname : request.headers.host;
  if (typeof raw !== 'string' || raw === '' || raw.startsWith('[')) return undefined;
  const host = raw.split(':')[0]!.toLowerCase().replace(/\.$/, '');
  return /^\d+(\.\d+){3}$/.test(host) ? undefined : host;
}
