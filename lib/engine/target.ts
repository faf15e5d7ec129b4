import type { CacheScope } from '../keys/key-builder.js';
import type { ResolvedStore } from './store-registry.js';

/** Where one logical key lives: the store, the physical key and the scope it was built for. */
export interface Target {
  readonly resolved: ResolvedStore;
  readonly key: string;
  readonly scope: CacheScope;
}

/** A target at a physical key already known (a batch's first key, a scope prefix for a failure report). */
export function targetAt(resolved: ResolvedStore, key: string, scope: CacheScope): Target {
  return { resolved, key, scope };
}
