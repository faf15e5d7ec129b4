import type { CodecCallOptions } from '../codec/codec.options.js';
import type { Encoded } from '../codec/entry-pipeline.js';
import type { TagStamp } from '../codec/tag-stamp.js';
import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { TenantCacheError } from '../errors/tenant-cache.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import { versionedOf } from './entry-reader.js';
import type { ClusterFlight } from './cluster-flight.js';
import type { InvalidationHooks } from './invalidation-hooks.js';
import type { LoadMarks } from './load-marks.js';
import { type StoreFailures, Unresolved, unavailable } from './store-failures.js';
import type { TagIndex } from './tag-index.js';
import type { TagStamps } from './tag-stamps.js';
import { type TagInput, NO_TAGS, resolveTags } from './tags.js';
import type { Target } from './target.js';
import type { TargetResolver } from './target-resolver.js';

/** Serialize -> compress -> encrypt -> chunk (see lib/codec); a Promise only when compressing on the thread pool. */
export function encodeEntry(t: Target, key: string, value: unknown, codec?: CodecCallOptions, tags?: readonly TagStamp[]): Encoded | Promise<Encoded> {
  if (value === undefined) throw new InvalidCacheValueError('undefined means "no entry"; delete the key instead', key);
  return t.resolved.codec.encode(value, t.key, key, t.scope, codec, tags);
}

/**
 * The writes of one entry (set, add, touch, incr, delete). A store failure follows `onWriteError`
 * (see `StoreFailures`), except incr's, which always throws: a failed store cannot give the new count.
 */
export class EntryWriter {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly failures: StoreFailures,
    private readonly marks: LoadMarks,
    private readonly hooks: InvalidationHooks,
    private readonly tagIndex: TagIndex,
    private readonly stamps: TagStamps,
    /** Revokes the cluster lease of a key before it is deleted (fencing; absent when the module does not fence). */
    private readonly leases?: ClusterFlight,
  ) {}

  set(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string, tags?: readonly TagInput[]): Promise<void> {
    // Fast path (no tags, store created, generation known): one promise chain on the store's write.
    let t: Target | undefined;
    let bytes: Encoded | Promise<Encoded>;
    let expires: number | undefined;
    try {
      if (tags !== undefined) return this.setSlow(scope, key, value, ttl, alias, tags);
      expires = this.resolver.ttl(ttl);
      t = this.resolver.targetNow(scope, key, alias);
      if (t === undefined) return this.setSlow(scope, key, value, ttl, alias, tags);
      bytes = encodeEntry(t, key, value);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.writeEntry(t, bytes, expires);
  }

  async add(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string): Promise<boolean> {
    const t = await this.resolver.resolve('write', 'add', scope, alias, () => this.resolver.target(scope, key, alias));
    if (t instanceof Unresolved) return false;
    const expires = this.resolver.ttl(ttl);
    const bytes = encodeEntry(t, key, value);
    return (await this.failures.write(t, 'add', () => t.resolved.codec.add(t.key, t.scope, bytes, expires))) ?? false;
  }

  async delete(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    const versionedTags = versionedOf(tags);
    const t = await this.resolver.resolve('write', 'delete', scope, alias, () => this.resolver.target(scope, key, alias, versionedTags));
    if (t instanceof Unresolved) return false;
    this.marks.invalidate((k) => k === t.key);
    const leases = this.leases;
    const existed =
      (await this.failures.write(t, 'delete', async () => {
        // NOTE: the lease first: a load in flight on another instance then drops its value, or this delete removes it.
        if (leases !== undefined) await leases.revoke(t);
        return t.resolved.codec.delete(t.key, t.scope);
      })) ?? false;
    await this.hooks.notify({ kind: 'keys', scope, store: t.resolved.alias, keys: [key], ...(versionedTags.length > 0 ? { versionedTags } : {}) });
    return existed;
  }

  /**
   * Marks an entry expired now, keeping it for the rest of its store TTL (see `ChunkedIo.expire`): a
   * read-through with a grace (or `staleWhileRevalidate`) serves it stale while one load refreshes it;
   * every other read is a miss. A load of the key already running is not stored (like `delete`). True
   * when the key held an entry.
   */
  async expire(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<boolean> {
    const versionedTags = versionedOf(tags);
    const t = await this.resolver.resolve('write', 'expire', scope, alias, () => this.resolver.target(scope, key, alias, versionedTags));
    if (t instanceof Unresolved) return false;
    this.marks.invalidate((k) => k === t.key);
    const expired = (await this.failures.write(t, 'expire', () => t.resolved.codec.expire(t.key, Date.now()))) ?? false;
    await this.hooks.notify({ kind: 'keys', scope, store: t.resolved.alias, keys: [key], soft: true, ...(versionedTags.length > 0 ? { versionedTags } : {}) });
    return expired;
  }

  async incr(scope: CacheScope, key: string, by: number, alias?: string): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new InvalidCacheValueError(`incr/decr take a safe integer step, got ${String(by)}`, key);
    // NOTE: incr/decr resolve to the new count, which a failed store cannot give: a store failure always
    // throws StoreUnavailableError (logged and emitted), whatever onWriteError says.
    const t = await this.resolver.resolve('read', 'incr', scope, alias, () => this.resolver.target(scope, key, alias));
    if (t instanceof Unresolved) throw unavailable(this.resolver.safeAlias(scope, alias), 'incr', t.error);
    try {
      return await t.resolved.store.incr(t.key, by, this.resolver.ttl(undefined));
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        this.failures.failed(t, 'incr', error);
        throw error;
      }
      if (error instanceof TenantCacheError) throw error;
      // The store refused: the value there is not an integer.
      throw new InvalidCacheValueError(`the value is not an integer counter (${(error as Error).message})`, key, error);
    }
  }

  async touch(scope: CacheScope, key: string, ttl?: number, alias?: string): Promise<boolean> {
    const t = await this.resolver.resolve('write', 'touch', scope, alias, () => this.resolver.target(scope, key, alias));
    if (t instanceof Unresolved) return false;
    const expires = this.resolver.ttl(ttl);
    return (await this.failures.write(t, 'touch', () => t.resolved.codec.touch(t.key, t.scope, expires))) ?? false;
  }

  /** Writes one encoded entry (no tag index): a failure goes through `writeFailed`. */
  private writeEntry(t: Target, bytes: Encoded | Promise<Encoded>, expires: number | undefined): Promise<void> {
    const failed = (error: unknown) => this.failures.writeFailed(t.resolved.alias, t.scope, 'set', error);
    const { io } = t.resolved;
    // One record on a store with a synchronous or mapped write: straight to it (see StoreIo.write).
    if ((io.traits.writesSync || io.traits.mapsWrites) && (typeof bytes === 'string' || bytes instanceof Buffer)) return io.write(t.key, bytes, expires, failed);
    let pending: Promise<void>;
    try {
      pending = t.resolved.codec.set(t.key, t.scope, bytes, expires);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.catch(failed);
  }

  private async setSlow(scope: CacheScope, key: string, value: unknown, ttl?: number, alias?: string, tags?: readonly TagInput[]): Promise<void> {
    const resolvedTags = tags === undefined ? NO_TAGS : resolveTags(tags, []);
    const expires = this.resolver.ttl(ttl);
    const found = this.resolver.targetOf('write', 'set', scope, key, alias, resolvedTags.versioned);
    const t = found instanceof Promise ? await found : found;
    if (t instanceof Unresolved) return;
    // NOTE: no tag index to record: one store call, without the closure and extra awaits of `write`.
    if (resolvedTags.plain.length === 0 || this.tagIndex.mode === 'none') return this.writeEntry(t, encodeEntry(t, key, value), expires);
    await this.failures.write(t, 'set', async () => {
      const bytes = encodeEntry(t, key, value, undefined, await this.stamps.of(t, resolvedTags.plain));
      await this.tagIndex.record(t.resolved, scope, t.key, resolvedTags.plain, expires);
      await t.resolved.codec.set(t.key, scope, bytes, expires);
    });
  }
}
