import { type CallHandler, type ExecutionContext, Inject, Injectable, Logger, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type Observable, from, lastValueFrom, of, switchMap } from 'rxjs';
import { TenantContext } from '../context/tenant-context.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import { CacheEngine } from '../engine/cache-engine.js';
import { type ResolvedTags, resolveTags } from '../engine/tags.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { CacheRequest } from './cache-request.js';
import type { StoredResponse } from './cached-response.js';
import type { Exchange } from './exchange.js';
import type { CacheStatus } from './http.constants.js';
import * as messages from './http.messages.js';
import { type HttpModuleOptions, type NormalizedHttpOptions, normalizeHttpOptions } from './http.options.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import { type PlatformResponse, setHeader } from './platform-shims.js';
import { type ReadResult, hitNow, readThrough } from './read-through.js';
import { ResponseCacheMetadataAccessor } from './response-cache-metadata.accessor.js';
import { type Outcome, captureResponse } from './response-capture.js';
import { withUser } from './response-key.js';
import { replayResponse } from './response-replay.js';
import { type RoutePlan, RoutePlans } from './route-plan.js';
import { freshNow, readThroughWithStale } from './stale-if-error.js';

/**
 * Caches HTTP responses of routes marked `@CacheResponse`, per tenant (and per user for authenticated
 * requests), in the module's stores. Bind it globally (`APP_INTERCEPTOR`), on a controller or on a
 * route with `@UseInterceptors(TenantCacheInterceptor)`; routes without `@CacheResponse` pass through.
 * Works on Express and Fastify.
 *
 * It orchestrates: the route's plan (route-plan.ts), its key and scope, a read-through (read-through.ts,
 * stale-if-error.ts) whose load captures the handler's response (response-capture.ts), and the replay
 * of an entry (response-replay.ts); platform differences live in platform-shims.ts.
 *
 * @example
 * providers: [{ provide: APP_INTERCEPTOR, useClass: TenantCacheInterceptor }]
 */
@Injectable()
export class TenantCacheInterceptor implements NestInterceptor {
  private readonly logger = new Logger('TenantCache');
  /** Compiled options by handler, then by controller class. */
  private readonly plans: RoutePlans;
  /** `X-Cached-At` of the last entry seen: most hits in a row are of one entry. */
  private lastCachedAt = { at: 0, text: '' };
  private readonly warned = new Set<string>();
  private readonly http: NormalizedHttpOptions;
  private readonly namespace: string;

  constructor(
    private readonly engine: CacheEngine,
    private readonly cache: TenantCacheService,
    private readonly reflector: Reflector,
    @Inject(TENANT_CACHE_OPTIONS) options: HttpModuleOptions,
  ) {
    this.http = options.http ?? normalizeHttpOptions(undefined);
    this.namespace = engine.options.keyPrefix;
    this.plans = new RoutePlans(new ResponseCacheMetadataAccessor(this.reflector), engine, this.http);
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    // NOTE: interceptors run after every guard: an async check TenantGuard had to defer is awaited here,
    // on every route the interceptor is bound to (so bound globally, the handler's own reads find it done).
    const pending = TenantContext.pendingCheck();
    if (pending !== undefined) return from(pending).pipe(switchMap(() => this.intercept(context, next)));
    const plan = this.plan(context);
    if (plan === null) return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<CacheRequest>();
    const res = http.getResponse<PlatformResponse>();
    const method = req.method;
    // NOTE: whatever the key, only GET and HEAD are ever read or stored.
    if (method !== 'GET' && method !== 'HEAD') return next.handle();
    // NOTE: a handler that sends the response itself (@Res() without passthrough) cannot be replayed.
    if (plan.ownsResponse) return this.bypass(res, next);
    if (plan.noCache || req.doNotCache === true || !this.allowed(plan, req)) return this.bypass(res, next);
    let scope: CacheScope;
    if (plan.options.scope === 'shared') scope = SHARED_SCOPE;
    else {
      const tenantId = this.cache.currentTenant();
      if (tenantId === undefined) {
        this.warnOnce(plan.where, messages.noTenant(plan.where));
        return this.bypass(res, next);
      }
      scope = { kind: 'tenant', tenantId };
    }
    let key: string;
    let perUser = false;
    let tags: ResolvedTags;
    try {
      key = plan.key.build(req, 'GET');
      if (plan.options.scope !== 'tenant' && plan.options.scope !== 'shared') {
        const user = this.http.userId(req);
        perUser = user !== undefined;
        key = withUser(key, user);
      }
      tags = plan.staticTags ?? resolveTags(plan.tags, [req], plan.where);
    } catch (error) {
      this.logger.warn(messages.keyFailed(plan.where, error as Error));
      return this.bypass(res, next);
    }
    const x: Exchange = { plan, req, res, next, scope, key, perUser, tags };
    // NOTE: a fresh hit on an in-process store is answered without a promise (one of rxjs's `from` and
    // the promise hooks on it cost most of a memory hit); anything else takes the read-through.
    const now = plan.staleIfError > 0 ? freshNow(this.engine, x) : hitNow(this.engine, x);
    if (now !== undefined) return of(this.replay(x, now.entry, now.cachedAt, now.status));
    return from(this.serve(x));
  }

  /** Reads through the cache (with `staleIfError` when the route sets it) and answers with what it found. */
  private async serve(x: Exchange): Promise<unknown> {
    const found = x.plan.staleIfError > 0 ? await this.serveWithStale(x) : await readThrough(this.engine, x, () => this.load(x));
    if (found.kind === 'hit') return this.replay(x, found.entry, found.cachedAt, found.status);
    return this.answer(x, found.own, found.shared);
  }

  /**
   * A miss's response: this request's own outcome when it ran the handler; else (a follower of another
   * request's load) the entry that load stored, or its own handler.
   */
  private answer(x: Exchange, own: Outcome | undefined, shared: StoredResponse | undefined): unknown {
    if (own !== undefined) return this.settle(x, own);
    if (shared !== undefined) return this.replay(x, shared, Date.now(), 'MISS');
    return this.runOwn(x.res, x.next);
  }

  /** `staleIfError`: see stale-if-error.ts. */
  private serveWithStale(x: Exchange): Promise<ReadResult> {
    return readThroughWithStale(this.engine, x, () => this.load(x));
  }

  /** Runs the handler and turns its result into an entry, or says why it cannot be stored. Never throws. */
  private load(x: Exchange): Promise<Outcome> {
    return captureResponse(x, { http: this.http, namespace: this.namespace, logger: this.logger });
  }

  /** The response of the request that ran the handler. */
  private settle(x: Exchange, own: Outcome): unknown {
    if (own.kind === 'error') {
      this.mark(x.res, 'BYPASS');
      throw own.error;
    }
    if (own.kind === 'uncacheable') {
      this.mark(x.res, 'BYPASS');
      return own.body;
    }
    return this.replay(x, own.entry, Date.now(), 'MISS');
  }

  /** Sets the entry's headers and returns the body for Nest to send (or forces a 304). */
  private replay(x: Exchange, entry: StoredResponse, cachedAt: number, status: CacheStatus): unknown {
    return replayResponse(x, entry, cachedAt, status, this.http, (at) => this.httpDate(at));
  }

  private bypass(res: PlatformResponse, next: CallHandler): Observable<unknown> {
    this.mark(res, 'BYPASS');
    return next.handle();
  }

  /** A follower whose leader's response could not be shared runs its own handler. */
  private runOwn(res: PlatformResponse, next: CallHandler): Promise<unknown> {
    this.mark(res, 'BYPASS');
    return lastValueFrom(next.handle(), { defaultValue: undefined });
  }

  private mark(res: PlatformResponse, status: CacheStatus): void {
    if (this.http.headers.xCache) setHeader(res, 'X-Cache', status);
  }

  /** `onlyIf`; a predicate that throws bypasses the cache (logged), it does not fail the request. */
  private allowed(plan: RoutePlan, req: CacheRequest): boolean {
    if (plan.options.onlyIf === undefined) return true;
    try {
      return Boolean(plan.options.onlyIf(req));
    } catch (error) {
      this.logger.warn(messages.notCached(plan.where, `onlyIf threw (${(error as Error).message})`));
      return false;
    }
  }

  private httpDate(at: number): string {
    if (this.lastCachedAt.at !== at) this.lastCachedAt = { at, text: new Date(at).toUTCString() };
    return this.lastCachedAt.text;
  }

  /** The compiled options of a route; `null` = not cached (no `@CacheResponse`). */
  private plan(context: ExecutionContext): RoutePlan | null {
    return this.plans.of(context.getHandler(), context.getClass());
  }

  private warnOnce(where: string, message: string): void {
    if (this.warned.has(where)) return;
    if (this.warned.size < 1000) this.warned.add(where);
    this.logger.warn(message);
  }
}
