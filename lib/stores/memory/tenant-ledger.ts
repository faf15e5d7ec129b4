import type { KeyOwner } from '../quota/tenant-quota.js';

/** A held entry as the ledger sees it: a link of its owner's LRU list. */
export interface LedgerSlot {
  key: string;
  size: number;
  owner?: Pool;
  prev?: LedgerSlot;
  next?: LedgerSlot;
}

/**
 * The entries of one tenant (or of no tenant: the common pool), least recently used first, with their
 * count, bytes and quota. `score` is how far over its fair share the pool is: its entries and bytes as a
 * fraction of its quota (of the store's bounds when it has none), the larger of the two.
 */
export class Pool {
  entries = 0;
  bytes = 0;
  score = 0;
  /** Position in the ledger's heap. */
  at = -1;
  head?: LedgerSlot;
  tail?: LedgerSlot;

  constructor(
    readonly owner: KeyOwner,
    readonly maxEntries: number,
    readonly maxBytes: number,
    private readonly shareEntries: number,
    private readonly shareBytes: number,
  ) {}

  rescore(): void {
    this.score = Math.max(this.entries / this.shareEntries, this.bytes / this.shareBytes);
  }
}

/**
 * Per-tenant pools of a memory store: each tenant's LRU list, and a max-heap of pools by `score` so the
 * pool furthest over its share is found at once. A write, read or removal costs O(1) pointer moves plus
 * O(log T) for the heap (T = tenants holding entries); memory is one pool per tenant with entries.
 */
export class TenantLedger {
  private readonly pools = new Map<string | undefined, Pool>();
  private readonly heap: Pool[] = [];

  constructor(private readonly newPool: (owner: KeyOwner) => Pool) {}

  /** The pool of an owner; a new one (kept once it holds an entry) when it has none. */
  poolOf(owner: KeyOwner): Pool {
    return this.pools.get(owner.scope) ?? this.newPool(owner);
  }

  /** Every pool holding entries. */
  all(): IterableIterator<Pool> {
    return this.pools.values();
  }

  /** How many pools hold entries. */
  get size(): number {
    return this.pools.size;
  }

  /** The pool furthest over its share, or `undefined` when no pool holds an entry. */
  loudest(): Pool | undefined {
    return this.heap[0];
  }

  /** Puts a new slot at the recent end of its pool. */
  add(pool: Pool, slot: LedgerSlot): void {
    slot.owner = pool;
    slot.prev = pool.tail;
    slot.next = undefined;
    if (pool.tail) pool.tail.next = slot;
    else pool.head = slot;
    pool.tail = slot;
    pool.entries++;
    pool.bytes += slot.size;
    if (pool.at < 0) {
      this.pools.set(pool.owner.scope, pool);
      pool.at = this.heap.length;
      this.heap.push(pool);
    }
    this.changed(pool);
  }

  /** Takes a slot out of its pool; a pool left empty is forgotten. */
  remove(slot: LedgerSlot): void {
    const pool = slot.owner;
    if (pool === undefined) return;
    this.unlink(pool, slot);
    slot.owner = undefined;
    pool.entries--;
    pool.bytes -= slot.size;
    if (pool.entries === 0) {
      this.pools.delete(pool.owner.scope);
      this.dropFromHeap(pool);
    } else this.changed(pool);
  }

  /** A read: the slot moves to the recent end of its pool. */
  bump(slot: LedgerSlot): void {
    const pool = slot.owner;
    if (pool === undefined || pool.tail === slot) return;
    this.unlink(pool, slot);
    slot.prev = pool.tail;
    slot.next = undefined;
    pool.tail!.next = slot;
    pool.tail = slot;
  }

  /** A slot's size changed by `grown` bytes (an `incr`). */
  resize(slot: LedgerSlot, grown: number): void {
    const pool = slot.owner;
    if (pool === undefined) return;
    pool.bytes += grown;
    this.changed(pool);
  }

  clear(): void {
    this.pools.clear();
    this.heap.length = 0;
  }

  private unlink(pool: Pool, slot: LedgerSlot): void {
    if (slot.prev) slot.prev.next = slot.next;
    else pool.head = slot.next;
    if (slot.next) slot.next.prev = slot.prev;
    else pool.tail = slot.prev;
  }

  private changed(pool: Pool): void {
    pool.rescore();
    this.up(pool.at);
    this.down(pool.at);
  }

  private dropFromHeap(pool: Pool): void {
    const i = pool.at;
    const last = this.heap.pop()!;
    pool.at = -1;
    if (last === pool) return;
    this.heap[i] = last;
    last.at = i;
    this.up(i);
    this.down(last.at);
  }

  private up(i: number): void {
    const heap = this.heap;
    const pool = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.score >= pool.score) break;
      heap[i] = heap[parent]!;
      heap[i]!.at = i;
      i = parent;
    }
    heap[i] = pool;
    pool.at = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const pool = heap[i]!;
    const n = heap.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.score > heap[child]!.score) child++;
      if (heap[child]!.score <= pool.score) break;
      heap[i] = heap[child]!;
      heap[i]!.at = i;
      i = child;
    }
    heap[i] = pool;
    pool.at = i;
  }
}
