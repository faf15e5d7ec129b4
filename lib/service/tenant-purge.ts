import type { CacheEngine } from '../engine/cache-engine.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import type { PurgeBusResult, PurgeCdnResult, PurgeReceipt } from '../engine/invalidation-hooks.js';
import type { StorePurgeResult } from '../engine/scope-purge.js';
import type { CacheScope } from '../keys/key-builder.js';

export type { PurgeBusResult, PurgeCdnResult } from '../engine/invalidation-hooks.js';
export type { StorePurgeResult } from '../engine/scope-purge.js';

/** What `purgeTenant` did: the proof of an offboarding, meant to be logged or stored as it is (plain JSON). */
export interface TenantPurgeReport {
  readonly tenant: string;
  /** Keys removed from every store together. */
  readonly removed: number;
  /** Per store: keys removed, per node (each master of a Redis Cluster), and the error of a store whose part is incomplete. */
  readonly stores: readonly StorePurgeResult[];
  /** Stores dedicated to another tenant: they cannot hold this tenant's keys and were not scanned. */
  readonly skipped: readonly string[];
  /**
   * Per store whose invalidations travel on the cross-instance bus (`invalidation.bus`): whether the purge was
   * published, the subscribers PUBLISH counted (this instance's own subscription included) and the ids of the
   * instances that purged their own store and acknowledged within 5 s. Empty without a bus.
   */
  readonly bus: Readonly<Record<string, PurgeBusResult>>;
  /** Per CDN backend (`http.backends` with `purge`): the purge of the tenant's surrogate key. Empty without one. */
  readonly cdn: readonly PurgeCdnResult[];
  /** Every store completed and every bus publish and CDN purge succeeded. */
  readonly complete: boolean;
  /** When the purge started (ISO 8601). */
  readonly startedAt: string;
  readonly durationMs: number;
}

/**
 * Purges one tenant's scope from every configured store, one store after the other (see
 * `TenantCacheService.purgeTenant`). A store that cannot list keys is refused before anything is deleted
 * (`UnsupportedOperationError`). A store that fails is reported and the others are still purged; then, with
 * `onWriteError: 'throw'`, the call rejects with `StoreUnavailableError` (the report is its `report`).
 */
export async function purgeTenantScope(engine: CacheEngine, scope: CacheScope & { kind: 'tenant' }): Promise<TenantPurgeReport> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const receipt: PurgeReceipt = {};
  const stores: StorePurgeResult[] = [];
  const skipped: string[] = [];
  const aliases: string[] = [];
  for (const [alias, definition] of Object.entries(engine.options.stores)) {
    if (definition.dedicatedTenant !== undefined && definition.dedicatedTenant !== scope.tenantId) skipped.push(alias);
    else aliases.push(alias);
  }
  for (const alias of aliases) await engine.assertPurgeable(alias);
  for (const alias of aliases) stores.push(await engine.purgeScope(scope, alias, receipt));
  const bus = receipt.bus ?? {};
  const cdn = receipt.cdn ?? [];
  const report: TenantPurgeReport = {
    tenant: scope.tenantId,
    removed: stores.reduce((n, s) => n + s.removed, 0),
    stores,
    skipped,
    bus,
    cdn,
    complete: stores.every((s) => s.error === undefined) && Object.values(bus).every((b) => b.published) && cdn.every((c) => c.ok),
    startedAt,
    durationMs: Date.now() - started,
  };
  const failed = stores.find((s) => s.error !== undefined);
  if (failed !== undefined && engine.options.onWriteError === 'throw') {
    const error = new StoreUnavailableError(
      failed.store,
      `purgeTenant("${scope.tenantId}") is incomplete (${failed.error}); the other stores were purged. Call it again.`,
    );
    throw Object.assign(error, { report });
  }
  return report;
}
