import { describe, expect, it } from 'vitest';
import { fromFunction, fromHeader, fromJwtClaim, fromRouteParam, fromSubdomain, InvalidOptionsError, InvalidTenantIdError, type TenantRequest } from '../../lib/index.js';

const req = (parts: Partial<TenantRequest> = {}): TenantRequest => ({ headers: {}, ...parts });

describe('fromHeader', () => {
  it('reads x-tenant-id by default and any header case-insensitively', () => {
    expect(fromHeader()(req({ headers: { 'x-tenant-id': 'acme' } }))).toBe('acme');
    expect(fromHeader('X-Org')(req({ headers: { 'x-org': 'globex' } }))).toBe('globex');
    expect(fromHeader()(req())).toBeUndefined();
    expect(fromHeader()(req({ headers: { 'x-tenant-id': '' } }))).toBeUndefined();
  });

  it('refuses a header sent as several values', () => {
    expect(() => fromHeader()(req({ headers: { 'x-tenant-id': ['a', 'b'] } }))).toThrow(InvalidTenantIdError);
  });

  it('is client-controlled and says which header', () => {
    expect(fromHeader('X-Org').tenantSource).toEqual({ description: 'header "x-org"', trusted: false });
    expect(() => fromHeader('bad header')).toThrow(InvalidOptionsError);
    expect(() => fromHeader('')).toThrow(InvalidOptionsError);
  });
});

describe('fromSubdomain', () => {
  const host = (hostname: string) => req({ hostname });

  it('with a base domain: exactly one label before it, lower-cased, port ignored', () => {
    const r = fromSubdomain({ baseDomain: 'Example.com' });
    expect(r(host('acme.example.com'))).toBe('acme');
    expect(r(host('ACME.Example.COM'))).toBe('acme');
    expect(r(req({ headers: { host: 'globex.example.com:3000' } }))).toBe('globex');
    expect(r(host('example.com'))).toBeUndefined();
    expect(r(host('a.b.example.com'))).toBeUndefined();
    expect(r(host('acme.notexample.com'))).toBeUndefined();
    expect(r(host('acmeexample.com'))).toBeUndefined();
  });

  it('without a base domain: the label at index, when the host has a subdomain', () => {
    expect(fromSubdomain()(host('acme.example.com'))).toBe('acme');
    expect(fromSubdomain({ index: 1 })(host('eu.acme.example.com'))).toBe('acme');
    expect(fromSubdomain()(host('example.com'))).toBeUndefined();
    expect(fromSubdomain({ index: 1 })(host('acme.example.com'))).toBeUndefined();
  });

  it('IP addresses and missing hosts have no tenant', () => {
    expect(fromSubdomain()(host('10.0.0.1'))).toBeUndefined();
    expect(fromSubdomain()(req({ headers: { host: '[::1]:3000' } }))).toBeUndefined();
    expect(fromSubdomain()(req())).toBeUndefined();
  });

  it('rejects bad options at start-up', () => {
    expect(() => fromSubdomain({ baseDomain: '' })).toThrow(InvalidOptionsError);
    expect(() => fromSubdomain({ index: -1 })).toThrow(InvalidOptionsError);
    expect(fromSubdomain({ baseDomain: 'example.com' }).tenantSource).toEqual({ description: 'subdomain of "example.com"', trusted: false });
  });
});

describe('fromJwtClaim', () => {
  it('reads the claim of the verified user, never a token', () => {
    expect(fromJwtClaim()(req({ user: { tenantId: 'acme' } }))).toBe('acme');
    expect(fromJwtClaim('tid')(req({ user: { tid: 42 } }))).toBe('42');
    expect(fromJwtClaim(['org', 'id'])(req({ user: { org: { id: 'globex' } } }))).toBe('globex');
    // A raw bearer token is not looked at: without request.user there is no answer.
    const unsigned = `e30.${Buffer.from(JSON.stringify({ tenantId: 'globex' })).toString('base64url')}.`;
    expect(fromJwtClaim()(req({ headers: { authorization: `Bearer ${unsigned}` } }))).toBeUndefined();
    expect(fromJwtClaim()(req({ user: {} }))).toBeUndefined();
    expect(fromJwtClaim()(req({ user: { tenantId: null } }))).toBeUndefined();
  });

  it('reads getters of a user class, and refuses Object.prototype names as claims', () => {
    class User {
      constructor(private readonly org: string) {}
      get tenantId() {
        return this.org;
      }
    }
    expect(fromJwtClaim()(req({ user: new User('acme') }))).toBe('acme');
    expect(() => fromJwtClaim('constructor')).toThrow(InvalidOptionsError);
    expect(() => fromJwtClaim(['org', '__proto__'])).toThrow(InvalidOptionsError);
  });

  it('refuses a claim that is not a string or an integer', () => {
    expect(() => fromJwtClaim()(req({ user: { tenantId: ['a', 'b'] } }))).toThrow(/an array, not a string/);
    expect(() => fromJwtClaim()(req({ user: { tenantId: 1.5 } }))).toThrow(InvalidTenantIdError);
  });

  it('is the trusted source', () => {
    expect(fromJwtClaim('tid').tenantSource).toEqual({ description: 'claim "tid" of the authenticated user', trusted: true });
    expect(() => fromJwtClaim('')).toThrow(InvalidOptionsError);
  });
});

describe('fromRouteParam and fromFunction', () => {
  it('reads a route parameter', () => {
    expect(fromRouteParam()(req({ params: { tenantId: 'acme' } }))).toBe('acme');
    expect(fromRouteParam('org')(req({ params: { org: 'globex' } }))).toBe('globex');
    expect(fromRouteParam('org')(req({ params: {} }))).toBeUndefined();
    expect(fromRouteParam('org').tenantSource?.trusted).toBe(false);
  });

  it('wraps a custom sync or async function with a description and trust flag', async () => {
    const r = fromFunction(async (request) => String(request.headers['x-key']).split('-')[0], { description: 'API key', trusted: true });
    expect(await r(req({ headers: { 'x-key': 'acme-123' } }))).toBe('acme');
    expect(r.tenantSource).toEqual({ description: 'API key', trusted: true });
    function byCookie() {
      return 'acme';
    }
    expect(fromFunction(byCookie).tenantSource).toEqual({ description: 'resolver "byCookie"', trusted: false });
  });
});
