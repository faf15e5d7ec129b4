import 'reflect-metadata';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CacheRequest, InvalidCacheKeyError, KeyConstructor, ResponseKey, Surrogate, defaultUserId } from '../../lib/index.js';
import { compileResponseKey, withUser } from '../../lib/http/response-key.js';

const where = { className: 'C', methodName: 'm' };

function req(url: string, extra: Partial<CacheRequest> = {}): CacheRequest {
  return { method: 'GET', url, headers: {}, ...extra };
}

describe('response keys', () => {
  const byDefault = compileResponseKey(undefined, where);
  const key = (url: string, extra?: Partial<CacheRequest>) => byDefault.build(req(url, extra), 'GET');

  it('tells apart paths and queries that a naive concatenation would merge', () => {
    expect(key('/foo-bar')).not.toBe(key('/foobar'));
    expect(key('/foo?bar')).not.toBe(key('/foo%3Fbar'));
    expect(key('/a?x=1&x=2')).not.toBe(key('/a?x=2'));
    expect(key('/a?x=1&x=2')).toBe(key('/a?x=2&x=1'));
    expect(key('/a?b=1&a=2')).toBe(key('/a?a=2&b=1'));
    expect(key('/a?x=1%262')).not.toBe(key('/a?x=1&2'));
    expect(key('/a?x=%FF')).not.toBe(key('/a?x=%FE'));
    expect(key('/a?')).toBe(key('/a'));
    expect(key('/a?x')).toBe(key('/a?x='));
  });

  it('is injective over generated paths and queries', () => {
    const segment = fc.string({ maxLength: 6 }).map((s) => encodeURIComponent(s));
    const url = fc
      .tuple(fc.array(segment, { maxLength: 3 }), fc.array(fc.tuple(segment, segment), { maxLength: 3 }))
      .map(([parts, query]) => `/${parts.join('/')}${query.length ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`);
    const canonical = (u: string) => {
      const [path, q = ''] = u.split('?');
      return `${path}?${q
        .split('&')
        .filter(Boolean)
        .map((p) => (p.includes('=') ? p : `${p}=`))
        .sort()
        .join('&')}`;
    };
    fc.assert(
      fc.property(url, url, (a, b) => {
        expect(key(a) === key(b)).toBe(canonical(a) === canonical(b));
      }),
      { numRuns: 500 },
    );
  });

  it('hashes huge queries and keeps the key bounded', () => {
    const k = key(`/a?q=${'x'.repeat(100_000)}`);
    expect(k.length).toBeLessThan(200);
    expect(k).not.toBe(key(`/a?q=${'x'.repeat(99_999)}y`));
  });

  it('keys HEAD like GET and adds the user slice distinctly', () => {
    expect(withUser(key('/me'), 'id:string:1')).not.toBe(withUser(key('/me'), undefined));
    expect(withUser(key('/me'), 'id:string:1')).not.toBe(withUser(key('/me'), 'id:number:1'));
  });

  it('finds the user id on req.user, else the Authorization header; anonymous otherwise', () => {
    expect(defaultUserId(req('/', { user: { id: 7 } }))).toBe('id:number:7');
    expect(defaultUserId(req('/', { user: { sub: 'u-1' } }))).toBe('sub:string:u-1');
    expect(defaultUserId(req('/', { user: { name: 'no id' } }))).toMatch(/^user#/);
    expect(defaultUserId(req('/', { user: { name: 'a' } }))).not.toBe(defaultUserId(req('/', { user: { name: 'b' } })));
    expect(defaultUserId(req('/', { headers: { authorization: 'Bearer a' } }))).not.toBe(defaultUserId(req('/', { headers: { authorization: 'Bearer b' } })));
    expect(defaultUserId(req('/'))).toBeUndefined();
  });

  it('builds keys from parts: allow-listed query, params, dotted fields, headers (with Vary), format, hash', () => {
    const k = compileResponseKey([ResponseKey.path(), ResponseKey.query({ allow: ['page'] }), ResponseKey.headers('Accept-Language')], where);
    expect(k.vary).toEqual(['accept-language']);
    const en = (url: string) => k.build(req(url, { headers: { 'accept-language': 'en' } }), 'GET');
    expect(en('/p?page=1&utm=x')).toBe(en('/p?page=1'));
    expect(en('/p?page=1')).not.toBe(en('/p?page=2'));
    expect(en('/p?page=1')).not.toBe(k.build(req('/p?page=1', { headers: { 'accept-language': 'fr' } }), 'GET'));
    const params = compileResponseKey([ResponseKey.params('id')], where);
    expect(params.build(req('/x', { params: { id: '1', other: 'a' } }), 'GET')).toBe(params.build(req('/y', { params: { id: '1', other: 'b' } }), 'GET'));
    expect(params.build(req('/x', { params: { id: '1' } }), 'GET')).not.toBe(params.build(req('/x', { params: { id: 1 } }), 'GET'));
    const field = compileResponseKey([ResponseKey.field('user.org.id')], where);
    expect(field.build(req('/', { user: { org: { id: 'a' } } }), 'GET')).not.toBe(field.build(req('/', { user: { org: { id: 'b' } } }), 'GET'));
    expect(field.build(req('/', { user: { org: { id: '1' } } }), 'GET')).not.toBe(field.build(req('/', { user: { org: { id: 1 } } }), 'GET'));
    const format = compileResponseKey([ResponseKey.format()], where);
    expect(format.build(req('/r.csv'), 'GET')).not.toBe(format.build(req('/r.json'), 'GET'));
    expect(format.build(req('/r', { headers: { accept: 'text/csv' } }), 'GET')).not.toBe(format.build(req('/r', { headers: { accept: 'application/json' } }), 'GET'));
    const hashed = compileResponseKey([ResponseKey.hash(ResponseKey.headers('x-filter'))], where);
    const big = hashed.build(req('/', { headers: { 'x-filter': 'f'.repeat(5000) } }), 'GET');
    expect(big.length).toBeLessThan(120);
    expect(hashed.vary).toEqual(['x-filter']);
  });

  it('never lets two key kinds or part lists meet', () => {
    const path = compileResponseKey([ResponseKey.path()], where).build(req('/a'), 'GET');
    const fn = compileResponseKey(() => '/a', where).build(req('/a'), 'GET');
    const field = compileResponseKey([ResponseKey.field('url')], where).build(req('/a'), 'GET');
    expect(new Set([path, fn, field]).size).toBe(3);
  });

  it('accepts a KeyConstructor over the request, and a function; bad ones are typed errors', () => {
    class PageKey extends KeyConstructor.params('req')<[req: CacheRequest]> {
      page = this.arg('req.query');
    }
    const k = compileResponseKey(PageKey, where);
    expect(k.build(req('/', { query: { page: '1' } }), 'GET')).not.toBe(k.build(req('/', { query: { page: '2' } }), 'GET'));
    const throws = compileResponseKey(() => {
      throw new Error('nope');
    }, where);
    expect(() => throws.build(req('/'), 'GET')).toThrow(InvalidCacheKeyError);
    const notString = compileResponseKey((() => 42) as unknown as () => string, where);
    expect(() => notString.build(req('/'), 'GET')).toThrow(/returned number/);
  });
});

describe('surrogate generators', () => {
  it('derive tags from the path, an entity id, the user and query parameters', () => {
    expect(Surrogate.path()(req('/products/1?x=1'))).toBe('path:/products/1');
    expect(Surrogate.entity('product')(req('/', { params: { id: '9' } }))).toBe('product:9');
    expect(Surrogate.entity('product')(req('/', { params: {} }))).toBeUndefined();
    expect(Surrogate.entity('order', 'query.orderId')(req('/', { query: { orderId: 3 } }))).toBe('order:3');
    expect(Surrogate.user()(req('/', { user: { id: 'u1' } }))).toBe('user:id:string:u1');
    expect(Surrogate.user()(req('/'))).toBeUndefined();
    expect(Surrogate.query('category', 'q')(req('/?q=a+b&category=x%20y&z=1'))).toEqual(['query:category=x y', 'query:q=a b']);
  });
});
