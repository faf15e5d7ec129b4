import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CacheScope, KeyBuilder, type KeyLimits, escapeKey } from '../../lib/keys/key-builder.js';
import { entryPrefixOf, isMetaKeyOf, parsePhysicalKey, scopeSegmentLength, withTagVersions } from '../../lib/keys/key-layout.js';
import { INTERNAL_KEY_MARK, METHOD_KEY_MARK, RESPONSE_KEY_MARK, VERSIONED_KEY_MARK } from '../../lib/keys/logical-key-marks.js';

// The parser of keys/key-layout.ts against the builder of keys/key-builder.ts: every physical key the
// builder makes parses back to the segment it was built with, for adversarial tenant ids and keys. Tenant
// isolation relies on both agreeing (the engine lists tag indexes and entries by parsing).

const PREFIX = 'tc:';
const tenant = fc.oneof(
  fc.constantFrom('a', 'a:b', 'a:', ':a', 't1:a', 's', 's:', 'd:', 'T', 'g1:', 'm:tv:x', 'gen', '%', 'ü', '租户', 'a'.repeat(100), 'x:g0:k2:y'),
  fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom(':', 't', '1', 'g', 'k', 's', 'm', '%', '\u0000') }),
);
const key = fc.oneof(
  fc.constantFrom('b', 'b:c', ':', 'm:tv:x', 'gen', 'c:00:1', 'k2:b', 'h2:b', `${INTERNAL_KEY_MARK}m@x`, 'x'.repeat(300)),
  fc.string({ minLength: 1, maxLength: 120, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom(':', 'k', 'h', 'g', '1', 'c', 'm', '\u0000', '%') }),
);
const scope = fc.oneof(
  tenant.map((tenantId): CacheScope => ({ kind: 'tenant', tenantId })),
  fc.constant<CacheScope>({ kind: 'shared' }),
);
const generation = fc.integer({ min: 0, max: 2 ** 40 });

describe.each<[string, KeyLimits, Buffer | undefined]>([
  ['redis-like limits', { maxKeyLength: 1024 }, undefined],
  ['restrictive store (short, ASCII-only keys)', { maxKeyLength: 250, allowedKey: /^[\x21-\x7e]*$/ }, undefined],
  ['hashed keys (codec hashKeys)', { maxKeyLength: 1024 }, Buffer.alloc(32, 3)],
])('parsePhysicalKey with %s', (_name, limits, hmac) => {
  const keys = new KeyBuilder(PREFIX, limits, undefined, hmac);
  const scopeSegment = (s: CacheScope) => keys.scopePrefix(s).slice(PREFIX.length);

  it('parses an entry key back to its scope, generation and (for a literal key) the logical key', () => {
    fc.assert(
      fc.property(scope, generation, key, (s, g, k) => {
        const parsed = parsePhysicalKey(keys.entryKey(s, g, k), PREFIX);
        expect(parsed).toMatchObject({ kind: 'entry', scope: scopeSegment(s), generation: g });
        if (parsed?.kind === 'entry' && parsed.literal) expect(keys.literalKeyOf(`k2:${parsed.rest}`)).toBe(k);
        expect(entryPrefixOf(keys.entryKey(s, g, k), keys.scopePrefix(s))).toBe(keys.entryPrefix(s, g));
      }),
      { numRuns: 3000 },
    );
  });

  it('parses meta keys, generation counters and chunk keys as what they are, never as an entry', () => {
    fc.assert(
      fc.property(scope, generation, key, fc.constantFrom('tv', 'ti', 'tp'), (s, g, name, kind) => {
        const meta = keys.metaKey(s, kind, name);
        expect(parsePhysicalKey(meta, PREFIX)).toEqual({ kind: 'meta', scope: scopeSegment(s), rest: keys.metaSuffix(kind, name).slice(2) });
        expect(isMetaKeyOf(meta, PREFIX, keys.metaSuffix(kind, name))).toBe(true);
        expect(parsePhysicalKey(keys.generationKey(s), PREFIX)).toEqual({ kind: 'generation', scope: scopeSegment(s) });
        const chunk = keys.chunkKeyBase(keys.entryKey(s, g, name), s, Buffer.from('00ff', 'hex'));
        expect(parsePhysicalKey(`${chunk}0`, PREFIX)).toEqual({ kind: 'chunk', scope: scopeSegment(s), generation: g, rest: '00ff:0' });
      }),
      { numRuns: 2000 },
    );
  });

  it("never takes one scope's key for another's: the scope segment is self-delimiting", () => {
    fc.assert(
      fc.property(scope, scope, generation, key, (s1, s2, g, k) => {
        const physical = keys.entryKey(s1, g, k);
        const sameScope = scopeSegment(s1) === scopeSegment(s2);
        expect(physical.startsWith(keys.entryPrefix(s2, g))).toBe(sameScope);
        expect(scopeSegmentLength(physical, PREFIX.length)).toBe(scopeSegment(s1).length);
        // A meta key of one scope is never a meta key of the other's scope, whatever the tenant ids spell.
        const meta = keys.metaKey(s1, 'ti', k);
        expect(meta.startsWith(keys.scopePrefix(s2))).toBe(sameScope || keys.scopePrefix(s1).startsWith(keys.scopePrefix(s2)));
        expect(parsePhysicalKey(meta, PREFIX)?.scope).toBe(scopeSegment(s1));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parsePhysicalKey on keys it did not build', () => {
  it('refuses foreign prefixes, broken scope segments and older key formats', () => {
    for (const k of [
      'other:s:g1:k2:a',
      'tc:',
      'tc:x:g1:k2:a',
      'tc:t:a:g1:k2:a',
      'tc:t01:a:g1:k2:a',
      'tc:t5:a:g1:k2:a',
      'tc:T12:g1:k2:a',
      'tc:s:g1:k:a',
      'tc:s:g01:k2:a',
      'tc:s:gx:k2:a',
    ]) {
      expect(parsePhysicalKey(k, PREFIX), k).toBeUndefined();
    }
    // A tenant id holding `:` is found by its length, not by the next colon.
    expect(parsePhysicalKey(`tc:t2:${escapeKey('a:')}:g1:k2:a`, PREFIX)).toMatchObject({ kind: 'entry', scope: 't2:a::', generation: 1, rest: 'a' });
  });

  it('isMetaKeyOf parses the scope instead of matching a suffix a tenant id can spell', () => {
    // Tenant `x:m:ti:k:t` spells the suffix of another scope's tag index inside its own segment.
    const keys = new KeyBuilder(PREFIX, { maxKeyLength: 1024 });
    const suffix = keys.metaSuffix('ti', 't');
    const inTenant = keys.entryKey({ kind: 'tenant', tenantId: `x:${suffix}` }, 0, 'k');
    expect(inTenant.includes(suffix)).toBe(true);
    expect(isMetaKeyOf(inTenant, PREFIX, suffix)).toBe(false);
    expect(isMetaKeyOf(keys.metaKey({ kind: 'tenant', tenantId: 'x' }, 'ti', 't'), PREFIX, suffix)).toBe(true);
  });
});

describe('withTagVersions', () => {
  it('gives distinct logical keys for distinct (key, tag versions), and never a key a caller can write', () => {
    fc.assert(
      fc.property(
        key,
        key,
        fc.array(fc.tuple(key, fc.nat()), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(key, fc.nat()), { minLength: 1, maxLength: 3 }),
        (k1, k2, t1, t2) => {
          const a = withTagVersions(
            k1,
            t1.map(([n]) => n),
            t1.map(([, v]) => v),
          );
          const b = withTagVersions(
            k2,
            t2.map(([n]) => n),
            t2.map(([, v]) => v),
          );
          const same = k1 === k2 && JSON.stringify(t1) === JSON.stringify(t2);
          if (!same) expect(a).not.toBe(b);
          expect(a.startsWith(INTERNAL_KEY_MARK)).toBe(true);
          if (!k1.startsWith(INTERNAL_KEY_MARK)) expect(a.startsWith(VERSIONED_KEY_MARK)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps the marks of method and response keys apart', () => {
    const marks = [METHOD_KEY_MARK, RESPONSE_KEY_MARK, VERSIONED_KEY_MARK];
    expect(new Set(marks).size).toBe(3);
    for (const a of marks) for (const b of marks) if (a !== b) expect(a.startsWith(b)).toBe(false);
  });
});
