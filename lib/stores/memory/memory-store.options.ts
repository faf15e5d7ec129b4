import type { OverQuotaPolicy, TenantQuotaOptions } from '../quota/tenant-quota.js';

/** Options of the embedded in-process store. */
export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used go first. Default 10,000. */
  maxEntries?: number;
  /** Most bytes of keys + values kept. Default 64 MiB. */
  maxBytes?: number;
  /** Largest single value in bytes. Default 8 MiB. */
  maxValueBytes?: number;
  /** Reserve this store for one tenant (keys then skip the tenant segment). */
  dedicatedTenant?: string;
  /**
   * Hand every reader of an entry the same decoded value, deep-frozen, instead of a fresh copy per read.
   * Reads of objects then cost about what a Map lookup costs (like cache-manager's memory store), and a
   * reader that tries to change the value gets a TypeError instead of changing it for the next reader.
   * JavaScript cannot freeze the contents of a Map, Set, Date or typed array: changing those would still
   * be seen by other readers. Default false (a copy per read).
   */
  shareReads?: boolean;
  /**
   * Fair share between tenants: bounds of each tenant (a number, or a function of the tenant id for
   * plans) beside the global ones. With it, each tenant has its own LRU list, and when the store is full
   * the tenant furthest over its share (its entries or bytes as a fraction of its bound) loses its least
   * recently used entries first, so a loud tenant churns its own entries and not a quiet one's.
   * `perTenant: {}` gives every tenant an equal share without a bound of its own. See docs/tenancy.md.
   */
  perTenant?: TenantQuotaOptions;
  /** What a write over a tenant's `perTenant` bound does: `'evict'` (default) or `'reject'`; both emit `quota:exceeded`. */
  overQuota?: OverQuotaPolicy;
}
