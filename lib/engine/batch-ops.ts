import type { EncodedEntry } from '../codec/chunked-io.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { StatsRecorder } from '../observability/stats-recorder.js';
import type { EntryReader } from './entry-reader.js';
import { encodeEntry } from './entry-writer.js';
import type { ClusterFlight } from './cluster-flight.js';
import type { InvalidationHooks } from './invalidation-hooks.js';
import type { LoadMarks } from './load-marks.js';
import type { ResolvedStore } from './store-registry.js';
import { type StoreFailures, Unresolved, asError } from './store-failures.js';
import { targetAt } from './target.js';
import type { TargetResolver } from './target-resolver.js';

/** Operations on many keys of one scope at once: one store round trip each (mget, mset, mdel). */
export class BatchOps {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly reader: EntryReader,
    private readonly failures: StoreFailures,
    private readonly marks: LoadMarks,
    private readonly hooks: InvalidationHooks,
    /** Each key of `mget` is counted as a plain read (`get`). */
    private readonly stats: StatsRecorder,
    /** Revokes the cluster leases of keys before they are deleted (fencing; absent when the module does not fence). */
    private readonly leases?: ClusterFlight,
  ) {}

  /** The values of `keys` (a miss is `undefined`), with the store's failure when the read failed (every value is then a miss). */
  async mlookup<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<{ values: (T | undefined)[]; error?: Error }> {
    const counts = () => this.stats.of(this.resolver.safeAlias(scope, alias), scope).get;
    let found: { values: (T | undefined)[]; error?: Error };
    try {
      found = await this.mread<T>(scope, keys, alias);
    } catch (error) {
      counts().error += keys.length;
      throw error;
    }
    const c = counts();
    for (const value of found.values) {
      if (value === undefined) c.miss++;
      else c.hit++;
    }
    return found;
  }

  private async mread<T>(scope: CacheScope, keys: readonly string[], alias?: string): Promise<{ values: (T | undefined)[]; error?: Error }> {
    if (keys.length === 0) return { values: [] };
    const found = await this.resolver.resolve('read', 'mget', scope, alias, async () => {
      const resolved = await this.resolver.store(scope, alias);
      const generation = await this.resolver.generation(resolved, scope);
      return { resolved, physical: keys.map((k) => resolved.keys.entryKey(scope, generation, k)) };
    });
    if (found instanceof Unresolved) return { values: keys.map(() => undefined), error: found.error };
    const { resolved, physical } = found;
    let raws: (Buffer | undefined)[];
    try {
      raws = await resolved.store.mget(physical);
    } catch (error) {
      this.failures.failed(targetAt(resolved, physical[0]!, scope), 'mget', error);
      return { values: keys.map(() => undefined), error: asError(error) };
    }
    const values: (T | undefined)[] = [];
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i];
      // The same decode as a single read: tag stamps checked, a corrupt entry dropped.
      const lookup = raw === undefined ? undefined : await this.reader.decoded<T>(targetAt(resolved, physical[i]!, scope), raw, 'mget');
      values.push(lookup?.hit ? lookup.value : undefined);
    }
    return { values };
  }

  async mset(scope: CacheScope, entries: readonly { key: string; value: unknown; ttl?: number }[], ttl?: number, alias?: string): Promise<void> {
    if (entries.length === 0) return;
    const found = await this.resolver.resolve('write', 'mset', scope, alias, async () => {
      const resolved = await this.resolver.store(scope, alias);
      return { resolved, generation: await this.resolver.generation(resolved, scope) };
    });
    if (found instanceof Unresolved) return;
    const { resolved, generation } = found;
    // Encode everything first: one bad value fails the batch before anything is written.
    const batch: EncodedEntry[] = entries.map((e) => {
      const key = resolved.keys.entryKey(scope, generation, e.key);
      return { key, value: encodeEntry(targetAt(resolved, key, scope), e.key, e.value), ttl: this.resolver.ttl(e.ttl ?? ttl) };
    });
    await this.failures.write(targetAt(resolved, batch[0]!.key, scope), 'mset', () => resolved.codec.mset(scope, batch));
  }

  async mdel(scope: CacheScope, keys: readonly string[], alias?: string): Promise<number> {
    if (keys.length === 0) return 0;
    const resolved = await this.resolver.resolve('write', 'mdel', scope, alias, () => this.resolver.store(scope, alias));
    if (resolved instanceof Unresolved) return 0;
    const n = await this.deleteKeys(resolved, scope, keys);
    await this.hooks.notify({ kind: 'keys', scope, store: resolved.alias, keys });
    return n;
  }

  /** Deletes logical keys of the scope's current generation (loads in flight of them are not stored). */
  async deleteKeys(resolved: ResolvedStore, scope: CacheScope, keys: readonly string[]): Promise<number> {
    const generation = await this.resolver.resolve('write', 'mdel', scope, resolved.alias, () => this.resolver.generation(resolved, scope));
    if (generation instanceof Unresolved) return 0;
    const physical = [...new Set(keys.map((k) => resolved.keys.entryKey(scope, generation, k)))];
    const doomed = new Set(physical);
    this.marks.invalidate((k) => doomed.has(k));
    const leases = this.leases;
    return (
      (await this.failures.write(targetAt(resolved, physical[0]!, scope), 'mdel', async () => {
        // NOTE: the leases first: a load in flight on another instance then drops its value, or this removes it.
        if (leases !== undefined) await leases.revokeKeys(resolved, scope, physical);
        return resolved.codec.mdel(scope, physical);
      })) ?? 0
    );
  }
}
