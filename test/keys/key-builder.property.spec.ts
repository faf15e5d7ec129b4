import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CacheScope, KeyBuilder, type KeyLimits, escapeGlob, escapeKey, unescapeKey } from '../../lib/keys/key-builder.js';
import { INTERNAL_KEY_MARK } from '../../lib/keys/logical-key-marks.js';

/** What a physical key may contain: printable ASCII, no space (copied from `redis-cli --scan` into `GET` as is). */
const PRINTABLE = /^[\x21-\x7e]+$/;
/** The escape's own characters, the internal mark and what it becomes, so a logical key can spell an escaped one. */
const MARKS = [
  '%',
  '%00',
  '%25',
  '%u0000',
  '%u00FC',
  'u',
  '0',
  INTERNAL_KEY_MARK,
  `${INTERNAL_KEY_MARK}m@`,
  `${INTERNAL_KEY_MARK}r@`,
  'k2:',
  ' ',
  '\n',
  '\u007f',
  'ü',
  '\ud83d',
  '\ude00',
];

const adversarialTenant = fc.oneof(
  fc.constantFrom('a', 'a:b', 'a:', ':a', '*', '{x}', 't1:a', 'g1', 's', 'ü', '租户', 'a'.repeat(200), 'k:', 'h:', 'a%', 'a%25', 'a b', 'a%20b'),
  fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 6, unit: fc.constantFrom(...MARKS, 'a', ':') }),
  fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom(':', 't', '1', 'g', 'k', 's', '*', '{', '}') }),
);
const adversarialKey = fc.oneof(
  fc.constantFrom('b', 'b:c', '*', ' ', ':', 'k:b', 'h:b', 'g1:k:b', 'x'.repeat(500), '\u0000', '%00', '%u0000', 'k2:%00m@x', '\u0000m@x'),
  fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 300, unit: 'binary' }),
  fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...MARKS, 'b', ':') }),
  fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom(':', 'k', 'h', 'g', '1', '*') }),
);
const scope = fc.oneof(
  adversarialTenant.map((tenantId): CacheScope => ({ kind: 'tenant', tenantId })),
  fc.constant<CacheScope>({ kind: 'shared' }),
);
const generation = fc.integer({ min: 0, max: 2 ** 40 });

describe.each<[string, KeyLimits]>([
  ['redis-like limits', { maxKeyLength: 1024 }],
  ['restrictive store (short, ASCII-only keys)', { maxKeyLength: 250, allowedKey: /^[\x21-\x7e]*$/ }],
])('KeyBuilder with %s', (_name, limits) => {
  const keys = new KeyBuilder('tc:', limits);

  it('maps distinct (scope, generation, key) triples to distinct physical keys', () => {
    fc.assert(
      fc.property(scope, generation, adversarialKey, scope, generation, adversarialKey, (s1, g1, k1, s2, g2, k2) => {
        const same = JSON.stringify(s1) === JSON.stringify(s2) && g1 === g2 && k1 === k2;
        const a = keys.entryKey(s1, g1, k1);
        const b = keys.entryKey(s2, g2, k2);
        expect(a === b).toBe(same);
      }),
      { numRuns: 3000 },
    );
  });

  it('builds the same physical key whether it remembers it or not, across generations and cache evictions', () => {
    // One long-lived builder (remembers recent keys) against a fresh one per call (remembers nothing).
    const longLived = new KeyBuilder('tc:', limits);
    const small = fc.constantFrom<CacheScope>({ kind: 'tenant', tenantId: 'a' }, { kind: 'tenant', tenantId: 'b' }, { kind: 'shared' });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(small, scope), fc.integer({ min: 0, max: 3 }), adversarialKey), { minLength: 1, maxLength: 50 }), (calls) => {
        for (const [s, g, k] of calls) {
          expect(longLived.entryKey(s, g, k)).toBe(new KeyBuilder('tc:', limits).entryKey(s, g, k));
          expect(longLived.entryPrefix(s, g)).toBe(new KeyBuilder('tc:', limits).entryPrefix(s, g));
        }
      }),
      { numRuns: 500 },
    );
    // Past the number of keys it remembers, it starts over and still agrees.
    const scopeA: CacheScope = { kind: 'tenant', tenantId: 'a' };
    for (let i = 0; i < 60_000; i++) longLived.entryKey(scopeA, 1, `k${i}`);
    expect(longLived.entryKey(scopeA, 1, 'k7')).toBe(new KeyBuilder('tc:', limits).entryKey(scopeA, 1, 'k7'));
    expect(longLived.entryKey(scopeA, 2, 'k7')).toBe('tc:t1:a:g2:k2:k7');
  });

  it('keeps apart pairs that a naive `tenant:key` concatenation would merge', () => {
    const part = fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom('a', ':', 'g', 'k', '1', 't') });
    fc.assert(
      fc.property(part, part, part, generation, generation, (a, b, c, g1, g2) => {
        // Both spell `a:g<g1>:k:b:g<g2>:k:c` when segments are simply joined.
        const one = keys.entryKey({ kind: 'tenant', tenantId: a }, g1, `${b}:g${g2}:k:${c}`);
        const two = keys.entryKey({ kind: 'tenant', tenantId: `${a}:g${g1}:k:${b}` }, g2, c);
        expect(one).not.toBe(two);
      }),
      { numRuns: 1000 },
    );
  });

  it('is deterministic, stays within the store limit and keeps entries apart from counters and metadata', () => {
    fc.assert(
      fc.property(scope, generation, adversarialKey, (s, g, k) => {
        const physical = keys.entryKey(s, g, k);
        expect(keys.entryKey(s, g, k)).toBe(physical);
        expect(physical.length).toBeLessThanOrEqual(limits.maxKeyLength);
        if (limits.allowedKey) expect(limits.allowedKey.test(physical)).toBe(true);
        expect(physical.startsWith(keys.entryPrefix(s, g))).toBe(true);
        expect(physical).not.toBe(keys.generationKey(s));
        expect(physical.startsWith(keys.metaKey(s, 'tag', ''))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives each (scope, plain tag) its own version key, printable and apart from entries, counters and indexes', () => {
    const hmacKeys = new KeyBuilder('tc:', limits, undefined, Buffer.alloc(32, 7));
    for (const kb of [keys, hmacKeys]) {
      fc.assert(
        fc.property(scope, adversarialKey, scope, adversarialKey, generation, (s1, t1, s2, t2, g) => {
          const same = JSON.stringify(s1) === JSON.stringify(s2) && t1 === t2;
          const id = kb.tagId(t1);
          expect(/^[\x20-\x7e]+$/.test(id)).toBe(true); // a stamp is ASCII
          const a = kb.tagVersionKey(s1, id);
          expect(a === kb.tagVersionKey(s2, kb.tagId(t2))).toBe(same);
          expect(a.startsWith(kb.scopePrefix(s1))).toBe(true);
          expect(a.length).toBeLessThanOrEqual(limits.maxKeyLength);
          for (const other of [kb.entryKey(s2, g, t2), kb.generationKey(s2), kb.metaKey(s2, 'ti', t2), kb.metaKey(s2, 'tv', t2)]) {
            expect(a).not.toBe(other);
          }
        }),
        { numRuns: 2000 },
      );
    }
  });

  it('builds only printable keys (ASCII 0x21-0x7e): entries, prefixes, counters and meta keys, whatever the tenant, key or tag', () => {
    fc.assert(
      fc.property(scope, generation, adversarialKey, adversarialKey, (s, g, k, tag) => {
        for (const physical of [
          keys.entryKey(s, g, k),
          keys.entryPrefix(s, g),
          keys.generationKey(s),
          keys.metaKey(s, 'ti', tag),
          keys.metaKey(s, 'tv', tag),
          keys.tagVersionKey(s, keys.tagId(tag)),
        ]) {
          expect(physical).toMatch(PRINTABLE);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('finds a literal key under the scan prefix of each of its prefixes, and reads the logical key back from it', () => {
    fc.assert(
      fc.property(scope, generation, adversarialKey, fc.nat(), (s, g, k, cut) => {
        const physical = keys.entryKey(s, g, k);
        const entryPrefix = keys.entryPrefix(s, g);
        if (!keys.isLiteral(k)) {
          expect(keys.literalKeyOf(physical.slice(entryPrefix.length))).toBeUndefined();
          return;
        }
        expect(keys.literalKeyOf(physical.slice(entryPrefix.length))).toBe(k);
        expect(physical.startsWith(entryPrefix + keys.literalPrefix(k.slice(0, cut % (k.length + 1))))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('never builds a key-format-1 entry key: after the upgrade, no old entry is read (literal k2:, hashed h2:; format 1 wrote k: and h:)', () => {
    const hmac = new KeyBuilder('tc:', limits, undefined, Buffer.alloc(32, 7));
    fc.assert(
      fc.property(scope, generation, adversarialKey, (s, g, k) => {
        for (const builder of [keys, hmac]) {
          const rest = builder.entryKey(s, g, k).slice(builder.entryPrefix(s, g).length);
          expect(rest).toMatch(/^(k2:|h2:[0-9a-f]{64}$)/);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("never lets one scope's prefix cover another scope's entries", () => {
    fc.assert(
      fc.property(scope, scope, generation, adversarialKey, (s1, s2, g, k) => {
        fc.pre(JSON.stringify(s1) !== JSON.stringify(s2));
        expect(keys.entryKey(s2, g, k).startsWith(keys.scopePrefix(s1))).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('KeyBuilder edge cases', () => {
  const keys = new KeyBuilder('tc:', { maxKeyLength: 1024 });

  it('keeps the documented adversarial pairs apart', () => {
    const pairs: [string, string][] = [
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['a', 'b'],
      ['a:b:c', 'd'],
      ['*', 'x'],
      ['{x}', 'y'],
    ];
    const physical = new Set(pairs.map(([t, k]) => keys.entryKey({ kind: 'tenant', tenantId: t }, 7, k)));
    expect(physical.size).toBe(pairs.length);
  });

  it('hashes long keys deterministically and rejects empty and non-string keys', () => {
    const long = 'x'.repeat(5000);
    const k = keys.entryKey({ kind: 'tenant', tenantId: 'acme' }, 1, long);
    expect(k.length).toBeLessThan(200);
    expect(k).toBe(keys.entryKey({ kind: 'tenant', tenantId: 'acme' }, 1, long));
    expect(() => keys.entryKey({ kind: 'tenant', tenantId: 'acme' }, 1, '')).toThrow(/must not be empty/);
    expect(() => keys.entryKey({ kind: 'tenant', tenantId: 'acme' }, 1, 42 as unknown as string)).toThrow(/keys are strings/);
  });

  it('writes internal keys (the \\u0000 mark) printably, apart from a user key that spells the escape', () => {
    const scopeA: CacheScope = { kind: 'tenant', tenantId: 'acme' };
    expect(keys.entryKey(scopeA, 3, `${INTERNAL_KEY_MARK}m@x`)).toBe('tc:t4:acme:g3:k2:%00m@x');
    expect(keys.entryKey(scopeA, 3, '%00m@x')).toBe('tc:t4:acme:g3:k2:%2500m@x');
    expect(keys.entryKey(scopeA, 3, 'a b')).toBe('tc:t4:acme:g3:k2:a%20b');
    expect(keys.entryKey(scopeA, 3, 'ü')).toBe('tc:t4:acme:g3:k2:%u00FC');
    expect(keys.entryKey({ kind: 'tenant', tenantId: 'a b' }, 3, 'k')).toBe('tc:t5:a%20b:g3:k2:k');
  });

  it("tests a store's allowedKey against the escaped key, not against the k2: marker the builder adds", () => {
    const strict = new KeyBuilder('tc:', { maxKeyLength: 250, allowedKey: /^[A-Za-z0-9_.%-]+$/ });
    const scopeA: CacheScope = { kind: 'tenant', tenantId: 'acme' };
    expect(strict.entryKey(scopeA, 1, 'abc')).toBe('tc:t4:acme:g1:k2:abc');
    expect(strict.entryKey(scopeA, 1, 'a b')).toBe('tc:t4:acme:g1:k2:a%20b');
    expect(strict.entryKey(scopeA, 1, 'a:b')).toMatch(/^tc:t4:acme:g1:h2:[0-9a-f]{64}$/);
    expect(strict.isLiteral('abc')).toBe(true);
  });

  it('escapes injectively and keeps prefixes (escapeKey / unescapeKey)', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 12, unit: fc.constantFrom(...MARKS, 'a') }));
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(escapeKey(a)).toMatch(/^[\x21-\x7e]*$/);
        expect(unescapeKey(escapeKey(a))).toBe(a);
        expect(escapeKey(a + b)).toBe(escapeKey(a) + escapeKey(b));
        expect(escapeKey(a) === escapeKey(b)).toBe(a === b);
      }),
      { numRuns: 3000 },
    );
    for (const foreign of ['%', '%0', '%G0', '%41', '%u0041', '%u12', 'a b', 'ü']) expect(unescapeKey(foreign)).toBeUndefined();
  });

  it('escapes every glob character so a prefix is matched literally', () => {
    expect(escapeGlob('4*?[a]\\')).toBe('4\\*\\?\\[a\\]\\\\');
  });
});
