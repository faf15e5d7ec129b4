import { DefaultSerializer, deserialize } from 'node:v8';
import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';

/**
 * Entry layout on the wire (format 1):
 *   byte 0      MAGIC (0xC7, never an ASCII digit or '-', so raw counters are told apart)
 *   byte 1      format version
 *   byte 2      flags: 0x01 = the logical key follows the header (stored for hashed keys, so they can be listed)
 *                      0x02 = the value is a string and the payload is its UTF-8 text
 *   bytes 3-10  createdAt, float64 ms since epoch
 *   [u32 length + UTF-8 logical key when flag 0x01]
 *   rest        payload: V8 structured-clone bytes, or UTF-8 text with flag 0x02
 *
 * V8's structured clone keeps Date, Map, Set, BigInt, Buffer, typed arrays, undefined inside objects
 * and cycles, and never runs code or builds class instances from the bytes. A string (the most common
 * cached value after objects) is written as text instead: 3-4x cheaper both ways, same value back.
 */
export const ENTRY_MAGIC = 0xc7;
export const ENTRY_FORMAT = 1;
const HEADER = 11;
const FLAG_KEY = 0x01;
export const FLAG_TEXT = 0x02;
const KNOWN_FLAGS = FLAG_KEY | FLAG_TEXT;

/** A decoded entry: the value and when it was written. */
export interface DecodedEntry<T = unknown> {
  value: T;
  createdAt: number;
}

/** Result of decoding bytes that may be corrupt, of an old format, or a raw counter. */
export type DecodeResult<T = unknown> = { ok: true; entry: DecodedEntry<T> } | { ok: false; reason: string };

/** How an `EntryCodec` allocates entries. */
export interface EntryCodecOptions {
  /**
   * Give each text entry memory of its own rather than a slice of Node's shared buffer pool. Set for
   * stores that keep the bytes (a slice would keep its whole pool slab alive); a store that only sends
   * them (Redis) is faster with the pool.
   */
  ownMemory?: boolean;
}

/** Encodes and decodes cache entries. Stateless; one instance per module. */
export class EntryCodec {
  /** Scratch space for the header of an entry without an embedded key (copied into the entry at once). */
  private readonly header = Buffer.alloc(HEADER);
  private readonly alloc: (size: number) => Buffer;

  constructor(options: EntryCodecOptions = {}) {
    this.alloc = options.ownMemory ? Buffer.allocUnsafeSlow : Buffer.allocUnsafe;
  }

  /**
   * Encodes a value; `embedKey` stores the logical key too (for keys the store only sees hashed). A
   * well-formed string becomes a text entry unless `text` is false (chunked entries need V8 bytes).
   */
  encode(value: unknown, key?: string, embedKey = false, createdAt = Date.now(), text = true): Buffer {
    const keyBytes = embedKey && key !== undefined ? Buffer.from(key, 'utf8') : undefined;
    // NOTE: lone surrogates do not survive UTF-8: such strings take the structured-clone path.
    if (text && typeof value === 'string' && value.isWellFormed()) return this.encodeText(value, keyBytes, createdAt);
    // NOTE: the header goes into the serializer's own buffer ahead of the V8 payload (`v8.serialize`
    // plus the raw bytes in front), so the entry is built in one allocation, without copying the payload.
    const header = keyBytes ? Buffer.allocUnsafe(HEADER + 4) : this.header;
    writeHeader(header, keyBytes ? FLAG_KEY : 0, createdAt);
    if (keyBytes) header.writeUInt32LE(keyBytes.length, HEADER);
    const serializer = new DefaultSerializer();
    serializer.writeRawBytes(header);
    if (keyBytes) serializer.writeRawBytes(keyBytes);
    try {
      serializer.writeHeader();
      serializer.writeValue(value);
    } catch (error) {
      throw new InvalidCacheValueError(
        `it cannot be serialized (${(error as Error).message}); functions, symbols, class instances with private state and promises cannot be cached`,
        key,
        error,
      );
    }
    return serializer.releaseBuffer();
  }

  private encodeText(value: string, keyBytes: Buffer | undefined, createdAt: number): Buffer {
    const start = keyBytes ? HEADER + 4 + keyBytes.length : HEADER;
    const entry = this.alloc(start + Buffer.byteLength(value, 'utf8'));
    writeHeader(entry, FLAG_TEXT | (keyBytes ? FLAG_KEY : 0), createdAt);
    if (keyBytes) {
      entry.writeUInt32LE(keyBytes.length, HEADER);
      keyBytes.copy(entry, HEADER + 4);
    }
    entry.write(value, start, 'utf8');
    return entry;
  }

  decode<T = unknown>(bytes: Uint8Array): DecodeResult<T> {
    if (bytes.length === 0) return { ok: false, reason: 'empty entry' };
    if (bytes[0] !== ENTRY_MAGIC) {
      // Counters written by incr/decr are raw integers so that the store can change them atomically.
      const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
      if (/^-?\d{1,20}$/.test(text)) return { ok: true, entry: { value: Number(text) as T, createdAt: Number.NaN } };
      return { ok: false, reason: 'not an entry of this library' };
    }
    if (bytes.length < HEADER) return { ok: false, reason: 'truncated header' };
    if (bytes[1] !== ENTRY_FORMAT) return { ok: false, reason: `entry format ${bytes[1]} is not readable by this version` };
    const flags = bytes[2]!;
    if ((flags & ~KNOWN_FLAGS) !== 0) return { ok: false, reason: `unknown flags ${flags}` };
    const buf = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let start = HEADER;
    if (flags & FLAG_KEY) {
      if (buf.length < HEADER + 4) return { ok: false, reason: 'truncated key' };
      start = HEADER + 4 + buf.readUInt32LE(HEADER);
      if (start > buf.length) return { ok: false, reason: 'truncated key' };
    }
    if (flags & FLAG_TEXT) return { ok: true, entry: { value: buf.toString('utf8', start) as T, createdAt: buf.readDoubleLE(3) } };
    try {
      return { ok: true, entry: { value: deserialize(buf.subarray(start)) as T, createdAt: buf.readDoubleLE(3) } };
    } catch (error) {
      return { ok: false, reason: `corrupt payload (${(error as Error).message})` };
    }
  }

  /** The logical key embedded in an entry, if any. */
  keyOf(bytes: Uint8Array): string | undefined {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < HEADER + 4 || buf[0] !== ENTRY_MAGIC || buf[1] !== ENTRY_FORMAT || !(buf[2]! & FLAG_KEY)) return undefined;
    const end = HEADER + 4 + buf.readUInt32LE(HEADER);
    return end > buf.length ? undefined : buf.toString('utf8', HEADER + 4, end);
  }
}

function writeHeader(into: Buffer, flags: number, createdAt: number): void {
  into[0] = ENTRY_MAGIC;
  into[1] = ENTRY_FORMAT;
  into[2] = flags;
  into.writeDoubleLE(createdAt, 3);
}
