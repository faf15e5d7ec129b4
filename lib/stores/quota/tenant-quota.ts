import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { unescapeKey } from '../../keys/key-builder.js';
import { CHUNK_SEGMENT, DEDICATED_SEGMENT, HASHED_ENTRY, LITERAL_ENTRY, META_SEGMENT, SHARED_SEGMENT, scopeSegmentLength } from '../../keys/key-layout.js';
import { assertKnownOptions, optionKeys } from '../../tenant-cache.option-keys.js';

/** A bound for every tenant, or a function of the tenant for plans (`(t) => plans[t]?.maxEntries ?? 1000`). */
export type TenantLimit = number | ((tenantId: string) => number);

/**
 * Bounds of one tenant inside a store (`perTenant`), beside the store's global bounds. A function is
 * called once for a tenant when its first entry arrives (again after all its entries left). With hashed
 * tenant segments (ids longer than 64 characters, or the codec's `hashKeys`) the store cannot see the id:
 * the function then receives the segment (`T<64 hex>`).
 */
export interface TenantQuotaOptions {
  /** Most entries (counters included) one tenant keeps. */
  maxEntries?: TenantLimit;
  /** Most bytes of keys + values one tenant keeps. */
  maxBytes?: TenantLimit;
}

/**
 * What a write over a tenant's quota does: `'evict'` (default) drops the tenant's own least recently
 * used entries to make room; `'reject'` drops the write (a later read is a miss, as with
 * `onWriteError: 'ignore'`). Never an error of the request. Both emit `quota:exceeded`.
 */
export type OverQuotaPolicy = 'evict' | 'reject';

/** Payload of `quota:exceeded`: a tenant went over its quota (or its budget) in a store. */
export interface QuotaExceededEvent {
  /** Store alias. */
  store: string;
  /** The tenant id; `undefined` when its key segment is hashed (see `scope`). */
  tenant?: string;
  /** The tenant's key segment (`t<len>:<id>:`, `T<hash>:`, `d:`). */
  scope: string;
  /** Which bound: `entries` or `bytes`. */
  limit: 'entries' | 'bytes';
  /** `evict`: the tenant's own entries made room; `reject`: the write was dropped. */
  action: OverQuotaPolicy;
  /** Writes over the quota since the previous event of this tenant in this store (events are at most one a second per tenant). */
  count: number;
}

/** Where a store reports quota events (`StoreContext.quotaExceeded`). */
export type QuotaSink = (event: QuotaExceededEvent) => void;

const QUOTA_KEYS = optionKeys<TenantQuotaOptions>({ maxEntries: true, maxBytes: true });

/** Checks `perTenant` and `overQuota` of a store factory once, at configuration time. */
export function assertQuotaOptions(factory: string, perTenant: TenantQuotaOptions | undefined, overQuota: OverQuotaPolicy | undefined): void {
  if (overQuota !== undefined && overQuota !== 'evict' && overQuota !== 'reject') {
    throw new InvalidOptionsError(`${factory}.overQuota`, `is ${JSON.stringify(overQuota)}`, "Write 'evict' (the default) or 'reject'.");
  }
  if (perTenant === undefined) {
    if (overQuota !== undefined)
      throw new InvalidOptionsError(`${factory}.overQuota`, 'has no effect without perTenant', 'Add `perTenant: { maxEntries, maxBytes }`, or remove overQuota.');
    return;
  }
  if (typeof perTenant !== 'object' || perTenant === null) {
    throw new InvalidOptionsError(`${factory}.perTenant`, 'is not an object', 'Write `perTenant: { maxEntries, maxBytes }`.');
  }
  assertKnownOptions(perTenant, QUOTA_KEYS, `${factory}.perTenant`);
  for (const name of ['maxEntries', 'maxBytes'] as const) {
    const limit = perTenant[name];
    if (limit === undefined || typeof limit === 'function') continue;
    if (typeof limit !== 'number' || !(limit > 0)) {
      throw new InvalidOptionsError(`${factory}.perTenant.${name}`, `is ${String(limit)}`, 'Use a number above 0, or a function of the tenant id.');
    }
  }
}

/** The value of a `TenantLimit` for one tenant; `Infinity` when unset. A plan function's bad answer is an option error. */
export function limitFor(limit: TenantLimit | undefined, tenant: string, path: string): number {
  if (limit === undefined) return Infinity;
  const value = typeof limit === 'function' ? limit(tenant) : limit;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new InvalidOptionsError(path, `returned ${String(value)} for tenant ${JSON.stringify(tenant)}`, 'Return a number above 0 (Infinity for no bound).');
  }
  return value;
}

/** Who a physical key is charged to (see `keyOwner`). */
export interface KeyOwner {
  /** The tenant's key segment; `undefined` for keys of no tenant (shared scope, counters of generations, foreign keys). */
  scope?: string;
  /** The tenant id as given to `perTenant` functions and events (see `TenantQuotaOptions`). */
  tenant?: string;
  /** An entry or a chunk of one: a write that `'reject'` may drop. Counters and meta keys are always written. */
  entry: boolean;
}

const NO_OWNER: KeyOwner = Object.freeze({ entry: false });

/**
 * The tenant a physical key is charged to, parsed with the key layout (`scopeSegmentLength`, as
 * `parsePhysicalKey` does), never by matching text: a tenant id that looks like another's prefix has its
 * own length-prefixed segment. Entries, chunks and meta keys (tag versions) of a tenant scope are the
 * tenant's. The generation counter of a scope is nobody's: evicting it with the tenant's own entries would
 * make them unreachable but keep their bytes (and it restarts at random, so it can never revive old
 * entries; see version-counters.ts). Owners are kept per scope (`owners`), so a write allocates nothing.
 */
export function keyOwner(key: string, prefix: string, dedicatedTenant: string | undefined, owners?: Map<string, KeyOwner[]>): KeyOwner {
  if (!key.startsWith(prefix)) return NO_OWNER;
  const length = scopeSegmentLength(key, prefix.length);
  if (length < 0) return NO_OWNER;
  const at = prefix.length + length;
  let entry: boolean;
  if (key.startsWith(META_SEGMENT, at)) entry = false;
  else if (key[at] === 'g' && isEntryBody(key, at + 1)) entry = true;
  else return NO_OWNER; // the generation counter (`gen`), or not of this layout
  const scope = key.slice(prefix.length, at);
  if (scope === SHARED_SEGMENT) return NO_OWNER;
  let pair = owners?.get(scope);
  if (pair === undefined) {
    const tenant = scope === DEDICATED_SEGMENT ? (dedicatedTenant ?? scope) : tenantOfSegment(scope);
    pair = [Object.freeze({ scope, tenant, entry: false }), Object.freeze({ scope, tenant, entry: true })];
    if (owners !== undefined) {
      // NOTE: bounded like the pools: past 10,000 scopes the map starts again.
      if (owners.size >= 10_000) owners.clear();
      owners.set(scope, pair);
    }
  }
  return pair[entry ? 1 : 0]!;
}

/** Whether `key` from `i` is `<generation>:` then an entry (`k2:`, `h2:`) or a chunk (`c:`); a generation is `0` or `-?[1-9][0-9]*`. */
function isEntryBody(key: string, i: number): boolean {
  const start = key[i] === '-' ? i + 1 : i;
  let end = start;
  while (end < key.length && key.charCodeAt(end) >= 48 && key.charCodeAt(end) <= 57) end++;
  if (end === start || key[end] !== ':' || (key[start] === '0' && (end - start > 1 || start !== i))) return false;
  return key.startsWith(LITERAL_ENTRY, end + 1) || key.startsWith(HASHED_ENTRY, end + 1) || key.startsWith(CHUNK_SEGMENT, end + 1);
}

/** `t<len>:<escaped id>:` -> the id; a hashed segment `T<hex>:` -> itself without the colon. */
function tenantOfSegment(scope: string): string {
  if (scope[0] !== 't') return scope.slice(0, -1);
  const escaped = scope.slice(scope.indexOf(':') + 1, -1);
  return unescapeKey(escaped) ?? escaped;
}

/** Rate-limits `quota:exceeded` per tenant: the first at once, then at most one a second with the count in between. */
export class QuotaReports {
  private readonly last = new Map<string, { at: number; count: number }>();

  constructor(
    private readonly store: string,
    private readonly sink: QuotaSink | undefined,
  ) {}

  report(owner: KeyOwner, limit: 'entries' | 'bytes', action: OverQuotaPolicy): void {
    if (this.sink === undefined || owner.scope === undefined) return;
    const now = Date.now();
    let state = this.last.get(owner.scope);
    if (state === undefined) {
      // NOTE: bounded: past 10,000 tenants reporting, the slate is wiped (one extra event each at worst).
      if (this.last.size >= 10_000) this.last.clear();
      this.last.set(owner.scope, (state = { at: 0, count: 0 }));
    }
    state.count++;
    if (now - state.at < 1000) return;
    const count = state.count;
    state.at = now;
    state.count = 0;
    try {
      this.sink({ store: this.store, tenant: owner.scope.startsWith('T') ? undefined : owner.tenant, scope: owner.scope, limit, action, count });
    } catch {
      // NOTE: a throwing listener must not turn a cache write into an error.
    }
  }
}
