import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** `http.purge` names a response-cache backend that `http.backends` does not define (raised at start-up). */
export class UnknownResponseBackendError extends TenantCacheError {
  constructor(name: string, known: readonly string[]) {
    super(
      TenantCacheErrorCode.UnknownResponseBackend,
      `TenantCacheModule option "http.purge" names no backend "${name}". Known backends: ${['store', ...known].map((k) => `"${k}"`).join(', ')}; ` +
        'define it in http.backends (fastlyBackend(), cloudflareBackend(), compositeBackend()) or fix the name.',
    );
  }
}
