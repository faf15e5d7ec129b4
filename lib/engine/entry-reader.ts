import type { Logger } from '@nestjs/common';
import type { DecodeResult } from '../codec/entry-codec.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { ResultCounters } from '../observability/scope-counters.js';
import type { StatsRecorder } from '../observability/stats-recorder.js';
import { Unresolved, asError, type StoreFailures } from './store-failures.js';
import type { TagCheck, TagStamps } from './tag-stamps.js';
import { type TagInput, isVersionedTag, resolveTags } from './tags.js';
import type { Target } from './target.js';
import type { TargetResolver } from './target-resolver.js';
import type { TenantCacheEvents } from './tenant-cache.events.js';

/** An entry read with its metadata. */
export interface CacheLookup<T> {
  hit: boolean;
  value: T | undefined;
  /** When the entry was written (ms since epoch); `undefined` on a miss. */
  cachedAt?: number;
  /** Set on a miss because the store failed (the failure was logged and emitted as `store:error`). */
  error?: Error;
  /** Set when an expired entry was served within its `grace` instead of the loader's result (fail-safe). */
  stale?: boolean;
}

/**
 * A lookup as the read-through sees it: a hit may carry `expiredAt`, when the entry was expired early
 * (`expire(key)`, a soft tag invalidation). Only reads that ask (`keepExpired`) get such a hit; to
 * every other read it is a miss.
 */
export interface EntryLookup<T> extends CacheLookup<T> {
  /** When the entry was expired early (ms since epoch). */
  expiredAt?: number;
}

export function miss<T>(error?: Error): CacheLookup<T> {
  return error === undefined ? { hit: false, value: undefined } : { hit: false, value: undefined, error };
}

export function valueOf<T>(lookup: CacheLookup<T>): T | undefined {
  return lookup.value;
}

/** A plain read's value, counted in `counts` as a hit or a miss. */
function countedValue<T>(counts: ResultCounters, lookup: CacheLookup<T>): T | undefined {
  if (lookup.hit) counts.hit++;
  else counts.miss++;
  return lookup.value;
}

/** The versioned tags among `tags` (they address the entry: its key carries their versions). */
export function versionedOf(tags: readonly TagInput[] | undefined): readonly string[] {
  if (tags === undefined || !tags.some(isVersionedTag)) return [];
  return resolveTags(tags, []).versioned;
}

/**
 * The read paths: one entry read (with the in-process and mapped-promise fast paths), decoded, checked
 * against its tags' versions; a corrupt entry is dropped and is a miss; a store failure is logged and
 * emitted, and is a miss too.
 */
export class EntryReader {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly failures: StoreFailures,
    private readonly stamps: TagStamps,
    private readonly events: TenantCacheEvents,
    private readonly logger: Logger,
    /** Plain reads are counted in `get` (stats, `tenant_cache.requests{operation="get"}`). */
    private readonly stats: StatsRecorder,
  ) {}

  async lookup<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<CacheLookup<T>> {
    const found = this.resolver.targetOf('read', 'get', scope, key, alias, versionedOf(tags));
    const t = found instanceof Promise ? await found : found;
    return t instanceof Unresolved ? miss<T>(t.error) : this.read<T>(t);
  }

  /**
   * `lookup` without a promise, when it can answer so: the store created and in-process, the scope's
   * generation and the entry's tag versions known, the entry not chunked; else `undefined` (ask
   * `lookup`). Same checks as `lookup`: an entry a tag invalidated is a miss; a corrupt entry, a store
   * that throws or a key `lookup` would refuse is `undefined` (the async read drops, reports or rejects it).
   */
  lookupNow<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): CacheLookup<T> | undefined {
    if (versionedOf(tags).length > 0) return undefined;
    let t: Target | undefined;
    let raw: Buffer | string | undefined;
    try {
      t = this.resolver.targetNow(scope, key, alias);
      if (t === undefined || !(t.resolved.io.traits.inProcess || t.resolved.io.traits.localTier)) return undefined;
      raw = t.resolved.io.readNow(t.key);
    } catch {
      return undefined;
    }
    // NOTE: a local tier's L1 not holding the entry says nothing: the L2 may (`lookup` reads it).
    if (raw === undefined) return t.resolved.io.traits.inProcess ? miss<T>() : undefined;
    const decoded = t.resolved.codec.decode<T>(raw, t.key, t.scope);
    if (decoded instanceof Promise) {
      // NOTE: chunked: the async read reads the chunks again; a failure is reported there.
      decoded.catch(() => undefined);
      return undefined;
    }
    if (!decoded.ok) return undefined;
    // An entry expired early is a miss to a plain read.
    if (decoded.entry.expiredAt !== undefined) return miss<T>();
    const hit: CacheLookup<T> = { hit: true, value: decoded.entry.value, cachedAt: decoded.entry.createdAt };
    if (decoded.entry.tags === undefined) return hit;
    const current = this.stamps.current(t, decoded.entry.tags);
    // NOTE: a tag version not cached, or one that moved on: the read started here checks it (and reports a failure).
    if (typeof current !== 'boolean') {
      if (current instanceof Promise) current.catch(() => undefined);
      return typeof current === 'number' ? miss<T>() : undefined;
    }
    return current ? hit : miss<T>();
  }

  /** The value of `key` (a miss, or a read the store failed, is `undefined`), counted by result. */
  get<T>(scope: CacheScope, key: string, alias?: string, tags?: readonly TagInput[]): Promise<T | undefined> {
    const countsOf = () => this.stats.of(this.resolver.safeAlias(scope, alias), scope).get;
    let t: Target | undefined;
    try {
      t = tags === undefined ? this.resolver.targetNow(scope, key, alias) : undefined;
    } catch (error) {
      countsOf().error++;
      return Promise.reject(error);
    }
    if (t !== undefined) {
      const counts = this.stats.of(t.resolved.alias, t.scope).get;
      return this.readAs<T, T | undefined>(
        t,
        (lookup) => countedValue(counts, lookup),
        () => countedValue(counts, miss<T>()),
      );
    }
    return this.lookup<T>(scope, key, alias, tags).then(
      (lookup) => countedValue(countsOf(), lookup),
      (error: unknown) => {
        countsOf().error++;
        throw error;
      },
    );
  }

  async has(scope: CacheScope, key: string, alias?: string): Promise<boolean> {
    const t = await this.resolver.resolve('read', 'has', scope, alias, () => this.resolver.target(scope, key, alias));
    if (t instanceof Unresolved) return false;
    try {
      return await t.resolved.store.has(t.key);
    } catch (error) {
      this.failures.failed(t, 'has', error);
      return false;
    }
  }

  async ttlOf(scope: CacheScope, key: string, alias?: string): Promise<number | undefined> {
    const t = await this.resolver.resolve('read', 'ttl', scope, alias, () => this.resolver.target(scope, key, alias));
    if (t instanceof Unresolved) return undefined;
    try {
      return await t.resolved.store.ttl(t.key);
    } catch (error) {
      this.failures.failed(t, 'ttl', error);
      return undefined;
    }
  }

  // NOTE: read and readAs chain on the store's promise instead of being async: these run on every hit,
  // and each async layer costs a promise (and the AsyncLocalStorage hooks on it).
  /** Reads and decodes an entry; `keepExpired`: an entry expired early is a hit with `expiredAt` (see `EntryLookup`), not a miss. */
  read<T>(t: Target, keepExpired = false): Promise<EntryLookup<T>> {
    return this.readAs<T, EntryLookup<T>>(t, (found) => found, miss<T>, keepExpired);
  }

  /** Reads and decodes an entry, mapping the lookup; a store failure is logged and is `none(error)`. `keepExpired`: see `read`. */
  readAs<T, R>(t: Target, map: (found: EntryLookup<T>) => R, none: (error?: Error) => R, keepExpired = false): Promise<R> {
    const { io } = t.resolved;
    if (io.traits.inProcess || io.traits.localTier) {
      // NOTE: no closures on the in-process path (or a local tier's L1 hit): a plain hit is one resolved promise.
      let raw: Buffer | string | undefined;
      try {
        raw = io.readNow(t.key);
      } catch (error) {
        return Promise.resolve(this.readFailed(t, error, none));
      }
      if (raw !== undefined || io.traits.inProcess) return Promise.resolve(this.mapRead(t, raw, map, none, keepExpired));
    }
    return io.read<R>(
      t.key,
      (raw) => this.mapRead(t, raw, map, none, keepExpired),
      (error) => this.readFailed(t, error, none),
    );
  }

  /**
   * The lookup of bytes read from the store at `t`: synchronous unless the entry is chunked or
   * unreadable. A corrupt entry is dropped; an entry a tag invalidated is a miss.
   */
  decoded<T>(t: Target, raw: Buffer | string, operation = 'get', keepExpired = false): EntryLookup<T> | Promise<EntryLookup<T>> {
    const decoded = t.resolved.codec.decode<T>(raw, t.key, t.scope);
    if (decoded instanceof Promise) {
      // Chunked: the chunks are read now; a rejection is the store failing.
      return decoded.then(
        (d) => this.found(t, d, keepExpired, raw as Buffer), // a manifest: always bytes
        (error: unknown) => {
          this.failures.failed(t, operation, error);
          return miss<T>(asError(error));
        },
      );
    }
    return this.found(t, decoded, keepExpired);
  }

  /**
   * Removes an unreadable entry. With `read` (the manifest of a chunked entry), only while the key still
   * holds those bytes: a writer that replaced the entry meanwhile (and removed its chunks) left a newer
   * entry there, which must not be deleted for the old one's missing chunks.
   */
  async dropCorrupt(t: Target, reason: string, read?: Buffer): Promise<void> {
    if (read !== undefined) {
      try {
        const current = await t.resolved.store.get(t.key);
        if (current === undefined || !current.equals(read)) return;
      } catch (error) {
        this.failures.failed(t, 'get', error);
        return;
      }
    }
    const tenant = t.scope.kind === 'tenant' ? t.scope.tenantId : undefined;
    this.logger.warn(`Removed an unreadable cache entry in "${t.resolved.alias}": ${reason}`);
    this.events.emit('entry:corrupt', { store: t.resolved.alias, key: t.key, reason, tenant });
    try {
      await t.resolved.store.delete(t.key);
    } catch (error) {
      this.failures.failed(t, 'delete', error);
    }
  }

  /** A read the store failed: logged and emitted, then a miss. */
  private readFailed<R>(t: Target, error: unknown, none: (error?: Error) => R): R {
    this.failures.failed(t, 'get', error);
    return none(asError(error));
  }

  /** What a read resolves to: `none()` for a miss, else the decoded lookup mapped (later, for a chunked entry). */
  private mapRead<T, R>(t: Target, raw: Buffer | string | undefined, map: (found: EntryLookup<T>) => R, none: () => R, keepExpired: boolean): R | Promise<R> {
    if (raw === undefined) return none();
    const found = this.decoded<T>(t, raw, 'get', keepExpired);
    // A corrupt entry, or one a tag invalidated, is a miss like an absent one (a read-through loads it).
    if (found instanceof Promise) return found.then((f) => (f.hit ? map(f) : none()));
    return found.hit ? map(found) : none();
  }

  /** `raw` is given for chunked entries, whose chunks a concurrent overwrite may have removed. */
  private found<T>(t: Target, decoded: DecodeResult<T>, keepExpired: boolean, raw?: Buffer): EntryLookup<T> | Promise<EntryLookup<T>> {
    if (!decoded.ok) return this.dropCorrupt(t, decoded.reason, raw).then(() => miss<T>());
    const { entry } = decoded;
    if (entry.expiredAt !== undefined && !keepExpired) return miss<T>();
    const hit: EntryLookup<T> = { hit: true, value: entry.value, cachedAt: entry.createdAt };
    if (entry.tags === undefined) return entry.expiredAt === undefined ? hit : expiredHit(hit, entry.expiredAt);
    const current = this.stamps.current(t, entry.tags);
    if (current === true) return entry.expiredAt === undefined ? hit : expiredHit(hit, entry.expiredAt);
    if (typeof current !== 'object') return this.checked(hit, current, entry.expiredAt, keepExpired);
    return current.then((c) => this.checked(hit, c, entry.expiredAt, keepExpired));
  }

  /** A hit after its tag check (see `TagCheck`): a miss when invalidated, or expired when softly invalidated and asked for. */
  private checked<T>(hit: EntryLookup<T>, check: TagCheck, expiredAt: number | undefined, keepExpired: boolean): EntryLookup<T> {
    if (check === false) return miss<T>();
    if (check === true) return expiredAt === undefined ? hit : expiredHit(hit, expiredAt);
    return keepExpired ? expiredHit(hit, Math.min(check, expiredAt ?? check)) : miss<T>();
  }
}

function expiredHit<T>(hit: EntryLookup<T>, expiredAt: number): EntryLookup<T> {
  return { hit: true, value: hit.value, cachedAt: hit.cachedAt, expiredAt };
}
