import { Inject, Injectable } from '@nestjs/common';
import { TenantContext } from '../context/tenant-context.js';
import { readClsTenant } from '../context/tenant-cls.js';
import { validateTenantId } from '../context/tenant-id.validator.js';
import type { TenantGuardOptions } from '../context/tenant.options.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import { TenantContextMissingError } from '../errors/tenant-context-missing.error.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import { CacheEngine } from '../engine/cache-engine.js';
import type { TagInput } from '../engine/tags.js';
import type { TenantCacheEvents } from '../engine/tenant-cache.events.js';
import { type InvalidateTagOptions, TenantScopedCache } from './tenant-scoped-cache.js';
import { type TenantPurgeReport, purgeTenantScope } from './tenant-purge.js';
import { type TenantShredReport, shredTenantScope } from './tenant-shred.js';
import type { CacheStats } from '../observability/cache-stats.js';

/**
 * The cache of the tenant in context. Every operation acts for `TenantContext.current()` and fails
 * with `TenantContextMissingError` when there is none; nothing falls back to a shared key space.
 *
 * @example
 * constructor(private readonly cache: TenantCacheService) {}
 * findProduct(id: string) { return this.cache.getOrSet(`product:${id}`, () => this.repo.findOne(id), { ttl: 60_000 }); }
 */
@Injectable()
export class TenantCacheService extends TenantScopedCache {
  /** Scopes of tenants whose ids passed validation: one lookup per call, no new object. */
  private readonly scopes = new Map<string, CacheScope>();

  constructor(
    engine: CacheEngine,
    @Inject(TENANT_CACHE_OPTIONS) private readonly options: TenantGuardOptions,
  ) {
    super(engine, (operation) => this.ambientScope(operation));
  }

  /** Store failures and unreadable entries, as events. */
  get events(): TenantCacheEvents {
    return this.engine.events;
  }

  /**
   * The whole cache's in-process counters: totals, then by tenant (the first `metrics.topTenants`), the
   * other tenants together, the shared namespace and each store (entries, bytes, breaker where known).
   * `forTenant(id).stats()` is one tenant's. See docs/observability.md.
   */
  override stats(): CacheStats {
    return this.engine.stats.stats();
  }

  /** The tenant in context, validated; `undefined` outside a tenant scope. */
  currentTenant(): string | undefined {
    const tenantId = TenantContext.current() ?? this.fromCls();
    if (tenantId !== undefined) this.validate(tenantId);
    return tenantId;
  }

  /** An explicit view of one tenant's entries, for admin tasks and jobs. */
  forTenant(tenantId: string): TenantScopedCache {
    const scope = this.validate(tenantId);
    return new TenantScopedCache(this.engine, () => scope);
  }

  /** The explicit un-tenanted namespace, for data that belongs to no tenant. */
  shared(): TenantScopedCache {
    return new TenantScopedCache(this.engine, () => SHARED_SCOPE);
  }

  /**
   * Invalidates a tag for every tenant (and the shared namespace) at once. Admin only: tags are
   * otherwise per tenant. Lists the store's keys to find each tenant's tag index or version counter, so
   * it costs a scan of the store. Resolves to the entries deleted (plain tag) or the counters moved on
   * (versioned tag). With `{ soft: true }` (plain tags), the entries are expired instead (see
   * `invalidateTag`), and it resolves to 0.
   */
  invalidateTagInAllTenants(tag: TagInput, storeAlias?: string, options?: InvalidateTagOptions): Promise<number> {
    return this.engine.invalidateTagInAllScopes(this.engine.methods.tags.resolve(tag), storeAlias, options?.soft);
  }

  /** Empties the whole store (or every store), all tenants included. Admin only. */
  flushAllTenants(storeAlias?: string): Promise<void> {
    return this.engine.flushAllTenants(storeAlias);
  }

  /**
   * Offboarding: removes every key of the tenant (entries, chunks, tag sets, generation and tag counters,
   * leases) from every configured store, on every master of a Redis Cluster (SCAN, then UNLINK in pages of
   * `batchSize`); tells the other instances through the invalidation bus to do the same in their own
   * stores; purges the tenant's surrogate key on the CDN backends. Admin only (not tenant-scoped). Store
   * failures do not throw: they are in the report, whose `complete` is then false. See docs/tenancy.md.
   *
   * @example
   * const report = await cache.purgeTenant('acme');
   * logger.log(JSON.stringify(report)); // { tenant: 'acme', removed: 1234, stores: [...], complete: true, ... }
   */
  async purgeTenant(tenantId: string): Promise<TenantPurgeReport> {
    const scope = this.validate(tenantId) as CacheScope & { kind: 'tenant' };
    return purgeTenantScope(this.engine, scope);
  }

  /**
   * Crypto-shredding: destroys the tenant's data key (with `codec.encryption.tenantKeys: 'wrapped'`) in every
   * store's key store and in this process, and through the invalidation bus in the other instances. Every copy
   * of the tenant's entries sealed under that key (a replica, an RDB/AOF file, an instance that missed a purge)
   * reads as a miss from then on, with an `entry:corrupt` event. The tenant's next write starts a new key.
   * Admin only. Throws `StoreUnavailableError` when a store fails (call it again), `UnsupportedOperationError`
   * when no store has wrapped data keys. See docs/tenancy.md.
   *
   * @example
   * await cache.purgeTenant('acme'); // the entries
   * await cache.shredTenant('acme'); // and every copy of them, wherever it is
   */
  async shredTenant(tenantId: string): Promise<TenantShredReport> {
    const scope = this.validate(tenantId) as CacheScope & { kind: 'tenant' };
    return shredTenantScope(this.engine, scope);
  }

  private ambientScope(operation: string): CacheScope {
    const tenantId = TenantContext.current() ?? this.fromCls();
    if (tenantId === undefined) throw new TenantContextMissingError(operation);
    return this.scopes.get(tenantId) ?? this.validate(tenantId);
  }

  private fromCls(): string | undefined {
    const cls = this.options.tenant.cls;
    return cls === undefined ? undefined : readClsTenant(cls);
  }

  /** Validates a tenant id (once per id) and returns its scope; throws `InvalidTenantIdError`. */
  private validate(tenantId: unknown): CacheScope {
    const known = typeof tenantId === 'string' ? this.scopes.get(tenantId) : undefined;
    if (known !== undefined) return known;
    validateTenantId(tenantId, this.options.tenant);
    const scope: CacheScope = Object.freeze({ kind: 'tenant', tenantId: tenantId as string });
    if (this.scopes.size >= 10_000) this.scopes.clear();
    this.scopes.set(tenantId as string, scope);
    return scope;
  }
}
