import { InvalidTtlError } from '../errors/invalid-ttl.error.js';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import { type CacheScope, assertKey } from '../keys/key-builder.js';
import { withTagVersions } from '../keys/key-layout.js';
import type { ResolvedStore, StoreRegistry } from './store-registry.js';
import type { FailurePolicy, StoreFailures, Unresolved } from './store-failures.js';
import type { Target } from './target.js';
import type { VersionCounters } from './version-counters.js';

/**
 * Where a logical key lives: its store (the tenant's route), the scope's generation and the versions
 * of its versioned tags give its physical key. Also where a TTL gets its default.
 */
export class TargetResolver {
  constructor(
    readonly registry: StoreRegistry,
    readonly counters: VersionCounters,
    private readonly failures: StoreFailures,
    private readonly defaultTtl: number,
  ) {}

  /**
   * Resolves the store and physical key of `key` in `scope`. With versioned tags, the logical key
   * carries each tag's current version.
   */
  async target(scope: CacheScope, key: string, alias?: string, versionedTags: readonly string[] = []): Promise<Target> {
    assertKey(key);
    const resolved = await this.store(scope, alias);
    const generation = await this.generation(resolved, scope);
    const logical = versionedTags.length === 0 ? key : await this.withVersions(resolved, scope, key, versionedTags);
    return { resolved, key: resolved.keys.entryKey(scope, generation, logical), scope };
  }

  /**
   * `target` without an await, when the store is created and the scope's generation is cached (the
   * common case); `undefined` otherwise (the caller then awaits `target`). No versioned tags.
   */
  targetNow(scope: CacheScope, key: string, alias?: string): Target | undefined {
    assertKey(key);
    const resolved = this.registry.getNow(this.registry.aliasFor(scope, alias));
    if (resolved === undefined) return undefined;
    // A tenant's data key not yet in this process: the awaited path loads it (see `generation`).
    if (resolved.dataKeys !== undefined && scope.kind === 'tenant' && resolved.dataKeys.peek(scope.tenantId) === undefined) return undefined;
    const generation = resolved.traits.localTier
      ? this.counters.peekDirect(resolved.store, resolved.keys.generationKey(scope), resolved.io)
      : this.counters.peek(resolved.store, resolved.keys.generationKey(scope));
    if (generation === undefined) return undefined;
    return { resolved, key: resolved.keys.entryKey(scope, generation, key), scope };
  }

  /** `t` read and written without its store's L1 (`l1: false`); `t` itself on a store that is not a tier. */
  withoutL1(t: Target): Target {
    const remote = t.resolved.withoutL1;
    return remote === undefined ? t : { resolved: remote, key: t.key, scope: t.scope };
  }

  /** `targetNow`, else `target` under the operation's failure policy (see `resolve`). */
  targetOf(
    policy: FailurePolicy,
    operation: string,
    scope: CacheScope,
    key: string,
    alias?: string,
    versionedTags: readonly string[] = [],
  ): Target | Promise<Target | Unresolved> {
    const now = versionedTags.length === 0 ? this.targetNow(scope, key, alias) : undefined;
    return now ?? this.resolve(policy, operation, scope, alias, () => this.target(scope, key, alias, versionedTags));
  }

  /**
   * Runs the part of an operation that finds where its entries live (the store's creation, the scope's
   * generation counter, tag versions); a store failure there is answered by the operation's policy
   * (see `StoreFailures.resolve`): a read gets `Unresolved` and answers a miss.
   */
  resolve<X>(policy: FailurePolicy, operation: string, scope: CacheScope, alias: string | undefined, run: () => Promise<X>): Promise<X | Unresolved> {
    return this.failures.resolve(policy, operation, scope, () => this.safeAlias(scope, alias), run);
  }

  store(scope: CacheScope, alias?: string): Promise<ResolvedStore> {
    return this.registry.get(this.registry.aliasFor(scope, alias));
  }

  /**
   * The scope's generation. Every operation on a scope's entries asks for it first, so this is also where a
   * tenant's data key (`tenantKeys: 'wrapped'`) is loaded, before the codec seals or opens its entries.
   */
  generation(resolved: ResolvedStore, scope: CacheScope): Promise<number> {
    if (resolved.dataKeys !== undefined && scope.kind === 'tenant' && resolved.dataKeys.peek(scope.tenantId) === undefined) {
      return resolved.dataKeys.load(scope.tenantId).then(() => this.counters.read(resolved.store, resolved.keys.generationKey(scope), localTier(resolved)));
    }
    return this.counters.read(resolved.store, resolved.keys.generationKey(scope), localTier(resolved));
  }

  /** The alias of a scope's store, for a failure report: never throws. */
  safeAlias(scope: CacheScope, alias?: string): string {
    try {
      return this.registry.aliasFor(scope, alias);
    } catch {
      return alias ?? 'default';
    }
  }

  requireScan(resolved: ResolvedStore, operation: string): void {
    if (!resolved.store.capabilities.scan) {
      throw new UnsupportedOperationError(resolved.alias, operation, 'Use a memory or Redis store, or invalidateAll() which needs no listing.');
    }
  }

  /** Validates a TTL and applies the default: `undefined` = default, 0/Infinity = none. */
  ttl(ttl: number | undefined): number | undefined {
    if (ttl === undefined) return this.defaultTtl || undefined;
    if (typeof ttl !== 'number' || Number.isNaN(ttl) || ttl < 0) throw new InvalidTtlError(ttl);
    return ttl === 0 || ttl === Infinity ? undefined : Math.max(1, Math.round(ttl));
  }

  /** `<key>~<tag>=<version>;...`: the key of an entry under the current versions of its versioned tags. */
  private async withVersions(resolved: ResolvedStore, scope: CacheScope, key: string, names: readonly string[]): Promise<string> {
    // NOTE: read together: on a store that stops answering, one commandTimeout rather than one per tag.
    const versions =
      names.length === 1
        ? [await this.counters.read(resolved.store, resolved.keys.metaKey(scope, 'tv', names[0]!), localTier(resolved))]
        : await Promise.all(names.map((name) => this.counters.read(resolved.store, resolved.keys.metaKey(scope, 'tv', name), localTier(resolved))));
    return withTagVersions(key, names, versions);
  }
}

/** A local tier's io: its counters are read through its coherent L1 (see `isDirect` in version-counters.ts). */
function localTier(resolved: ResolvedStore): ResolvedStore['io'] | undefined {
  return resolved.traits.localTier ? resolved.io : undefined;
}
