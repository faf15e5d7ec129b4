import { crc32 } from 'node:zlib';
import type { CacheScope, KeyBuilder } from '../../keys/key-builder.js';
import { entryPrefixOf as entryPrefixIn } from '../../keys/key-layout.js';
import { NOT_COMPRESSED } from '../compression.js';
import type { EntryCipher } from '../entry-cipher.js';
import { FLAG_KEY, FLAG_MANIFEST, FLAG_STREAM, type RecordPlace, type V2Record, writeV2Record } from './format-v2.js';

/**
 * The manifest of a chunked entry: a format-2 record with flag 0x04 (0x08 too for a memoized iterable)
 * under the entry's key, whose body is: writeId (16 random bytes), u32 part count, and per part: u8
 * compression, u32 chunk count, then per chunk u32 length and u32 CRC-32. Chunks hold the part's bytes
 * (sealed when encrypted, AAD = 'P' + writeId + u32 part index + physical key) under
 * `<entry prefix>c:<writeId hex>:<n>`.
 */
export const WRITE_ID_BYTES = 16;

/** One part of a manifest: its compression and its chunks. */
export interface ManifestPart {
  compression: number;
  chunks: { length: number; crc: number }[];
}

/** A parsed manifest (the entry under the logical key of a chunked value or a memoized iterable). */
export interface Manifest {
  writeId: Buffer;
  stream: boolean;
  encrypted: boolean;
  createdAt: number;
  parts: ManifestPart[];
}

/** Chunks to write first, then the manifest under the entry's key. */
export interface ChunkedEncoding {
  manifest: Buffer;
  chunks: { key: string; value: Buffer }[];
}

/** One part of one write: what its seal is bound to. */
export interface PartPlace extends RecordPlace {
  writeId: Buffer;
  index: number;
}

/** What a manifest record is written with. */
export interface ManifestRecordOptions extends RecordPlace {
  parts: readonly ManifestPart[];
  writeId: Buffer;
  /** A memoized iterable (each part a page of items) rather than one value. */
  stream: boolean;
  createdAt: number;
  /** The logical key to embed (hashed keys), if any. */
  key: string | undefined;
  /** Seals the manifest when given. */
  cipher: EntryCipher | undefined;
}

/** How a part is split into chunks. */
export interface SplitOptions {
  chunkBytes: number;
  /** Compression id of the part. */
  compression: number;
  /** The key of chunk `n` of the write. */
  chunkKey: (n: number) => string;
  /** The write's index of the part's first chunk. */
  firstIndex: number;
}

/** Builds the manifest record for parts already written. */
export function writeManifest(options: ManifestRecordOptions): Buffer {
  const { parts } = options;
  let size = WRITE_ID_BYTES + 4;
  for (const p of parts) size += 5 + 8 * p.chunks.length;
  const body = Buffer.allocUnsafe(size);
  options.writeId.copy(body, 0);
  body.writeUInt32LE(parts.length, WRITE_ID_BYTES);
  let at = WRITE_ID_BYTES + 4;
  for (const p of parts) {
    body[at] = p.compression;
    body.writeUInt32LE(p.chunks.length, at + 1);
    at += 5;
    for (const c of p.chunks) {
      body.writeUInt32LE(c.length, at);
      body.writeUInt32LE(c.crc, at + 4);
      at += 8;
    }
  }
  const flags = FLAG_MANIFEST | (options.stream ? FLAG_STREAM : 0);
  return writeV2Record({ ...options, flags, compression: NOT_COMPRESSED, payload: body });
}

/** The manifest in the opened body of a manifest record; throws `RangeError` when it is truncated. */
export function readManifest(record: V2Record, body: Buffer): Manifest {
  let at = record.flags & FLAG_KEY ? 4 + body.readUInt32LE(0) : 0;
  const writeId = Buffer.from(body.subarray(at, at + WRITE_ID_BYTES));
  if (writeId.length !== WRITE_ID_BYTES) throw new RangeError('truncated manifest');
  at += WRITE_ID_BYTES;
  const count = body.readUInt32LE(at);
  at += 4;
  const parts: ManifestPart[] = [];
  for (let i = 0; i < count; i++) {
    const compression = body.readUInt8(at);
    const n = body.readUInt32LE(at + 1);
    at += 5;
    if (at + 8 * n > body.length) throw new RangeError('truncated manifest');
    const chunks: { length: number; crc: number }[] = [];
    for (let j = 0; j < n; j++, at += 8) chunks.push({ length: body.readUInt32LE(at), crc: body.readUInt32LE(at + 4) });
    parts.push({ compression, chunks });
  }
  return { writeId, stream: (record.flags & FLAG_STREAM) !== 0, encrypted: record.encrypted, createdAt: record.createdAt, parts };
}

/** Splits a part into chunks, recording each chunk's length and CRC-32. */
export function splitPart(bytes: Buffer, options: SplitOptions): { part: ManifestPart; chunks: { key: string; value: Buffer }[] } {
  const { chunkBytes } = options;
  const part: ManifestPart = { compression: options.compression, chunks: [] };
  const chunks: { key: string; value: Buffer }[] = [];
  const count = Math.max(1, Math.ceil(bytes.length / chunkBytes));
  for (let i = 0; i < count; i++) {
    const value = bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes);
    part.chunks.push({ length: value.length, crc: crc32(value) });
    chunks.push({ key: options.chunkKey(options.firstIndex + i), value });
  }
  return { part, chunks };
}

/** Seals one part (as it is without a cipher). */
export function sealPart(bytes: Buffer, cipher: EntryCipher | undefined, place: PartPlace): Buffer {
  return cipher ? cipher.seal([bytes], { scope: place.scope, aad: partAad(place) }) : bytes;
}

/** Opens one sealed part; `undefined` when it does not authenticate. */
export function openPart(bytes: Buffer, cipher: EntryCipher | undefined, place: PartPlace): Buffer | undefined {
  return cipher?.open(bytes, { scope: place.scope, aad: partAad(place) });
}

/** `<entry prefix>c:<writeId hex>:`: chunks live in their own segment of the entry's generation. */
export function chunkKeyBase(physicalKey: string, scope: CacheScope, keys: KeyBuilder, writeId: Buffer): string {
  return `${entryPrefixOf(physicalKey, scope, keys)}c:${writeId.toString('hex')}:`;
}

/** The `<scope prefix>g<generation>:` an entry key starts with (see `entryPrefixOf` in keys/key-layout.ts). */
export function entryPrefixOf(physicalKey: string, scope: CacheScope, keys: KeyBuilder): string {
  return entryPrefixIn(physicalKey, keys.scopePrefix(scope));
}

function partAad(place: PartPlace): Buffer {
  const { physicalKey, writeId } = place;
  const aad = Buffer.allocUnsafe(1 + WRITE_ID_BYTES + 4 + Buffer.byteLength(physicalKey));
  aad[0] = 0x50; // 'P': never the first byte of a record header (0xC7)
  writeId.copy(aad, 1);
  aad.writeUInt32LE(place.index, 1 + WRITE_ID_BYTES);
  aad.write(physicalKey, 1 + WRITE_ID_BYTES + 4, 'utf8');
  return aad;
}
