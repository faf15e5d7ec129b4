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

  it('are not made for values that are not well-formed strings (they take the structured-clone path)', () => {
    expect(textEntry('\ud800', undefined, false, 1)).toBeUndefined();
    expect(textEntry(42, undefined, false, 1)).toBeUndefined();
    const bytes = codec.encode('\ud800x');
    expect(bytes[0]).toBe(0xc7);
    expect(codec.decode(bytes)).toMatchObject({ ok: true, entry: { value: '\ud800x' } });
  });
});
