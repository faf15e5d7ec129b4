import { TenantCacheError } from './tenant-cache.error.js';

/** A store alias that no `stores` entry defines. */
export class UnknownStoreError extends TenantCacheError {
  constructor(alias: string, known: readonly string[]) {
    super(
      'E_STORE_UNKNOWN',
      `No cache store named "${alias}". Known stores: ${known.map((k) => `"${k}"`).join(', ') || '(none)'}; ` +
        'add it to TenantCacheModule.forRoot({ stores }).',
      { store: alias },
    );
  }
}
