import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { ResolvedStore } from './store-registry.js';

/** Members deleted per batch when a tag is invalidated; the event loop (and Redis) breathe between batches. */
const BATCH = 500;

/**
 * The surrogate index of plain tags: for each (scope, tag) a set of the physical keys tagged with it,
 * kept in the store itself (a Redis set with a TTL at least as long as its entries; a map in memory).
 * `none` records nothing, for tags that only feed CDN surrogate headers.
 */
export class TagIndex {
  private warned = new Set<string>();

  constructor(
    readonly mode: 'store' | 'none',
    private readonly warn: (message: string) => void,
  ) {}

  /** Key of the set holding the keys tagged `tag` in `scope`. */
  indexKey(resolved: ResolvedStore, scope: CacheScope, tag: string): string {
    return resolved.keys.metaKey(scope, 'ti', tag);
  }

  /** Records a physical key under its plain tags. Called before the entry is written. */
  async record(resolved: ResolvedStore, scope: CacheScope, physicalKey: string, tags: readonly string[], ttl: number | undefined): Promise<void> {
    if (this.mode === 'none' || tags.length === 0) return;
    if (!resolved.traits.hasSets) {
      if (!this.warned.has(resolved.alias)) {
        this.warned.add(resolved.alias);
        this.warn(`Cache store "${resolved.alias}" has no sets: plain tags are not indexed there and invalidateTag() will refuse them. Use versioned tags on it.`);
      }
      return;
    }
    await Promise.all(tags.map((tag) => resolved.io.addToSet(this.indexKey(resolved, scope, tag), [physicalKey], ttl)));
  }

  /**
   * Deletes every entry recorded under `tag`, batch by batch, then the set. Resolves to how many entries
   * existed. Members added while it runs may be dropped with the set (their writes race the invalidation).
   */
  async invalidate(resolved: ResolvedStore, scope: CacheScope, tag: string, onBatch?: (keys: readonly string[]) => void): Promise<number> {
    if (this.mode === 'none') return 0;
    if (!resolved.traits.hasSets) {
      throw new UnsupportedOperationError(resolved.alias, `invalidateTag("${tag}") of a plain tag`, 'Tag the entries with versioned(name) instead: it needs no index.');
    }
    // Through the codec: a chunked entry's chunks go with it.
    return this.drain(resolved, this.indexKey(resolved, scope, tag), (keys) => resolved.codec.mdel(scope, keys), onBatch);
  }

  /**
   * Deletes the entries listed in the set at `indexKey` with `remove` (default: the raw store's `mdel`,
   * which leaves the chunks of chunked entries to expire), then the set itself.
   */
  async drain(
    resolved: ResolvedStore,
    indexKey: string,
    remove: (keys: readonly string[]) => Promise<number> = (keys) => resolved.store.mdel(keys),
    onBatch?: (keys: readonly string[]) => void,
  ): Promise<number> {
    let count = 0;
    let batch: string[] = [];
    const flush = async () => {
      onBatch?.(batch);
      count += await remove(batch);
      batch = [];
      await new Promise<void>((resolve) => setImmediate(resolve));
    };
    for await (const page of resolved.io.scanSet(indexKey, BATCH)) {
      batch.push(...page);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    await resolved.store.delete(indexKey);
    return count;
  }
}
