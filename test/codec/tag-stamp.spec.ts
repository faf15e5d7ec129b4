import { describe, expect, it } from 'vitest';
import { peelStamp, stampExpired, stampHeader, stampRecord } from '../../lib/codec/tag-stamp.js';

// The tag stamp in front of stored records: format '1' (tags) and format '2' (tags + when the entry was
// expired early by expire(key)). The bytes are a compatibility promise: pinned here.

const RECORD = Buffer.from('\u001etext entry', 'latin1');

describe('tag stamp', () => {
  it("format '1' is unchanged: 0x1D '1' <count> ':' then <id length> ':' <id> <version> ';' per tag", () => {
    expect(stampHeader([{ id: 'products', version: 42 }])).toBe('\u001d11:8:products42;');
    expect(peelStamp(stampRecord(RECORD, '\u001d11:8:products42;') as Buffer)).toEqual({ tags: [{ id: 'products', version: 42 }], record: RECORD });
  });

  it("format '2' adds the expiry time before the tag count (which may be 0)", () => {
    expect(stampHeader([{ id: 'products', version: 42 }], 1_700_000_000_123)).toBe('\u001d21700000000123:1:8:products42;');
    expect(stampHeader([], 5)).toBe('\u001d25:0:');
    const raw = stampRecord(RECORD, '\u001d21700000000123:1:8:products42;') as Buffer;
    expect(peelStamp(raw)).toEqual({ tags: [{ id: 'products', version: 42 }], record: RECORD, expiredAt: 1_700_000_000_123 });
    expect(peelStamp(stampRecord(RECORD, '\u001d25:0:') as Buffer)).toEqual({ tags: [], record: RECORD, expiredAt: 5 });
  });

  it('stampExpired keeps the tags and the record, and an earlier expiry', () => {
    const tagged = stampRecord(
      RECORD,
      stampHeader([
        { id: 'a', version: 1 },
        { id: 'b', version: 2 },
      ]),
    ) as Buffer;
    const once = stampExpired(tagged, 1000)!;
    expect(peelStamp(once)).toEqual({
      tags: [
        { id: 'a', version: 1 },
        { id: 'b', version: 2 },
      ],
      record: RECORD,
      expiredAt: 1000,
    });
    expect(stampExpired(once, 2000)).toBe(once);
    expect(peelStamp(stampExpired(once, 500)!)).toMatchObject({ expiredAt: 500 });
    expect(peelStamp(stampExpired(RECORD, 7)!)).toEqual({ tags: [], record: RECORD, expiredAt: 7 });
  });

  it('rejects corrupt or unknown stamps', () => {
    expect(peelStamp(Buffer.from('\u001d2x:0:\u001eabc', 'latin1'))).toBe('corrupt tag stamp');
    expect(peelStamp(Buffer.from('\u001d30:\u001eabc', 'latin1'))).toBe('tag stamp of an unknown format');
    expect(stampExpired(Buffer.from('\u001d2x:0:\u001eabc', 'latin1'), 1)).toBeUndefined();
    // A stamp never wraps another stamp.
    expect(peelStamp(Buffer.from('\u001d25:0:\u001d10:\u001eabc', 'latin1'))).toBe('corrupt tag stamp');
  });
});
