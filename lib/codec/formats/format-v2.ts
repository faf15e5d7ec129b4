import { deserialize } from 'node:v8';
import type { CacheScope } from '../../keys/key-builder.js';
import { decompressSync } from '../compression.js';
import type { EntryCipher } from '../entry-cipher.js';
import type { DecodeResult } from './decoded-entry.js';
import { ENTRY_MAGIC } from './format-v1.js';

/**
 * Format 2, for entries that are compressed, encrypted or chunked (plain entries keep format 1):
 *   byte 0      MAGIC 0xC7
 *   byte 1      2
 *   byte 2      flags: 0x01 logical key embedded, 0x02 encrypted, 0x04 manifest (chunked), 0x08 stream
 *   byte 3      compression of the inline payload (0 none, 1 gzip, 2 deflate, 3 brotli, 4 zstd)
 *   bytes 4-11  createdAt, float64 ms since epoch
 *   body        [u32 length + UTF-8 logical key] + (payload | manifest), sealed with AES-256-GCM when
 *               encrypted (AAD = the 12 header bytes + the physical key)
 * The manifest body is described in `chunk-manifest.ts`.
 */
export const ENTRY_FORMAT_V2 = 2;
export const HEADER_V2 = 12;
export const FLAG_KEY = 0x01;
export const FLAG_ENCRYPTED = 0x02;
export const FLAG_MANIFEST = 0x04;
export const FLAG_STREAM = 0x08;
const KNOWN_FLAGS = FLAG_KEY | FLAG_ENCRYPTED | FLAG_MANIFEST | FLAG_STREAM;

/** A format-2 record whose header was read (see `classify`); its body may still be sealed. */
export interface V2Record {
  format: 'v2';
  bytes: Buffer;
  flags: number;
  /** The record is a manifest (its value is in chunks). */
  manifest: boolean;
  encrypted: boolean;
  createdAt: number;
}

/** Where a record lives: what its seal is bound to. */
export interface RecordPlace {
  physicalKey: string;
  scope: CacheScope;
}

/** What a format-2 record is written with. */
export interface V2RecordOptions extends RecordPlace {
  /** `FLAG_MANIFEST` / `FLAG_STREAM`; the key and encryption flags follow from `key` and `cipher`. */
  flags: number;
  /** Compression id of the payload (`compression.ts`). */
  compression: number;
  createdAt: number;
  /** The logical key to embed (hashed keys), if any. */
  key: string | undefined;
  payload: Buffer;
  /** Seals the body when given. */
  cipher: EntryCipher | undefined;
}

/** Builds a format-2 record. */
export function writeV2Record(options: V2RecordOptions): Buffer {
  const { key, cipher } = options;
  const header = Buffer.allocUnsafe(HEADER_V2);
  header[0] = ENTRY_MAGIC;
  header[1] = ENTRY_FORMAT_V2;
  header[2] = options.flags | (key !== undefined ? FLAG_KEY : 0) | (cipher ? FLAG_ENCRYPTED : 0);
  header[3] = options.compression;
  header.writeDoubleLE(options.createdAt, 4);
  const parts: Buffer[] = [];
  if (key !== undefined) {
    const keyBytes = Buffer.from(key, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(keyBytes.length, 0);
    parts.push(len, keyBytes);
  }
  parts.push(options.payload);
  if (!cipher) return Buffer.concat([header, ...parts]);
  const sealed = cipher.seal(parts, { scope: options.scope, aad: recordAad(header, options.physicalKey) });
  return Buffer.concat([header, sealed]);
}

/** Reads the header of a record whose first two bytes say format 2, or why it cannot be read. */
export function readV2Header(bytes: Buffer): V2Record | string {
  if (bytes.length < HEADER_V2) return 'truncated header';
  const flags = bytes[2]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags ${flags}`;
  return {
    format: 'v2',
    bytes,
    flags,
    manifest: (flags & FLAG_MANIFEST) !== 0,
    encrypted: (flags & FLAG_ENCRYPTED) !== 0,
    createdAt: bytes.readDoubleLE(4),
  };
}

/** The body after the header, opened when sealed; a string says why it cannot be read. */
export function openV2Body(record: V2Record, cipher: EntryCipher | undefined, place: RecordPlace): Buffer | string {
  const sealed = record.bytes.subarray(HEADER_V2);
  if (!record.encrypted) return sealed;
  if (!cipher) return 'an encrypted entry, and no encryption secret is configured';
  const opened = cipher.open(sealed, { scope: place.scope, aad: recordAad(record.bytes.subarray(0, HEADER_V2), place.physicalKey) });
  if (opened) return opened;
  return cipher.knowsKeyOf(sealed, place.scope)
    ? 'authentication failed (tampered, or written for another tenant or key)'
    : 'encrypted with a secret that is not configured (retired, or another deployment)';
}

/** Where the payload (or manifest) starts in an opened body: after the embedded key, if any. */
export function v2PayloadStart(record: V2Record, body: Buffer): number {
  return record.flags & FLAG_KEY ? 4 + body.readUInt32LE(0) : 0;
}

/** The value of an inline (not chunked) format-2 record, from its opened body. */
export function decodeV2<T>(record: V2Record, body: Buffer, maxValueBytes: number): DecodeResult<T> {
  try {
    const start = v2PayloadStart(record, body);
    if (start > body.length) return { ok: false, reason: 'truncated key' };
    const payload = decompressSync(record.bytes[3]!, body.subarray(start), maxValueBytes);
    return { ok: true, entry: { value: deserialize(payload) as T, createdAt: record.createdAt } };
  } catch (error) {
    return { ok: false, reason: `corrupt payload (${(error as Error).message})` };
  }
}

/** The logical key embedded in a format-2 record, from its opened body. */
export function v2KeyOf(record: V2Record, body: Buffer): string | undefined {
  if (!(record.flags & FLAG_KEY) || body.length < 4) return undefined;
  const end = 4 + body.readUInt32LE(0);
  return end > body.length ? undefined : body.toString('utf8', 4, end);
}

function recordAad(header: Buffer, physicalKey: string): Buffer {
  const aad = Buffer.allocUnsafe(HEADER_V2 + Buffer.byteLength(physicalKey));
  header.copy(aad, 0, 0, HEADER_V2);
  aad.write(physicalKey, HEADER_V2, 'utf8');
  return aad;
}

/** Whether a record's first three bytes say it is a manifest (a peek, not a read: `classify` reads it). */
export function claimsManifest(bytes: Buffer): boolean {
  return bytes.length > 2 && bytes[0] === ENTRY_MAGIC && bytes[1] === ENTRY_FORMAT_V2 && (bytes[2]! & FLAG_MANIFEST) !== 0;
}
