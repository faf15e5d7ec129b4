import {
  BadRequestException,
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';
import { TenantScopeMissingError } from '../errors/tenant-scope-missing.error.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { NormalizedTenantCacheOptions } from '../tenant-cache.options.js';
import { TENANT_ROUTE_MODE, type TenantRouteMode } from './public-tenant.decorator.js';
import { TenantMessages } from './tenant.messages.js';
import { DEFAULT_TENANT_CLS_KEY } from './tenant-cls.js';
import { TenantContext } from './tenant-context.js';
import { validateTenantId } from './tenant-id.validator.js';
import type { TenantRequest, TenantResolver, TenantSource } from './tenant-resolver.interface.js';
import { fromHeader, sourceOf } from './tenant-resolvers.js';

/**
 * Resolves, validates and authorizes the tenant of an HTTP request, then puts it in the request's
 * tenant scope (and on `request.tenantId`). Use it globally (`APP_GUARD`) or per route
 * (`@UseGuards(TenantGuard)`); `@SkipTenant()` / `@TenantOptional()` opt routes out.
 *
 * Responses: no tenant -> 400 naming the expected source; malformed id -> 400 with the reason;
 * `isKnownTenant` false -> 403; authenticated user refused by `authorize` -> 403.
 *
 * Trust: a header, host or path is chosen by the client. When `request.user` is set (an auth guard
 * verified the caller), the guard calls `tenant.authorize(user, tenantId)`; when no `authorize` is
 * configured it accepts the tenant only from a trusted source (`fromJwtClaim()`) and refuses a
 * client-controlled one with 403, logging once how to fix the set-up. Anonymous requests are not
 * checked, so the auth guard must run first: register it as an `APP_GUARD` before this one, or
 * write `@UseGuards(AuthGuard, TenantGuard)`.
 *
 * Non-HTTP contexts (RPC, WebSocket) pass through untouched: their handlers set the tenant with
 * `TenantContext.run`, and cache calls without one fail with `TenantContextMissingError`.
 *
 * @example
 * providers: [{ provide: APP_GUARD, useClass: JwtAuthGuard }, { provide: APP_GUARD, useClass: TenantGuard }]
 */
@Injectable()
export class TenantGuard implements CanActivate {
  private readonly logger = new Logger(TenantGuard.name);
  private readonly resolvers: readonly TenantResolver[];
  private readonly sources: readonly TenantSource[];
  private warnedUntrusted = false;

  constructor(
    @Inject(TENANT_CACHE_OPTIONS) private readonly options: NormalizedTenantCacheOptions,
    private readonly reflector: Reflector,
  ) {
    const configured = options.tenant.resolver;
    const list = configured === undefined ? [] : typeof configured === 'function' ? [configured] : [...configured];
    this.resolvers = list.length > 0 ? list : [fromHeader()];
    this.sources = this.resolvers.map(sourceOf);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const mode = this.reflector.getAllAndOverride<TenantRouteMode | undefined>(TENANT_ROUTE_MODE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (mode === 'skip') return true;
    const request = context.switchToHttp().getRequest<TenantRequest>();
    const found = await this.resolve(request);
    if (found === undefined) {
      if (mode === 'optional') return true;
      throw new BadRequestException(TenantMessages.missing(this.sources.map((s) => s.description)));
    }
    const { tenantId, source } = found;
    try {
      validateTenantId(tenantId, this.options.tenant);
    } catch (error) {
      if (error instanceof InvalidTenantIdError) throw new BadRequestException(TenantMessages.invalid(source.description, error.message));
      throw error;
    }
    await this.authorize(request, tenantId, source);
    const { isKnownTenant } = this.options.tenant;
    if (isKnownTenant && !(await isKnownTenant(tenantId))) throw new ForbiddenException(TenantMessages.unknown(tenantId));
    this.enter(request, tenantId);
    return true;
  }

  private async resolve(request: TenantRequest): Promise<{ tenantId: unknown; source: TenantSource } | undefined> {
    for (let i = 0; i < this.resolvers.length; i++) {
      const source = this.sources[i]!;
      let tenantId: unknown;
      try {
        tenantId = await this.resolvers[i]!(request);
      } catch (error) {
        if (error instanceof InvalidTenantIdError) throw new BadRequestException(TenantMessages.invalid(source.description, error.message));
        throw error;
      }
      if (tenantId !== undefined && tenantId !== null) return { tenantId, source };
    }
    return undefined;
  }

  private async authorize(request: TenantRequest, tenantId: string, source: TenantSource): Promise<void> {
    const { user } = request;
    if (user === undefined || user === null || user === false) return;
    const { authorize } = this.options.tenant;
    if (authorize) {
      if (!(await authorize(user, tenantId, request))) throw new ForbiddenException(TenantMessages.notAuthorized(tenantId));
      return;
    }
    if (source.trusted) return;
    if (!this.warnedUntrusted) {
      this.warnedUntrusted = true;
      this.logger.error(TenantMessages.untrustedLog(source.description));
    }
    throw new ForbiddenException(TenantMessages.untrustedRefused(tenantId, source.description));
  }

  private enter(request: TenantRequest, tenantId: string): void {
    request.tenantId = tenantId;
    const cls = this.options.tenant.cls;
    const clsActive = cls?.store.set !== undefined && cls.store.isActive?.() !== false;
    if (clsActive) cls.store.set!(cls.key ?? DEFAULT_TENANT_CLS_KEY, tenantId);
    if (!TenantContext.assign(tenantId) && !clsActive) {
      throw new TenantScopeMissingError(TenantMessages.scopeMissing(tenantId), tenantId);
    }
  }
}
