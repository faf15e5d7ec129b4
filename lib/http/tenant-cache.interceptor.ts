import { type CallHandler, type ExecutionContext, Injectable, Logger, type NestInterceptor, StreamableFile } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type Observable, from, lastValueFrom, switchMap } from 'rxjs';
import { TenantContext } from '../context/tenant-context.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import { CacheEngine } from '../service/cache-engine.js';
import { type ResolvedTags, resolveTags, versioned } from '../engine/tags.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { CacheResponseOptions } from './cache-response.decorator.js';
import { type CacheRequest, headerOf } from './cache-request.js';
import {
  type PackedResponse,
  type StoredResponse,
  encodeBody,
  packResponse,
  unpackResponse,
  etagMatches,
  forbidsStoring,
  readStream,
  replayBody,
  strongEtag,
} from './cached-response.js';
import { CACHE_RESPONSE_METADATA, type CacheStatus, NO_CACHE_METADATA } from './http.constants.js';
import * as messages from './http.messages.js';
import { type NormalizedHttpOptions, normalizeHttpOptions } from './http.options.js';
import { withUser } from './response-key.js';
import { type RoutePlan, compilePlan, ownsResponse } from './route-plan.js';
import { scopeSurrogateKey, surrogateKeyFor } from './surrogate-keys.js';

/** A load's own outcome, kept by the request that ran the handler. */
type Outcome =
  | { readonly kind: 'stored'; readonly entry: StoredResponse }
  | { readonly kind: 'uncacheable'; readonly body: unknown }
  | { readonly kind: 'error'; readonly error: unknown };

/** What the engine's single flight hands every caller: an entry, or "run your own handler". */
type Loaded = PackedResponse | typeof UNCACHEABLE;
const UNCACHEABLE = Object.freeze({ uncacheable: true as const });

/** Stored alongside an entry when `staleIfError` is set: the entry outlives its freshness. */
interface StaleEnvelope {
  readonly r: PackedResponse;
  /** Fresh until (ms since epoch). */
  readonly f: number;
}

type AnyResponse = {
  statusCode: number;
  raw?: AnyResponse;
  getHeader?(name: string): unknown;
  writeHead?: (...args: unknown[]) => unknown;
};

/** One cacheable request on its way through the interceptor: what every step of serving it needs. */
interface Exchange {
  readonly plan: RoutePlan;
  readonly req: CacheRequest;
  readonly res: AnyResponse;
  readonly next: CallHandler;
  readonly scope: CacheScope;
  readonly key: string;
  readonly perUser: boolean;
  readonly tags: ResolvedTags;
}

/**
 * Caches HTTP responses of routes marked `@CacheResponse`, per tenant (and per user for authenticated
 * requests), in the module's stores. Bind it globally (`APP_INTERCEPTOR`), on a controller or on a
 * route with `@UseInterceptors(TenantCacheInterceptor)`; routes without `@CacheResponse` pass through.
 * Works on Express and Fastify.
 *
 * @example
 * providers: [{ provide: APP_INTERCEPTOR, useClass: TenantCacheInterceptor }]
 */
@Injectable()
export class TenantCacheInterceptor implements NestInterceptor {
  private readonly logger = new Logger('TenantCache');
  /** Compiled options by handler, then by controller class (a handler may be inherited by several). */
  private readonly plans = new WeakMap<object, WeakMap<object, RoutePlan | null>>();
  /** `X-Cached-At` of the last entry seen: most hits in a row are of one entry. */
  private lastCachedAt = { at: 0, text: '' };
  private readonly warned = new Set<string>();
  private readonly http: NormalizedHttpOptions;
  private readonly namespace: string;

  constructor(
    private readonly engine: CacheEngine,
    private readonly cache: TenantCacheService,
    private readonly reflector: Reflector,
  ) {
    this.http = engine.options.http ?? normalizeHttpOptions(undefined);
    this.namespace = engine.options.keyPrefix;
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
    const res = http.getResponse<AnyResponse>();
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
    return from(this.serve({ plan, req, res, next, scope, key, perUser, tags }));
  }

  private async serve(x: Exchange): Promise<unknown> {
    const { plan, scope, key, tags } = x;
    if (plan.staleIfError > 0) return this.serveWithStale(x);
    let own: Outcome | undefined;
    const found = await this.engine.fetch<Loaded>(
      scope,
      key,
      async () => {
        own = await this.load(x);
        return own.kind === 'stored' ? packResponse(own.entry) : UNCACHEABLE;
      },
      { ttl: plan.ttl, store: plan.options.store, tags, shouldCache: (v) => v !== UNCACHEABLE },
    );
    if (found.hit) {
      const entry = unpackResponse(found.value);
      if (entry !== undefined) return this.replay(x, entry, found.cachedAt ?? Date.now(), 'HIT');
      return this.runOwn(x.res, x.next);
    }
    return this.answer(x, own, found.value === UNCACHEABLE ? undefined : unpackResponse(found.value));
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

  /** `staleIfError`: the entry is stored for ttl + staleIfError; past its freshness the handler runs, and its error serves the stale copy. */
  private async serveWithStale(x: Exchange): Promise<unknown> {
    const { plan, scope, key, tags } = x;
    const ttl = plan.ttl ?? this.engine.ttl(undefined);
    const found = await this.engine.lookup<StaleEnvelope>(scope, key, plan.options.store, [...tags.plain, ...tags.versioned.map(versioned)]);
    const now = Date.now();
    const stale = found.hit ? unpackResponse(found.value?.r) : undefined;
    if (stale !== undefined && found.value!.f > now) return this.replay(x, stale, found.cachedAt ?? now, 'HIT');
    let own: Outcome | undefined;
    const loaded = await this.engine.fetch<StaleEnvelope | typeof UNCACHEABLE>(
      scope,
      key,
      async () => {
        own = await this.load(x);
        return own.kind === 'stored' ? { r: packResponse(own.entry), f: Date.now() + (ttl ?? Number.MAX_SAFE_INTEGER / 2) } : UNCACHEABLE;
      },
      {
        ttl: ttl === undefined ? undefined : ttl + plan.staleIfError,
        store: plan.options.store,
        tags,
        force: true,
        // NOTE: a store that just failed the lookup is not asked again: one commandTimeout per request.
        readFailed: found.error !== undefined,
        shouldCache: (v) => v !== UNCACHEABLE,
      },
    );
    if (own?.kind === 'error' && stale !== undefined) return this.replay(x, stale, found.cachedAt ?? now, 'STALE');
    const value = loaded.value;
    return this.answer(x, own, value !== undefined && 'r' in value ? unpackResponse(value.r) : undefined);
  }

  /** Runs the handler and turns its result into an entry, or says why it cannot be stored. Never throws. */
  private async load(x: Exchange): Promise<Outcome> {
    const { plan, req, res, next, scope, perUser, tags } = x;
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (error) {
      return { kind: 'error', error };
    }
    const refuse = (reason: string, log = false): Outcome => {
      if (log) this.logger.warn(messages.notCached(plan.where, reason));
      else this.logger.debug(messages.notCached(plan.where, reason));
      return { kind: 'uncacheable', body };
    };
    if (req.doNotCache === true) return refuse('request.doNotCache is set');
    const status = res.statusCode;
    if (plan.statuses ? !plan.statuses.has(status) : status < 200 || status > 299) return refuse(`status ${status}`);
    if (getHeader(res, 'set-cookie') !== undefined) return refuse('it sets a cookie');
    const cacheControl = getHeader(res, 'cache-control');
    if (cacheControl !== undefined && forbidsStoring(cacheControl)) return refuse(`Cache-Control: ${cacheControl}`);
    const varies = unkeyedVary(getHeader(res, 'vary'), plan.varySet, perUser);
    if (varies !== undefined) return refuse(`it varies on ${varies}, which the key does not hold (add it with ResponseKey.headers())`, true);
    let headersSource = body;
    if (body instanceof StreamableFile || isStream(body)) {
      if (!plan.options.streams || !(body instanceof StreamableFile)) return refuse('the body is a stream (set streams: true to cache StreamableFile bodies)');
      const read = await readStream(body, this.http.maxBodyBytes).catch((error: Error) => error);
      if (read instanceof Error) return { kind: 'error', error: read };
      const fileHeaders = body.getHeaders();
      if ('rest' in read) {
        body = read.rest;
        return refuse(messages.streamTooLarge(this.http.maxBodyBytes), true);
      }
      const bytes = read.bytes;
      headersSource = bytes;
      if (fileHeaders.type !== undefined && getHeader(res, 'content-type') === undefined) setHeader(res, 'content-type', fileHeaders.type);
      if (typeof fileHeaders.disposition === 'string' && getHeader(res, 'content-disposition') === undefined)
        setHeader(res, 'content-disposition', fileHeaders.disposition);
      body = bytes;
    }
    const encoded = encodeBody(headersSource, this.http.maxBodyBytes);
    if (!encoded.ok) return refuse(encoded.reason, true);
    const headers: [string, string][] = [];
    for (const name of plan.storeHeaders) {
      const value = getHeader(res, name);
      if (value !== undefined) headers.push([displayName(name), value]);
    }
    if (encoded.kind === 'json' && getHeader(res, 'content-type') === undefined) headers.push(['Content-Type', 'application/json; charset=utf-8']);
    if (encoded.kind === 'bin' && getHeader(res, 'content-type') === undefined) headers.push(['Content-Type', 'application/octet-stream']);
    const surrogate =
      this.http.surrogateHeaders.length === 0
        ? []
        : [
            ...tags.plain.map((t) => surrogateKeyFor(this.namespace, scope, t, this.http.surrogateKeyPrefix)),
            ...tags.versioned.map((t) => surrogateKeyFor(this.namespace, scope, versioned(t), this.http.surrogateKeyPrefix)),
            scopeSurrogateKey(this.namespace, scope, this.http.surrogateKeyPrefix),
          ];
    const entry: StoredResponse = {
      v: 1,
      s: status,
      k: encoded.kind,
      b: encoded.body,
      h: headers,
      e: strongEtag(encoded.kind, encoded.bytes),
      u: perUser,
      t: surrogate,
    };
    return { kind: 'stored', entry };
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
    const { plan, req, res, scope } = x;
    const opts = this.http.headers;
    for (const [name, value] of entry.h) setHeader(res, name, value);
    if (opts.xCache) setHeader(res, 'X-Cache', status);
    if (opts.age) {
      setHeader(res, 'Age', String(Math.max(0, Math.floor((Date.now() - cachedAt) / 1000))));
      setHeader(res, 'X-Cached-At', this.httpDate(cachedAt));
    }
    const shared = plan.cacheControl !== undefined && !entry.u && plan.options.cacheControl?.public === true;
    if (plan.cacheControl !== undefined) setHeader(res, 'Cache-Control', entry.u ? plan.cacheControl.perUser : plan.cacheControl.shared);
    let vary = plan.vary;
    if (shared && scope.kind === 'tenant' && this.http.tenantHeaders.length > 0) vary = [vary, ...this.http.tenantHeaders].filter(Boolean).join(', ');
    if (vary) appendVary(res, vary);
    if (entry.t.length > 0) for (const h of this.http.surrogateHeaders) setHeader(res, h.name, entry.t.join(h.separator));
    if (opts.etag) {
      setHeader(res, 'ETag', entry.e);
      if (etagMatches(headerOf(req, 'if-none-match'), entry.e)) {
        forceStatus(res, 304);
        return undefined;
      }
    }
    if (entry.s !== res.statusCode) forceStatus(res, entry.s);
    return replayBody(entry);
  }

  private bypass(res: AnyResponse, next: CallHandler): Observable<unknown> {
    this.mark(res, 'BYPASS');
    return next.handle();
  }

  /** A follower whose leader's response could not be shared runs its own handler. */
  private runOwn(res: AnyResponse, next: CallHandler): Promise<unknown> {
    this.mark(res, 'BYPASS');
    return lastValueFrom(next.handle(), { defaultValue: undefined });
  }

  private mark(res: AnyResponse, status: CacheStatus): void {
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
    const handler = context.getHandler();
    const type = context.getClass();
    let byClass = this.plans.get(handler);
    const known = byClass?.get(type);
    if (known !== undefined) return known;
    const targets = [handler, type];
    const options = this.reflector.getAllAndOverride<CacheResponseOptions | undefined>(CACHE_RESPONSE_METADATA, targets);
    let plan: RoutePlan | null = null;
    if (options !== undefined) {
      const noCache = this.reflector.getAllAndOverride<boolean>(NO_CACHE_METADATA, targets) === true;
      plan = compilePlan(options, `${type.name}.${handler.name}`, this.engine, this.http, noCache, ownsResponse(type, handler.name));
    }
    if (byClass === undefined) this.plans.set(handler, (byClass = new WeakMap()));
    byClass.set(type, plan);
    return plan;
  }

  private warnOnce(where: string, message: string): void {
    if (this.warned.has(where)) return;
    if (this.warned.size < 1000) this.warned.add(where);
    this.logger.warn(message);
  }
}

function isStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { pipe?: unknown }).pipe === 'function';
}

/** A response header as one string (Express `res.getHeader`, Fastify `reply.getHeader`). */
function getHeader(res: AnyResponse, name: string): string | undefined {
  const value = res.getHeader?.(name);
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function setHeader(res: AnyResponse, name: string, value: string): void {
  const r = res as unknown as { header?: (n: string, v: string) => unknown; setHeader?: (n: string, v: string) => unknown; raw?: unknown };
  // Fastify's reply has header() and raw; Express's response is a ServerResponse with setHeader().
  if (r.raw !== undefined && typeof r.header === 'function') r.header(name, value);
  else r.setHeader!(name, value);
}

/** `content-type` -> `Content-Type` (headers are case-insensitive; this is for people reading them). */
function displayName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Vary entries that only concern headers the cache neither stores nor keys on. */
const VARY_IGNORED: ReadonlySet<string> = new Set(['origin', 'accept-encoding']);
const VARY_PER_USER: ReadonlySet<string> = new Set(['authorization', 'cookie']);

/** The first header a response varies on that the key does not hold (`*` included), or `undefined`. */
function unkeyedVary(vary: string | undefined, keyed: ReadonlySet<string>, perUser: boolean): string | undefined {
  if (vary === undefined) return undefined;
  for (const raw of vary.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '' || VARY_IGNORED.has(name) || keyed.has(name) || (perUser && VARY_PER_USER.has(name))) continue;
    return name === '*' ? 'everything (Vary: *)' : `"${name}"`;
  }
  return undefined;
}

function appendVary(res: AnyResponse, vary: string): void {
  const existing = getHeader(res, 'vary');
  if (!existing) return setHeader(res, 'Vary', vary);
  const present = new Set(existing.split(',').map((v) => v.trim().toLowerCase()));
  const added = vary.split(', ').filter((v) => !present.has(v.toLowerCase()));
  if (added.length > 0) setHeader(res, 'Vary', `${existing}, ${added.join(', ')}`);
}

/**
 * Makes the response go out with `status` although Nest applies the route's own status when it sends:
 * the underlying ServerResponse's `writeHead` is wrapped for this one response. A 304 drops the body
 * and its Content-Length (Node sends no body for 304).
 */
function forceStatus(res: AnyResponse, status: number): void {
  const raw = (res.raw ?? res) as AnyResponse & { writeHead: (...args: unknown[]) => unknown; removeHeader(name: string): void };
  const original = raw.writeHead;
  raw.writeHead = function (this: unknown, _code: unknown, ...rest: unknown[]) {
    raw.writeHead = original;
    let args = rest;
    if (status === 304) {
      raw.removeHeader('content-length');
      raw.removeHeader('content-type');
      args = rest.map((a) => (typeof a === 'object' && a !== null && !Array.isArray(a) ? withoutBodyHeaders(a as Record<string, unknown>) : a));
    }
    if (typeof args[0] === 'string') args = args.slice(1);
    return original.call(raw, status, ...args);
  };
}

function withoutBodyHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'content-type') out[k] = v;
  return out;
}
