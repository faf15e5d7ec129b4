import type { TagStamp } from '../codec/tag-stamp.js';
import type { StoreFailures } from './store-failures.js';
import type { Target } from './target.js';
import type { VersionCounters } from './version-counters.js';

/**
 * The versions of plain tags an entry is stamped with when written, and checked against when read: an
 * invalidated tag moves its version on, so every entry stamped with the old one is a miss.
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
  current(t: Target, tags: readonly TagStamp[]): boolean | Promise<boolean> {
    const { store, keys, io } = t.resolved;
    for (const tag of tags) {
      // NOTE: kept on the stamp: an in-process store hands back the same parsed stamp on every hit.
      const version = this.counters.peekDirect(store, (tag.versionKey ??= keys.tagVersionKey(t.scope, tag.id)), io);
      if (version === undefined) {
        return Promise.all(tags.map((g) => this.counters.read(store, (g.versionKey ??= keys.tagVersionKey(t.scope, g.id)), io))).then(
          (versions) => versions.every((v, i) => v === tags[i]!.version),
          (error: unknown) => {
            this.failures.failed(t, 'get', error);
            return false;
          },
        );
      }
      if (version !== tag.version) return false;
    }
    return true;
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
