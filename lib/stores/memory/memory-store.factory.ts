import type { StoreDefinition } from '../cache-store.interface.js';
import { optionKeys } from '../../tenant-cache.option-keys.js';
import { assertQuotaOptions } from '../quota/tenant-quota.js';
import { assertStoreOptions } from '../store-option-keys.js';
import { MemoryStore } from './memory.store.js';
import type { MemoryStoreOptions } from './memory-store.options.js';

const MEMORY_STORE_KEYS = optionKeys<MemoryStoreOptions>({
  maxEntries: true,
  maxBytes: true,
  maxValueBytes: true,
  dedicatedTenant: true,
  shareReads: true,
  perTenant: true,
  overQuota: true,
});

/**
 * The embedded in-process store (the default when `stores` is omitted).
 *
 * @example
 * TenantCacheModule.forRoot({ stores: { default: memoryStore({ maxEntries: 50_000 }) } })
 */
export function memoryStore(options: MemoryStoreOptions = {}): StoreDefinition {
  assertStoreOptions('memoryStore', options, MEMORY_STORE_KEYS, { max: 'Write `maxEntries`.', maxSize: 'Write `maxBytes`.' });
  assertQuotaOptions('memoryStore', options.perTenant, options.overQuota);
  return {
    create: (alias, context) => new MemoryStore(alias, options, context),
    dedicatedTenant: options.dedicatedTenant,
    description: `memoryStore(${JSON.stringify({ ...options })})`,
    processLocal: true,
  };
}
