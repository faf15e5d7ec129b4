import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidCacheKeyError, canonicalEncode } from '../../lib/index.js';

/**
 * The reference meaning of "the same argument": what the encoding must agree with. Types count
 * (1 vs '1'), objects compare by content with keys in any order and undefined-valued properties
 * ignored, Maps and Sets compare as unordered collections, -0 equals 0, NaN equals NaN.
 */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b as number));
  if (typeof a !== 'object' || a === null || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => same(x, bb[i]));
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    // Keys here are primitives; match each entry of a to one of b.
    return [...a].every(([k, v]) => [...b].some(([k2, v2]) => same(k, k2) && same(v, v2)));
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    return [...a].every((x) => [...b].some((y) => same(x, y)));
  }
  const defined = (o: object) =>
    Object.keys(o)
      .filter((k) => (o as Record<string, unknown>)[k] !== undefined)
      .sort();
  const ka = defined(a);
  const kb = defined(b as object);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

// Small alphabets make collisions between "almost equal" values likely, which is what we want to probe.
const str = fc.string({ unit: fc.constantFrom('a', 'b', ',', ':', '=', '[', ']', '{', '}', '1', 's', 'n', ' ', 'ü'), maxLength: 4 });
const prim = fc.oneof(
  str,
  fc.integer({ min: -3, max: 42 }),
  fc.constantFrom(0, -0, 1.5, NaN, Infinity, -Infinity, 1e21),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt({ min: -3n, max: 3n }),
  fc.constantFrom('null', 'undefined', '1', 'true', 'n1', 's1:a'),
  fc.integer({ min: 0, max: 3 }).map((d) => new Date(Date.UTC(2026, 0, 1 + d))),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    prim,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(str, tie('value'), { maxKeys: 3 }),
    fc.array(fc.tuple(prim, tie('value')), { maxLength: 2 }).map((entries) => new Map(entries)),
    fc.array(prim, { maxLength: 3 }).map((items) => new Set(items)),
  ),
}));

/** A copy with object keys in reverse order and Map/Set insertion order reversed: must encode the same. */
function reordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reordered);
  if (v instanceof Date) return new Date(v.getTime());
  if (v instanceof Map) return new Map([...v].reverse().map(([k, x]) => [k, reordered(x)]));
  if (v instanceof Set) return new Set([...v].reverse());
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.keys(v)
        .reverse()
        .map((k) => [k, reordered((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

describe('canonicalEncode', () => {
  it('property: equal arguments give equal encodings (copies, reordered keys, Map/Set order)', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalEncode(reordered(v))).toBe(canonicalEncode(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: two encodings are equal exactly when the values are the same', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        expect(canonicalEncode(a) === canonicalEncode(b)).toBe(same(a, b));
      }),
      { numRuns: 5000 },
    );
  });

  it('property: argument lists stay distinct when a value moves between positions', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 4 }), fc.array(value, { maxLength: 4 }), (a, b) => {
        expect(canonicalEncode(a) === canonicalEncode(b)).toBe(same(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the cases the issue names apart', () => {
    const distinct = [
      ...[null, 'null', undefined, 'undefined', 1, '1', true, 'true', 0, '', false, [], {}, ['a,b'], ['a', 'b'], [['a'], 'b'], [1n], [1]],
      // Strings that spell the encoding's own punctuation cannot run into the next element.
      [['a],sb'], 'c'],
      [['a'], 'b],sc'],
      { a: 'b,1:c=sd', c: 'e' },
      { a: 'b', c: 'd,1:c=se' },
    ];
    const encoded = distinct.map((v) => canonicalEncode(v));
    expect(new Set(encoded).size).toBe(distinct.length);
    expect(canonicalEncode({ b: 1, a: 2 })).toBe(canonicalEncode({ a: 2, b: 1 }));
    expect(canonicalEncode(new Date('2026-01-01T00:00:00Z'))).toBe('d2026-01-01T00:00:00.000Z');
    expect(canonicalEncode(new Date('2026-01-01T00:00:00Z'))).not.toBe(canonicalEncode('2026-01-01T00:00:00.000Z'));
    expect(canonicalEncode([2, 1], { sortLists: true })).toBe(canonicalEncode([1, 2], { sortLists: true }));
    expect(canonicalEncode([2, 1])).not.toBe(canonicalEncode([1, 2]));
  });

  it('encodes class instances by class and content, or by toJSON, never by identity', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    class Other {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    class Money {
      constructor(private readonly cents: number) {}
      toJSON() {
        return { cents: this.cents };
      }
    }
    expect(canonicalEncode(new Point(1, 2))).toBe(canonicalEncode(new Point(1, 2)));
    expect(canonicalEncode(new Point(1, 2))).not.toBe(canonicalEncode(new Point(2, 1)));
    expect(canonicalEncode(new Point(1, 2))).not.toBe(canonicalEncode(new Other(1, 2)));
    expect(canonicalEncode(new Point(1, 2))).not.toBe(canonicalEncode({ x: 1, y: 2 }));
    expect(canonicalEncode(new Money(5))).toBe(canonicalEncode(new Money(5)));
    expect(canonicalEncode(new Money(5))).not.toBe(canonicalEncode(new Money(6)));
    expect(canonicalEncode(Buffer.from([1, 2]))).not.toBe(canonicalEncode(new Uint8Array([1, 2])));
    expect(canonicalEncode(/a/g)).not.toBe(canonicalEncode(/a/));
  });

  it('refuses values with no content to key by, with a typed error naming where', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const cases: unknown[] = [
      () => 1,
      Symbol('s'),
      Promise.resolve(1),
      new WeakMap(),
      new Error('x'),
      new Date(Number.NaN),
      cyclic,
      { [Symbol('k')]: 1 },
      { then: () => undefined },
    ];
    for (const c of cases) expect(() => canonicalEncode(c)).toThrow(InvalidCacheKeyError);
    expect(() => canonicalEncode({ user: { when: new Date(Number.NaN) } })).toThrow(/at \.user\.when/);
  });
});
