import { randomUUID } from 'node:crypto';
import type { CacheStore, StoreCapabilities, StoreEntry } from '../cache-store.interface.js';
import { forwardMembers } from '../forward-members.js';
import type { CoherenceChannel } from './coherence-channel.js';
import { type CoherenceMessage, KEYS_PER_MESSAGE, decodeMessage, encodeMessage } from './coherence-messages.js';
import { L1Epochs } from './l1-epochs.js';

/** How often a tier whose L2 write failed checks whether the L2 is back, ms. */
const RECOVERY_PROBE_MS = 250;
/** Prefix deletions the L1 may have in flight before it is cleared whole instead. */
const MAX_PENDING_PREFIXES = 16;

/** An in-process store as an L1: read and written without a promise. */
type L1Store = CacheStore & Required<Pick<CacheStore, 'getSync' | 'setSync'>>;

/** Options of `TieredStore` (see `tieredStore`). */
export interface TieredStoreSettings {
  /** Longest time an entry stays in the L1, ms (it never outlives its L2 entry either). */
  l1Ttl?: number;
}

/**
 * An in-process L1 (a memory store) in front of a distributed L2 (Redis). Reads try the L1, then the L2 and
 * fill the L1 for the L2 entry's remaining TTL; writes, deletes and counters act on both; tag index sets live
 * in the L2 only. Every change the L2 accepted is published on the tier's channel, and the other instances
 * drop those keys from their L1. While this instance cannot receive those messages, its L1 is bypassed; it is
 * cleared when the subscription is back. A write the L2 failed stays in this L1 (reported as the store's
 * failure); when the L2 answers again, every instance's L1 is cleared.
 */
export class TieredStore implements CacheStore {
  readonly capabilities: StoreCapabilities;
  readonly shareReads?: boolean;
  /** This instance on the channel: its own messages are not applied again. */
  readonly instanceId = randomUUID();
  private readonly epochs = new L1Epochs();
  /** Whether the L1 may answer: the subscription is in place and the L1 was cleared since it (re)started. */
  private live = false;
  /** Prefixes deleted from the L1 in the background: keys under them are not served meanwhile. */
  private readonly pending: string[] = [];
  private channel: CoherenceChannel | undefined;
  /** Set while an L2 write failed and the others were not told: cleared once the L2 answered and they were. */
  private recovery: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  private upWaiters: (() => void)[] = [];
  /** The L2 alone, for `l1: false` calls (see `CacheStore.remoteTier`). */
  readonly remoteTier: CacheStore;

  constructor(
    readonly name: string,
    private readonly l1: L1Store,
    private readonly l2: CacheStore,
    private readonly settings: TieredStoreSettings = {},
  ) {
    this.capabilities = l2.capabilities;
    if (l1.shareReads !== undefined) this.shareReads = l1.shareReads;
    // The tag index and the leases (cluster single-flight) live in the L2 alone: they coordinate the instances.
    Object.assign(this, forwardMembers(l2));
    this.remoteTier = remoteTierOf(this, l2, (keys) => this.forget(keys));
  }

  /** Drops `keys` from this L1 and tells the others to: what an L2 write made without the L1 ends with. */
  private forget<R>(keys: readonly string[]): (pending: Promise<R>) => Promise<R> {
    for (const k of keys) this.dropL1(k);
    return (pending) => this.changed(pending, keys);
  }

  /** Whether the L1 answers now (subscribed to the channel); else every read goes to the L2. */
  get coherent(): boolean {
    return this.live;
  }

  /** Attaches the coherence channel (made by the factory with this store's listener). */
  attach(channel: CoherenceChannel): void {
    this.channel = channel;
  }

  /** Resolves once the L1 answers, or after `ms`. */
  whenCoherent(ms: number): Promise<boolean> {
    if (this.live) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.live), ms);
      timer.unref();
      this.upWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** The channel's events: a message, the subscription in place, or lost. */
  readonly listener = {
    message: (text: string) => this.receive(text),
    up: () => {
      if (this.closed) return;
      // Messages may have passed while it was down: nothing in the L1 can be vouched for.
      this.clearL1();
      this.live = true;
      for (const w of this.upWaiters.splice(0)) w();
    },
    down: () => {
      if (!this.live) return;
      this.live = false;
      this.epochs.touchAll();
    },
  };

  peekLocal(key: string): Buffer | string | undefined {
    if (!this.live || (this.pending.length !== 0 && this.underPending(key))) return undefined;
    return this.l1.getSync(key);
  }

  get(key: string): Promise<Buffer | undefined> {
    const local = this.peekLocal(key);
    if (local !== undefined) return Promise.resolve(bytesOf(local));
    return this.fromL2(key);
  }

  getThen<R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R> {
    const local = this.peekLocal(key);
    if (local !== undefined) return Promise.resolve(bytesOf(local)).then(onValue);
    return this.fromL2(key).then(onValue, onError);
  }

  set(key: string, value: Buffer, ttl?: number): Promise<void> {
    this.writeL1(key, value, ttl);
    return this.changed(this.l2.set(key, value, ttl), [key]);
  }

  setText(key: string, text: string, ttl?: number): Promise<void> {
    this.writeL1(key, text, ttl);
    const l2 = this.l2.setText ? this.l2.setText(key, text, ttl) : this.l2.set(key, Buffer.from(text, 'utf8'), ttl);
    return this.changed(l2, [key]);
  }

  setThen(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void> {
    const written = typeof value === 'string' ? this.setText(key, value, ttl) : this.set(key, value, ttl);
    return written.catch(onError);
  }

  async add(key: string, value: Buffer, ttl?: number): Promise<boolean> {
    this.epochs.touch(key);
    const added = await this.changed(this.l2.add(key, value, ttl), []);
    if (added) {
      this.writeL1(key, value, ttl);
      this.publishKeys([key]);
    }
    return added;
  }

  delete(key: string): Promise<boolean> {
    this.dropL1(key);
    return this.changed(this.l2.delete(key), [key]);
  }

  has(key: string): Promise<boolean> {
    if (this.peekLocal(key) !== undefined) return Promise.resolve(true);
    return this.l2.has(key);
  }

  async mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    const found = keys.map((k) => bytesOf(this.peekLocal(k)));
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) if (found[i] === undefined) missing.push(i);
    if (missing.length === 0) return found;
    const remote = await this.l2.mget(missing.map((i) => keys[i]!));
    missing.forEach((i, j) => (found[i] = remote[j]));
    return found;
  }

  mset(entries: readonly StoreEntry[]): Promise<void> {
    for (const e of entries) this.writeL1(e.key, e.value, e.ttl);
    return this.changed(
      this.l2.mset(entries),
      entries.map((e) => e.key),
    );
  }

  mdel(keys: readonly string[]): Promise<number> {
    for (const k of keys) this.dropL1(k);
    return this.changed(this.l2.mdel(keys), keys);
  }

  incr(key: string, by: number, ttl?: number): Promise<number> {
    // The L1 copy goes: the next read takes the counter from the L2 (a counter is what every instance moves).
    this.dropL1(key);
    return this.changed(this.l2.incr(key, by, ttl), [key]);
  }

  touch(key: string, ttl?: number): Promise<boolean> {
    // An L1 copy must not outlive a shortened TTL: it goes here and on the other instances.
    this.dropL1(key);
    return this.changed(this.l2.touch(key, ttl), [key]);
  }

  ttl(key: string): Promise<number | undefined> {
    return this.l2.ttl(key);
  }

  scan(prefix: string, pageSize?: number): AsyncIterable<string[]> {
    return this.l2.scan(prefix, pageSize);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    this.dropPrefix(prefix);
    const n = await this.l2.deleteByPrefix(prefix).catch((error: unknown) => this.failed(error));
    this.publish({ from: this.instanceId, kind: 'prefix', prefix });
    return n;
  }

  async flush(): Promise<void> {
    this.clearL1();
    await this.l2.flush().catch((error: unknown) => this.failed(error));
    this.publish({ from: this.instanceId, kind: 'all' });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.live = false;
    clearInterval(this.recovery);
    this.recovery = undefined;
    const channel = this.channel;
    this.channel = undefined;
    await Promise.all([channel?.close(), this.l2.close(), this.l1.close()]);
  }

  /** An L2 read; the value fills the L1 for the L2 entry's remaining TTL unless the key changed meanwhile. */
  private fromL2(key: string): Promise<Buffer | undefined> {
    if (!this.live) return this.l2.get(key);
    const token = this.epochs.of(key);
    const value = this.l2.get(key);
    // NOTE: sent with the GET (one round trip on a pipelined connection); only the L1 fill waits for it.
    const remaining = this.l2.ttl(key);
    remaining.catch(() => undefined);
    return value.then((v) => {
      if (v !== undefined) {
        remaining.then(
          (ms) => {
            if (ms !== undefined && ms > 0 && this.live && this.epochs.unchanged(key, token)) this.l1.setSync(key, ownBytes(v), this.l1TtlOf(ms));
          },
          () => undefined,
        );
      }
      return v;
    });
  }

  private l1TtlOf(ttl: number | undefined): number | undefined {
    const cap = this.settings.l1Ttl;
    if (ttl === undefined || ttl === 0 || ttl === Infinity) return cap;
    return cap === undefined ? ttl : Math.min(ttl, cap);
  }

  private writeL1(key: string, value: Buffer | string, ttl: number | undefined): void {
    this.epochs.touch(key);
    if (this.live) this.l1.setSync(key, value, this.l1TtlOf(ttl));
  }

  private dropL1(key: string): void {
    this.epochs.touch(key);
    // NOTE: the memory store's delete acts before its promise is returned.
    void this.l1.delete(key);
  }

  private dropPrefix(prefix: string): void {
    this.epochs.touchAll();
    if (this.pending.length >= MAX_PENDING_PREFIXES) return this.clearL1();
    this.pending.push(prefix);
    const done = () => {
      const i = this.pending.indexOf(prefix);
      if (i >= 0) this.pending.splice(i, 1);
    };
    this.l1.deleteByPrefix(prefix).then(done, () => this.clearL1());
  }

  private clearL1(): void {
    this.epochs.touchAll();
    this.pending.length = 0;
    // NOTE: the memory store empties itself before its promise is returned.
    void this.l1.flush();
  }

  private underPending(key: string): boolean {
    for (const p of this.pending) if (key.startsWith(p)) return true;
    return false;
  }

  /** The L2 change `pending`, then the others told of `keys`; a failure leaves this tier to recover (see `failed`). */
  private changed<R>(pending: Promise<R>, keys: readonly string[]): Promise<R> {
    return pending.then(
      (result) => {
        if (keys.length > 0) this.publishKeys(keys);
        return result;
      },
      (error: unknown) => this.failed(error),
    );
  }

  /** An L2 write failed: its effect may be in this L1 (or in the L2 later) and not elsewhere. Rethrows. */
  private failed(error: unknown): never {
    this.startRecovery();
    throw error;
  }

  private publishKeys(keys: readonly string[]): void {
    for (let i = 0; i < keys.length; i += KEYS_PER_MESSAGE) {
      this.publish({ from: this.instanceId, kind: 'keys', keys: keys.length <= KEYS_PER_MESSAGE ? keys : keys.slice(i, i + KEYS_PER_MESSAGE) });
    }
  }

  private publish(message: CoherenceMessage): void {
    const channel = this.channel;
    if (channel === undefined || this.closed) return;
    // Not told: the others may keep an old copy; recovery tells them all to drop everything.
    channel.publish(encodeMessage(message)).catch(() => this.startRecovery());
  }

  private receive(text: string): void {
    const message = decodeMessage(text);
    if (message === undefined || message.from === this.instanceId) return;
    if (message.kind === 'keys') for (const k of message.keys) this.dropL1(k);
    else if (message.kind === 'prefix') this.dropPrefix(message.prefix);
    else this.clearL1();
  }

  /**
   * Until the L2 answers again and the other instances were told to clear their L1, probes the L2 every
   * `RECOVERY_PROBE_MS`. The probe is a command on the L2's own connection: once it is answered, so is every
   * write sent before it, and a cleared L1 reads what they left.
   */
  private startRecovery(): void {
    if (this.recovery !== undefined || this.closed) return;
    this.recovery = setInterval(() => void this.probe(), RECOVERY_PROBE_MS);
    this.recovery.unref();
  }

  private async probe(): Promise<void> {
    const channel = this.channel;
    if (this.probing || channel === undefined) return;
    this.probing = true;
    try {
      await this.l2.has(`${this.name}:tier-probe`);
      await channel.publish(encodeMessage({ from: this.instanceId, kind: 'all' }));
      this.clearL1();
      clearInterval(this.recovery);
      this.recovery = undefined;
    } catch {
      // Still down: the next probe tries again.
    } finally {
      this.probing = false;
    }
  }
}

/**
 * The L2 of `tier` on its own: reads go to the L2 (no L1 fill); every write drops the key from the L1s
 * (`forget`). Listing, TTLs and sets are the tier's own (they are the L2's already).
 */
function remoteTierOf(tier: TieredStore, l2: CacheStore, forget: <R>(keys: readonly string[]) => (pending: Promise<R>) => Promise<R>): CacheStore {
  const one = <R>(key: string, run: () => Promise<R>): Promise<R> => forget<R>([key])(run());
  const view: CacheStore = {
    name: tier.name,
    capabilities: tier.capabilities,
    get: (key) => l2.get(key),
    set: (key, value, ttl) => one(key, () => l2.set(key, value, ttl)),
    add: (key, value, ttl) => one(key, () => l2.add(key, value, ttl)),
    delete: (key) => tier.delete(key),
    has: (key) => l2.has(key),
    mget: (keys) => l2.mget(keys),
    mset: (entries) => forget<void>(entries.map((e) => e.key))(l2.mset(entries)),
    mdel: (keys) => tier.mdel(keys),
    incr: (key, by, ttl) => tier.incr(key, by, ttl),
    touch: (key, ttl) => tier.touch(key, ttl),
    ttl: (key) => l2.ttl(key),
    scan: (prefix, pageSize) => l2.scan(prefix, pageSize),
    deleteByPrefix: (prefix) => tier.deleteByPrefix(prefix),
    flush: () => tier.flush(),
    close: async () => undefined,
  };
  if (l2.setText) {
    const setText = l2.setText.bind(l2);
    view.setText = (key, text, ttl) => one(key, () => setText(key, text, ttl));
  }
  const { sadd, sscan } = tier as CacheStore;
  if (sadd && sscan) {
    view.sadd = sadd;
    view.sscan = sscan;
  }
  return view;
}

/** The bytes of an L1 value: a text entry's UTF-8, built on demand. */
function bytesOf(value: Buffer | string | undefined): Buffer | undefined {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** `v`, or a copy when it is a view into a larger buffer (a client's read buffer must not stay alive in the L1). */
function ownBytes(v: Buffer): Buffer {
  return v.byteLength === v.buffer.byteLength ? v : Buffer.from(v);
}
