import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** A store alias that no `stores` entry defines. */
export class UnknownStoreError extends TenantCacheError {
  /** @param where the declaration naming the store (`@CacheResult on Class.method`), when it is one. */
  constructor(alias: string, known: readonly string[], where?: string) {
    const text =
      `o cache store named "${alias}". Known stores: ${known.map((k) => `"${k}"`).join(', ') || '(none)'}; ` + 'add it to TenantCacheModule.forRoot({ stores }).';
    super(TenantCacheErrorCode.UnknownStore, where ? `${where}: option "store": n${text}` : `N${text}`, { store: alias });
  }
}
