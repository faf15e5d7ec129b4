import type { CacheRequest } from './cache-request.js';
import { forbidsStoring } from './cached-response.js';
import { type PlatformResponse, getHeader } from './platform-shims.js';
import type { RoutePlan } from './route-plan.js';

/** Why a response is not stored; `loud` ones are logged as warnings (a likely mistake), the others at debug. */
export interface Refusal {
  readonly reason: string;
  readonly loud: boolean;
}

/**
 * Whether the handler's response may be stored, from the request and the response headers it set: a
 * request marked `doNotCache`, a status outside `statuses` (default 2xx), a cookie, a `Cache-Control`
 * that forbids storing, or a `Vary` on a header the key does not hold refuse it. With `replayed` (a load
 * past `timeout.soft` that finished after a stale entry was replayed on `res`), `Cache-Control` and
 * `Vary` are the ones the replay set from the route's options, not the handler's: not read.
 */
export function refusal(plan: RoutePlan, req: CacheRequest, res: PlatformResponse, perUser: boolean, replayed = false): Refusal | undefined {
  if (req.doNotCache === true) return { reason: 'request.doNotCache is set', loud: false };
  const status = res.statusCode;
  if (plan.statuses ? !plan.statuses.has(status) : status < 200 || status > 299) return { reason: `status ${status}`, loud: false };
  if (getHeader(res, 'set-cookie') !== undefined) return { reason: 'it sets a cookie', loud: false };
  if (replayed) return undefined;
  const cacheControl = getHeader(res, 'cache-control');
  if (cacheControl !== undefined && forbidsStoring(cacheControl)) return { reason: `Cache-Control: ${cacheControl}`, loud: false };
  const varies = unkeyedVary(getHeader(res, 'vary'), plan.varySet, perUser);
  if (varies !== undefined) return { reason: `it varies on ${varies}, which the key does not hold (add it with ResponseKey.headers())`, loud: true };
  return undefined;
}

/** Vary entries that only concern headers the cache neither stores nor keys on. */
const VARY_IGNORED: ReadonlySet<string> = new Set(['origin', 'accept-encoding']);
const VARY_PER_USER: ReadonlySet<string> = new Set(['authorization', 'cookie']);

/** The first header a response varies on that the key does not hold (`*` included), or `undefined`. */
function unkeyedVary(vary: string | undefined, keyed: ReadonlySet<string>, perUser: boolean): string | undefined {
  if (vary === undefined) return undefined;
  for (const raw of vary.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '' || VARY_IGNORED.has(name) || keyed.has(name) || (perUser && VARY_PER_USER.has(name))) continue;
    return name === '*' ? 'everything (Vary: *)' : `"${name}"`;
  }
  return undefined;
}
