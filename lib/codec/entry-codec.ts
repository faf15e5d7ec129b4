import { classify, decodePlain, plainKeyOf } from './formats/classify.js';
import type { DecodeResult } from './formats/decoded-entry.js';
import { V1_HEADER, encodeV1 } from './formats/format-v1.js';
import { TextEntryWriter } from './formats/text-entry.js';

export type { DecodeResult, DecodedEntry } from './formats/decoded-entry.js';
export { decodeTextEntry, textEntry } from './formats/text-entry.js';

/** How an `EntryCodec` allocates entries. */
export interface EntryCodecOptions {
  /**
   * Give each text entry memory of its own rather than a slice of Node's shared buffer pool. Set for
   * stores that keep the bytes (a slice would keep its whole pool slab alive); a store that only sends
   * them (Redis) is faster with the pool.
   */
  ownMemory?: boolean;
}

/** What one plain entry is written with. */
export interface EntryEncodeOptions {
  /** The logical key, stored too when `embedKey` (for keys the store only sees hashed). */
  key?: string;
  embedKey?: boolean;
  /** Default now. */
  createdAt?: number;
  /** A well-formed string becomes a text entry unless this is false (chunked entries need V8 bytes). Default true. */
  text?: boolean;
}

export { type PlainRecord, decodePlain, plainKeyOf } from './formats/classify.js';

/**
 * Encodes and decodes plain entries: text entries and format 1 (see `formats/`), and reads raw counters.
 * Holds no secrets, so it reads no format-2 record; one instance per store (or module).
 */
export class EntryCodec {
  /** Scratch space for the header of an entry without an embedded key (copied into the entry at once). */
  private readonly header = Buffer.alloc(V1_HEADER);
  private readonly alloc: (size: number) => Buffer;
  private readonly texts = new TextEntryWriter();

  constructor(options: EntryCodecOptions = {}) {
    this.alloc = options.ownMemory ? Buffer.allocUnsafeSlow : Buffer.allocUnsafe;
  }

  /** Encodes a value as a text entry or a format-1 record; throws `InvalidCacheValueError` when it cannot be serialized. */
  encode(value: unknown, options: EntryEncodeOptions = {}): Buffer {
    const { key, embedKey = false, createdAt = Date.now() } = options;
    const entry = options.text === false ? undefined : this.texts.write(value, key, embedKey, createdAt);
    if (entry !== undefined) {
      const bytes = this.alloc(Buffer.byteLength(entry, 'utf8'));
      bytes.write(entry, 0, 'utf8');
      return bytes;
    }
    return encodeV1(value, { key, embedKey, createdAt, scratch: this.header });
  }

  /** The text entry of a value, as a string (see `textEntry`); `undefined` when it takes format 1. */
  textEntry(value: unknown, key: string | undefined, embedKey: boolean, createdAt: number): string | undefined {
    return this.texts.write(value, key, embedKey, createdAt);
  }

  decode<T = unknown>(bytes: Uint8Array): DecodeResult<T> {
    const record = classify(bytes, { encryptionRequired: false });
    if (record.format === 'corrupt') return { ok: false, reason: record.reason };
    if (record.format === 'v2') return { ok: false, reason: 'entry format 2 is not readable by this version' };
    return decodePlain<T>(record);
  }

  /** The logical key embedded in an entry, if any. */
  keyOf(bytes: Uint8Array): string | undefined {
    const record = classify(bytes, { encryptionRequired: false });
    return record.format === 'corrupt' || record.format === 'v2' ? undefined : plainKeyOf(record);
  }
}
