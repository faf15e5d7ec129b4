import { metaSuffix, parsePhysicalKey } from '../../keys/key-layout.js';
import { type KeyOwner, type OverQuotaPolicy, QuotaReports, type QuotaSink, type TenantQuotaOptions, keyOwner, limitFor } from '../quota/tenant-quota.js';
import type { RedisReply } from './redis-commander.js';

// NOTE: touches only the tenant's budget key (cluster-safe). The window starts with the first charge.
const CHARGE = `local e = redis.call('HINCRBY', KEYS[1], 'e', ARGV[1])
local b = redis.call('HINCRBY', KEYS[1], 'b', ARGV[2])
-- A delete charged after the tenant's keys (this hash included) were removed must not leave it below 0.
if e < 0 then e = 0 redis.call('HSET', KEYS[1], 'e', 0) end
if b < 0 then b = 0 redis.call('HSET', KEYS[1], 'b', 0) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {e, b}`;

/** How long a tenant's counters stay as a view of its usage; past it, a refused tenant asks Redis again. */
const FRESH_MS = 1000;
/** Writes are charged in batches: every FLUSH_MS, or at once when a tenant has FLUSH_AT writes not yet charged. */
const FLUSH_MS = 100;
const FLUSH_AT = 64;
/** Entry keys looked at per trim (`'evict'`): the idlest half of them go, at most the tenant's excess. */
const TRIM_SAMPLE = 64;
const MAX_TENANTS = 10_000;

/** Budget options of `redisStore` (see `RedisStoreOptions.perTenant`). */
export interface RedisBudgetOptions {
  perTenant: TenantQuotaOptions;
  overQuota?: OverQuotaPolicy;
  /** Length of a counting window, ms (default one hour): the counters restart at 0 when it ends. */
  budgetWindow?: number;
}

/** What the budget needs of the store: a guarded command, and a walk of keys by prefix (every master). */
export interface BudgetIo {
  call<R>(args: readonly (string | number)[], firstKey: string, map: (reply: RedisReply) => R): Promise<R>;
  scan(prefix: string, pageSize?: number): AsyncIterable<string[]>;
}

/** One tenant's counters as this process last saw them. */
interface Usage {
  readonly owner: KeyOwner;
  readonly key: string;
  readonly maxEntries: number;
  readonly maxBytes: number;
  entries: number;
  bytes: number;
  /** Written by this process, not yet charged in Redis (included in `entries` and `bytes`). */
  unchargedEntries: number;
  unchargedBytes: number;
  /** When Redis last answered the counters (0: never). */
  at: number;
  trimmedAt: number;
}

/**
 * Per-tenant budgets on a shared Redis, kept by counters the store maintains: one hash per tenant
 * (`<prefix><tenant scope>m:q:budget`, fields `e` and `b`) that entry writes increment by one entry and
 * their bytes. Each process charges its writes in batches (one small script on that key per tenant every
 * FLUSH_MS, or per FLUSH_AT writes), so a write costs no extra command or round trip of its own.
 * The counters are approximate: deletes through the store are subtracted (see `removing`), overwrites and
 * expiry are not; instead the hash expires
 * `budgetWindow` after its first write and counting starts again. So a budget bounds what a tenant
 * writes per window; with entry TTLs no longer than the window, a tenant holds at most about twice its
 * budget (the previous window's entries still alive, plus this window's). Each process decides on the last
 * counts Redis answered it (at most `FRESH_MS` old when it refuses) plus its own writes, so several
 * processes writing at once can pass a budget by what they wrote in the last FLUSH_MS and round trip.
 */
export class RedisBudget {
  private readonly usage = new Map<string, Usage>();
  private readonly owners = new Map<string, KeyOwner[]>();
  private readonly reports: QuotaReports;
  private readonly policy: OverQuotaPolicy;
  private readonly window: number;
  /** Counter refreshes and trims in flight: `close()` waits for them. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Tenants with writes not yet charged, and the timer that charges them. */
  private readonly uncharged = new Set<Usage>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    store: string,
    private readonly options: RedisBudgetOptions,
    private readonly prefix: string,
    private readonly dedicated: string | undefined,
    private readonly io: BudgetIo,
    sink: QuotaSink | undefined,
  ) {
    this.reports = new QuotaReports(store, sink);
    this.policy = options.overQuota ?? 'evict';
    this.window = options.budgetWindow ?? 3_600_000;
  }

  /**
   * Runs `write` (an entry of `size` bytes at `key`) unless the tenant's budget refuses it (`'reject'`:
   * resolves to `refused`), and charges the tenant's counters beside it. Keys of no tenant, counters and
   * meta keys pass as they are. Never rejects because of the counters.
   */
  async write<R>(key: string, size: number, write: () => Promise<R>, refused: R): Promise<R> {
    const owner = keyOwner(key, this.prefix, this.dedicated, this.owners);
    if (owner.scope === undefined || !owner.entry) return write();
    const usage = this.usageOf(owner);
    const over = usage.entries + 1 > usage.maxEntries ? 'entries' : usage.bytes + size > usage.maxBytes ? 'bytes' : undefined;
    if (over !== undefined) {
      this.reports.report(owner, over, this.policy);
      if (this.policy === 'reject') {
        // NOTE: counts older than FRESH_MS may be from a window that ended: ask again, refuse this write meanwhile.
        if (Date.now() - usage.at >= FRESH_MS) {
          usage.at = Date.now();
          this.track(this.flush(usage));
        }
        return refused;
      }
      this.trim(usage);
    }
    this.count(usage, size);
    return write();
  }

  /** Charges an entry written by `add` (which answers whether it wrote only afterwards). */
  async added(key: string, size: number): Promise<void> {
    const owner = keyOwner(key, this.prefix, this.dedicated, this.owners);
    if (owner.scope === undefined || !owner.entry) return;
    this.count(this.usageOf(owner), size);
  }

  /**
   * Runs `remove` (which deletes `keys`) and takes the tenants' entries among them that existed off their
   * counters: a `STRLEN` of each, sent just before the delete (pipelined, so no extra round trip), tells
   * which existed and their bytes. Keys of no tenant cost nothing more.
   */
  async removing<R>(keys: readonly string[], remove: () => Promise<R>): Promise<R> {
    const owned: { key: string; owner: KeyOwner }[] = [];
    for (const key of keys) {
      const owner = keyOwner(key, this.prefix, this.dedicated, this.owners);
      if (owner.scope !== undefined && owner.entry) owned.push({ key, owner });
    }
    if (owned.length === 0) return remove();
    const lengths = owned.map(({ key }) => this.io.call(['STRLEN', key], key, Number).catch(() => 0));
    const result = await remove();
    const found = await Promise.all(lengths);
    owned.forEach(({ key, owner }, i) => {
      if (found[i]! > 0) this.count(this.usageOf(owner), -(key.length + found[i]!), -1);
    });
    return result;
  }

  /** Whether an `add` of an entry would be refused (`'reject'` only; `add` then answers false). */
  refusesAdd(key: string, size: number): boolean {
    if (this.policy !== 'reject') return false;
    const owner = keyOwner(key, this.prefix, this.dedicated, this.owners);
    if (owner.scope === undefined || !owner.entry) return false;
    const usage = this.usageOf(owner);
    return usage.entries + 1 > usage.maxEntries || usage.bytes + size > usage.maxBytes;
  }

  /** The counters of a tenant as Redis holds them (for tests and operators). */
  async read(key: string): Promise<{ entries: number; bytes: number } | undefined> {
    const owner = keyOwner(key, this.prefix, this.dedicated, this.owners);
    if (owner.scope === undefined) return undefined;
    const usage = this.usageOf(owner);
    await this.flush(usage);
    return { entries: usage.entries, bytes: usage.bytes };
  }

  /** Charges what is not charged yet, and waits for every count and trim in flight. */
  async close(): Promise<void> {
    // NOTE: a trim that ends while closing counts its deletes: charge them too before the connection goes.
    do {
      this.flushAll();
      await Promise.all([...this.pending]);
    } while (this.pending.size > 0 || this.uncharged.size > 0);
  }

  /** A write (or, negative, a delete) of this process: in the local view at once, charged in Redis with the next batch. */
  private count(usage: Usage, size: number, entries = 1): void {
    usage.entries += entries;
    usage.bytes += size;
    usage.unchargedEntries += entries;
    usage.unchargedBytes += size;
    this.uncharged.add(usage);
    if (Math.abs(usage.unchargedEntries) >= FLUSH_AT) this.track(this.flush(usage));
    else this.flushTimer ??= setTimeout(() => this.flushAll(), FLUSH_MS).unref();
  }

  private flushAll(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const usage of this.uncharged) this.track(this.flush(usage));
  }

  /** Charges a tenant's uncharged writes (none: just reads its counters). */
  private flush(usage: Usage): Promise<void> {
    const entries = usage.unchargedEntries;
    const bytes = usage.unchargedBytes;
    usage.unchargedEntries = 0;
    usage.unchargedBytes = 0;
    this.uncharged.delete(usage);
    return this.charge(usage, entries, bytes);
  }

  private usageOf(owner: KeyOwner): Usage {
    let usage = this.usage.get(owner.scope!);
    if (usage === undefined) {
      if (this.usage.size >= MAX_TENANTS) this.usage.clear();
      usage = {
        owner,
        key: this.prefix + owner.scope! + metaSuffix('q', 'budget'),
        maxEntries: limitFor(this.options.perTenant.maxEntries, owner.tenant!, 'redisStore.perTenant.maxEntries'),
        maxBytes: limitFor(this.options.perTenant.maxBytes, owner.tenant!, 'redisStore.perTenant.maxBytes'),
        entries: 0,
        bytes: 0,
        unchargedEntries: 0,
        unchargedBytes: 0,
        at: 0,
        trimmedAt: 0,
      };
      this.usage.set(owner.scope!, usage);
      // NOTE: learn what other processes (or this one, earlier) wrote before deciding on this tenant again.
      this.track(this.charge(usage, 0, 0));
    }
    return usage;
  }

  /** Adds to the tenant's counters in Redis and takes its answer as the new view. A failure is logged by the guard and ignored. */
  private async charge(usage: Usage, entries: number, bytes: number): Promise<void> {
    try {
      const [e, b] = await this.io.call(['EVAL', CHARGE, 1, usage.key, entries, bytes, this.window], usage.key, (reply) => (reply as RedisReply[]).map(Number));
      // Writes counted since this charge was sent are not in Redis's answer yet.
      usage.entries = e! + usage.unchargedEntries;
      usage.bytes = b! + usage.unchargedBytes;
      usage.at = Date.now();
    } catch {
      // NOTE: the budget is best effort: a failed count is lost (the counts run low), never a failed write.
    }
  }

  /**
   * `'evict'` on Redis: samples the tenant's entry keys (SCAN of its scope on every master), and deletes the
   * idlest half of the sample (by OBJECT IDLETIME, as Redis's own LRU samples), at most the tenant's excess,
   * subtracting them from its counters. In the background, at most once a second per tenant and process.
   */
  private trim(usage: Usage): void {
    const now = Date.now();
    if (now - usage.trimmedAt < FRESH_MS) return;
    usage.trimmedAt = now;
    this.track(this.trimNow(usage));
  }

  private async trimNow(usage: Usage): Promise<void> {
    const keys: string[] = [];
    for await (const page of this.io.scan(`${this.prefix}${usage.owner.scope!}g`, TRIM_SAMPLE)) {
      for (const k of page) if (parsePhysicalKey(k, this.prefix)?.kind === 'entry') keys.push(k);
      if (keys.length >= TRIM_SAMPLE) break;
    }
    const idle = await Promise.all(keys.map((k) => this.io.call(['OBJECT', 'IDLETIME', k], k, (r) => (r === null ? -1 : Number(r)))));
    const order = keys.map((k, i) => ({ k, idle: idle[i]! })).filter((x) => x.idle >= 0);
    order.sort((a, b) => b.idle - a.idle);
    const averageBytes = usage.entries > 0 ? usage.bytes / usage.entries : 1;
    const excess = Math.max(usage.entries - usage.maxEntries, Math.ceil((usage.bytes - usage.maxBytes) / averageBytes), 1);
    const victims = order.slice(0, Math.min(Math.ceil(order.length / 2), excess)).map((x) => x.k);
    const removed = await Promise.all(
      victims.map(async (k) => {
        const [length, gone] = await Promise.all([this.io.call(['STRLEN', k], k, Number), this.io.call(['UNLINK', k], k, Number)]);
        return gone > 0 ? k.length + length : -1;
      }),
    );
    const done = removed.filter((n) => n >= 0);
    // NOTE: into the batch, with this process's writes not yet charged (Redis clamps its counts at 0).
    if (done.length > 0) this.count(usage, -done.reduce((a, b) => a + b, 0), -done.length);
  }

  private track(work: Promise<unknown>): void {
    const p = work.catch(() => {}).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}
