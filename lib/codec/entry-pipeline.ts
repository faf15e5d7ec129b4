import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { CacheValueTooLargeError } from '../errors/cache-value-too-large.error.js';
import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { CacheScope, KeyBuilder } from '../keys/key-builder.js';
import { type CodecCallOptions, type NormalizedCodecOptions, type NormalizedCompression, normalizeCompression, validateCodecCallOptions } from './codec.options.js';
import { NOT_COMPRESSED, compress } from './compression.js';
import { EntryCipher, SEAL_OVERHEAD } from './entry-cipher.js';
import type { TenantDataKeys } from './tenant-data-keys.js';
import { EntryCodec, decodePlain, plainKeyOf } from './entry-codec.js';
import {
  type ChunkedEncoding,
  type Manifest,
  type ManifestPart,
  type PartPlace,
  type SplitOptions,
  WRITE_ID_BYTES,
  chunkKeyBase,
  openPart,
  readManifest,
  sealPart,
  splitPart,
  writeManifest,
} from './formats/chunk-manifest.js';
import { type Classified, classify } from './formats/classify.js';
import type { DecodeResult } from './formats/decoded-entry.js';
import { V1_HEADER } from './formats/format-v1.js';
import { FLAG_ENCRYPTED, FLAG_KEY, HEADER_V2, type RecordPlace, decodeV2, openV2Body, v2KeyOf, writeV2Record } from './formats/format-v2.js';
import { TEXT_MAGIC } from './formats/text-entry.js';

export type { ChunkedEncoding, Manifest, ManifestPart } from './formats/chunk-manifest.js';
export { chunkKeyBase, entryPrefixOf } from './formats/chunk-manifest.js';

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
  /**
   * The store hands every reader one frozen value per entry (`shareReads`), remembered by the entry's
   * bytes: values other than strings are given as bytes (a string entry has no identity to remember).
   */
  sharesReads?: boolean;
}

/** The entry a value is encoded for. */
export interface EntryTarget extends RecordPlace {
  logicalKey: string;
  keys: KeyBuilder;
}

/** What a manifest record is built from (see `EntryPipeline.manifest`). */
export interface ManifestOptions extends EntryTarget {
  parts: readonly ManifestPart[];
  writeId: Buffer;
  stream: boolean;
  encrypt: boolean;
  /** Default now. */
  createdAt?: number;
}

/** A manifest found under an entry's key: its chunks are to be fetched (told from a `DecodeResult` by `ok` being undefined). */
export interface ManifestFound {
  ok?: undefined;
  manifest: Manifest;
}

/** What a stored record holds: a value (or why it is unreadable), or a manifest. */
export type Parsed<T> = DecodeResult<T> | ManifestFound;

/** One write in progress: its entry, settings and time. */
interface Write extends EntryTarget {
  settings: CodecSettings;
  embed: boolean;
  createdAt: number;
}

type Packed = { id: number; bytes: Buffer };

/**
 * The transforms of one store: serialize (V8 structured clone) -> compress -> encrypt -> chunk, and
 * back (every read goes through `classify`). Holds no store connection (see `ChunkedIo`). Never runs
 * code from cache bytes: V8's deserializer rebuilds plain data (objects, arrays, Map, Set, Date, RegExp,
 * typed arrays, errors) and no class instances or functions.
 */
export class EntryPipeline {
  readonly plain: EntryCodec;
  readonly cipher: EntryCipher | undefined;
  readonly base: CodecSettings;
  /** Format-1 records up to this size need no further look. */
  private readonly fastLimit: number;
  private readonly calls = new WeakMap<CodecCallOptions, CodecSettings>();
  private readonly takesText: boolean;
  private readonly sharesReads: boolean;

  constructor(
    readonly options: NormalizedCodecOptions,
    /** The store's `capabilities.maxValueBytes`. */
    readonly storeMaxValueBytes: number,
    readonly storeAlias: string,
    traits: PipelineStoreTraits = {},
    /** Per-tenant data keys (`encryption.tenantKeys: 'wrapped'`). */
    dataKeys?: TenantDataKeys,
  ) {
    this.plain = new EntryCodec({ ownMemory: traits.keepsBytes });
    this.takesText = traits.takesText ?? false;
    this.sharesReads = traits.sharesReads ?? false;
    this.cipher = options.secrets ? new EntryCipher(options.secrets, dataKeys) : undefined;
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
      // A write option, checked once per call options: reads refuse plaintext in `classify`.
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
   * Encodes a value for its entry. Synchronous for values that need no thread-pool compression; throws
   * `InvalidCacheValueError` (unserializable) or `CacheValueTooLargeError` before anything is written.
   */
  encode(value: unknown, target: EntryTarget, s: CodecSettings): Encoded | Promise<Encoded> {
    const { logicalKey } = target;
    const embed = !target.keys.isLiteral(logicalKey);
    const createdAt = Date.now();
    if (s.plain) {
      if (this.takesText && (!this.sharesReads || typeof value === 'string')) {
        const text = this.plain.textEntry(value, logicalKey, embed, createdAt);
        // NOTE: a UTF-16 code unit is at most 3 UTF-8 bytes: most texts need no byte count.
        const limit = Math.min(this.fastLimit, s.chunkBytes);
        if (text !== undefined && (text.length * 3 <= limit || Buffer.byteLength(text, 'utf8') <= limit)) return text;
      }
      const entry = { key: logicalKey, embedKey: embed, createdAt };
      let record = this.plain.encode(value, entry);
      if (record.length <= this.fastLimit && record.length <= s.chunkBytes) return record;
      // NOTE: chunks carry V8 bytes: a text entry too large for one record is encoded again as such.
      if (record[0] === TEXT_MAGIC) record = this.plain.encode(value, { ...entry, text: false });
      const payload = record.subarray(embed ? V1_HEADER + 4 + Buffer.byteLength(logicalKey) : V1_HEADER);
      this.checkSize(payload.length, logicalKey);
      if (record.length <= s.chunkBytes) return record;
      return this.chunked({ id: NOT_COMPRESSED, bytes: payload }, this.write(target, s, embed, createdAt));
    }
    const w = this.write(target, s, embed, createdAt);
    const payload = serializeValue(value, logicalKey);
    this.checkSize(payload.length, logicalKey);
    const packed = compress(payload, s.compression);
    if (packed instanceof Promise) {
      const done = packed.then((p) => this.finish(p, w));
      // NOTE: awaited later (after e.g. a tag index write): marked handled so that a failure meanwhile is no unhandled rejection.
      done.catch(() => undefined);
      return done;
    }
    return this.finish(packed, w);
  }

  /** The context of one write that goes past the plain fast path (built only there: see `encode`). */
  private write(target: EntryTarget, settings: CodecSettings, embed: boolean, createdAt: number): Write {
    return { physicalKey: target.physicalKey, logicalKey: target.logicalKey, scope: target.scope, keys: target.keys, settings, embed, createdAt };
  }

  /** Says which format a stored record (its tag stamp peeled off) is, under this store's `encryptionRequired`. */
  classify(raw: Buffer | string): Classified {
    return classify(raw, this.options);
  }

  /** Reads a stored record (its tag stamp peeled off): a value, a manifest whose chunks are to be fetched, or why it is unreadable. */
  parse<T>(raw: Buffer | string, physicalKey: string, scope: CacheScope): Parsed<T> {
    return this.read<T>(this.classify(raw), physicalKey, scope);
  }

  /** Reads a classified record (see `parse`). */
  read<T>(record: Classified, physicalKey: string, scope: CacheScope): Parsed<T> {
    switch (record.format) {
      case 'text':
      case 'v1':
      case 'counter':
        return decodePlain<T>(record);
      case 'corrupt':
        return invalid(record.reason);
    }
    const body = openV2Body(record, this.cipher, { physicalKey, scope });
    if (typeof body === 'string') return invalid(body);
    if (!record.manifest) return decodeV2<T>(record, body, this.options.maxValueBytes);
    try {
      return { manifest: readManifest(record, body) };
    } catch (error) {
      return invalid(`corrupt payload (${(error as Error).message})`);
    }
  }

  /** The logical key embedded in a record (hashed keys), decrypting it when needed. */
  keyOf(raw: Buffer, physicalKey: string, scope: CacheScope): string | undefined {
    const record = this.classify(raw);
    if (record.format === 'corrupt') return undefined;
    if (record.format !== 'v2') return plainKeyOf(record);
    if (!(record.flags & FLAG_KEY)) return undefined;
    const body = openV2Body(record, this.cipher, { physicalKey, scope });
    return typeof body === 'string' ? undefined : v2KeyOf(record, body);
  }

  /** Seals one part of a chunked entry (no-op without encryption). */
  sealPart(bytes: Buffer, place: PartPlace, encrypt: boolean): Buffer {
    return encrypt ? sealPart(bytes, this.cipher, place) : bytes;
  }

  /** Opens one part; `undefined` when it does not authenticate. */
  openPart(bytes: Buffer, place: PartPlace, encrypted: boolean): Buffer | undefined {
    return encrypted ? openPart(bytes, this.cipher, place) : bytes;
  }

  /** Builds the manifest record for parts already written. */
  manifest(options: ManifestOptions): Buffer {
    const { logicalKey } = options;
    return writeManifest({
      ...options,
      createdAt: options.createdAt ?? Date.now(),
      key: options.keys.isLiteral(logicalKey) ? undefined : logicalKey,
      cipher: options.encrypt ? this.cipher : undefined,
    });
  }

  /** Splits a part into chunks, recording each chunk's length and CRC-32. */
  split(bytes: Buffer, options: SplitOptions): { part: ManifestPart; chunks: { key: string; value: Buffer }[] } {
    return splitPart(bytes, options);
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

  /** Size of the inline format-2 record of `packed`. */
  private inlineSize(packed: Packed, w: Write): number {
    return HEADER_V2 + (w.embed ? 4 + Buffer.byteLength(w.logicalKey) : 0) + packed.bytes.length + (w.settings.encrypt ? SEAL_OVERHEAD : 0);
  }

  private finish(packed: Packed, w: Write): Encoded {
    if (this.inlineSize(packed, w) > w.settings.chunkBytes) return this.chunked(packed, w);
    const cipher = w.settings.encrypt ? this.cipher : undefined;
    const flags = w.settings.encrypt ? FLAG_ENCRYPTED : 0;
    return writeV2Record({ ...w, flags, compression: packed.id, key: w.embed ? w.logicalKey : undefined, payload: packed.bytes, cipher });
  }

  private chunked(packed: Packed, w: Write): Encoded {
    const { logicalKey, physicalKey, scope, settings: s } = w;
    if (!s.chunking) {
      const size = this.inlineSize(packed, w);
      throw new CacheValueTooLargeError(logicalKey, size, this.storeMaxValueBytes, `the maxValueBytes of store "${this.storeAlias}" (codec.chunkSize is false)`);
    }
    const writeId = randomBytes(WRITE_ID_BYTES);
    const base = chunkKeyBase(physicalKey, scope, w.keys, writeId);
    const sealed = this.sealPart(packed.bytes, { physicalKey, scope, writeId, index: 0 }, s.encrypt);
    const { part, chunks } = splitPart(sealed, { chunkBytes: s.chunkBytes, compression: packed.id, chunkKey: (n) => base + n, firstIndex: 0 });
    const manifest = this.manifest({ ...w, parts: [part], writeId, stream: false, encrypt: s.encrypt });
    if (manifest.length > this.storeMaxValueBytes) {
      throw new CacheValueTooLargeError(logicalKey, packed.bytes.length, this.options.maxValueBytes, `the manifest size allowed by store "${this.storeAlias}"`);
    }
    return { manifest, chunks };
  }
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

function invalid(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
