import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import { type ChunkedIo, isManifest, remainingTtl } from './chunked-io.js';
import { expiredAtOf, recordOf } from './tag-stamp.js';
import { type CodecCallOptions, validateCodecCallOptions } from './codec.options.js';
import { compress } from './compression.js';
import { type Manifest, type ManifestPart, WRITE_ID_BYTES, chunkKeyBase } from './formats/chunk-manifest.js';
import type { RecordPlace } from './formats/format-v2.js';
import { pageItems, writePage } from './formats/stream-page.js';

/**
 * Options of `memoizeIterable`.
 *
 * @example
 * cache.memoizeIterable('export:2026', () => repo.stream(), { ttl: 3_600_000, pageBytes: 256 * 1024 })
 */
export interface MemoizeIterableOptions {
  /** TTL in ms; default the module's `defaultTtl`. */
  ttl?: number;
  /** Store alias; default the tenant's route. */
  store?: string;
  /** Per-call codec override (compression, encryption, chunk size). */
  codec?: CodecCallOptions;
  /**
   * Items are stored in pages of about this many serialized bytes; a hit holds one page (and the next,
   * prefetched) in memory at a time. Default 64 KiB.
   */
  pageBytes?: number;
}

/** What the engine does for a memoized iterable: report store failures and unreadable entries, track invalidations. */
export interface IterableHooks {
  /** A store call failed (logged and emitted; the caller still gets every item). */
  failed(operation: string, error: unknown): void;
  /** The entry is unreadable: log, emit and remove the manifest. */
  corrupt(reason: string): Promise<void>;
  /** The items cannot be cached (logged). */
  skipped(reason: string): void;
  /** Registers the load, so that invalidating its key meanwhile keeps the result out of the cache. */
  track(): { invalidated(): boolean; done(): void };
}

export const DEFAULT_PAGE_BYTES = 64 * 1024;

/** Throws `InvalidOptionsError` for bad `memoizeIterable` options (what is not the engine's to check). */
export function validateMemoizeIterableOptions(options: MemoizeIterableOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionsError('memoizeIterable options', 'must be an object', 'Write { ttl?, store?, codec?, pageBytes? }.');
  }
  const p = options.pageBytes;
  if (p !== undefined && (typeof p !== 'number' || !Number.isInteger(p) || p < 1)) {
    throw new InvalidOptionsError('pageBytes', `is ${String(p)}`, 'Give a positive whole number of bytes (default 64 KiB).');
  }
  validateCodecCallOptions(options.codec);
}

/**
 * Streams the items of `loader()` to the caller while storing them in pages (chunks), and writes the
 * manifest only once the iteration completed: an abandoned (`break`) or failed iteration stores nothing
 * and removes the pages it wrote; the loader's error reaches the caller as it is. A hit streams the
 * pages back one at a time. Should a page vanish mid-stream (eviction), the loader takes over from the
 * item after the last one yielded, on the assumption that it yields what it yielded before (which is
 * what caching it presumes).
 */
export async function* memoizeIterable<T>(
  io: ChunkedIo,
  physicalKey: string,
  logicalKey: string,
  scope: CacheScope,
  loader: () => AsyncIterable<T> | Iterable<T>,
  ttl: number | undefined,
  options: MemoizeIterableOptions,
  hooks: IterableHooks,
): AsyncGenerator<T, void, undefined> {
  validateMemoizeIterableOptions(options);
  const settings = io.pipeline.settings(options.codec);
  let raw: Buffer | undefined;
  try {
    raw = await io.store.get(physicalKey);
  } catch (error) {
    hooks.failed('get', error);
  }
  let skip = 0;
  // An entry expired early (`expire(key)`) is a miss here: the items are loaded and stored again.
  if (raw !== undefined && isManifest(raw) && expiredAtOf(raw) === undefined) {
    const parsed = io.pipeline.parse(recordOf(raw), physicalKey, scope);
    if (parsed.ok === false) await hooks.corrupt(parsed.reason);
    else if (parsed.ok === undefined && parsed.manifest.stream) {
      const progress = { yielded: 0 };
      const broken = yield* streamHit<T>(io, parsed.manifest, { place: { physicalKey, scope }, progress, hooks });
      if (broken === undefined) return;
      skip = progress.yielded;
    }
  }

  // Miss: yield while storing.
  const writeId = randomBytes(WRITE_ID_BYTES);
  const base = chunkKeyBase(physicalKey, scope, io.keys, writeId);
  const pageBytes = options.pageBytes ?? DEFAULT_PAGE_BYTES;
  const maxBytes = io.pipeline.options.maxValueBytes;
  const parts: ManifestPart[] = [];
  const written: string[] = [];
  const createdAt = Date.now();
  let page: Buffer[] = [];
  let pageSize = 0;
  let total = 0;
  let chunkIndex = 0;
  let partCount = 0;
  let storing = true;
  let started: number | undefined;
  let pending: Promise<void> | undefined;
  const stop = (reason?: string) => {
    if (storing && reason) hooks.skipped(reason);
    storing = false;
  };
  const storePage = async (items: Buffer[], index: number): Promise<void> => {
    const packed = await compress(writePage(items), settings.compression);
    const sealed = io.pipeline.sealPart(packed.bytes, { physicalKey, scope, writeId, index }, settings.encrypt);
    const { part, chunks } = io.pipeline.split(sealed, { chunkBytes: settings.chunkBytes, compression: packed.id, chunkKey: (n) => base + n, firstIndex: chunkIndex });
    chunkIndex += chunks.length;
    for (const c of chunks) written.push(c.key);
    started ??= Date.now();
    await io.store.mset(chunks.map((c) => ({ key: c.key, value: c.value, ttl })));
    parts[index] = part;
  };
  const flush = async () => {
    const items = page;
    page = [];
    pageSize = 0;
    // One page write in flight at most: memory stays bounded by about two pages.
    if (pending) await pending;
    if (!storing) return;
    pending = storePage(items, partCount++).catch((error: unknown) => {
      hooks.failed('set', error);
      stop();
    });
  };
  const tracker = hooks.track();
  let completed = false;
  try {
    for await (const item of loader()) {
      if (storing) {
        let bytes: Buffer | undefined;
        try {
          bytes = serialize(item);
        } catch (error) {
          stop(`an item cannot be serialized (${(error as Error).message})`);
        }
        if (bytes) {
          total += bytes.length;
          if (total > maxBytes) stop(`the items exceed codec.maxValueBytes (${maxBytes})`);
          else {
            page.push(bytes);
            pageSize += 4 + bytes.length;
            if (pageSize >= pageBytes) await flush();
          }
        }
      }
      if (skip > 0) skip--;
      else yield item;
    }
    completed = true;
  } finally {
    if (!completed) {
      // Abandoned (the caller stopped) or failed (the loader threw): nothing is stored.
      tracker.done();
      storing = false;
      if (pending) await pending;
      await io.dropChunks(written);
    }
  }
  try {
    if (storing && page.length > 0) await flush();
    if (pending) await pending;
    if (!storing || tracker.invalidated()) {
      await io.dropChunks(written);
      return;
    }
    const manifest = io.pipeline.manifest({ parts, writeId, stream: true, physicalKey, logicalKey, scope, keys: io.keys, encrypt: settings.encrypt, createdAt });
    if (manifest.length > io.store.capabilities.maxValueBytes) {
      stop(`its manifest (${manifest.length} bytes) exceeds the store's maxValueBytes; raise pageBytes`);
      await io.dropChunks(written);
      return;
    }
    let old: Buffer | undefined;
    try {
      old = await io.store.get(physicalKey);
      await io.store.set(physicalKey, manifest, remainingTtl(ttl, started ?? Date.now()));
    } catch (error) {
      hooks.failed('set', error);
      await io.dropChunks(written);
      return;
    }
    if (old !== undefined && isManifest(old)) await io.dropChunks(io.chunkKeysOf(old, physicalKey, scope));
    // An invalidation that landed while the manifest was being written wins: the entry goes again.
    if (tracker.invalidated()) await io.delete(physicalKey, scope).catch((error: unknown) => hooks.failed('delete', error));
  } finally {
    tracker.done();
  }
}

/** Where a stream hit reads from and reports to. */
interface StreamHitContext {
  place: RecordPlace;
  /** Counts the items yielded, so that a miss after a break-off skips them. */
  progress: { yielded: number };
  hooks: IterableHooks;
}

/** Yields a stored stream page by page (prefetching the next); returns why it broke off, or `undefined` when complete. */
async function* streamHit<T>(io: ChunkedIo, manifest: Manifest, ctx: StreamHitContext): AsyncGenerator<T, string | undefined, undefined> {
  const { place, progress, hooks } = ctx;
  const keys = io.manifestKeys(manifest, place.physicalKey, place.scope);
  const offsets: number[] = [];
  let offset = 0;
  for (const p of manifest.parts) {
    offsets.push(offset);
    offset += p.chunks.length;
  }
  const read = (p: number): Promise<Buffer | { reason: string; storeFailed?: boolean }> =>
    io.readPart(manifest, p, keys.slice(offsets[p], offsets[p]! + manifest.parts[p]!.chunks.length), place).then(
      (r) => (typeof r === 'string' ? { reason: r } : r),
      (error: unknown) => {
        hooks.failed('get', error);
        return { reason: `store failed (${(error as Error).message})`, storeFailed: true };
      },
    );
  let next = manifest.parts.length > 0 ? read(0) : undefined;
  for (let p = 0; p < manifest.parts.length; p++) {
    const bytes = await next!;
    next = p + 1 < manifest.parts.length ? read(p + 1) : undefined;
    let reason: string | undefined;
    if (Buffer.isBuffer(bytes)) {
      try {
        for (const item of pageItems(bytes)) {
          yield item as T;
          progress.yielded++;
        }
      } catch (error) {
        reason = `part ${p} is corrupt (${(error as Error).message})`;
      }
    } else {
      reason = bytes.reason;
      if (bytes.storeFailed) return reason;
    }
    if (reason !== undefined) {
      if (next) await next;
      await io.dropChunks(keys);
      await hooks.corrupt(reason);
      return reason;
    }
  }
  return undefined;
}
