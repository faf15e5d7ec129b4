import type { CodecStore } from './codec-store.js';
import type { TenantKeyStore } from './tenant-data-keys.js';

/**
 * The default `TenantKeyStore`: each tenant's wrapped data key in the cache store itself, under a meta key of
 * the tenant's segment (`keyOf(tenant)`), without expiry. `purgeTenant` removes it with the rest of the
 * segment. A store that evicts it (a full memory store, Redis with an `allkeys-*` policy) loses the tenant's
 * entries (they read as misses), never exposes them.
 */
export function storeKeyStore(store: CodecStore, keyOf: (tenantId: string) => string): TenantKeyStore {
  return {
    get: (tenantId) => store.get(keyOf(tenantId)),
    add: (tenantId, wrapped) => store.add(keyOf(tenantId), wrapped),
    set: (tenantId, wrapped) => store.set(keyOf(tenantId), wrapped),
    delete: async (tenantId) => {
      await store.delete(keyOf(tenantId));
    },
  };
}
