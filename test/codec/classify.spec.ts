import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryCipher } from '../../lib/codec/entry-cipher.js';
import { EntryCodec } from '../../lib/codec/entry-codec.js';
import { writeManifest } from '../../lib/codec/formats/chunk-manifest.js';
import { type Classified, classify } from '../../lib/codec/formats/classify.js';
import { writeV2Record } from '../../lib/codec/formats/format-v2.js';

const codec = new EntryCodec();
const cipher = new EntryCipher([Buffer.alloc(32, 1)]);
const place = { physicalKey: 'p:t1:k', scope: { kind: 'tenant' as const, tenantId: 't1' } };
const v2 = (encrypted: boolean, key?: string) =>
  writeV2Record({ ...place, flags: 0, compression: 0, createdAt: 5, key, payload: Buffer.from([1, 2, 3]), cipher: encrypted ? cipher : undefined });
const manifest = (encrypted: boolean) =>
  writeManifest({
    ...place,
    parts: [{ compression: 0, chunks: [{ length: 3, crc: 7 }] }],
    writeId: Buffer.alloc(16),
    stream: false,
    createdAt: 5,
    key: 'k',
    cipher: encrypted ? cipher : undefined,
  });

/** Every kind of record this library writes, and what `classify` says of it without a requirement. */
const RECORDS: [string, Buffer | string, Partial<Classified> & { format: Classified['format'] }][] = [
  ['a text entry (bytes)', codec.encode('hello', { createdAt: 7 }), { format: 'text' }],
  ['a text entry (the string a store kept)', '\u001e1-7:hello', { format: 'text' }],
  ['a text entry with a key', codec.encode('hello', { key: 'k', embedKey: true, createdAt: 7 }), { format: 'text' }],
  ['a JSON text entry', codec.encode({ a: 1 }, { createdAt: 7 }), { format: 'text', json: true }],
  ['a format-1 record', codec.encode(new Map([['a', 1]]), { createdAt: 7 }), { format: 'v1', keyStart: undefined }],
  ['a format-1 record with a key', codec.encode(new Map([['a', 1]]), { key: 'k', embedKey: true, createdAt: 7 }), { format: 'v1', keyStart: 15 }],
  ['a plaintext format-2 record', v2(false), { format: 'v2', encrypted: false, manifest: false, createdAt: 5 }],
  ['an encrypted format-2 record', v2(true, 'k'), { format: 'v2', encrypted: true, manifest: false, createdAt: 5 }],
  ['a plaintext manifest', manifest(false), { format: 'v2', encrypted: false, manifest: true }],
  ['an encrypted manifest', manifest(true), { format: 'v2', encrypted: true, manifest: true }],
  ['a raw counter', Buffer.from('-42'), { format: 'counter', value: -42 }],
];

describe('classify', () => {
  describe.each(RECORDS)('%s', (_name, raw, expected) => {
    it('is told apart when encryption is not required', () => {
      expect(classify(raw, { encryptionRequired: false })).toMatchObject(expected);
    });

    it('is refused where encryption is required unless it is encrypted (or a raw counter)', () => {
      const result = classify(raw, { encryptionRequired: true });
      const readable = expected.format === 'counter' || (expected.format === 'v2' && expected.encrypted === true);
      if (readable) expect(result).toMatchObject(expected);
      else expect(result).toEqual({ format: 'corrupt', reason: 'an unencrypted entry in a store that requires encryption' });
    });
  });

  it('reads a text entry as bytes and as a string alike', () => {
    const bytes = classify(codec.encode('hé', { key: 'kü', embedKey: true, createdAt: 9 }), { encryptionRequired: false });
    const text = classify('\u001e1k9:3:kühé', { encryptionRequired: false });
    expect(bytes).toMatchObject({ format: 'text', createdAt: 9, key: 'kü' });
    expect(text).toMatchObject({ format: 'text', createdAt: 9, key: 'kü' });
  });

  it.each([
    ['empty', Buffer.alloc(0), /empty entry/],
    ['a lone magic byte', Buffer.from([0xc7]), /truncated header/],
    ['an unknown format', Buffer.from([0xc7, 3, 0, 0]), /format 3 is not readable/],
    ['a truncated format-1 header', Buffer.from([0xc7, 1, 0, 0]), /truncated header/],
    ['format 1 with unknown flags', Buffer.concat([Buffer.from([0xc7, 1, 0x80]), Buffer.alloc(10)]), /unknown flags 128/],
    ['format 1 with a truncated key', Buffer.concat([Buffer.from([0xc7, 1, 1]), Buffer.alloc(8), Buffer.from([99, 0, 0, 0])]), /truncated key/],
    ['a truncated format-2 header', Buffer.from([0xc7, 2, 0, 0, 0]), /truncated header/],
    ['format 2 with unknown flags', Buffer.concat([Buffer.from([0xc7, 2, 0x40]), Buffer.alloc(9)]), /unknown flags 64/],
    ['a malformed text entry', Buffer.from('\u001e1?1:x'), /unknown flag/],
    ['a truncated text entry', Buffer.from('\u001e1-123'), /truncated/],
    ['a string that is no text entry', 'hello', /unknown format/],
    ['garbage', Buffer.from('hello'), /not an entry of this library/],
    ['a counter too long', Buffer.from('1'.repeat(21)), /not an entry of this library/],
  ])('says %s is corrupt', (_name, raw, reason) => {
    const result = classify(raw, { encryptionRequired: false });
    expect(result.format).toBe('corrupt');
    expect(result.format === 'corrupt' && result.reason).toMatch(reason);
  });

  it('never throws, on any bytes or any truncation of a valid record', () => {
    const valid = RECORDS.map(([, raw]) => (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc
            .tuple(fc.constantFrom(...valid), fc.nat(), fc.nat())
            .map(([raw, a, b]) => raw.subarray(Math.min(a, b) % (raw.length + 1), Math.max(a, b) % (raw.length + 1))),
          fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([raw, at, byte]) => {
            const copy = Buffer.from(raw);
            copy[at % copy.length] = byte;
            return copy;
          }),
        ),
        fc.boolean(),
        (raw, encryptionRequired) => {
          const result = classify(raw, { encryptionRequired });
          expect(['text', 'v1', 'v2', 'counter', 'corrupt']).toContain(result.format);
          expect(classify(Buffer.from(raw).toString('latin1'), { encryptionRequired }).format).toMatch(/^(text|corrupt)$/);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
