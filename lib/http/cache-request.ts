/**
 * The parts of an HTTP request (Express `Request` or Fastify `FastifyRequest`) that keys, tags and
 * predicates read. Both platforms' request objects satisfy it.
 */
export interface CacheRequest {
  readonly method: string;
  /** Path and query as sent (Fastify); Express keeps the mounted path here. */
  readonly url: string;
  /** Express: the full path and query as sent. */
  readonly originalUrl?: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed query (shape depends on the platform's parser). */
  readonly query?: unknown;
  /** Route parameters. */
  readonly params?: unknown;
  /** The authenticated user, as set by Passport or a guard. */
  readonly user?: unknown;
  /** Set to true (by a guard or the handler) to keep this response out of the cache. */
  doNotCache?: boolean;
}

/** The path of a request as sent (percent-encoding kept), without the query. */
export function requestPath(req: CacheRequest): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The raw query string of a request (without `?`), `''` when there is none. */
export function rawQuery(req: CacheRequest): string {
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

/** One header as a single string (repeated headers joined with `, `), `undefined` when absent. */
export function headerOf(req: CacheRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Decodes a query component; a malformed escape keeps the raw text (never throws). */
export function safeDecode(text: string): string {
  const plus = text.includes('+') ? text.replace(/\+/g, ' ') : text;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/**
 * The query as `[name, value]` pairs, sorted, raw (never decoded, so two different byte strings never
 * meet). Repeated parameters are kept whole: `a=1&a=2` and `a=2` differ, `a=1&a=2` and `a=2&a=1` meet.
 * `allow` keeps only the named parameters (matched on the decoded name).
 */
export function canonicalQuery(query: string, allow?: ReadonlySet<string>): string[] {
  if (query === '') return [];
  const pairs: string[] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (allow !== undefined) {
      const eq = part.indexOf('=');
      if (!allow.has(safeDecode(eq < 0 ? part : part.slice(0, eq)))) continue;
    }
    pairs.push(part.includes('=') ? part : `${part}=`);
  }
  return pairs.sort();
}

/** The value at a dotted path on the request (`user.org.id`, `params.id`); own properties only. */
export function valueAt(req: CacheRequest, path: string): unknown {
  let at: unknown = req;
  for (const segment of path.split('.')) {
    if (at === null || (typeof at !== 'object' && typeof at !== 'function')) return undefined;
    if (segment === '__proto__' || segment === 'constructor' || segment === 'prototype') return undefined;
    at = Object.prototype.hasOwnProperty.call(at, segment) || segment in Object(at) ? (at as Record<string, unknown>)[segment] : undefined;
  }
  return at;
}
