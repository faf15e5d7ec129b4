import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import { META_SEGMENT } from '../keys/key-layout.js';
import type { InvalidationHooks, PurgeReceipt } from './invalidation-hooks.js';
import { type LoadMarks, keySpace } from './load-marks.js';
import type { ResolvedStore } from './store-registry.js';
import type { StoreFailures } from './store-failures.js';
import type { TargetResolver } from './target-resolver.js';

/** What one store's part of a scope purge removed. */
export interface StorePurgeResult {
  /** The store alias. */
  readonly store: string;
  /** Keys removed: entries, chunks, tag sets and versions, the generation counter, leases. */
  readonly removed: number;
  /** Keys removed per node: `host:port` of each master of a cluster, the alias for a store on one server. */
  readonly nodes: Readonly<Record<string, number>>;
  /** Why this store's part is incomplete (a store failure, a store that cannot list keys); absent when it completed. */
  readonly error?: string;
}

/**
 * Removes every key of one scope from a store: the scope's whole key segment (every generation, meta keys
 * and counters included), listed with SCAN on every node and deleted page by page (UNLINK, one page of
 * `batchSize` keys per command), so no single command holds the server long. Loads in flight for the scope
 * are marked (their values are not stored), and this process forgets the scope's cached counters: the next
 * read creates the generation afresh at a random start.
 */
export class ScopePurge {
  constructor(
    private readonly resolver: TargetResolver,
    private readonly marks: LoadMarks,
    private readonly hooks: InvalidationHooks,
    private readonly failures: StoreFailures,
  ) {}

  /**
   * Throws `UnsupportedOperationError` when the store cannot list keys (a purge could not find them). A
   * store that cannot be created is not refused here: its purge reports the failure.
   */
  async assertPurgeable(alias: string): Promise<void> {
    let resolved: ResolvedStore;
    try {
      resolved = await this.resolver.registry.get(alias);
    } catch {
      return;
    }
    if (!resolved.store.capabilities.scan) {
      throw new UnsupportedOperationError(alias, 'purgeTenant()', 'It cannot list keys: route no tenant data to it, or wrap a store that has scan.');
    }
  }

  /** Purges `scope` from the store `alias`, then tells the hooks (`kind: 'purge'`, with `receipt` for their answers). */
  async purge(scope: CacheScope, alias: string, receipt?: PurgeReceipt): Promise<StorePurgeResult> {
    let resolved: ResolvedStore;
    try {
      resolved = await this.resolver.registry.get(alias);
    } catch (error) {
      this.failures.report(alias, scope, 'purgeTenant', error);
      return { store: alias, removed: 0, nodes: {}, error: messageOf(error) };
    }
    await this.assertPurgeable(alias);
    const prefix = resolved.keys.scopePrefix(scope);
    const space = keySpace(resolved, scope);
    const markLoads = () => this.marks.invalidate((_k, m) => m.space === space);
    markLoads();
    const nodes: Record<string, number> = {};
    let removed = 0;
    let failure: string | undefined;
    try {
      // NOTE: an in-process store drops a tag set with its last entry: its meta keys go first, so each is counted.
      const passes = resolved.traits.inProcess ? [prefix + META_SEGMENT, prefix] : [prefix];
      for (const pass of passes) {
        for await (const page of resolved.io.scanPerNode(pass)) {
          const n = page.keys.length === 0 ? 0 : await resolved.store.mdel(page.keys);
          nodes[page.node] = (nodes[page.node] ?? 0) + n;
          removed += n;
        }
      }
    } catch (error) {
      this.failures.report(alias, scope, 'purgeTenant', error);
      failure = messageOf(error);
    } finally {
      this.resolver.counters.forget(resolved.store, prefix);
      // Loads that started while the purge ran read the old generation: their values are not stored either.
      markLoads();
    }
    await this.hooks.notify({ kind: 'purge', scope, store: alias, receipt: receipt ?? {} });
    if (resolved.dataKeys !== undefined && scope.kind === 'tenant') {
      // The tenant's wrapped data key was in the segment: no process may keep sealing with it (the next use
      // creates a new one), here or, through the bus, elsewhere.
      resolved.dataKeys.forget(scope.tenantId);
      await this.hooks.notify({ kind: 'shred', scope, store: alias });
    }
    return failure === undefined ? { store: alias, removed, nodes } : { store: alias, removed, nodes, error: failure };
  }

  /**
   * Crypto-shredding: destroys a tenant's data key (`encryption.tenantKeys: 'wrapped'`) in the store's key
   * store and in this process, then tells the hooks (`kind: 'shred'`: the bus has the other instances drop
   * their copy). Every copy of the tenant's entries sealed under that key fails to authenticate from then
   * on. Resolves to false on a store without wrapped data keys. A store failure is reported and thrown as
   * `StoreUnavailableError`, whatever `onWriteError` says: a shred that did not happen must not look like
   * one that did.
   */
  async shred(scope: CacheScope & { kind: 'tenant' }, alias: string): Promise<boolean> {
    let resolved: ResolvedStore;
    try {
      resolved = await this.resolver.registry.get(alias);
      if (resolved.dataKeys === undefined) return false;
      const space = keySpace(resolved, scope);
      this.marks.invalidate((_k, m) => m.space === space);
      await resolved.dataKeys.shred(scope.tenantId);
    } catch (error) {
      this.failures.report(alias, scope, 'shredTenant', error);
      throw new StoreUnavailableError(alias, `shredTenant("${scope.tenantId}") failed: ${messageOf(error)}. Call it again.`, error);
    }
    await this.hooks.notify({ kind: 'shred', scope, store: alias });
    return true;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
