import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One purge the fake CDN accepted. */
export interface RecordedPurge {
  cdn: 'fastly' | 'cloudflare';
  /** Fastly service id or Cloudflare zone id. */
  target: string;
  keys: string[];
  soft: boolean;
}

/** One request as received (accepted or not). */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeCdnOptions {
  fastly?: { serviceId: string; token: string };
  cloudflare?: { zoneId: string; token?: string; email?: string; key?: string; maxTags?: number };
}

/**
 * A local HTTP server speaking the purge APIs' contract: Fastly's batch surrogate-key purge
 * (`POST /service/{id}/purge`, `Fastly-Key`, `{"surrogate_keys": [...]}` or a `Surrogate-Key` header,
 * at most 256 keys, `Fastly-Soft-Purge: 1`) and Cloudflare's purge by tag
 * (`POST /client/v4/zones/{zone}/purge_cache`, Bearer token or X-Auth-Email/X-Auth-Key, `{"tags": [...]}`).
 * It also plays the edge: objects registered with their surrogate keys disappear when purged.
 */
export class FakeCdn {
  readonly purges: RecordedPurge[] = [];
  readonly received: ReceivedRequest[] = [];
  /** Objects cached at the "edge": id -> surrogate keys. */
  readonly edge = new Map<string, Set<string>>();
  /** Answer the next N requests with this status (e.g. 503). */
  failNext: { count: number; status: number } = { count: 0, status: 503 };
  private server?: Server;
  url = '';

  constructor(private readonly options: FakeCdnOptions) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Puts an object at the edge with the keys of its `Surrogate-Key` (space-separated) or `Cache-Tag` (comma-separated) header. */
  cache(id: string, header: string | undefined, separator: ' ' | ','): void {
    this.edge.set(
      id,
      new Set(
        (header ?? '')
          .split(separator)
          .map((k) => k.trim())
          .filter(Boolean),
      ),
    );
  }

  private handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const path = req.url ?? '';
    this.received.push({ method: req.method ?? '', path, headers: req.headers, body });
    if (this.failNext.count > 0) {
      this.failNext.count--;
      return send(res, this.failNext.status, { msg: 'unavailable' });
    }
    const fastly = /^\/service\/([^/]+)\/purge(?:\/([^/]+))?$/.exec(path);
    if (fastly && this.options.fastly) return this.fastly(req, body, res, decodeURIComponent(fastly[1]!), fastly[2]);
    const cf = /^\/client\/v4\/zones\/([^/]+)\/purge_cache$/.exec(path);
    if (cf && this.options.cloudflare) return this.cloudflare(req, body, res, decodeURIComponent(cf[1]!));
    send(res, 404, { msg: 'Record not found' });
  }

  private fastly(req: IncomingMessage, body: string, res: ServerResponse, serviceId: string, single: string | undefined): void {
    const o = this.options.fastly!;
    if (req.method !== 'POST') return send(res, 405, { msg: 'Method not allowed' });
    if (req.headers['fastly-key'] !== o.token) return send(res, 401, { msg: 'Provided credentials are missing or invalid' });
    if (serviceId !== o.serviceId) return send(res, 404, { msg: 'Record not found' });
    let keys: string[];
    if (single !== undefined) keys = [decodeURIComponent(single)];
    else if (typeof req.headers['surrogate-key'] === 'string') keys = req.headers['surrogate-key'].split(' ').filter(Boolean);
    else {
      if (!String(req.headers['content-type']).startsWith('application/json')) return send(res, 400, { msg: 'Expected JSON' });
      try {
        keys = (JSON.parse(body) as { surrogate_keys?: unknown }).surrogate_keys as string[];
      } catch {
        return send(res, 400, { msg: 'Bad JSON' });
      }
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) return send(res, 400, { msg: 'surrogate_keys must be a list of strings' });
    }
    if (keys.length === 0 || keys.length > 256) return send(res, 400, { msg: 'Between 1 and 256 surrogate keys per request' });
    const soft = req.headers['fastly-soft-purge'] === '1';
    this.purges.push({ cdn: 'fastly', target: serviceId, keys, soft });
    this.evict(keys);
    send(res, 200, Object.fromEntries(keys.map((k, i) => [k, `purge-${this.purges.length}-${i}`])));
  }

  private cloudflare(req: IncomingMessage, body: string, res: ServerResponse, zoneId: string): void {
    const o = this.options.cloudflare!;
    const fail = (status: number, code: number, message: string) => send(res, status, { success: false, errors: [{ code, message }], messages: [], result: null });
    if (req.method !== 'POST') return fail(405, 10000, 'Method not allowed');
    const bearer = req.headers.authorization;
    const authorized =
      (o.token !== undefined && bearer === `Bearer ${o.token}`) ||
      (o.email !== undefined && req.headers['x-auth-email'] === o.email && req.headers['x-auth-key'] === o.key);
    if (!authorized) return fail(403, 10000, 'Authentication error');
    if (zoneId !== o.zoneId) return fail(404, 7003, 'Could not route to /zones/..., perhaps your object identifier is invalid?');
    let tags: unknown;
    try {
      tags = (JSON.parse(body) as { tags?: unknown }).tags;
    } catch {
      return fail(400, 1012, 'Request must contain one of "purge_everything", "files", "tags", "hosts" or "prefixes"');
    }
    if (!Array.isArray(tags) || tags.length === 0 || tags.some((t) => typeof t !== 'string')) return fail(400, 1012, 'tags must be a non-empty list of strings');
    if (tags.length > (o.maxTags ?? 30)) return fail(400, 1019, `Maximum of ${o.maxTags ?? 30} tags per request`);
    this.purges.push({ cdn: 'cloudflare', target: zoneId, keys: tags as string[], soft: false });
    this.evict(tags as string[]);
    send(res, 200, { success: true, errors: [], messages: [], result: { id: `purge-${this.purges.length}` } });
  }

  private evict(keys: readonly string[]): void {
    for (const [id, objectKeys] of this.edge) if (keys.some((k) => objectKeys.has(k))) this.edge.delete(id);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
