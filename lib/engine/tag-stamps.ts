import type { TagStamp } from '../codec/tag-stamp.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { StoreFailures } from './store-failures.js';
import type { ResolvedStore } from './store-registry.js';
import type { Target } from './target.js';
import type { VersionCounters } from './version-counters.js';

/**
 * What a read's tag check says: `true` (every tag current), `false` (a tag was invalidated: a miss), or
 * a number: only soft invalidations happened since the entry was written, the last at that time (ms),
 * so the entry counts as expired then (served stale within a grace, else a miss).
 */
export type TagCheck = boolean | number;

/**
 * The versions of plain tags an entry is stamped with when written, and checked against when read: an
 * invalidated tag moves its version on, so every entry stamped with the old one is a miss.
 *
 * A soft invalidation moves the version on too, and records in the tag's soft key `<since>:<to>:<at>`:
 * the versions in [since, to) were left by soft invalidations only (the last at `at`), and `to` is the
 * version they led to. An entry whose version is in that range while the tag is still at `to` is
 * expired, not invalid. A hard invalidation moves the version past `to`, so the range no longer
 * applies; races between invalidations only ever make the range smaller (an entry then is a miss).
 * The record is read only when a version differs: a hit on a current entry costs nothing more.
 */
export class TagStamps {
  constructor(
    private readonly counters: VersionCounters,
    private readonly failures: StoreFailures,
    private readonly tagIndex: 'store' | 'none',
  ) {}

  /**
   * Whether every plain tag of an entry still has the version the entry was written with (none was
   * invalidated since). Synchronous when the versions are cached; a store failure is logged and is false.
   */
  current(t: Target, tags: readonly TagStamp[]): TagCheck | Promise<TagCheck> {
    const { store, keys, io } = t.resolved;
    for (const tag of tags) {
      // NOTE: kept on the stamp: an in-process store hands back the same parsed stamp on every hit.
      const version = this.counters.peekDirect(store, (tag.versionKey ??= keys.tagVersionKey(t.scope, tag.id)), io);
      if (version === undefined || version !== tag.version) return this.check(t, tags);
    }
    return true;
  }

  /**
   * Moves a plain tag's version on as a soft invalidation: entries stamped with an older version are
   * expired from now on, not invalid (see the class). Resolves to the new version.
   */
  async soften(resolved: ResolvedStore, scope: CacheScope, tagId: string): Promise<number> {
    return this.softenAt(resolved, resolved.keys.tagVersionKey(scope, tagId), resolved.keys.tagSoftKey(scope, tagId));
  }

  /** `soften`, given the tag's version key and soft key in one scope. */
  async softenAt(resolved: ResolvedStore, versionKey: string, softKey: string): Promise<number> {
    const to = await this.counters.bump(resolved.store, versionKey, resolved.io);
    const last = softRecord(await resolved.store.get(softKey));
    // A run of soft invalidations with nothing between them: the range grows.
    const since = last !== undefined && last.to === to - 1 ? last.since : to - 1;
    await resolved.store.set(softKey, Buffer.from(`${since}:${to}:${Date.now()}`, 'latin1'));
    return to;
  }

  /** The slow check of `current`: every tag's version read, and the soft record of those that differ. */
  private async check(t: Target, tags: readonly TagStamp[]): Promise<TagCheck> {
    const { store, keys, io } = t.resolved;
    try {
      const versions = await Promise.all(tags.map((g) => this.counters.read(store, (g.versionKey ??= keys.tagVersionKey(t.scope, g.id)), io)));
      let expiredAt: TagCheck = true;
      for (let i = 0; i < tags.length; i++) {
        const tag = tags[i]!;
        if (versions[i] === tag.version) continue;
        const soft = softRecord(await store.get(keys.tagSoftKey(t.scope, tag.id)));
        if (soft === undefined || soft.to !== versions[i] || tag.version < soft.since || tag.version >= soft.to) return false;
        expiredAt = expiredAt === true ? soft.at : Math.max(expiredAt as number, soft.at);
      }
      return expiredAt;
    } catch (error) {
      this.failures.failed(t, 'get', error);
      return false;
    }
  }

  /**
   * The current versions of an entry's plain tags, to stamp it with (none with `tagIndex: 'none'`, nor on
   * a store without sets, where plain tags cannot be invalidated). Synchronous when they are cached.
   * Versions are created (at a random value) on first use.
   */
  of(t: Target, plain: readonly string[]): readonly TagStamp[] | Promise<readonly TagStamp[]> | undefined {
    if (plain.length === 0 || this.tagIndex === 'none' || !t.resolved.traits.hasSets) return undefined;
    const { store, keys, io } = t.resolved;
    const ids = plain.map((tag) => keys.tagId(tag));
    const cached = ids.map((id) => this.counters.peekDirect(store, keys.tagVersionKey(t.scope, id), io));
    if (cached.every((v) => v !== undefined)) return ids.map((id, i) => ({ id, version: cached[i]! }));
    return Promise.all(ids.map((id) => this.counters.read(store, keys.tagVersionKey(t.scope, id), io))).then((versions) =>
      ids.map((id, i) => ({ id, version: versions[i]! })),
    );
  }
}

/** A tag's soft record (`<since>:<to>:<at>`), or `undefined` when absent or not one. */
function softRecord(raw: Buffer | undefined): { since: number; to: number; at: number } | undefined {
  if (raw === undefined) return undefined;
  const [since, to, at] = raw.toString('latin1').split(':').map(Number);
  if (!Number.isSafeInteger(since) || !Number.isSafeInteger(to) || !Number.isSafeInteger(at) || since! >= to!) return undefined;
  return { since: since!, to: to!, at: at! };
}
