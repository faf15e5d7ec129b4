import { UNENCRYPTED } from './codec.messages.js';
import { randomBytes } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import { CacheValueTooLargeError } from '../errors/cache-value-too-large.error.js';
import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { CacheScope, KeyBuilder } from '../keys/key-builder.js';
import { entryPrefixOf as entryPrefixIn } from '../keys/key-layout.js';
import { type CodecCallOptions, type NormalizedCodecOptions, type NormalizedCompression, normalizeCompression, validateCodecCallOptions } from './codec.options.js';
import { NOT_COMPRESSED, compress, decompressSync } from './compression.js';
import { EntryCipher, SEAL_OVERHEAD } from './entry-cipher.js';
import { type DecodeResult, ENTRY_FORMAT, ENTRY_MAGIC, EntryCodec, TEXT_MAGIC } from './entry-codec.js';

/**
 * Format 2, for entries that are compressed, encrypted or chunked (plain entries keep format 1):
 *   byte 0      MAGIC 0xC7
 *   byte 1      2
 *   byte 2      flags: 0x01 logical key embedded, 0x02 encrypted, 0x04 manifest (chunked), 0x08 stream
 *   byte 3      compression of the inline payload (0 none, 1 gzip, 2 deflate, 3 brotli, 4 zstd)
 *   bytes 4-11  createdAt, float64 ms since epoch
 *   body        [u32 length + UTF-8 logical key] + (payload | manifest), sealed with AES-256-GCM when
 *               encrypted (AAD = the 12 header bytes + the physical key)
 * A manifest is: writeId (16 random bytes), u32 part count, and per part: u8 compression, u32 chunk
 * count, then per chunk u32 length and u32 CRC-32. Chunks hold the part's bytes (sealed when encrypted,
 * AAD = 'P' + writeId + u32 part index + physical key) under `<entry prefix>c:<writeId hex>:<n>`.
 */
export const ENTRY_FORMAT_V2 = 2;
export const HEADER_V2 = 12;
export const FLAG_KEY = 0x01;
export const FLAG_ENCRYPTED = 0x02;
export const FLAG_MANIFEST = 0x04;
export const FLAG_STREAM = 0x08;
const KNOWN_FLAGS = FLAG_KEY | FLAG_ENCRYPTED | FLAG_MANIFEST | FLAG_STREAM;
const V1_HEADER = 11;
export const WRITE_ID_BYTES = 16;

/** The transforms one write uses: the store's codec with a call's override applied. */
export interface CodecSettings {
  compression: NormalizedCompression | undefined;
  encrypt: boolean;
  /** Largest piece stored under one key. */
  chunkBytes: number;
  /** Whether entries above `chunkBytes` are split (else refused). */
  chunking: boolean;
  /** No compression and no encryption: format 1. */
  plain: boolean;
}

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

/**
 * A value ready to be written: one record (bytes, or a text entry as a string for a store with `setText`),
 * or chunks then a manifest.
 */
export type Encoded = Buffer | string | ChunkedEncoding;

/** What the pipeline knows of its store. */
export interface PipelineStoreTraits {
  /** The store keeps the bytes it is given (in-process): see `EntryCodecOptions.ownMemory`. */
  keepsBytes?: boolean;
  /** The store writes strings as their UTF-8 (`setText`): text entries stay strings. */
  takesText?: boolean;
}

/** Chunks to write first, then the manifest under the entry's key. */
export interface ChunkedEncoding {
  manifest: Buffer;
  chunks: { key: string; value: Buffer }[];
}

/** What an entry's bytes are. */
export type Parsed<T> = { kind: 'value'; result: DecodeResult<T> } | { kind: 'manifest'; manifest: Manifest } | { kind: 'invalid'; reason: string };

/**
 * The transforms of one store: serialize (V8 structured clone) -> compress -> encrypt -> chunk, and
 * back. Holds no store connection (see `ChunkedIo`). Never runs code from cache bytes: V8's
 * deserializer rebuilds plain data (objects, arrays, Map, Set, Date, RegExp, typed arrays, errors)
 * and no class instances or functions.
 */
export class EntryPipeline {
  readonly v1: EntryCodec;
  readonly cipher: EntryCipher | undefined;
  readonly base: CodecSettings;
  /** Format-1 records up to this size need no further look. */
  private readonly fastLimit: number;
  private readonly calls = new WeakMap<CodecCallOptions, CodecSettings>();
  private readonly takesText: boolean;

  constructor(
    readonly options: NormalizedCodecOptions,
    /** The store's `capabilities.maxValueBytes`. */
    readonly storeMaxValueBytes: number,
    readonly storeAlias: string,
    traits: PipelineStoreTraits = {},
  ) {
    this.v1 = new EntryCodec({ ownMemory: traits.keepsBytes });
    this.takesText = traits.takesText ?? false;
    this.cipher = options.secrets ? new EntryCipher(options.secrets) : undefined;
    this.base = this.settingsOf(options.compression, options.secrets !== undefined, options.chunkSize);
    this.fastLimit = Math.min(this.base.chunkBytes, options.maxValueBytes);
  }

  /** The settings of a call; `undefined` = the store's. Throws `InvalidOptionsError` on a bad override. */
  settings(call: CodecCallOptions | undefined): CodecSettings {
    if (call === undefined) return this.base;
    let s = this.calls.get(call);
    if (!s) {
      validateCodecCallOptions(call);
      const encrypt = call.encrypt ?? this.options.secrets !== undefined;
      if (encrypt && !this.cipher) {
        throw new InvalidOptionsError(
          'codec.encrypt',
          `is true but store "${this.storeAlias}" has no encryption secrets`,
          'Configure codec.encryption on the module or the store.',
        );
      }
      if (!encrypt && this.options.encryptionRequired) {
        throw new InvalidOptionsError(
          'codec.encrypt',
          `is false but store "${this.storeAlias}" requires encryption`,
          'Drop encrypt: false, or set codec.encryption.required: false.',
        );
      }
      const compression = call.compression === undefined ? this.options.compression : normalizeCompression(call.compression, 'codec.compression');
      s = this.settingsOf(compression, encrypt, call.chunkSize === undefined ? this.options.chunkSize : call.chunkSize === false ? Infinity : call.chunkSize);
      this.calls.set(call, s);
    }
    return s;
  }

  /**
   * Encodes a value for `physicalKey`. Synchronous for values that need no thread-pool compression;
   * throws `InvalidCacheValueError` (unserializable) or `CacheValueTooLargeError` before anything is written.
   */
  encode(value: unknown, physicalKey: string, logicalKey: string, scope: CacheScope, keys: KeyBuilder, s: CodecSettings): Encoded | Promise<Encoded> {
    const embed = !keys.isLiteral(logicalKey);
    const createdAt = Date.now();
    if (s.plain) {
      if (this.takesText) {
        const text = this.v1.textEntry(value, logicalKey, embed, createdAt);
        // NOTE: a UTF-16 code unit is at most 3 UTF-8 bytes: most texts need no byte count.
        const limit = Math.min(this.fastLimit, s.chunkBytes);
        if (text !== undefined && (text.length * 3 <= limit || Buffer.byteLength(text, 'utf8') <= limit)) return text;
      }
      let record = this.v1.encode(value, logicalKey, embed, createdAt);
      if (record.length <= this.fastLimit && record.length <= s.chunkBytes) return record;
      // NOTE: chunks carry V8 bytes: a text entry too large for one record is encoded again as such.
      if (record[0] === TEXT_MAGIC) record = this.v1.encode(value, logicalKey, embed, createdAt, false);
      const payload = record.subarray(embed ? V1_HEADER + 4 + Buffer.byteLength(logicalKey) : V1_HEADER);
      this.checkSize(payload.length, logicalKey);
      if (record.length <= s.chunkBytes) return record;
      return this.chunked({ id: NOT_COMPRESSED, bytes: payload }, physicalKey, logicalKey, embed, scope, keys, s, createdAt);
    }
    const payload = serializeValue(value, logicalKey);
    this.checkSize(payload.length, logicalKey);
    const packed = compress(payload, s.compression);
    if (packed instanceof Promise) {
      const done = packed.then((p) => this.finish(p, physicalKey, logicalKey, embed, scope, keys, s, createdAt));
      // NOTE: awaited later (after e.g. a tag index write): marked handled so that a failure meanwhile is no unhandled rejection.
      done.catch(() => undefined);
      return done;
    }
    return this.finish(packed, physicalKey, logicalKey, embed, scope, keys, s, createdAt);
  }

  /** Reads the record under `physicalKey`: a value, a manifest whose chunks are to be fetched, or garbage. */
  parse<T>(raw: Buffer, physicalKey: string, scope: CacheScope): Parsed<T> {
    if (raw[0] !== ENTRY_MAGIC || raw[1] === ENTRY_FORMAT) {
      if ((raw[0] === ENTRY_MAGIC || raw[0] === TEXT_MAGIC) && this.options.encryptionRequired) return invalid(UNENCRYPTED);
      return { kind: 'value', result: this.v1.decode<T>(raw) };
    }
    const body = this.body(raw, physicalKey, scope);
    if (typeof body === 'string') return invalid(body);
    const flags = raw[2]!;
    try {
      if (flags & FLAG_MANIFEST) return { kind: 'manifest', manifest: readManifest(body, flags, raw.readDoubleLE(4)) };
      const start = flags & FLAG_KEY ? 4 + body.readUInt32LE(0) : 0;
      if (start > body.length) return invalid('truncated key');
      const payload = decompressSync(raw[3]!, body.subarray(start), this.options.maxValueBytes);
      return { kind: 'value', result: { ok: true, entry: { value: deserialize(payload) as T, createdAt: raw.readDoubleLE(4) } } };
    } catch (error) {
      return invalid(`corrupt payload (${(error as Error).message})`);
    }
  }

  /** The logical key embedded in an entry (hashed keys), decrypting it when needed. */
  keyOf(raw: Buffer, physicalKey: string, scope: CacheScope): string | undefined {
    if (raw[0] !== ENTRY_MAGIC || raw[1] !== ENTRY_FORMAT_V2) return this.options.encryptionRequired ? undefined : this.v1.keyOf(raw);
    if (raw[0] !== ENTRY_MAGIC || !(raw[2]! & FLAG_KEY)) return undefined;
    const body = this.body(raw, physicalKey, scope);
    if (typeof body === 'string' || body.length < 4) return undefined;
    const end = 4 + body.readUInt32LE(0);
    return end > body.length ? undefined : body.toString('utf8', 4, end);
  }

  /** Seals one part of a chunked entry (no-op without encryption). */
  sealPart(bytes: Buffer, physicalKey: string, writeId: Buffer, index: number, scope: CacheScope, encrypt: boolean): Buffer {
    if (!encrypt) return bytes;
    return this.cipher!.seal([bytes], { scope, aad: partAad(physicalKey, writeId, index) });
  }

  /** Opens one part; `undefined` when it does not authenticate. */
  openPart(bytes: Buffer, physicalKey: string, writeId: Buffer, index: number, scope: CacheScope, encrypted: boolean): Buffer | undefined {
    if (!encrypted) return bytes;
    return this.cipher?.open(bytes, { scope, aad: partAad(physicalKey, writeId, index) });
  }

  /** Builds the manifest record for parts already written. */
  manifest(
    parts: readonly ManifestPart[],
    writeId: Buffer,
    stream: boolean,
    physicalKey: string,
    logicalKey: string,
    scope: CacheScope,
    keys: KeyBuilder,
    encrypt: boolean,
    createdAt = Date.now(),
  ): Buffer {
    let size = WRITE_ID_BYTES + 4;
    for (const p of parts) size += 5 + 8 * p.chunks.length;
    const body = Buffer.allocUnsafe(size);
    writeId.copy(body, 0);
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
    const embed = !keys.isLiteral(logicalKey);
    const flags = FLAG_MANIFEST | (stream ? FLAG_STREAM : 0);
    return this.record(flags, NOT_COMPRESSED, createdAt, embed ? logicalKey : undefined, body, physicalKey, scope, encrypt);
  }

  /** Splits a part into chunks under `writeId`, recording each chunk's length and CRC-32. */
  split(
    bytes: Buffer,
    chunkBytes: number,
    compression: number,
    chunkKey: (n: number) => string,
    firstIndex: number,
  ): { part: ManifestPart; chunks: { key: string; value: Buffer }[] } {
    const part: ManifestPart = { compression, chunks: [] };
    const chunks: { key: string; value: Buffer }[] = [];
    const count = Math.max(1, Math.ceil(bytes.length / chunkBytes));
    for (let i = 0; i < count; i++) {
      const value = bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes);
      part.chunks.push({ length: value.length, crc: crc32(value) });
      chunks.push({ key: chunkKey(firstIndex + i), value });
    }
    return { part, chunks };
  }

  private settingsOf(compression: NormalizedCompression | undefined, encrypt: boolean, chunkSize: number): CodecSettings {
    return {
      compression,
      encrypt,
      chunkBytes: Math.min(chunkSize, this.storeMaxValueBytes),
      chunking: chunkSize !== Infinity,
      plain: compression === undefined && !encrypt,
    };
  }

  private checkSize(serialized: number, key: string): void {
    if (serialized > this.options.maxValueBytes) throw new CacheValueTooLargeError(key, serialized, this.options.maxValueBytes, 'codec.maxValueBytes');
  }

  private finish(
    packed: { id: number; bytes: Buffer },
    physicalKey: string,
    logicalKey: string,
    embed: boolean,
    scope: CacheScope,
    keys: KeyBuilder,
    s: CodecSettings,
    createdAt: number,
  ): Encoded {
    const inline = HEADER_V2 + (embed ? 4 + Buffer.byteLength(logicalKey) : 0) + packed.bytes.length + (s.encrypt ? SEAL_OVERHEAD : 0);
    if (inline <= s.chunkBytes) {
      return this.record(s.encrypt ? FLAG_ENCRYPTED : 0, packed.id, createdAt, embed ? logicalKey : undefined, packed.bytes, physicalKey, scope, s.encrypt);
    }
    return this.chunked(packed, physicalKey, logicalKey, embed, scope, keys, s, createdAt);
  }

  private chunked(
    packed: { id: number; bytes: Buffer },
    physicalKey: string,
    logicalKey: string,
    embed: boolean,
    scope: CacheScope,
    keys: KeyBuilder,
    s: CodecSettings,
    createdAt: number,
  ): Encoded {
    if (!s.chunking) {
      const size = HEADER_V2 + (embed ? 4 + Buffer.byteLength(logicalKey) : 0) + packed.bytes.length + (s.encrypt ? SEAL_OVERHEAD : 0);
      throw new CacheValueTooLargeError(logicalKey, size, this.storeMaxValueBytes, `the maxValueBytes of store "${this.storeAlias}" (codec.chunkSize is false)`);
    }
    const writeId = randomBytes(WRITE_ID_BYTES);
    const base = chunkKeyBase(physicalKey, scope, keys, writeId);
    const sealed = this.sealPart(packed.bytes, physicalKey, writeId, 0, scope, s.encrypt);
    const { part, chunks } = this.split(sealed, s.chunkBytes, packed.id, (n) => base + n, 0);
    const manifest = this.manifest([part], writeId, false, physicalKey, logicalKey, scope, keys, s.encrypt, createdAt);
    if (manifest.length > this.storeMaxValueBytes) {
      throw new CacheValueTooLargeError(logicalKey, packed.bytes.length, this.options.maxValueBytes, `the manifest size allowed by store "${this.storeAlias}"`);
    }
    return { manifest, chunks };
  }

  private record(
    flags: number,
    compression: number,
    createdAt: number,
    key: string | undefined,
    payload: Buffer,
    physicalKey: string,
    scope: CacheScope,
    encrypt: boolean,
  ): Buffer {
    const header = Buffer.allocUnsafe(HEADER_V2);
    header[0] = ENTRY_MAGIC;
    header[1] = ENTRY_FORMAT_V2;
    header[2] = flags | (key !== undefined ? FLAG_KEY : 0) | (encrypt ? FLAG_ENCRYPTED : 0);
    header[3] = compression;
    header.writeDoubleLE(createdAt, 4);
    const parts: Buffer[] = [];
    if (key !== undefined) {
      const keyBytes = Buffer.from(key, 'utf8');
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32LE(keyBytes.length, 0);
      parts.push(len, keyBytes);
    }
    parts.push(payload);
    if (!encrypt) return Buffer.concat([header, ...parts]);
    const sealed = this.cipher!.seal(parts, { scope, aad: recordAad(header, physicalKey) });
    return Buffer.concat([header, sealed]);
  }

  /** The body after the header, opened when sealed; a string says why it cannot be read. */
  private body(raw: Buffer, physicalKey: string, scope: CacheScope): Buffer | string {
    if (raw[1] !== ENTRY_FORMAT_V2) return `entry format ${raw[1]} is not readable by this version`;
    if (raw.length < HEADER_V2) return 'truncated header';
    const flags = raw[2]!;
    if ((flags & ~KNOWN_FLAGS) !== 0) return `unknown flags ${flags}`;
    const sealed = raw.subarray(HEADER_V2);
    if (!(flags & FLAG_ENCRYPTED)) {
      return this.options.encryptionRequired ? UNENCRYPTED : sealed;
    }
    if (!this.cipher) return 'an encrypted entry, and no encryption secret is configured';
    const opened = this.cipher.open(sealed, { scope, aad: recordAad(raw.subarray(0, HEADER_V2), physicalKey) });
    if (opened) return opened;
    return this.cipher.knowsKeyOf(sealed)
      ? 'authentication failed (tampered, or written for another tenant or key)'
      : 'encrypted with a secret that is not configured (retired, or another deployment)';
  }
}

/** `<entry prefix>c:<writeId hex>:`: chunks live in their own segment of the entry's generation. */
export function chunkKeyBase(physicalKey: string, scope: CacheScope, keys: KeyBuilder, writeId: Buffer): string {
  return `${entryPrefixOf(physicalKey, scope, keys)}c:${writeId.toString('hex')}:`;
}

/** The `<scope prefix>g<generation>:` an entry key starts with (see `entryPrefixOf` in keys/key-layout.ts). */
export function entryPrefixOf(physicalKey: string, scope: CacheScope, keys: KeyBuilder): string {
  return entryPrefixIn(physicalKey, keys.scopePrefix(scope));
}

export function serializeValue(value: unknown, key: string | undefined): Buffer {
  try {
    return serialize(value);
  } catch (error) {
    throw new InvalidCacheValueError(
      `it cannot be serialized (${(error as Error).message}); functions, symbols, class instances with private state and promises cannot be cached`,
      key,
      error,
    );
  }
}

function readManifest(body: Buffer, flags: number, createdAt: number): Manifest {
  let at = flags & FLAG_KEY ? 4 + body.readUInt32LE(0) : 0;
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
  return { writeId, stream: (flags & FLAG_STREAM) !== 0, encrypted: (flags & FLAG_ENCRYPTED) !== 0, createdAt, parts };
}

function recordAad(header: Buffer, physicalKey: string): Buffer {
  const aad = Buffer.allocUnsafe(HEADER_V2 + Buffer.byteLength(physicalKey));
  header.copy(aad, 0, 0, HEADER_V2);
  aad.write(physicalKey, HEADER_V2, 'utf8');
  return aad;
}

function partAad(physicalKey: string, writeId: Buffer, index: number): Buffer {
  const aad = Buffer.allocUnsafe(1 + WRITE_ID_BYTES + 4 + Buffer.byteLength(physicalKey));
  aad[0] = 0x50; // 'P': never the first byte of a record header (0xC7)
  writeId.copy(aad, 1);
  aad.writeUInt32LE(index, 1 + WRITE_ID_BYTES);
  aad.write(physicalKey, 1 + WRITE_ID_BYTES + 4, 'utf8');
  return aad;
}

function invalid(reason: string): { kind: 'invalid'; reason: string } {
  return { kind: 'invalid', reason };
}
