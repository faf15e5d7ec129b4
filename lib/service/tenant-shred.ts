import type { CacheEngine } from '../engine/cache-engine.js';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CacheScope } from '../keys/key-builder.js';

/** What `shredTenant` did. */
export interface TenantShredReport {
  readonly tenant: string;
  /** Stores whose data key of the tenant was destroyed (those with `encryption.tenantKeys: 'wrapped'`). */
  readonly stores: readonly string[];
}

/**
 * Destroys the tenant's data key in every store with wrapped data keys (see `TenantCacheService.shredTenant`).
 * Throws `UnsupportedOperationError` when no store has them: nothing could be shredded.
 */
export async function shredTenantScope(engine: CacheEngine, scope: CacheScope & { kind: 'tenant' }): Promise<TenantShredReport> {
  const stores: string[] = [];
  for (const [alias, definition] of Object.entries(engine.options.stores)) {
    if (definition.dedicatedTenant !== undefined && definition.dedicatedTenant !== scope.tenantId) continue;
    if (await engine.shred(scope, alias)) stores.push(alias);
  }
  if (stores.length === 0) {
    throw new UnsupportedOperationError(
      Object.keys(engine.options.stores).join('", "'),
      'shredTenant()',
      "No store has per-tenant data keys: configure codec: { encryption: { secrets, tenantKeys: 'wrapped' } } (see docs/tenancy.md).",
    );
  }
  return { tenant: scope.tenantId, stores };
}
