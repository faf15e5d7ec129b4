/**
 * The response object as the interceptor sees it: Express's `Response` (a Node `ServerResponse`) or
 * Fastify's `FastifyReply` (which wraps one in `raw`). Every difference between the two platforms is
 * handled by the functions of this file.
 */
export interface PlatformResponse {
  statusCode: number;
  raw?: PlatformResponse;
  getHeader?(name: string): unknown;
  writeHead?: (...args: unknown[]) => unknown;
}

/** A response header as one string (Express `res.getHeader`, Fastify `reply.getHeader`). */
export function getHeader(res: PlatformResponse, name: string): string | undefined {
  const value = res.getHeader?.(name);
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Sets a response header (Express `res.setHeader`, Fastify `reply.header`). */
export function setHeader(res: PlatformResponse, name: string, value: string): void {
  const r = res as unknown as { header?: (n: string, v: string) => unknown; setHeader?: (n: string, v: string) => unknown; raw?: unknown };
  // Fastify's reply has header() and raw; Express's response is a ServerResponse with setHeader().
  if (r.raw !== undefined && typeof r.header === 'function') r.header(name, value);
  else r.setHeader!(name, value);
}

/** Adds header names to `Vary`, keeping the ones the response already varies on. */
export function appendVary(res: PlatformResponse, vary: string): void {
  const existing = getHeader(res, 'vary');
  if (!existing) return setHeader(res, 'Vary', vary);
  const present = new Set(existing.split(',').map((v) => v.trim().toLowerCase()));
  const added = vary.split(', ').filter((v) => !present.has(v.toLowerCase()));
  if (added.length > 0) setHeader(res, 'Vary', `${existing}, ${added.join(', ')}`);
}

/**
 * Makes the response go out with `status` although Nest applies the route's own status when it sends:
 * the underlying ServerResponse's `writeHead` is wrapped for this one response. A 304 drops the body
 * and its Content-Length (Node sends no body for 304).
 */
export function forceStatus(res: PlatformResponse, status: number): void {
  const raw = (res.raw ?? res) as PlatformResponse & { writeHead: (...args: unknown[]) => unknown; removeHeader(name: string): void };
  const original = raw.writeHead;
  raw.writeHead = function (this: unknown, _code: unknown, ...rest: unknown[]) {
    raw.writeHead = original;
    let args = rest;
    if (status === 304) {
      raw.removeHeader('content-length');
      raw.removeHeader('content-type');
      args = rest.map((a) => (typeof a === 'object' && a !== null && !Array.isArray(a) ? withoutBodyHeaders(a as Record<string, unknown>) : a));
    }
    if (typeof args[0] === 'string') args = args.slice(1);
    return original.call(raw, status, ...args);
  };
}

function withoutBodyHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'content-type') out[k] = v;
  return out;
}
