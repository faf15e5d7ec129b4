import type { CacheStore, StoreCapabilities, StoreContext, StoreEntry } from '../cache-store.interface.js';
import type { MemoryStoreOptions } from './memory-store.options.js';
import { DEFAULT_KEY_PREFIX } from '../../tenant-cache.constants.js';
import { type KeyOwner, type OverQuotaPolicy, QuotaReports, keyOwner, limitFor } from '../quota/tenant-quota.js';
import { bytesOf, expiry, sizeOf } from './slot-values.js';
import { type TagSet, addToSet, dropSet, membersOf, unlistMember } from './tag-sets.js';
import { type LedgerSlot, Pool, TenantLedger } from './tenant-ledger.js';

interface Slot extends LedgerSlot {
  /** Bytes, or a text entry as the string it was written as (`setText`). */
  value: Buffer | string;
  /** Absolute expiry in ms, 0 = none. */
  expiresAt: number;
  /** The store's clock when the slot last moved to the recent end. */
  tick: number;
}

const PAGE = 500;

/**
 * LRU memory store with TTLs checked on access (no timer per key) and bounds on entry count and bytes.
 * Process-local: two app instances do not share it. The LRU order is exact except that a read of an
 * entry already among the most recent quarter leaves it where it is (a hit then costs no reordering).
 */
export class MemoryStore implements CacheStore {
  readonly capabilities: StoreCapabilities;
  readonly shareReads: boolean;
  private readonly entries = new Map<string, Slot>();
  private readonly sets = new Map<string, TagSet>();
  /** For each member of a set, the sets listing it: removing an entry removes it from them (see `unlist`). */
  private readonly listedIn = new Map<string, Set<string>>();
  /** Members across all sets. */
  private members = 0;
  private bytes = 0;
  private evicted = 0;
  /** Counts moves to the recent end: a slot's distance from that end is at most `clock - slot.tick`. */
  private clock = 0;
  /**
   * The eviction cursor (without `perTenant`): one live iterator over the Map's order, advanced one key per
   * eviction. Every key before it was evicted or moved to the end, so its next key is the least recently
   * used. A fresh `keys()` per eviction would walk again over every deleted slot at the front of V8's table
   * (4x slower under churn).
   */
  private oldest: IterableIterator<string> | undefined;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  /** Set with `perTenant`: the tenants' pools; eviction then goes through them, not the Map's order. */
  private readonly ledger?: TenantLedger;
  private readonly fair?: { prefix: string; dedicated?: string; policy: OverQuotaPolicy; reports: QuotaReports; owners: Map<string, KeyOwner[]> };

  /** `context` (given by the module) carries the key prefix and the sink of `quota:exceeded`. */
  constructor(
    readonly name: string,
    options: MemoryStoreOptions = {},
    context?: StoreContext,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.shareReads = options.shareReads ?? false;
    if (options.perTenant !== undefined) {
      const { perTenant } = options;
      const { maxEntries, maxBytes } = this;
      this.fair = {
        prefix: context?.keyPrefix ?? DEFAULT_KEY_PREFIX,
        dedicated: options.dedicatedTenant,
        policy: options.overQuota ?? 'evict',
        reports: new QuotaReports(name, context?.quotaExceeded),
        owners: new Map(),
      };
      this.ledger = new TenantLedger((owner: KeyOwner) => {
        if (owner.tenant === undefined) return new Pool(owner, Infinity, Infinity, maxEntries, maxBytes);
        const e = limitFor(perTenant.maxEntries, owner.tenant, 'memoryStore.perTenant.maxEntries');
        const b = limitFor(perTenant.maxBytes, owner.tenant, 'memoryStore.perTenant.maxBytes');
        return new Pool(owner, e, b, Math.min(e, maxEntries), Math.min(b, maxBytes));
      });
    }
    this.capabilities = {
      distributed: false,
      atomic: true,
      scan: true,
      ttl: true,
      maxKeyLength: 1024,
      maxValueBytes: options.maxValueBytes ?? 8 * 1024 * 1024,
    };
  }

  /** Number of live entries (expired ones are counted until touched). */
  get size(): number {
    return this.entries.size;
  }

  /** Entries evicted so far to stay within `maxEntries` / `maxBytes` (metrics: `tenant_cache.evictions`). */
  get evictions(): number {
    return this.evicted;
  }

  /** Bytes held by keys and values, tag sets included. */
  get totalBytes(): number {
    return this.bytes;
  }

  /**
   * With `perTenant`: the entries and bytes each tenant holds, by key segment (`t<len>:<id>:`, `T<hash>:`;
   * `undefined` for keys of no tenant). Empty without `perTenant`.
   */
  tenantUsage(): Map<string | undefined, { tenant?: string; entries: number; bytes: number }> {
    const out = new Map<string | undefined, { tenant?: string; entries: number; bytes: number }>();
    for (const pool of this.ledger?.all() ?? []) out.set(pool.owner.scope, { tenant: pool.owner.tenant, entries: pool.entries, bytes: pool.bytes });
    return out;
  }

  /**
   * Size of the tag sets (`sadd`): how many sets and members they hold. A member leaves its sets when its
   * entry is deleted, evicted or found expired, and a set left empty is dropped, so the index never
   * outgrows the entries it points at; its bytes count in `maxBytes`.
   */
  get tagSetSize(): { sets: number; members: number } {
    return { sets: this.sets.size, members: this.members };
  }

  get(key: string): Promise<Buffer | undefined> {
    return Promise.resolve(bytesOf(this.read(key, Date.now())));
  }

  getSync(key: string): Buffer | string | undefined {
    return this.read(key, Date.now());
  }

  async set(key: string, value: Buffer, ttl?: number): Promise<void> {
    this.write(key, value, ttl);
  }

  setSync(key: string, value: Buffer | string, ttl?: number): void {
    this.write(key, value, ttl);
  }

  /** Keeps the string itself: its UTF-8 bytes are built only if `get` (rather than `getSync`) asks. */
  async setText(key: string, text: string, ttl?: number): Promise<void> {
    this.write(key, text, ttl);
  }

  /** False when the key exists, or when `overQuota: 'reject'` refused the write. */
  async add(key: string, value: Buffer, ttl?: number): Promise<boolean> {
    if (this.read(key, Date.now()) !== undefined) return false;
    return this.write(key, value, ttl);
  }

  async delete(key: string): Promise<boolean> {
    return this.remove(key);
  }

  async has(key: string): Promise<boolean> {
    return this.read(key, Date.now()) !== undefined;
  }

  async mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    const now = Date.now();
    return keys.map((k) => bytesOf(this.read(k, now)));
  }

  async mset(entries: readonly StoreEntry[]): Promise<void> {
    for (const e of entries) this.write(e.key, e.value, e.ttl);
  }

  async mdel(keys: readonly string[]): Promise<number> {
    let n = 0;
    for (const k of keys) if (this.remove(k)) n++;
    return n;
  }

  async incr(key: string, by: number, ttl?: number): Promise<number> {
    const now = Date.now();
    const slot = this.peekSlot(key, now);
    let current = 0;
    if (slot) {
      const text = typeof slot.value === 'string' ? slot.value : slot.value.toString('latin1');
      if (!/^-?\d+$/.test(text)) throw new TypeError(`value at "${key}" is not an integer`);
      current = Number(text);
    }
    const next = current + by;
    if (!Number.isSafeInteger(next)) throw new RangeError(`incr at "${key}" would leave the safe integer range`);
    const value = Buffer.from(String(next), 'latin1');
    if (slot) {
      const grown = value.length - sizeOf(slot.value);
      this.bytes += grown;
      slot.size += grown;
      slot.value = value;
      this.ledger?.resize(slot, grown);
      this.bump(key, slot);
      this.evict();
    } else {
      // NOTE: a counter is never refused (it would answer a value it does not keep): over quota it evicts.
      this.write(key, value, ttl, false);
    }
    return next;
  }

  async touch(key: string, ttl?: number): Promise<boolean> {
    const slot = this.peekSlot(key, Date.now());
    if (!slot) return false;
    slot.expiresAt = expiry(ttl);
    return true;
  }

  async ttl(key: string): Promise<number | undefined> {
    const now = Date.now();
    const slot = this.peekSlot(key, now);
    if (!slot) return undefined;
    return slot.expiresAt === 0 ? Infinity : slot.expiresAt - now;
  }

  async *scan(prefix: string, pageSize = PAGE): AsyncIterable<string[]> {
    const now = Date.now();
    let page: string[] = [];
    // Snapshot the keys so that deletes during iteration are safe; yield between pages to keep the loop free.
    for (const key of [...this.entries.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const slot = this.entries.get(key);
      if (!slot) continue;
      if (slot.expiresAt !== 0 && slot.expiresAt <= now) {
        this.remove(key);
        continue;
      }
      page.push(key);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    for (const key of [...this.sets.keys()]) if (key.startsWith(prefix)) page.push(key);
    if (page.length > 0) yield page;
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    let n = 0;
    for await (const page of this.scan(prefix)) {
      for (const k of page) if (this.remove(k)) n++;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return n;
  }

  async sadd(key: string, members: readonly string[], ttl?: number): Promise<void> {
    const delta = addToSet(this.sets, this.listedIn, key, members, ttl, Date.now());
    this.members += delta.members;
    this.bytes += delta.bytes;
    this.evict();
  }

  async *sscan(key: string, pageSize = PAGE): AsyncIterable<string[]> {
    const { members, expired } = membersOf(this.sets, this.listedIn, key, Date.now());
    if (expired) this.dropSet(key);
    if (members === undefined) return;
    for (let i = 0; i < members.length; i += pageSize) yield members.slice(i, i + pageSize);
  }

  async flush(): Promise<void> {
    this.entries.clear();
    this.sets.clear();
    this.listedIn.clear();
    this.ledger?.clear();
    this.oldest = undefined;
    this.members = 0;
    this.bytes = 0;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private read(key: string, now: number): Buffer | string | undefined {
    const slot = this.peekSlot(key, now);
    if (!slot) return undefined;
    this.bump(key, slot);
    return slot.value;
  }

  private peekSlot(key: string, now: number): Slot | undefined {
    const slot = this.entries.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt !== 0 && slot.expiresAt <= now) {
      this.remove(key);
      return undefined;
    }
    return slot;
  }

  /**
   * Moves a slot to the most-recently-used end of the Map's insertion order, unless it is within the most
   * recent quarter already (it then has at least three quarters of the entries to outlive).
   */
  private bump(key: string, slot: Slot): void {
    if (this.ledger !== undefined) {
      // NOTE: with tenant pools, eviction follows each pool's list; the Map's order is not used.
      this.ledger.bump(slot);
      return;
    }
    if (this.clock - slot.tick < this.entries.size >> 2) return;
    slot.tick = ++this.clock;
    this.entries.delete(key);
    this.entries.set(key, slot);
  }

  /** False when the value was not stored (larger than the store, or refused by `overQuota: 'reject'`). */
  private write(key: string, value: Buffer | string, ttl: number | undefined, mayReject = true): boolean {
    const size = key.length * 2 + sizeOf(value);
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.size;
      this.entries.delete(key);
      this.ledger?.remove(old);
    }
    const slot: Slot = { key, value, expiresAt: expiry(ttl), size, tick: ++this.clock };
    if (size > this.maxBytes || (this.ledger !== undefined && !this.admit(this.ledger, slot, mayReject))) {
      // Not stored: the sets that listed it (written first) must not keep pointing at nothing.
      this.unlist(key);
      return false;
    }
    this.entries.set(key, slot);
    this.bytes += size;
    this.evict();
    return true;
  }

  /**
   * Charges a new slot to its tenant's pool. Over the tenant's bound, either its own least recently used
   * entries make room (`evict`), or the write is refused (`reject`, entries only: counters and tag
   * versions are always written). A value larger than the tenant's byte bound is never stored.
   */
  private admit(ledger: TenantLedger, slot: Slot, mayReject: boolean): boolean {
    const fair = this.fair!;
    const owner = keyOwner(slot.key, fair.prefix, fair.dedicated, fair.owners);
    const pool = ledger.poolOf(owner);
    const overEntries = pool.entries + 1 > pool.maxEntries;
    if (overEntries || pool.bytes + slot.size > pool.maxBytes) {
      const limit = overEntries ? 'entries' : 'bytes';
      if (slot.size > pool.maxBytes || (mayReject && owner.entry && fair.policy === 'reject')) {
        fair.reports.report(owner, limit, 'reject');
        return false;
      }
      fair.reports.report(owner, limit, 'evict');
      while (pool.head !== undefined && (pool.entries + 1 > pool.maxEntries || pool.bytes + slot.size > pool.maxBytes)) this.remove(pool.head.key);
    }
    ledger.add(pool, slot);
    return true;
  }

  private evict(): void {
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.ledger !== undefined ? this.ledger.loudest()?.head?.key : this.nextOldest();
      if (oldest !== undefined) {
        this.remove(oldest);
        this.evicted++;
      } else {
        // Only sets left (members never written as entries): the oldest set goes.
        const set = this.sets.keys().next();
        if (set.done) break;
        this.dropSet(set.value);
      }
    }
  }

  private nextOldest(): string | undefined {
    let next = (this.oldest ??= this.entries.keys()).next();
    if (next.done) next = (this.oldest = this.entries.keys()).next();
    return next.done ? undefined : next.value;
  }

  private remove(key: string): boolean {
    const slot = this.entries.get(key);
    if (slot) {
      this.entries.delete(key);
      this.bytes -= slot.size;
      this.ledger?.remove(slot);
      this.unlist(key);
      return true;
    }
    return this.dropSet(key);
  }

  /** Takes a removed entry's key out of every set that lists it; a set left empty is dropped. */
  private unlist(member: string): void {
    const delta = unlistMember(this.sets, this.listedIn, member);
    this.members += delta.members;
    this.bytes += delta.bytes;
  }

  private dropSet(key: string): boolean {
    const delta = dropSet(this.sets, this.listedIn, key);
    if (delta === undefined) return false;
    this.members += delta.members;
    this.bytes += delta.bytes;
    return true;
  }
}
