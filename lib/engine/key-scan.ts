import { InvalidCacheValueError } from '../errors/invalid-cache-value.error.js';
import { type CacheScope, HASHED_ENTRY } from '../keys/key-builder.js';
import type { ClusterFlight } from './cluster-flight.js';
import type { InvalidationHooks } from './invalidation-hooks.js';
import type { LoadMarks } from './load-marks.js';
import type { ResolvedStore } from './store-registry.js';
import { type FailurePolicy, type StoreFailures, Unresolved, isInputError, unavailable } from './store-failures.js';
import { targetAt } from './target.js';
import type { TargetResolver } from './target-resolver.js';

/**
 * Listing the logical keys of a scope (on stores that can scan), and deleting by prefix. Short keys
 * are read back from the physical key; long ones are stored hashed and read from inside the entry.
 */
export class KeyScan {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly failures: StoreFailures,
    private readonly marks: LoadMarks,
    private readonly hooks: InvalidationHooks,
    /** Revokes the cluster leases under a prefix before it is deleted (fencing; absent when the module does not fence). */
    private readonly leases?: ClusterFlight,
  ) {}

  /**
   * Logical keys of the scope's current generation that start with `prefix`, page by page. A store that
   * fails ends the listing early (logged and emitted): the keys listed so far are all it yields.
   */
  async *keys(scope: CacheScope, prefix = '', alias?: string): AsyncGenerator<string[]> {
    const found = await this.listing('read', 'keys', scope, alias);
    if (found instanceof Unresolved) return;
    try {
      yield* this.list(found.resolved, scope, found.entryPrefix, prefix);
    } catch (error) {
      if (isInputError(error)) throw error;
      this.failures.failed(targetAt(found.resolved, found.entryPrefix, scope), 'keys', error);
    }
  }

  /**
   * `keys` for admin tools, which must not take a listing cut short for a complete one: a store failure is
   * reported (logged and emitted) and thrown as `StoreUnavailableError`, whatever `onWriteError` says.
   */
  async *completeKeys(scope: CacheScope, prefix = '', alias?: string): AsyncGenerator<string[]> {
    const found = await this.listing('read', 'keys', scope, alias);
    if (found instanceof Unresolved) throw unavailable(this.resolver.safeAlias(scope, alias), 'keys', found.error);
    try {
      yield* this.list(found.resolved, scope, found.entryPrefix, prefix);
    } catch (error) {
      if (isInputError(error)) throw error;
      this.failures.failed(targetAt(found.resolved, found.entryPrefix, scope), 'keys', error);
      throw unavailable(found.resolved.alias, 'keys', error);
    }
  }

  /**
   * `keys`, for a write that deletes what it lists: a store failure follows `onWriteError` (throws
   * `StoreUnavailableError`, or ends the listing with `'ignore'`), instead of ending it as a read does.
   */
  async *keysToDelete(scope: CacheScope, prefix: string, operation: string, alias?: string): AsyncGenerator<string[]> {
    const found = await this.listing('write', operation, scope, alias);
    if (found instanceof Unresolved) return;
    try {
      yield* this.list(found.resolved, scope, found.entryPrefix, prefix);
    } catch (error) {
      this.failures.writeFailed(found.resolved.alias, scope, operation, error);
    }
  }

  async deleteByPrefix(scope: CacheScope, prefix: string, alias?: string): Promise<number> {
    if (typeof prefix !== 'string') throw new InvalidCacheValueError('deleteByPrefix takes a string prefix');
    const found = await this.listing('write', 'deleteByPrefix', scope, alias);
    if (found instanceof Unresolved) return 0;
    const { resolved, entryPrefix } = found;
    const literal = entryPrefix + resolved.keys.literalPrefix(prefix);
    this.marks.invalidate((k) => k.startsWith(literal) || k.startsWith(entryPrefix + HASHED_ENTRY));
    const n =
      (await this.failures.write(targetAt(resolved, literal, scope), 'deleteByPrefix', async () => {
        // NOTE: the leases first (hashed keys cannot be selected by prefix: all of the scope's): see BatchOps.deleteKeys.
        await this.leases?.revokePrefixes(resolved, entryPrefix, [resolved.keys.literalPrefix(prefix), HASHED_ENTRY]);
        let deleted = await resolved.store.deleteByPrefix(literal);
        const hashed: string[] = [];
        for await (const page of resolved.store.scan(entryPrefix + HASHED_ENTRY)) {
          for (const physical of page) {
            const logical = await this.logicalKeyOf(resolved, physical, scope);
            if (logical !== undefined && logical.startsWith(prefix)) hashed.push(physical);
          }
        }
        if (hashed.length > 0) deleted += await resolved.store.mdel(hashed);
        return deleted;
      })) ?? 0;
    await this.hooks.notify({ kind: 'prefix', scope, store: resolved.alias, prefix });
    return n;
  }

  /** The listing of `keys` under the scope's current entry prefix, failures included (for writes that list what they delete). */
  async *list(resolved: ResolvedStore, scope: CacheScope, entryPrefix: string, prefix: string): AsyncGenerator<string[]> {
    for await (const page of resolved.store.scan(entryPrefix + resolved.keys.literalPrefix(prefix))) {
      const out = page.map((k) => resolved.keys.literalKeyOf(k.slice(entryPrefix.length))).filter((k) => k !== undefined);
      if (out.length > 0) yield out;
    }
    // Long keys are stored hashed; their logical key is inside the entry.
    for await (const page of resolved.store.scan(entryPrefix + HASHED_ENTRY)) {
      const out: string[] = [];
      for (const physical of page) {
        const logical = await this.logicalKeyOf(resolved, physical, scope);
        if (logical !== undefined && logical.startsWith(prefix)) out.push(logical);
      }
      if (out.length > 0) yield out;
    }
  }

  /** The store of a listing (which must scan) and the scope's current entry prefix, under the operation's policy. */
  private listing(policy: FailurePolicy, operation: string, scope: CacheScope, alias?: string): Promise<{ resolved: ResolvedStore; entryPrefix: string } | Unresolved> {
    return this.resolver.resolve(policy, operation, scope, alias, async () => {
      const resolved = await this.resolver.store(scope, alias);
      this.resolver.requireScan(resolved, `${operation}()`);
      return { resolved, entryPrefix: resolved.keys.entryPrefix(scope, await this.resolver.generation(resolved, scope)) };
    });
  }

  private async logicalKeyOf(resolved: ResolvedStore, physical: string, scope: CacheScope): Promise<string | undefined> {
    const raw = await resolved.store.get(physical);
    if (raw === undefined) return undefined;
    return resolved.codec.keyOf(raw, physical, scope);
  }
}
