import { headerOf } from './cache-request.js';
import { type StoredResponse, etagMatches, replayBody } from './cached-response.js';
import type { Exchange } from './exchange.js';
import type { CacheStatus } from './http.constants.js';
import type { NormalizedHttpOptions } from './http.options.js';
import { type PlatformResponse, appendVary, forceStatus, setHeader } from './platform-shims.js';

/** Responses an entry was replayed on (a load that finishes after must not read their headers as its own). */
const REPLAYED = new WeakSet<object>();

/** Whether an entry was replayed on `res`: its headers are then the entry's, not a handler's. */
export function replayedOn(res: PlatformResponse): boolean {
  return REPLAYED.has(res);
}

/**
 * Sends a stored entry back: sets its headers (and `X-Cache`, `Age`, `Cache-Control`, `Vary`, surrogate
 * keys, `ETag`, as the options say) and returns the body for Nest to send, or forces a 304 when
 * `If-None-Match` matches. `httpDate` formats `cachedAt` for `X-Cached-At`.
 */
export function replayResponse(
  x: Exchange,
  entry: StoredResponse,
  cachedAt: number,
  status: CacheStatus,
  http: NormalizedHttpOptions,
  httpDate: (at: number) => string,
): unknown {
  const { plan, req, res, scope } = x;
  REPLAYED.add(res);
  const opts = http.headers;
  for (const [name, value] of entry.h) setHeader(res, name, value);
  if (opts.xCache) setHeader(res, 'X-Cache', status);
  if (opts.age) {
    setHeader(res, 'Age', String(Math.max(0, Math.floor((Date.now() - cachedAt) / 1000))));
    setHeader(res, 'X-Cached-At', httpDate(cachedAt));
  }
  const shared = plan.cacheControl !== undefined && !entry.u && plan.options.cacheControl?.public === true;
  if (plan.cacheControl !== undefined) setHeader(res, 'Cache-Control', entry.u ? plan.cacheControl.perUser : plan.cacheControl.shared);
  let vary = plan.vary;
  if (shared && scope.kind === 'tenant' && http.tenantHeaders.length > 0) vary = [vary, ...http.tenantHeaders].filter(Boolean).join(', ');
  if (vary) appendVary(res, vary);
  if (entry.t.length > 0) for (const h of http.surrogateHeaders) setHeader(res, h.name, entry.t.join(h.separator));
  if (opts.etag) {
    setHeader(res, 'ETag', entry.e);
    if (etagMatches(headerOf(req, 'if-none-match'), entry.e)) {
      forceStatus(res, 304);
      return undefined;
    }
  }
  if (entry.s !== res.statusCode) forceStatus(res, entry.s);
  return replayBody(entry);
}
