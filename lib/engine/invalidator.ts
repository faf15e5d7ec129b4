import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import type { PartitionSelector } from '../keys/key-constructor.compiler.js';
import { isMetaKeyOf } from '../keys/key-layout.js';
import type { BatchOps } from './batch-ops.js';
import type { InvalidationHooks } from './invalidation-hooks.js';
import type { KeyScan } from './key-scan.js';
import type { LoadMarks } from './load-marks.js';
import { type ResolvedStore, dataKeyKey } from './store-registry.js';
import { type StoreFailures, Unresolved } from './store-failures.js';
import type { TagIndex } from './tag-index.js';
import type { TagStamps } from './tag-stamps.js';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import { type TagInput, resolveTags } from './tags.js';
import { keySpace } from './load-marks.js';
import { targetAt } from './target.js';
import type { TargetResolver } from './target-resolver.js';

/**
 * Every invalidation wider than one key: a scope (its generation moves on), a tag, a partition, a whole
 * store. Each marks the loads in flight it covers, updates the store, then tells the invalidation hooks.
 */
export class Invalidator {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly failures: StoreFailures,
    private readonly marks: LoadMarks,
    private readonly hooks: InvalidationHooks,
    private readonly tagIndex: TagIndex,
    private readonly scan: KeyScan,
    private readonly batch: BatchOps,
    private readonly stamps: TagStamps,
  ) {}

  /** Makes every entry of the scope unreachable at once (O(1)): the scope's generation moves on. */
  async invalidateAll(scope: CacheScope, alias?: string): Promise<void> {
    await this.moveGeneration(scope, alias);
  }

  /** `invalidateAll`, then deletes the scope's physical entries where the store can list them. */
  async clear(scope: CacheScope, alias?: string): Promise<void> {
    // NOTE: when the store failed to move the generation on (and onWriteError is 'ignore'), the listing is
    // not attempted: it would wait on the failing store a second time.
    const resolved = await this.moveGeneration(scope, alias);
    if (resolved === undefined || !resolved.store.capabilities.scan) return;
    const scopePrefix = resolved.keys.scopePrefix(scope);
    await this.failures.write(targetAt(resolved, scopePrefix, scope), 'clear', async () => {
      const generation = await this.resolver.generation(resolved, scope);
      const keep = resolved.keys.generationKey(scope);
      // And the tenant's data key (tenantKeys 'wrapped'): clearing is not shredding.
      const dataKey = scope.kind === 'tenant' ? dataKeyKey(resolved.keys, scope.tenantId) : undefined;
      const doomed: string[] = [];
      for await (const page of resolved.store.scan(scopePrefix)) {
        for (const k of page) {
          // Keep the generation counter: removing it could let it restart at a value old entries carry.
          if (k !== keep && k !== dataKey && !k.startsWith(resolved.keys.entryPrefix(scope, generation))) doomed.push(k);
        }
        if (doomed.length >= 500) await resolved.store.mdel(doomed.splice(0));
      }
      if (doomed.length > 0) await resolved.store.mdel(doomed);
    });
  }

  /**
   * Invalidates a tag in one scope. A plain tag deletes the entries its index lists and resolves to how
   * many existed; a versioned tag moves its version on (one atomic increment) and resolves to the new
   * version. `soft` (plain tags only): see `softInvalidateTag`.
   */
  async invalidateTag(scope: CacheScope, tag: TagInput, alias?: string, soft = false): Promise<number> {
    const { plain, versioned } = resolveTags([tag], []);
    if (soft && versioned.length > 0) throw softVersioned(this.resolver.safeAlias(scope, alias), versioned[0]!);
    const resolved = await this.resolver.resolve('write', 'invalidateTag', scope, alias, () => this.resolver.store(scope, alias));
    if (resolved instanceof Unresolved) return 0;
    if (soft) return this.softInvalidateTag(resolved, scope, plain[0]!);
    const space = keySpace(resolved, scope);
    const t = targetAt(resolved, resolved.keys.scopePrefix(scope), scope);
    const counters = this.resolver.counters;
    if (versioned.length > 0) {
      const name = versioned[0]!;
      this.marks.invalidate((_k, m) => m.space === space && m.versioned.includes(name));
      // NOTE: 0 (never a version: versions start at 1 or more) when the store failed and onWriteError is 'ignore'.
      const version = (await this.failures.write(t, 'invalidateTag', () => counters.bump(resolved.store, resolved.keys.metaKey(scope, 'tv', name)))) ?? 0;
      await this.hooks.notify({ kind: 'tag', scope, store: resolved.alias, tag: name, versioned: true });
      return version;
    }
    const name = plain[0]!;
    this.marks.invalidate((_k, m) => m.space === space && m.plain.includes(name));
    const n =
      (await this.failures.write(t, 'invalidateTag', async () => {
        // The version first: every entry stamped with the tag is a miss from here on, whether or not the index
        // (only the cleanup now) still lists it.
        if (this.tagIndex.mode === 'store' && resolved.traits.hasSets) {
          await counters.bump(resolved.store, resolved.keys.tagVersionKey(scope, resolved.keys.tagId(name)), resolved.io);
        }
        return this.tagIndex.invalidate(resolved, scope, name);
      })) ?? 0;
    await this.hooks.notify({ kind: 'tag', scope, store: resolved.alias, tag: name, versioned: false });
    return n;
  }

  /**
   * The soft `invalidateTag` of a plain tag: its entries stay, expired from now on (see `TagStamps`):
   * served stale within a grace while one load refreshes each, a miss to every other read. Loads in
   * flight are stored, stamped with the old version, so they are expired too. Resolves to 0 (nothing
   * is deleted or counted).
   */
  private async softInvalidateTag(resolved: ResolvedStore, scope: CacheScope, name: string): Promise<number> {
    if (this.tagIndex.mode === 'store' && !resolved.traits.hasSets) {
      throw new UnsupportedOperationError(resolved.alias, `invalidateTag("${name}", { soft: true })`, 'Its plain tags are not stamped there: use expire(key) per key.');
    }
    const t = targetAt(resolved, resolved.keys.scopePrefix(scope), scope);
    if (this.tagIndex.mode === 'store') {
      await this.failures.write(t, 'invalidateTag', () => this.stamps.soften(resolved, scope, resolved.keys.tagId(name)));
    }
    await this.hooks.notify({ kind: 'tag', scope, store: resolved.alias, tag: name, versioned: false, soft: true });
    return 0;
  }

  /**
   * Invalidates a tag in every scope (all tenants and the shared namespace) of one store, or of every
   * store. Admin only: it lists the store's keys to find each tenant's index or counter. Resolves to
   * the number of entries deleted (plain) or of counters moved on (versioned).
   */
  async invalidateTagInAllScopes(tag: TagInput, alias?: string, soft = false): Promise<number> {
    const { plain, versioned } = resolveTags([tag], []);
    const isVersioned = versioned.length > 0;
    const name = isVersioned ? versioned[0]! : plain[0]!;
    if (soft && isVersioned) throw softVersioned(alias ?? this.resolver.safeAlias(SHARED_SCOPE), name);
    if (!soft) this.marks.invalidate((_k, m) => (isVersioned ? m.versioned : m.plain).includes(name));
    let n = 0;
    for (const a of alias === undefined ? this.resolver.registry.aliases : [alias]) {
      const resolved = await this.resolver.resolve('write', 'invalidateTagInAllTenants', SHARED_SCOPE, a, () => this.resolver.registry.get(a));
      if (resolved instanceof Unresolved) continue;
      this.resolver.requireScan(resolved, 'invalidateTagInAllTenants()');
      n +=
        (await this.failures.write(targetAt(resolved, resolved.keys.prefix, SHARED_SCOPE), 'invalidateTagInAllTenants', () =>
          soft ? this.softTagInEveryScope(resolved, name) : this.tagInEveryScope(resolved, name, isVersioned),
        )) ?? 0;
    }
    return n;
  }

  /**
   * Deletes the entries of a partition: a literal prefix, filtered when the selector has `matches`.
   * Loads in flight in the partition are not stored. Resolves to how many entries existed.
   */
  async invalidatePartition(scope: CacheScope, selector: PartitionSelector, alias?: string): Promise<number> {
    const resolved = await this.resolver.resolve('write', 'invalidatePartition', scope, alias, () => this.resolver.store(scope, alias));
    if (resolved instanceof Unresolved) return 0;
    const space = keySpace(resolved, scope);
    const matches = selector.matches ?? ((k: string) => k.startsWith(selector.prefix));
    this.marks.invalidate((_k, m) => m.space === space && matches(m.logicalKey));
    if (!selector.matches) return this.scan.deleteByPrefix(scope, selector.prefix, alias);
    this.resolver.requireScan(resolved, 'invalidatePartition()');
    const selected = selector.matches;
    const n =
      (await this.failures.write(targetAt(resolved, resolved.keys.scopePrefix(scope), scope), 'invalidatePartition', async () => {
        const entryPrefix = resolved.keys.entryPrefix(scope, await this.resolver.generation(resolved, scope));
        let deleted = 0;
        const batch: string[] = [];
        for await (const page of this.scan.list(resolved, scope, entryPrefix, selector.prefix)) {
          for (const k of page) if (selected(k)) batch.push(k);
          if (batch.length >= 500) deleted += await this.batch.deleteKeys(resolved, scope, batch.splice(0));
        }
        if (batch.length > 0) deleted += await this.batch.deleteKeys(resolved, scope, batch);
        return deleted;
      })) ?? 0;
    await this.hooks.notify({ kind: 'partition', scope, store: resolved.alias, prefix: selector.prefix, matches: selector.matches });
    return n;
  }

  /** Empties whole stores, every tenant. Admin only. */
  async flushAllTenants(alias?: string): Promise<void> {
    for (const a of alias === undefined ? this.resolver.registry.aliases : [alias]) {
      const resolved = await this.resolver.resolve('write', 'flushAllTenants', SHARED_SCOPE, a, () => this.resolver.registry.get(a));
      if (resolved instanceof Unresolved) continue;
      await this.failures.write(targetAt(resolved, resolved.keys.prefix, SHARED_SCOPE), 'flushAllTenants', () => resolved.store.flush());
    }
  }

  /** `invalidateAll`; resolves to the store, or `undefined` when the store failed and the write was dropped. */
  private async moveGeneration(scope: CacheScope, alias?: string): Promise<ResolvedStore | undefined> {
    const resolved = await this.resolver.resolve('write', 'invalidateAll', scope, alias, () => this.resolver.store(scope, alias));
    if (resolved instanceof Unresolved) return undefined;
    const prefix = resolved.keys.scopePrefix(scope);
    this.marks.invalidate((k) => k.startsWith(prefix));
    const moved = await this.failures.write(targetAt(resolved, prefix, scope), 'invalidateAll', () =>
      this.resolver.counters.bump(resolved.store, resolved.keys.generationKey(scope)),
    );
    await this.hooks.notify({ kind: 'all', scope, store: resolved.alias });
    return moved === undefined ? undefined : resolved;
  }

  /** One store's part of a soft `invalidateTagInAllScopes`: every scope's version of the plain tag, found by listing, softened. Resolves to 0. */
  private async softTagInEveryScope(resolved: ResolvedStore, name: string): Promise<number> {
    if (this.tagIndex.mode === 'none') return 0;
    if (!resolved.traits.hasSets)
      throw new UnsupportedOperationError(resolved.alias, `invalidateTagInAllTenants("${name}", ..., { soft: true })`, 'Its plain tags are not stamped there.');
    const shared = resolved.keys.scopePrefix(SHARED_SCOPE).length;
    const id = resolved.keys.tagId(name);
    const versionSuffix = resolved.keys.tagVersionKey(SHARED_SCOPE, id).slice(shared);
    const softSuffix = resolved.keys.tagSoftKey(SHARED_SCOPE, id).slice(shared);
    const versions: string[] = [];
    for await (const page of resolved.store.scan(resolved.keys.prefix)) {
      for (const k of page) if (isMetaKeyOf(k, resolved.keys.prefix, versionSuffix)) versions.push(k);
    }
    // The soft key sits where the version key does, in the same scope: the scope segment is kept, the suffix swapped.
    for (const key of versions) await this.stamps.softenAt(resolved, key, key.slice(0, key.length - versionSuffix.length) + softSuffix);
    return 0;
  }

  /** One store's part of `invalidateTagInAllScopes`: finds the tag's index or counter in every scope by listing. */
  private async tagInEveryScope(resolved: ResolvedStore, name: string, isVersioned: boolean): Promise<number> {
    const counters = this.resolver.counters;
    // The part of a meta key after the scope prefix is the same in every scope: the key builder's, cut off.
    const shared = resolved.keys.scopePrefix(SHARED_SCOPE).length;
    const suffix = resolved.keys.metaKey(SHARED_SCOPE, isVersioned ? 'tv' : 'ti', name).slice(shared);
    // A plain tag's version (see `tagVersionKey`), found in every scope like the index.
    const versionSuffix = resolved.keys.tagVersionKey(SHARED_SCOPE, resolved.keys.tagId(name)).slice(shared);
    const found: string[] = [];
    const versions: string[] = [];
    for await (const page of resolved.store.scan(resolved.keys.prefix)) {
      for (const k of page) {
        if (isMetaKeyOf(k, resolved.keys.prefix, suffix)) found.push(k);
        else if (!isVersioned && isMetaKeyOf(k, resolved.keys.prefix, versionSuffix)) versions.push(k);
      }
    }
    if (this.tagIndex.mode === 'store') for (const key of versions) await counters.bump(resolved.store, key, resolved.io);
    let moved = 0;
    for (const key of found) {
      if (isVersioned) {
        await counters.bump(resolved.store, key);
        moved++;
      } else if (resolved.traits.hasSets) {
        moved += await this.tagIndex.drain(resolved, key);
      }
    }
    return moved;
  }
}

/** Why a versioned tag cannot be invalidated softly: its version is in the entries' keys, so a new version finds none of them. */
function softVersioned(alias: string, name: string): UnsupportedOperationError {
  return new UnsupportedOperationError(
    alias,
    `invalidateTag(versioned("${name}"), { soft: true })`,
    "A versioned tag is part of its entries' keys: after a new version no read finds the old entries, stale or not. Tag the entries to expire softly with a plain tag, or call expire(key) on each key, or invalidate the versioned tag without { soft: true }.",
  );
}
