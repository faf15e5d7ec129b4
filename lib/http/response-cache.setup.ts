import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { InvalidationRegistry } from '../invalidation/invalidation.registry.js';
import { CacheEngine } from '../engine/cache-engine.js';
import type { InvalidationEvent } from '../engine/invalidation-hooks.js';
import { versioned } from '../engine/tags.js';
import * as messages from './http.messages.js';
import { type HttpModuleOptions, type NormalizedHttpOptions, normalizeHttpOptions } from './http.options.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import { ResponseCacheMetadataAccessor } from './response-cache-metadata.accessor.js';
import { compilePlan } from './route-plan.js';
import { scopeSurrogateKey, surrogateKeyFor } from './surrogate-keys.js';

/**
 * Start-up work of the response cache: checks every `@CacheResponse` of the application's controllers
 * (a bad option fails boot, naming the route), and registers the CDN backends with the engine's
 * invalidation hooks, so that `invalidateTag(s)` and `invalidateAll` purge the CDNs too.
 */
@Injectable()
export class ResponseCacheSetup implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('TenantCache');
  private unhook?: () => void;
  private readonly http: NormalizedHttpOptions;
  private readonly metadata: ResponseCacheMetadataAccessor;

  constructor(
    private readonly engine: CacheEngine,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    reflector: Reflector,
    private readonly invalidation: InvalidationRegistry,
    @Inject(TENANT_CACHE_OPTIONS) options: HttpModuleOptions,
  ) {
    this.http = options.http ?? normalizeHttpOptions(undefined);
    this.metadata = new ResponseCacheMetadataAccessor(reflector);
  }

  onModuleInit(): void {
    this.checkRoutes();
    // NOTE: a CDN is shared by every instance: only the instance where an invalidation started purges it.
    if (this.http.purged.length > 0) this.unhook = this.engine.hooks.add((event, origin) => (origin === 'local' ? this.purge(event) : undefined));
  }

  onModuleDestroy(): void {
    this.unhook?.();
  }

  /** Purges the surrogate keys an invalidation makes stale, on every purged backend; failures are logged. */
  async purge(event: InvalidationEvent): Promise<void> {
    const http = this.http;
    const ns = this.engine.options.keyPrefix;
    let keys: string[];
    let tags: string[];
    if (event.kind === 'tag') {
      keys = [surrogateKeyFor(ns, event.scope, event.versioned ? versioned(event.tag) : event.tag, http.surrogateKeyPrefix)];
      tags = [event.versioned ? `v:${event.tag}` : event.tag];
    } else if (event.kind === 'all' || event.kind === 'purge') {
      // A purge reaches every store with one receipt: the CDN is purged once.
      if (event.kind === 'purge') {
        if (event.receipt.cdn !== undefined) return;
        event.receipt.cdn = [];
      }
      keys = [scopeSurrogateKey(ns, event.scope, http.surrogateKeyPrefix)];
      tags = ['*'];
    } else return;
    const tenant = event.scope.kind === 'tenant' ? event.scope.tenantId : undefined;
    const soft = event.kind === 'tag' && event.soft === true;
    await Promise.all(
      http.purged.map(async ({ name, backend }) => {
        try {
          await backend.purge(soft ? { keys, tenant, tags, soft } : { keys, tenant, tags });
          if (event.kind === 'purge') event.receipt.cdn?.push({ backend: name, ok: true });
        } catch (error) {
          const e = error instanceof Error ? error : new Error(String(error));
          this.logger.warn(messages.purgeFailed(name, e));
          if (event.kind === 'purge') event.receipt.cdn?.push({ backend: name, ok: false, error: e.message });
        }
      }),
    );
  }

  private checkRoutes(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as (new (...args: never[]) => object) | undefined;
      if (!type?.prototype) continue;
      const onClass = this.metadata.cacheResponseOn(type);
      for (const name of this.scanner.getAllMethodNames(type.prototype)) {
        const fn = (type.prototype as Record<string, unknown>)[name];
        if (typeof fn !== 'function') continue;
        const onMethod = this.metadata.cacheResponseOn(fn);
        const options = onMethod ?? onClass;
        if (options === undefined) continue;
        compilePlan(options, `${type.name}.${name}`, this.engine, this.http);
        // A tag name is plain or versioned in the whole application (checked against the decorators).
        this.engine.methods.tags.declare(options.tags, `@CacheResponse on ${type.name}.${name}`);
        this.engine.methods.tags.declareRules(options.invalidatesOn, `invalidatesOn of @CacheResponse on ${type.name}.${name}`);
        // A controller-level decorator's rules are registered once, under the controller's name.
        this.invalidation.attachRoute(onMethod ? `${type.name}.${name}` : type.name, options.invalidatesOn);
        if (this.metadata.ownsResponse(type, name)) this.logger.warn(messages.ownsResponse(`${type.name}.${name}`));
      }
    }
  }
}
