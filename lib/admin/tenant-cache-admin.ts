import { Injectable } from '@nestjs/common';
import { AdminConfirmationError } from '../errors/admin-confirmation.error.js';
import { CachedMethodNotFoundError } from '../errors/cached-method-not-found.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import { parsePhysicalKey } from '../keys/key-layout.js';
import { methodNamespacePrefix } from '../keys/key-constructor.compiler.js';
import { RESPONSE_KEY_MARK } from '../keys/logical-key-marks.js';
import { CacheEngine } from '../engine/cache-engine.js';
import type { ResolvedStore } from '../engine/store-registry.js';
import { isInputError, unavailable } from '../engine/store-failures.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { type TagInput, versioned } from '../engine/tags.js';
import { cachedMethodOf } from '../service/cached-method.handle.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { FlushOptions, FlushReport, FlushTarget, InspectedEntry, StoreFootprint, TenantFootprint } from './admin.types.js';
import { failOnStoreError } from './admin-write-watch.js';

/** Keys per SCAN page (and per MGET of their sizes): small enough that no command blocks Redis long. */
const PAGE = 500;

/**
 * Admin operations on one tenant's cached data, for `TenantCacheAdminModule`'s REST routes and the
 * `nestjs-tenant-cache` CLI: its footprint per store, one entry inspected, flushes by tenant, tag,
 * method, HTTP responses or key prefix, each with a dry run. Keys are listed with SCAN in pages, never
 * KEYS; a flush that deletes needs the tenant id repeated as its confirmation.
 *
 * A failing store is never taken for an empty one: listings, counts and flushes reject with
 * `StoreUnavailableError` (whatever `onWriteError` says), and a footprint marks the stores it could not count.
 */
@Injectable()
export class TenantCacheAdmin {
  constructor(
    private readonly engine: CacheEngine,
    private readonly cache: TenantCacheService,
  ) {}

  /** Store aliases of the application. */
  stores(): string[] {
    return this.engine.registry.aliases;
  }

  /** `ClassName.methodName` of every `@CacheResult` method of the application. */
  methods(): string[] {
    return this.engine.methods.names().sort();
  }

  /**
   * Every key (entries, chunks, counters, tag indexes) and byte the tenant has in each store. A store that
   * fails is listed with `skipped` and makes the footprint incomplete (`complete: false`); when no store
   * could be counted, it rejects with the failure (`StoreUnavailableError`).
   */
  async footprint(tenantId: string, options: { store?: string } = {}): Promise<TenantFootprint> {
    const { footprint, failure } = await this.measure(tenantId, options.store);
    if (failure !== undefined && footprint.stores.every((s) => s.skipped !== undefined)) throw failure;
    return footprint;
  }

  /** One entry of the tenant: where it lives, its age and TTL, and its decoded value when `value` is true. */
  async inspect(tenantId: string, key: string, options: { store?: string; value?: boolean } = {}): Promise<InspectedEntry> {
    const scope = this.scopeOf(tenantId);
    const alias = this.engine.registry.aliasFor(scope, options.store);
    const resolved = await this.engine.store(scope, alias).catch((error: unknown) => storeFailure(alias, 'creating the store', error));
    const generation = await this.engine.generation(resolved, scope).catch((error: unknown) => storeFailure(alias, 'inspect', error));
    const found = await this.engine.lookup(scope, key, options.store);
    if (found.error) storeFailure(alias, 'inspect', found.error);
    const ttl = found.hit ? await this.engine.ttlOf(scope, key, options.store) : undefined;
    return {
      tenant: tenantId,
      key,
      store: resolved.alias,
      physicalKey: resolved.keys.entryKey(scope, generation, key),
      generation,
      exists: found.hit,
      ...(found.cachedAt === undefined ? {} : { cachedAt: found.cachedAt }),
      ...(found.hit ? { ttlMs: ttl === undefined || ttl === Infinity ? null : ttl } : {}),
      ...(options.value === true && found.hit ? { value: found.value } : {}),
    };
  }

  /** The tenant's logical keys starting with `prefix` (internal ones, of methods and responses, included), at most `limit`. */
  async keys(tenantId: string, prefix = '', limit = 1000): Promise<string[]> {
    const scope = this.scopeOf(tenantId);
    const out: string[] = [];
    for (const alias of this.stores()) {
      const resolved = await this.resolve(scope, alias, false);
      if (resolved === undefined || !resolved.store.capabilities.scan) continue;
      for await (const page of this.engine.completeKeys(scope, prefix, alias)) {
        for (const k of page) {
          out.push(k);
          if (out.length >= limit) return out;
        }
      }
    }
    return out;
  }

  /**
   * Removes what `target` names, in the tenant only; with `dryRun`, counts it and removes nothing.
   * Without `dryRun`, `confirm` must be the tenant id (`AdminConfirmationError` otherwise). A store that
   * fails rejects the flush with `StoreUnavailableError` (call it again), whatever `onWriteError` says.
   */
  async flush(tenantId: string, target: FlushTarget, options: FlushOptions = {}): Promise<FlushReport> {
    const started = performance.now();
    this.scopeOf(tenantId);
    const dryRun = options.dryRun === true;
    if (!dryRun && options.confirm !== tenantId) throw new AdminConfirmationError(tenantId, `flush ${target.kind}`);
    const what = `${dryRun ? 'the dry run of ' : ''}flush (${target.kind}) of tenant "${tenantId}"`;
    const count = await failOnStoreError(this.engine.events, tenantId, what, () => this.flushTarget(tenantId, target, dryRun));
    return { tenant: tenantId, target, dryRun, count, durationMs: Math.round(performance.now() - started) };
  }

  private async flushTarget(tenantId: string, target: FlushTarget, dryRun: boolean): Promise<number | null> {
    const scope = this.scopeOf(tenantId);
    const view = this.cache.forTenant(tenantId);
    let count: number | null;
    switch (target.kind) {
      case 'tenant': {
        const { footprint, failure } = await this.measure(tenantId);
        // NOTE: a store that could not be counted fails the flush before anything is deleted (and before a
        // second wait on the failing store).
        if (failure !== undefined) throw failure;
        count = footprint.stores.reduce((n, s) => n + s.entries, 0);
        if (!dryRun) await view.clear();
        break;
      }
      case 'tag': {
        const tag: TagInput = target.versioned === true ? versioned(target.tag) : target.tag;
        const resolved = this.engine.methods.tags.resolve(tag);
        if (typeof resolved !== 'string') count = dryRun ? null : await view.invalidateTag(resolved).then(() => null);
        else count = dryRun ? await this.tagged(scope, resolved) : await view.invalidateTag(resolved);
        break;
      }
      case 'method': {
        const definition = this.method(target.method);
        if (definition === undefined) {
          // Not loaded here (the CLI): every entry of the method's default namespace, any version, in every store.
          count = await this.byPrefix(scope, methodNamespacePrefix(target.method), dryRun);
          break;
        }
        if (definition.config.scope === 'shared') {
          throw new InvalidOptionsError(
            'flush method',
            `${definition.name} is cached in the shared namespace, not per tenant`,
            'Invalidate it with cache.shared() or by a tag.',
          );
        }
        count = dryRun ? await this.count(scope, definition.key.head, definition.config.store) : await definition.invalidateAll(scope);
        break;
      }
      case 'responses':
        count = await this.byPrefix(scope, RESPONSE_KEY_MARK, dryRun);
        break;
      case 'prefix':
        if (typeof target.prefix !== 'string') throw new InvalidOptionsError('flush prefix', 'is not a string', 'Give the literal key prefix.');
        count = dryRun ? await this.count(scope, target.prefix) : await view.deleteByPrefix(target.prefix);
        break;
      default:
        throw new InvalidOptionsError(
          'flush target',
          `has the unknown kind ${JSON.stringify((target as { kind: unknown }).kind)}`,
          'Use tenant, tag, method, responses or prefix.',
        );
    }
    return count;
  }

  /** The footprint of every store (or of `store`), and the first store failure met. */
  private async measure(tenantId: string, store?: string): Promise<{ footprint: TenantFootprint; failure?: StoreUnavailableError }> {
    const started = performance.now();
    const scope = this.scopeOf(tenantId);
    const stores: StoreFootprint[] = [];
    let failure: StoreUnavailableError | undefined;
    for (const alias of store === undefined ? this.stores() : [store]) {
      let counted: { footprint: StoreFootprint; failure?: StoreUnavailableError };
      try {
        const resolved = await this.resolve(scope, alias, store !== undefined);
        if (resolved === undefined) continue;
        counted = await this.storeFootprint(resolved, scope);
      } catch (error) {
        if (!(error instanceof StoreUnavailableError)) throw error;
        counted = { footprint: { ...emptyFootprint(alias), skipped: `the store failed: ${error.message}` }, failure: error };
      }
      stores.push(counted.footprint);
      failure ??= counted.failure;
    }
    const footprint: TenantFootprint = {
      tenant: tenantId,
      keys: stores.reduce((n, s) => n + s.keys, 0),
      bytes: stores.reduce((n, s) => n + s.bytes, 0),
      stores,
      complete: failure === undefined,
      durationMs: Math.round(performance.now() - started),
      stats: this.cache.forTenant(tenantId).stats(),
    };
    return { footprint, failure };
  }

  private scopeOf(tenantId: string): CacheScope {
    // Validates the id exactly as every tenant-scoped call does (InvalidTenantIdError).
    this.cache.forTenant(tenantId);
    return { kind: 'tenant', tenantId };
  }

  /**
   * The store behind `alias` for the tenant; `undefined` when the tenant cannot use it (a store dedicated to
   * another tenant). A store that cannot be created rejects with `StoreUnavailableError`.
   */
  private async resolve(scope: CacheScope, alias: string, explicit: boolean): Promise<ResolvedStore | undefined> {
    try {
      return await this.engine.store(scope, alias);
    } catch (error) {
      if (!isInputError(error)) storeFailure(alias, 'creating the store', error);
      if (explicit) throw error;
      return undefined;
    }
  }

  private async storeFootprint(resolved: ResolvedStore, scope: CacheScope): Promise<{ footprint: StoreFootprint; failure?: StoreUnavailableError }> {
    const empty = emptyFootprint(resolved.alias);
    if (!resolved.store.capabilities.scan) return { footprint: { ...empty, skipped: 'the store cannot list keys' } };
    try {
      const generation = await this.engine.generation(resolved, scope);
      const counts = { ...empty, generation };
      const prefix = resolved.keys.scopePrefix(scope);
      for await (const page of resolved.store.scan(prefix, PAGE)) {
        const values = await resolved.store.mget(page);
        page.forEach((key, i) => {
          const value = values[i] as Buffer | string | undefined;
          if (value === undefined) return;
          counts.keys++;
          counts.bytes += typeof value === 'string' ? Buffer.byteLength(value) : value.length;
          const parsed = parsePhysicalKey(key, resolved.keys.prefix);
          if (parsed?.kind === 'entry') {
            if (parsed.generation === generation) counts.entries++;
            else counts.unreachable++;
          } else if (parsed?.kind === 'chunk') counts.chunks++;
          else counts.meta++;
        });
      }
      return { footprint: counts };
    } catch (error) {
      if (isInputError(error)) throw error;
      const failure = unavailable(resolved.alias, 'footprint', error);
      return { footprint: { ...empty, skipped: `the store failed: ${failure.message}` }, failure };
    }
  }

  /** Entries a plain tag's index holds for the tenant (what invalidating it would delete, at most). */
  private async tagged(scope: CacheScope, tag: string): Promise<number> {
    let n = 0;
    for (const alias of this.stores()) {
      const resolved = await this.resolve(scope, alias, false);
      if (resolved === undefined || !resolved.traits.hasSets) continue;
      for await (const page of resolved.io.scanSet(this.engine.tagIndex.indexKey(resolved, scope, tag), PAGE)) n += page.length;
    }
    return n;
  }

  /** Counts or deletes the scope's keys under a logical prefix in every store the tenant can use. */
  private async byPrefix(scope: CacheScope, prefix: string, dryRun: boolean): Promise<number> {
    let n = 0;
    for (const alias of this.stores()) {
      const resolved = await this.resolve(scope, alias, false);
      if (resolved === undefined || !resolved.store.capabilities.scan) continue;
      n += dryRun ? await this.count(scope, prefix, alias) : await this.engine.deleteByPrefix(scope, prefix, alias);
    }
    return n;
  }

  private async count(scope: CacheScope, prefix: string, alias?: string): Promise<number> {
    let n = 0;
    for await (const page of this.engine.completeKeys(scope, prefix, alias)) n += page.length;
    return n;
  }

  /**
   * The `@CacheResult` method registered as `name`; `undefined` when this application has none (the CLI
   * loads no services), `CachedMethodNotFoundError` when it has methods but not that one.
   */
  private method(name: string) {
    const [registered, ...more] = this.engine.methods.named(name);
    const definition = registered === undefined ? undefined : cachedMethodOf(this.engine.methods, registered.type, registered.methodName);
    if (definition === undefined) {
      if (this.engine.methods.names().length === 0) return undefined;
      throw new CachedMethodNotFoundError(name, `no @CacheResult method of this application is ${JSON.stringify(name)} (known: ${this.methods().join(', ')})`);
    }
    if (more.length > 0) {
      throw new InvalidOptionsError('flush method', `"${name}" names ${more.length + 1} classes`, 'Flush by a tag of the method instead, or rename one class.');
    }
    return definition;
  }
}

function emptyFootprint(store: string): StoreFootprint {
  return { store, keys: 0, bytes: 0, entries: 0, unreachable: 0, chunks: 0, meta: 0, generation: 0 };
}

/** Throws a store's failure as `StoreUnavailableError` (never a bare driver error: the REST routes answer it with 503). */
function storeFailure(alias: string, operation: string, error: unknown): never {
  if (isInputError(error)) throw error;
  throw unavailable(alias, operation, error);
}
