import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import type { PurgeRequest, ResponseCacheBackend, SurrogateHeader } from '../response-cache-backend.interface.js';

/**
 * Fans out to several backends: responses carry every backend's surrogate header, and a purge goes to
 * all of them (in parallel). If some fail, the others still purge, and the returned promise rejects
 * with the first failure (an `AggregateError` of all of them when several fail).
 *
 * @example
 * http: { backends: { edge: compositeBackend(fastlyBackend({ ... }), cloudflareBackend({ ... })) } }
 */
export function compositeBackend(...backends: ResponseCacheBackend[]): ResponseCacheBackend {
  if (backends.length === 0)
    throw new InvalidOptionsError('compositeBackend', 'has no backends', 'Pass one or more backends: compositeBackend(fastlyBackend(...), ...).');
  for (const b of backends) {
    if (!b || typeof b.purge !== 'function')
      throw new InvalidOptionsError(
        'compositeBackend',
        'got something that is not a backend',
        'Pass fastlyBackend(...), cloudflareBackend(...) or your own { kind, surrogateHeaders, purge }.',
      );
  }
  const headers = new Map<string, SurrogateHeader>();
  for (const b of backends) for (const h of b.surrogateHeaders) headers.set(h.name.toLowerCase(), h);
  return {
    kind: `composite(${backends.map((b) => b.kind).join(',')})`,
    surrogateHeaders: [...headers.values()],
    async purge(request: PurgeRequest): Promise<void> {
      const results = await Promise.allSettled(backends.map((b) => b.purge(request)));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
      if (failed.length === 1) throw failed[0];
      if (failed.length > 1) throw new AggregateError(failed, `${failed.length} of ${backends.length} CDN purges failed`);
    },
  };
}
