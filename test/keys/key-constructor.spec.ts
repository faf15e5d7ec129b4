import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidCacheKeyError, InvalidKeyConstructorError, InvalidPartitionError, KeyConstructor } from '../../lib/index.js';
import { CompiledKey } from '../../lib/keys/key-constructor.compiler.js';

interface Query {
  page: number;
  filters?: { category?: string; tags?: string[] };
}

class SearchKey extends KeyConstructor.params('org', 'query')<[org: string, query: Query]> {
  org = this.arg('org', { partition: true });
  category = this.arg('query.filters.category', { partition: true });
  page = this.arg('1.page');
  tags = this.arg('query.filters.tags', { sortLists: true });
  schema = this.constant('v1');
}

const target = { className: 'Search', methodName: 'find', paramCount: 2 };
const ctx = { tenantId: 'acme', className: 'Search', methodName: 'find' };
const compiled = CompiledKey.fromConstructor(SearchKey, target);
const build = (org: string, q: Query) => compiled.build([org, q], ctx);

describe('KeyConstructor', () => {
  it('builds the same key for the same call and different keys for different calls', () => {
    expect(build('o', { page: 1, filters: { category: 'x' } })).toBe(build('o', { filters: { category: 'x' }, page: 1 }));
    expect(build('o', { page: 1 })).not.toBe(build('o', { page: 2 }));
    expect(build('o', { page: 1 })).not.toBe(build('p', { page: 1 }));
    // sortLists: tag order does not matter
    expect(build('o', { page: 1, filters: { tags: ['a', 'b'] } })).toBe(build('o', { page: 1, filters: { tags: ['b', 'a'] } }));
    // A missing optional path keys like undefined, distinct from null and 'undefined'
    expect(build('o', { page: 1 })).not.toBe(build('o', { page: 1, filters: { category: 'undefined' } }));
  });

  it('property: distinct argument values never share a key (partition and tail fields)', () => {
    const arg = fc.tuple(
      fc.string({ maxLength: 6 }),
      fc.record({
        page: fc.integer({ min: -2, max: 100 }),
        filters: fc.option(fc.record({ category: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }) }), { nil: undefined }),
      }),
    );
    fc.assert(
      fc.property(arg, arg, ([o1, q1], [o2, q2]) => {
        const sameCall = o1 === o2 && q1.page === q2.page && (q1.filters?.category ?? undefined) === (q2.filters?.category ?? undefined);
        expect(build(o1, q1) === build(o2, q2)).toBe(sameCall);
      }),
      { numRuns: 3000 },
    );
  });

  it('puts partition fields first, self-delimited: partition 4 is not a prefix of partition 42', () => {
    const k4 = build('4', { page: 1 });
    const k42 = build('42', { page: 1 });
    const p4 = compiled.partition({ org: '4' }, ctx).prefix;
    expect(k4.startsWith(p4)).toBe(true);
    expect(k42.startsWith(p4)).toBe(false);
    const star = compiled.partition({ org: '4*' }, ctx).prefix;
    expect(k42.startsWith(star)).toBe(false);
    expect(compiled.partition({ org: '4' }, ctx).matches).toBeUndefined();
  });

  it('addresses a non-leading subset of partition fields with an exact filter', () => {
    const sel = compiled.partition({ category: 'books' }, ctx);
    expect(sel.matches).toBeDefined();
    expect(sel.matches!(build('a', { page: 1, filters: { category: 'books' } }))).toBe(true);
    expect(sel.matches!(build('b', { page: 9, filters: { category: 'books' } }))).toBe(true);
    expect(sel.matches!(build('a', { page: 1, filters: { category: 'books2' } }))).toBe(false);
    expect(sel.matches!(build('a', { page: 1, filters: { category: 'book' } }))).toBe(false);
  });

  it('rejects partition values it cannot address, naming the fields', () => {
    expect(() => compiled.partition({ page: 1 }, ctx)).toThrow(InvalidPartitionError);
    expect(() => compiled.partition({ page: 1 }, ctx)).toThrow(/not a partition field; partition fields: org, category/);
    expect(() => compiled.partition({ nope: 1 }, ctx)).toThrow(/not a field of its key/);
    expect(() => compiled.partition({}, ctx)).toThrow(/use invalidateAll/);
    class NoParts extends KeyConstructor<[id: string]> {
      id = this.arg(0);
    }
    expect(() => CompiledKey.fromConstructor(NoParts, target).partition({ id: 'x' }, ctx)).toThrow(/no partition fields/);
  });

  it('hashes a field on request and the tail past maxLength, keeping partition prefixes literal', () => {
    class Hashed extends KeyConstructor<[secret: string, blob: string]> {
      secret = this.arg(0, { hash: true, partition: true });
      blob = this.arg(1);
      override maxLength = 100;
    }
    const k = CompiledKey.fromConstructor(Hashed, target);
    const key = k.build(['password', 'x'.repeat(500)], ctx);
    expect(key).not.toContain('password');
    expect(key.length).toBeLessThanOrEqual(200);
    expect(key.startsWith(k.partition({ secret: 'password' }, ctx).prefix)).toBe(true);
    expect(k.build(['password', 'x'.repeat(500)], ctx)).toBe(key);
    expect(k.build(['password', `${'x'.repeat(499)}y`], ctx)).not.toBe(key);
  });

  it('changes every key when the version, a constant, the field list or a fingerprinted class changes', () => {
    class V1 extends KeyConstructor<[id: string]> {
      id = this.arg(0);
    }
    class V2 extends KeyConstructor<[id: string]> {
      override version = 2;
      id = this.arg(0);
    }
    class Reordered extends KeyConstructor<[a: string, b: string]> {
      b = this.arg(1);
      a = this.arg(0);
    }
    class Ordered extends KeyConstructor<[a: string, b: string]> {
      a = this.arg(0);
      b = this.arg(1);
    }
    class DtoA {
      name = '';
    }
    const DtoB = class DtoA {
      name = '';
      email = '';
    };
    class FpA extends KeyConstructor<[id: string]> {
      id = this.arg(0);
      shape = this.fingerprint(DtoA);
    }
    class FpB extends KeyConstructor<[id: string]> {
      id = this.arg(0);
      shape = this.fingerprint(DtoB);
    }
    const key = (type: new () => object, args: string[]) => CompiledKey.fromConstructor(type, target, 'same-namespace').build(args, ctx);
    expect(key(V1, ['x'])).not.toBe(key(V2, ['x']));
    // (b, a) = ('x', 'y') and (a, b) = ('x', 'y') hold the same slices in the same order: the shape keeps them apart.
    expect(key(Reordered, ['y', 'x'])).not.toBe(key(Ordered, ['x', 'y']));
    expect(key(FpA, ['x'])).not.toBe(key(FpB, ['x']));
    expect(key(FpA, ['x'])).toBe(key(FpA, ['x']));
  });

  it('fails at start-up on a declaration that cannot work, naming the constructor and method', () => {
    class TooFar extends KeyConstructor<[a: string, b: string, c: string]> {
      c = this.arg(2);
    }
    expect(() => CompiledKey.fromConstructor(TooFar, target)).toThrow(InvalidKeyConstructorError);
    expect(() => CompiledKey.fromConstructor(TooFar, target)).toThrow(/TooFar on Search\.find: field "c": it reads argument 2 but Search\.find declares 2/);
    class Proto extends KeyConstructor<[a: object]> {
      p = this.arg('0.__proto__' as '0');
    }
    expect(() => CompiledKey.fromConstructor(Proto, target)).toThrow(/walks into "__proto__"/);
    class Unnamed extends KeyConstructor<[a: string]> {
      p = this.arg('dto' as '0');
    }
    expect(() => CompiledKey.fromConstructor(Unnamed, target)).toThrow(/does not name its parameters/);
    class BadName extends KeyConstructor.params('a')<[a: string]> {
      p = this.arg('b' as 'a');
    }
    expect(() => CompiledKey.fromConstructor(BadName, target)).toThrow(/no parameter named "b" \(parameters: a\)/);
    class BadOption extends KeyConstructor<[a: string]> {
      p = this.arg(0, { partiton: true } as object);
    }
    expect(() => CompiledKey.fromConstructor(BadOption, target)).toThrow(/unknown option "partiton"/);
    class BadConstant extends KeyConstructor<[a: string]> {
      c = this.constant(() => 1);
    }
    expect(() => CompiledKey.fromConstructor(BadConstant, target)).toThrow(/is a function/);
  });

  it('fails at call time, naming the method and field, when an argument cannot be encoded', () => {
    class Walk extends KeyConstructor<[id: string | { x: number }]> {
      x = this.arg('0.x' as never);
    }
    const k = CompiledKey.fromConstructor(Walk, { ...target, paramCount: 1 });
    expect(() => k.build(['plain string'], ctx)).toThrow(InvalidCacheKeyError);
    expect(() => k.build(['plain string'], ctx)).toThrow(/Search\.find, field "x": path 0\.x walks into a string/);
    expect(() => k.build([{ x: () => 1 }], ctx)).toThrow(/field "x".*is a function/);
    const fnKey = CompiledKey.fromFunction(() => 42, target);
    expect(() => fnKey.build([], ctx)).toThrow(/Search\.find: the key function returned number, not a string/);
    const throwing = CompiledKey.fromFunction(() => {
      throw new Error('boom');
    }, target);
    expect(() => throwing.build([], ctx)).toThrow(/the key function threw \(boom\)/);
  });

  it('custom fields see the arguments and the tenant', () => {
    class PerUser extends KeyConstructor<[id: string]> {
      tenant = this.custom((_args, c) => c.tenantId, { partition: true });
      id = this.custom((args) => args[0].toUpperCase());
    }
    const k = CompiledKey.fromConstructor(PerUser, target);
    expect(k.build(['a'], ctx)).toBe(k.build(['a'], ctx));
    expect(k.build(['a'], ctx)).not.toBe(k.build(['a'], { ...ctx, tenantId: 'globex' }));
    expect(k.build(['a'], ctx)).toBe(k.build(['A'.toLowerCase()], ctx));
  });
});
