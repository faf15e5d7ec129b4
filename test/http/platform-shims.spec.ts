import { describe, expect, it } from 'vitest';
import { refusal } from '../../lib/http/capture-policy.js';
import { type PlatformResponse, appendVary, forceStatus, getHeader, setHeader } from '../../lib/http/platform-shims.js';
import type { RoutePlan } from '../../lib/http/route-plan.js';

interface FakeResponse extends PlatformResponse {
  headers: Map<string, unknown>;
  written: unknown[];
  setHeader(name: string, value: unknown): void;
  removeHeader(name: string): void;
}

/** A Node ServerResponse as Express hands it: setHeader/getHeader/removeHeader/writeHead. */
function expressResponse(): FakeResponse {
  const headers = new Map<string, unknown>();
  const res: FakeResponse = {
    statusCode: 200,
    headers,
    written: [],
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    setHeader: (name: string, value: unknown) => void headers.set(name.toLowerCase(), value),
    removeHeader: (name: string) => void headers.delete(name.toLowerCase()),
    writeHead(...args: unknown[]) {
      res.written = args;
      return res;
    },
  };
  return res;
}

/** A Fastify reply: header() on the reply, the ServerResponse in `raw`. */
function fastifyReply(): PlatformResponse & { raw: FakeResponse; headers: Map<string, unknown> } {
  const raw = expressResponse();
  const headers = new Map<string, unknown>();
  return {
    statusCode: 200,
    raw,
    headers,
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    header: (name: string, value: unknown) => void headers.set(name.toLowerCase(), value),
  } as never;
}

describe('platform shims', () => {
  it.each([
    ['express', expressResponse],
    ['fastify', fastifyReply],
  ] as const)('sets, reads and appends headers on %s', (_name, make) => {
    const res = make();
    setHeader(res, 'Vary', 'Accept');
    appendVary(res, 'accept, X-Tenant');
    expect(getHeader(res, 'vary')).toBe('Accept, X-Tenant');
    res.headers.set('link', ['a', 'b']);
    expect(getHeader(res, 'link')).toBe('a, b');
    if (res.raw !== undefined) expect((res.raw as FakeResponse).headers.size).toBe(0);
  });

  it('forces a 304 without body headers, once, on the underlying ServerResponse', () => {
    const reply = fastifyReply();
    const raw = reply.raw;
    const writeHead = raw.writeHead;
    raw.setHeader('content-length', '12');
    raw.setHeader('content-type', 'application/json');
    forceStatus(reply, 304);
    raw.writeHead!(200, 'OK', { 'Content-Length': '12', ETag: '"x"' });
    expect(raw.written).toEqual([304, { ETag: '"x"' }]);
    expect(raw.headers.has('content-length')).toBe(false);
    expect(raw.writeHead).toBe(writeHead);
  });
});

describe('capture policy', () => {
  const plan = { statuses: undefined, varySet: new Set(['accept-language']) } as unknown as RoutePlan;
  const req = { method: 'GET', url: '/', headers: {} };

  it('stores a plain 2xx response', () => {
    expect(refusal(plan, req, expressResponse(), false)).toBeUndefined();
  });

  it.each([
    ['set-cookie', 'a=1', 'it sets a cookie', false],
    ['cache-control', 'no-store', 'Cache-Control: no-store', false],
    ['vary', 'Accept-Language, X-Api-Version', 'it varies on "x-api-version", which the key does not hold (add it with ResponseKey.headers())', true],
  ] as const)('refuses a response with %s: %s', (header, value, reason, loud) => {
    const res = expressResponse();
    res.setHeader(header, value);
    expect(refusal(plan, req, res, false)).toEqual({ reason, loud });
  });

  it('refuses statuses outside 2xx, and ignores Vary: Cookie on a per-user entry', () => {
    const res = expressResponse();
    res.statusCode = 404;
    expect(refusal(plan, req, res, false)).toEqual({ reason: 'status 404', loud: false });
    const perUser = expressResponse();
    perUser.setHeader('vary', 'Cookie');
    expect(refusal(plan, req, perUser, true)).toBeUndefined();
  });
});
