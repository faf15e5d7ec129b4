import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leaseKeyOf } from '../../lib/engine/cluster-flight.js';
import type { ResolvedStore } from '../../lib/engine/store-registry.js';
import { type CacheScope, KeyBuilder, type KeyLimits } from '../../lib/keys/key-builder.js';
import { parsePhysicalKey } from '../../lib/keys/key-layout.js';

/**
 * The lease keys of `singleFlight: 'cluster'` under adversarial tenant ids and keys: one per (scope,
 * generation, key), never equal to an entry key or another scope's lease key, inside its own scope and
 * generation (so `clear()` and an older generation's cleanup reach it), and never parsed as an entry.
 */

const adversarialTenant = fc.oneof(
  fc.constantFrom('a', 'a:b', 'a:', ':a', 't1:a', 'g1', 's', 'l:', 'a:l:', 'k2:', 'ü', '租户', 'a%', 'a'.repeat(200)),
  fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom(':', 't', '1', 'g', 'l', 'k', '2', 's') }),
);
const adversarialKey = fc.oneof(
  fc.constantFrom('b', 'l:b', ':l:', 'k2:b', 'l:k2:b', 'g1:l:k2:b', '\u0000', '%00', 'x'.repeat(500)),
  fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }),
  fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(':', 'l', 'k', '2', 'h', 'g', '1') }),
);
const scope = fc.oneof(
  adversarialTenant.map((tenantId): CacheScope => ({ kind: 'tenant', tenantId })),
  fc.constant<CacheScope>({ kind: 'shared' }),
);
const generation = fc.integer({ min: 0, max: 2 ** 40 });

describe.each<[string, KeyLimits]>([
  ['redis limits', { maxKeyLength: 1024 }],
  ['short ASCII-only keys', { maxKeyLength: 250, allowedKey: /^[\x21-\x7e]*$/ }],
])('lease keys (%s)', (_name, limits) => {
  const keys = new KeyBuilder('tc:', limits);
  const resolved = { alias: 'default', keys } as unknown as ResolvedStore;
  const lease = (s: CacheScope, g: number, k: string) => leaseKeyOf({ resolved, scope: s, key: keys.entryKey(s, g, k) });

  it('distinct (scope, generation, key) have distinct lease keys, and no lease key is an entry key', () => {
    fc.assert(
      fc.property(scope, generation, adversarialKey, scope, generation, adversarialKey, (s1, g1, k1, s2, g2, k2) => {
        const same = JSON.stringify(s1) === JSON.stringify(s2) && g1 === g2 && k1 === k2;
        expect(lease(s1, g1, k1) === lease(s2, g2, k2)).toBe(same);
        expect(lease(s1, g1, k1)).not.toBe(keys.entryKey(s2, g2, k2));
      }),
      { numRuns: 2000 },
    );
  });

  it("a lease key lies in its scope's generation (cleared with it) and is never listed as an entry", () => {
    fc.assert(
      fc.property(scope, generation, adversarialKey, (s, g, k) => {
        const key = lease(s, g, k);
        expect(key.startsWith(keys.entryPrefix(s, g))).toBe(true);
        expect(parsePhysicalKey(key, 'tc:')).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });
});
