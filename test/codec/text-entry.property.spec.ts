import { isDeepStrictEqual } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryCodec, decodeTextEntry, textEntry } from '../../lib/codec/entry-codec.js';

const codec = new EntryCodec();

describe('text entries', () => {
  it('decode to the same value, time and key from the string a store kept and from its UTF-8 bytes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 })),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (value, key, createdAt) => {
          const entry = textEntry(value, key ?? undefined, key !== null, createdAt)!;
          const fromText = decodeTextEntry(entry);
          const bytes = Buffer.from(entry, 'utf8');
          const fromBytes = codec.decode(bytes);
          expect(fromText).toEqual({ ok: true, entry: { value, createdAt } });
          expect(fromBytes).toEqual(fromText);
          expect(codec.keyOf(bytes)).toBe(key ?? undefined);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('are not made for strings that are not well-formed nor for values JSON would change (they take the structured-clone path)', () => {
    expect(textEntry('\ud800', undefined, false, 1)).toBeUndefined();
    const holes: number[] = [];
    holes[2] = 3;
    for (const value of [undefined, -0, NaN, Infinity, 1n, new Date(0), new Map(), holes, [undefined], { a: undefined }, /x/, Buffer.from('x'), new (class A {})()]) {
      expect(textEntry(value, undefined, false, 1), String(value)).toBeUndefined();
    }
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const extra = Object.assign([1, 2], { note: 'x' });
    for (const value of [[shared, shared], cyclic, extra]) expect(textEntry(value, undefined, false, 1)).toBeUndefined();
    const bytes = codec.encode('\ud800x');
    expect(bytes[0]).toBe(0xc7);
    expect(codec.decode(bytes)).toMatchObject({ ok: true, entry: { value: '\ud800x' } });
  });

  it('JSON-safe values are JSON text entries that decode to what a structured clone gives, from a string and from bytes', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.option(fc.string({ minLength: 1, maxLength: 40 })), (value, key) => {
        const entry = textEntry(value, key ?? undefined, key !== null, 1_700_000_000_000);
        if (typeof value === 'string') return; // the string format, above
        const negativeZero = JSON.stringify(value, (_k, v: unknown) => (Object.is(v, -0) ? '\u0000-0' : v)).includes('\\u0000-0');
        if (negativeZero) {
          expect(entry).toBeUndefined(); // JSON would make it 0
          return;
        }
        expect(entry!.charCodeAt(1)).toBe(0x32);
        const fromText = decodeTextEntry(entry!);
        expect(fromText.ok).toBe(true);
        expect(isDeepStrictEqual(fromText.ok && fromText.entry.value, deserialize(serialize(value)))).toBe(true);
        const bytes = Buffer.from(entry!, 'utf8');
        expect(codec.decode(bytes)).toEqual(fromText);
        expect(codec.keyOf(bytes)).toBe(key ?? undefined);
      }),
      { numRuns: 2000 },
    );
  });

  it('any value round-trips through the codec exactly as through a structured clone (whichever format it takes)', () => {
    const value = fc.anything({
      maxDepth: 3,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: false,
      withObjectString: true,
    });
    fc.assert(
      fc.property(value, (v) => {
        const decoded = codec.decode(codec.encode(v));
        expect(decoded.ok).toBe(true);
        const clone: unknown = deserialize(serialize(v));
        // NOTE: isDeepStrictEqual tells -0, undefined and prototypes apart, but calls two invalid dates unequal
        // (NaN !== NaN): those compare by their structured clones' bytes.
        const same = decoded.ok && (isDeepStrictEqual(decoded.entry.value, clone) || serialize(decoded.entry.value).equals(serialize(clone)));
        expect(same, fc.stringify(v)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('a JSON text entry whose JSON was damaged is corrupt, not a wrong value', () => {
    const entry = textEntry({ a: 1 }, undefined, false, 5)!;
    expect(decodeTextEntry(entry.slice(0, -1))).toMatchObject({ ok: false, reason: expect.stringContaining('corrupt payload') });
  });
});
