import { Logger } from '@nestjs/common';
import { deserialize } from 'node:v8';
import { crc32 } from 'node:zlib';
import type { CacheScope, KeyBuilder } from '../keys/key-builder.js';
import type { CodecStore, CodecStoreEntry, CodecStoreIo } from './codec-store.js';
import { chunkCleanupFailed } from './codec.messages.js';
import type { CodecCallOptions } from './codec.options.js';
import { decompress } from './compression.js';
import type { DecodeResult } from './entry-codec.js';
import type { ChunkedEncoding, Encoded, EntryPipeline, Manifest } from './entry-pipeline.js';
import { chunkKeyBase } from './formats/chunk-manifest.js';
import { type RecordPlace, claimsManifest } from './formats/format-v2.js';
import { pageItems } from './formats/stream-page.js';
import { classify, decodePlain, isPlain } from './formats/classify.js';
import { deepFreeze } from './deep-freeze.js';
import { type TagStamp, isStamped, peelStamp, recordOf, stampExpired, stampHeader, stampRecord } from './tag-stamp.js';

/** One entry of a batch write, encoded (or being encoded). */
export interface EncodedEntry {
  key: string;
  value: Encoded | Promise<Encoded>;
  ttl?: number;
}

/**
 * The codec of one store, with the store calls that chunked entries need: the engine reads and writes
 * every entry through it. Plain records go to the store in one call, as they always did; chunked
 * entries write their chunks first and the manifest last, and reads verify every chunk.
 */
export class ChunkedIo {
  private readonly logger = new Logger('TenantCache');
  /**
   * Decoded values by the bytes they came from, for stores that hand back the very bytes they hold
   * (`getSync`): a repeated hit then skips deserializing. Immutable values (numbers, booleans, bigints,
   * null) always; every value, deep-frozen, when the store shares reads. Weak: an entry the store drops
   * takes its decoded value with it.
   */
  private readonly decodedByBytes: WeakMap<Buffer, DecodeResult<unknown>> | undefined;
  private readonly shareReads: boolean;
  /** Stamped records split once, by the bytes they came from (the same stores as `decodedByBytes`). */
  private readonly peeledByBytes: WeakMap<Buffer, Peeled<Buffer>> | undefined;

  constructor(
    readonly pipeline: EntryPipeline,
    readonly store: CodecStore,
    readonly keys: KeyBuilder,
    /** The store's I/O seam: its traits, and how a text record is written. */
    private readonly io: CodecStoreIo,
    /** Told when removing leftover chunks failed (default: a warning each); the registry passes its outage log. */
    private readonly cleanupFailed: (count: number, error: Error) => void = (count, error) => this.logger.warn(chunkCleanupFailed(store.name, count, error)),
  ) {
    this.decodedByBytes = io.traits.sameBytesOnRead ? new WeakMap() : undefined;
    this.shareReads = io.traits.sameBytesOnRead && io.traits.sharesReads;
    this.peeledByBytes = this.decodedByBytes === undefined ? undefined : new WeakMap();
  }

  /**
   * Encodes a value for `physicalKey` (see `EntryPipeline.encode`); `call` overrides the store's codec.
   * `tags` (plain tags and their current versions) are stamped in front of the record.
   */
  encode(value: unknown, physicalKey: string, logicalKey: string, scope: CacheScope, call?: CodecCallOptions, tags?: readonly TagStamp[]): Encoded | Promise<Encoded> {
    const encoded = this.pipeline.encode(value, { physicalKey, logicalKey, scope, keys: this.keys }, this.pipeline.settings(call));
    if (tags === undefined || tags.length === 0) return encoded;
    const header = stampHeader(tags);
    const stamp = (e: Encoded): Encoded => (isRecord(e) ? stampRecord(e, header) : { manifest: stampRecord(e.manifest, header) as Buffer, chunks: e.chunks });
    if (!(encoded instanceof Promise)) return stamp(encoded);
    const done = encoded.then(stamp);
    // NOTE: awaited later, like the pipeline's own promise: marked handled meanwhile.
    done.catch(() => undefined);
    return done;
  }

  /**
   * Decodes what `get` returned (through `classify`, in `EntryPipeline.parse`); a Promise only for
   * chunked entries (it rejects only when the store fails).
   */
  decode<T>(raw: Buffer | string, physicalKey: string, scope: CacheScope): DecodeResult<T> | Promise<DecodeResult<T>> {
    if (isStamped(raw)) return this.decodeStamped<T>(raw, physicalKey, scope);
    const byBytes = typeof raw === 'string' ? undefined : this.decodedByBytes;
    const known = byBytes?.get(raw as Buffer) as DecodeResult<T> | undefined;
    if (known !== undefined) return known;
    const record = classify(raw, this.pipeline.options);
    const result = isPlain(record) ? decodePlain<T>(record) : this.pipeline.read<T>(record, physicalKey, scope);
    if (result.ok === undefined) return this.readChunked<T>(raw as Buffer, result.manifest, { physicalKey, scope }, true);
    // Only plain records (never sealed ones, whose reading depends on the key and scope) are kept.
    if (byBytes !== undefined && result.ok && record.format !== 'v2' && (isImmutable(result.entry.value) || this.shareReads)) {
      if (this.shareReads) deepFreeze(result.entry.value);
      byBytes.set(raw as Buffer, result);
    }
    return result;
  }

  /** The logical key embedded in an entry (for hashed keys), decrypted when needed. */
  keyOf(raw: Buffer, physicalKey: string, scope: CacheScope): string | undefined {
    return this.pipeline.keyOf(recordOf(raw), physicalKey, scope);
  }

  /** `decode` of a record with a tag stamp in front: the record's result, with the stamp's tags. */
  private decodeStamped<T>(raw: Buffer | string, physicalKey: string, scope: CacheScope): DecodeResult<T> | Promise<DecodeResult<T>> {
    const known = typeof raw === 'string' ? undefined : (this.decodedByBytes?.get(raw) as DecodeResult<T> | undefined);
    if (known !== undefined) return known;
    let peeled: Peeled<Buffer | string> | undefined = typeof raw === 'string' ? undefined : this.peeledByBytes?.get(raw);
    if (peeled === undefined) {
      const parsed = peelStamp(raw);
      if (typeof parsed === 'string') return { ok: false, reason: parsed };
      peeled = parsed;
      if (typeof raw !== 'string') this.peeledByBytes?.set(raw, parsed as Peeled<Buffer>);
    }
    const { tags, record, expiredAt } = peeled;
    const inner = this.decode<T>(record, physicalKey, scope);
    const tagged = (r: DecodeResult<T>): DecodeResult<T> => {
      if (!r.ok) return r;
      if (expiredAt === undefined) return { ok: true, entry: { value: r.entry.value, createdAt: r.entry.createdAt, tags } };
      return { ok: true, entry: { value: r.entry.value, createdAt: r.entry.createdAt, tags: tags.length > 0 ? tags : undefined, expiredAt } };
    };
    if (inner instanceof Promise) return inner.then(tagged);
    const result = tagged(inner);
    // Kept for the next read of these bytes when the record's own result was (see `decodedByBytes`).
    if (typeof raw !== 'string' && this.decodedByBytes?.has(record as Buffer)) this.decodedByBytes.set(raw, result);
    return result;
  }

  set(key: string, scope: CacheScope, value: Encoded | Promise<Encoded>, ttl: number | undefined): Promise<void> {
    if (typeof value === 'string') return this.io.write(key, value, ttl, rethrow);
    if (value instanceof Buffer) return this.store.set(key, value, ttl);
    return this.setSlow(key, scope, value, ttl);
  }

  add(key: string, scope: CacheScope, value: Encoded | Promise<Encoded>, ttl: number | undefined): Promise<boolean> {
    if (isRecord(value)) return this.store.add(key, recordBytes(value), ttl);
    return this.addSlow(value, key, ttl);
  }

  /** Writes a batch: every chunk first, then the records and manifests in one `mset`. */
  mset(scope: CacheScope, batch: readonly EncodedEntry[]): Promise<void> {
    if (batch.every((e) => isRecord(e.value))) return this.store.mset(batch.map((e) => ({ key: e.key, value: recordBytes(e.value as Buffer | string), ttl: e.ttl })));
    return this.msetSlow(scope, batch);
  }

  /** Deletes an entry and, when it is chunked, its chunks. */
  async delete(key: string, scope: CacheScope): Promise<boolean> {
    // NOTE: sent together, the read sees the value the delete removes (one round trip on a pipelined connection).
    const [raw, existed] = await Promise.all([this.store.get(key), this.store.delete(key)]);
    if (raw !== undefined && isManifest(raw)) await this.dropChunksOf(raw, key, scope);
    return existed;
  }

  /** Deletes entries and the chunks of those that are chunked; resolves to how many entries existed. */
  async mdel(scope: CacheScope, keys: readonly string[]): Promise<number> {
    const [raws, n] = await Promise.all([this.store.mget(keys), this.store.mdel(keys)]);
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i];
      if (raw !== undefined && isManifest(raw)) await this.dropChunksOf(raw, keys[i]!, scope);
    }
    return n;
  }

  /**
   * Marks an entry expired at `at` (see `stampExpired`), keeping its value, tags, chunks and remaining
   * TTL: a read-through with a grace serves it stale while it refreshes it; any other read is a miss.
   * False when the key holds no entry (absent, a raw counter, or unreadable). Not atomic: a write
   * that lands between the read and the rewrite here is replaced by the older value, marked expired.
   */
  async expire(key: string, at: number): Promise<boolean> {
    const [raw, ttl] = await Promise.all([this.store.get(key), this.store.ttl(key)]);
    if (raw === undefined || ttl === undefined || ttl <= 0) return false;
    const record = recordOf(raw);
    if (isStamped(record) || classify(record, { encryptionRequired: false }).format === 'counter') return false;
    const marked = stampExpired(raw, at);
    if (marked === undefined) return false;
    if (marked !== raw) await this.store.set(key, marked, Number.isFinite(ttl) ? ttl : undefined);
    return true;
  }

  /** Gives an entry (and its chunks) a new TTL. */
  async touch(key: string, scope: CacheScope, ttl: number | undefined): Promise<boolean> {
    const [raw, touched] = await Promise.all([this.store.get(key), this.store.touch(key, ttl)]);
    if (touched && raw !== undefined && isManifest(raw)) {
      const chunks = this.chunkKeysOf(raw, key, scope);
      await Promise.all(chunks.map((k) => this.store.touch(k, ttl)));
    }
    return touched;
  }

  /** The keys of the chunks a manifest names (empty when it cannot be read). */
  chunkKeysOf(raw: Buffer, key: string, scope: CacheScope): string[] {
    const parsed = this.pipeline.parse(recordOf(raw), key, scope);
    return parsed.ok === undefined ? this.manifestKeys(parsed.manifest, key, scope) : [];
  }

  manifestKeys(manifest: Manifest, key: string, scope: CacheScope): string[] {
    const base = chunkKeyBase(key, scope, this.keys, manifest.writeId);
    const out: string[] = [];
    let n = 0;
    for (const p of manifest.parts) for (let i = 0; i < p.chunks.length; i++) out.push(base + n++);
    return out;
  }

  /** Fetches and verifies one part's chunks (`keys`), then opens and inflates it; a string says why it is unreadable. */
  async readPart(manifest: Manifest, part: number, keys: readonly string[], place: RecordPlace): Promise<Buffer | string> {
    const raws = await this.store.mget(keys);
    const spec = manifest.parts[part]!;
    for (let i = 0; i < raws.length; i++) {
      const c = raws[i];
      const want = spec.chunks[i]!;
      if (c === undefined) return `chunk ${i} of part ${part} is missing`;
      if (c.length !== want.length || crc32(c) !== want.crc) return `chunk ${i} of part ${part} does not match its checksum`;
    }
    const sealed = raws.length === 1 ? raws[0]! : Buffer.concat(raws as Buffer[]);
    const opened = this.pipeline.openPart(sealed, { ...place, writeId: manifest.writeId, index: part }, manifest.encrypted);
    if (!opened) return `part ${part} failed authentication`;
    try {
      return await decompress(spec.compression, opened, this.pipeline.options.maxValueBytes);
    } catch (error) {
      return `part ${part} cannot be inflated (${(error as Error).message})`;
    }
  }

  /** Removes chunks, logging (not throwing) a failure: the caller's operation already happened. */
  async dropChunks(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.store.mdel(keys);
    } catch (error) {
      this.cleanupFailed(keys.length, error instanceof Error ? error : new Error(String(error)));
    }
  }

  private async dropChunksOf(raw: Buffer, key: string, scope: CacheScope): Promise<void> {
    await this.dropChunks(this.chunkKeysOf(raw, key, scope));
  }

  private async readChunked<T>(raw: Buffer, manifest: Manifest, place: RecordPlace, retry: boolean): Promise<DecodeResult<T>> {
    const { physicalKey: key, scope } = place;
    const all = this.manifestKeys(manifest, key, scope);
    let offset = 0;
    const items: unknown[] = [];
    let value: unknown;
    for (let p = 0; p < manifest.parts.length; p++) {
      const keys = all.slice(offset, offset + manifest.parts[p]!.chunks.length);
      offset += keys.length;
      const bytes = await this.readPart(manifest, p, keys, place);
      let reason = typeof bytes === 'string' ? bytes : undefined;
      if (typeof bytes !== 'string') {
        try {
          if (manifest.stream) for (const item of pageItems(bytes)) items.push(item);
          else value = deserialize(bytes);
        } catch (error) {
          reason = `part ${p} is corrupt (${(error as Error).message})`;
        }
      }
      if (reason !== undefined) {
        // A writer may have replaced the entry (and removed these chunks) meanwhile: read the new one once.
        if (retry) {
          const stored = await this.store.get(key);
          // NOTE: `raw` is the record without its tag stamp: the replacement is compared (and read) the same way.
          const again = stored === undefined ? undefined : recordOf(stored);
          if (again !== undefined && !again.equals(raw)) {
            const next = this.pipeline.parse<T>(again, key, scope);
            if (next.ok === undefined) return this.readChunked<T>(again, next.manifest, place, false);
            if (next.ok) return next;
          }
        }
        await this.dropChunks(all);
        return { ok: false, reason };
      }
    }
    return { ok: true, entry: { value: (manifest.stream ? items : value) as T, createdAt: manifest.createdAt } };
  }

  private async setSlow(key: string, scope: CacheScope, pending: Encoded | Promise<Encoded>, ttl: number | undefined): Promise<void> {
    const value = await pending;
    if (isRecord(value)) return this.store.set(key, recordBytes(value), ttl);
    const old = await this.store.get(key);
    await this.writeChunked(key, value, ttl, false);
    if (old !== undefined && isManifest(old)) await this.dropChunksOf(old, key, scope);
  }

  private async addSlow(pending: Encoded | Promise<Encoded>, key: string, ttl: number | undefined): Promise<boolean> {
    const value = await pending;
    if (isRecord(value)) return this.store.add(key, recordBytes(value), ttl);
    return this.writeChunked(key, value, ttl, true);
  }

  private async msetSlow(scope: CacheScope, batch: readonly EncodedEntry[]): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/await-thenable -- each value may be a promise; the rule misreads arrays of maybe-promises (typescript-eslint#11609)
    const values = await Promise.all(batch.map((e) => e.value));
    const chunked = batch.filter((_e, i) => !isRecord(values[i]!)).map((e) => e.key);
    const old = chunked.length > 0 ? await this.store.mget(chunked) : [];
    const chunks: CodecStoreEntry[] = [];
    values.forEach((v, i) => {
      if (!isRecord(v)) for (const c of v.chunks) chunks.push({ key: c.key, value: c.value, ttl: batch[i]!.ttl });
    });
    const started = Date.now();
    await this.store.mset(chunks);
    try {
      await this.store.mset(
        batch.map((e, i) => {
          const v = values[i]!;
          return isRecord(v) ? { key: e.key, value: recordBytes(v), ttl: e.ttl } : { key: e.key, value: v.manifest, ttl: remainingTtl(e.ttl, started) };
        }),
      );
    } catch (error) {
      await this.dropChunks(chunks.map((c) => c.key));
      throw error;
    }
    for (let i = 0; i < old.length; i++) {
      const raw = old[i];
      if (raw !== undefined && isManifest(raw)) await this.dropChunksOf(raw, chunked[i]!, scope);
    }
  }

  /** Chunks first, manifest last: a reader that finds the manifest finds every chunk it names. */
  private async writeChunked(key: string, value: ChunkedEncoding, ttl: number | undefined, onlyIfAbsent: boolean): Promise<boolean> {
    const started = Date.now();
    const chunkKeys = value.chunks.map((c) => c.key);
    await this.store.mset(value.chunks.map((c) => ({ key: c.key, value: c.value, ttl })));
    let written: boolean;
    try {
      // NOTE: the manifest's TTL runs from the first chunk's write, so it never outlives a chunk.
      const remaining = remainingTtl(ttl, started);
      if (onlyIfAbsent) written = await this.store.add(key, value.manifest, remaining);
      else {
        await this.store.set(key, value.manifest, remaining);
        written = true;
      }
    } catch (error) {
      await this.dropChunks(chunkKeys);
      throw error;
    }
    if (!written) await this.dropChunks(chunkKeys);
    return written;
  }
}

/** A stored value split into its tag stamp and record (see `peelStamp`). */
type Peeled<R> = { tags: TagStamp[]; record: R; expiredAt?: number };

function isRecord(value: Encoded | Promise<Encoded>): value is Buffer | string {
  return value instanceof Buffer || typeof value === 'string';
}

/** A record's bytes (a text entry is written as its UTF-8). */
function recordBytes(record: Buffer | string): Buffer {
  return typeof record === 'string' ? Buffer.from(record, 'utf8') : record;
}

/** Whether a stored value is a manifest, told by its header alone (without decrypting: reading it goes through `classify`). */
export function isManifest(stored: Buffer): boolean {
  return claimsManifest(recordOf(stored));
}

/** A TTL reduced by the time since `started` (never below 1 ms); `undefined` = no expiry. */
export function remainingTtl(ttl: number | undefined, started: number): number | undefined {
  return ttl === undefined ? undefined : Math.max(1, ttl - (Date.now() - started));
}

/** Values a caller cannot change in place, so one decoded copy can be handed to every reader. */
function isImmutable(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'function');
}

/** A write's failure, passed on: the caller of `set` sees the rejection. */
function rethrow(error: unknown): never {
  throw error;
}
