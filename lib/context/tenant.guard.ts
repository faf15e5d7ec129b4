import { BadRequestException, type CanActivate, type ExecutionContext, ForbiddenException, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';
import { TenantScopeMissingError } from '../errors/tenant-scope-missing.error.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import { TENANT_ROUTE_MODE, type TenantRouteMode } from './public-tenant.decorator.js';
import { TenantMessages } from './tenant.messages.js';
import { DeferredTenantCheck, deferRequestTenant } from './tenant-check.js';
import { DEFAULT_TENANT_CLS_KEY, TENANT_CLS_CHECK_KEY } from './tenant-cls.js';
import { TenantContext } from './tenant-context.js';
import { validateTenantId } from './tenant-id.validator.js';
import type { TenantRequest, TenantResolver, TenantSource } from './tenant-resolver.interface.js';
import type { TenantGuardOptions } from './tenant.options.js';
import { fromHeader, sourceOf } from './tenant-resolvers.js';
import { requestOf } from './tenant-request.js';

/**
 * Resolves, validates and authorizes the tenant of an HTTP (or GraphQL) request, then puts it in the
 * request's tenant scope (and on `request.tenantId`). Use it globally (`APP_GUARD`) or per route
 * (`@UseGuards(TenantGuard)`); `@SkipTenant()` / `@TenantOptional()` opt routes out.
 *
 * Responses: no tenant -> 400 naming the expected source; malformed id -> 400 with the reason;
 * `isKnownTenant` false -> 403; authenticated user refused by `authorize` -> 403.
 *
 * Trust: a header, host or path is chosen by the client. For an authenticated request (`request.user`
 * set by an auth guard) the tenant must pass `tenant.authorize(user, tenantId)`; without `authorize`
 * it is accepted only from a trusted source (`fromJwtClaim()`), a client-controlled one is refused
 * with 403 (logged once with how to fix the set-up). This holds whatever order the guards run in:
 * when this guard runs before the auth guard (it is an `APP_GUARD` and the auth guard sits on the
 * controller, say), the tenant stays provisional and the check completes where the tenant is first
 * read (the service, `@CacheResponse`, `@CurrentTenant()`, `TenantContext.current()`), after every
 * guard. Anonymous requests keep the tenant they name.
 *
 * GraphQL: the request is read from the resolver context's `req` (or `request`), as
 * `GqlExecutionContext.create(ctx).getContext().req` would. Other contexts (RPC, WebSocket) pass
 * through untouched: their handlers set the tenant with `TenantContext.run`, and cache calls without
 * one fail with `TenantContextMissingError`.
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
    @Inject(TENANT_CACHE_OPTIONS) private readonly options: TenantGuardOptions,
    private readonly reflector: Reflector,
  ) {
    const configured = options.tenant.resolver;
    const list = configured === undefined ? [] : typeof configured === 'function' ? [configured] : [...configured];
    this.resolvers = list.length > 0 ? list : [fromHeader()];
    this.sources = this.resolvers.map(sourceOf);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = requestOf(context);
    if (request === undefined) return true;
    const mode = this.reflector.getAllAndOverride<TenantRouteMode | undefined>(TENANT_ROUTE_MODE, [context.getHandler(), context.getClass()]);
    if (mode === 'skip') return true;
    const found = await this.resolve(request);
    if (found === undefined) {
      if (mode === 'optional') return true;
      const hint = !isUser(request.user) && this.sources.some((s) => s.trusted) ? TenantMessages.noUserYet() : '';
      throw new BadRequestException(TenantMessages.missing(this.sources.map((s) => s.description)) + hint);
    }
    const { tenantId, source } = found;
    try {
      validateTenantId(tenantId, this.options.tenant);
    } catch (error) {
      if (error instanceof InvalidTenantIdError) throw new BadRequestException(TenantMessages.invalid(source.description, error.message));
      throw error;
    }
    // NOTE: no user yet means "anonymous" or "the auth guard runs after this one": the check then waits for the first read.
    let deferred: DeferredTenantCheck | undefined;
    if (isUser(request.user)) await this.checkUser(request, tenantId, source, request.user);
    else deferred = new DeferredTenantCheck(request, tenantId, (user) => this.checkUser(request, tenantId, source, user));
    const { isKnownTenant } = this.options.tenant;
    if (isKnownTenant && !(await isKnownTenant(tenantId))) throw new ForbiddenException(TenantMessages.unknown(tenantId));
    this.enter(request, tenantId, deferred);
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

  /** May this authenticated user act for the tenant? Synchronous unless `authorize` returns a promise. */
  private checkUser(request: TenantRequest, tenantId: string, source: TenantSource, user: unknown): void | Promise<void> {
    const { authorize } = this.options.tenant;
    if (authorize) {
      const allowed = authorize(user, tenantId, request);
      if (isPromiseLike(allowed)) {
        return Promise.resolve(allowed).then((ok) => {
          if (!ok) throw new ForbiddenException(TenantMessages.notAuthorized(tenantId));
        });
      }
      if (!allowed) throw new ForbiddenException(TenantMessages.notAuthorized(tenantId));
      return;
    }
    if (source.trusted) return;
    if (!this.warnedUntrusted) {
      this.warnedUntrusted = true;
      this.logger.error(TenantMessages.untrustedLog(source.description));
    }
    throw new ForbiddenException(TenantMessages.untrustedRefused(tenantId, source.description));
  }

  private enter(request: TenantRequest, tenantId: string, check: DeferredTenantCheck | undefined): void {
    if (check === undefined) request.tenantId = tenantId;
    else deferRequestTenant(request, check);
    const cls = this.options.tenant.cls;
    const clsActive = cls?.store.set !== undefined && cls.store.isActive?.() !== false;
    if (clsActive) {
      cls.store.set!(cls.key ?? DEFAULT_TENANT_CLS_KEY, tenantId);
      cls.store.set!(TENANT_CLS_CHECK_KEY, check);
    }
    if (!TenantContext.assign(tenantId, check) && !clsActive) {
      throw new TenantScopeMissingError(TenantMessages.scopeMissing(tenantId), tenantId);
    }
  }
}

function isUser(user: unknown): boolean {
  return user !== undefined && user !== null && user !== false;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
