import { DefaultSerializer, deserialize } from 'node:v8';
import { InvalidCacheValueError } from '../../errors/invalid-cache-value.error.js';
import type { DecodeResult } from './decoded-entry.js';

/**
 * Format 1, the plain entry (no compression, no encryption):
 *   byte 0      MAGIC (0xC7, never an ASCII digit or '-', so raw counters are told apart)
 *   byte 1      format version (1)
 *   byte 2      flags: 0x01 = the logical key follows the header (stored for hashed keys, so they can be listed)
 *   bytes 3-10  createdAt, float64 ms since epoch
 *   [u32 length + UTF-8 logical key when flag 0x01]
 *   rest        payload: V8 structured-clone bytes
 *
 * V8's structured clone keeps Date, Map, Set, BigInt, Buffer, typed arrays, undefined inside objects
 * and cycles, and never runs code or builds class instances from the bytes.
 */
export const ENTRY_MAGIC = 0xc7;
export const ENTRY_FORMAT = 1;
export const V1_HEADER = 11;
const FLAG_KEY = 0x01;
const KNOWN_FLAGS = FLAG_KEY;

/** A format-1 record whose header was read (see `classify`). */
export interface V1Record {
  format: 'v1';
  bytes: Buffer;
  /** Where the V8 payload starts. */
  payloadStart: number;
  /** Where the embedded logical key starts (`undefined`: none). */
  keyStart: number | undefined;
}

/** What a format-1 record is written with. */
export interface V1EncodeOptions {
  /** The logical key, embedded when `embedKey` (for keys the store only sees hashed). */
  key?: string;
  embedKey?: boolean;
  createdAt: number;
  /** Scratch space for a header without a key (copied into the entry at once). */
  scratch?: Buffer;
}

/** Encodes a value as a format-1 record; throws `InvalidCacheValueError` when it cannot be serialized. */
export function encodeV1(value: unknown, options: V1EncodeOptions): Buffer {
  const { key, createdAt } = options;
  const keyBytes = options.embedKey && key !== undefined ? Buffer.from(key, 'utf8') : undefined;
  // NOTE: the header goes into the serializer's own buffer ahead of the V8 payload (`v8.serialize`
  // plus the raw bytes in front), so the entry is built in one allocation, without copying the payload.
  const header = keyBytes ? Buffer.allocUnsafe(V1_HEADER + 4) : (options.scratch ?? Buffer.allocUnsafe(V1_HEADER));
  header[0] = ENTRY_MAGIC;
  header[1] = ENTRY_FORMAT;
  header[2] = keyBytes ? FLAG_KEY : 0;
  header.writeDoubleLE(createdAt, 3);
  if (keyBytes) header.writeUInt32LE(keyBytes.length, V1_HEADER);
  const serializer = new DefaultSerializer();
  serializer.writeRawBytes(header.subarray(0, keyBytes ? V1_HEADER + 4 : V1_HEADER));
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

/** Reads the header of a record whose first two bytes say format 1, or why it cannot be read. */
export function readV1Header(bytes: Buffer): V1Record | string {
  if (bytes.length < V1_HEADER) return 'truncated header';
  const flags = bytes[2]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags ${flags}`;
  if (!(flags & FLAG_KEY)) return { format: 'v1', bytes, payloadStart: V1_HEADER, keyStart: undefined };
  if (bytes.length < V1_HEADER + 4) return 'truncated key';
  const payloadStart = V1_HEADER + 4 + bytes.readUInt32LE(V1_HEADER);
  if (payloadStart > bytes.length) return 'truncated key';
  return { format: 'v1', bytes, payloadStart, keyStart: V1_HEADER + 4 };
}

/** The value of a format-1 record. */
export function decodeV1<T>(record: V1Record): DecodeResult<T> {
  const { bytes } = record;
  try {
    return { ok: true, entry: { value: deserialize(bytes.subarray(record.payloadStart)) as T, createdAt: bytes.readDoubleLE(3) } };
  } catch (error) {
    return { ok: false, reason: `corrupt payload (${(error as Error).message})` };
  }
}

/** The logical key embedded in a format-1 record, if any. */
export function v1KeyOf(record: V1Record): string | undefined {
  return record.keyStart === undefined ? undefined : record.bytes.toString('utf8', record.keyStart, record.payloadStart);
}
