import { InvalidOptionsError } from '../../errors/invalid-options.error.js';
import { escapeGlob } from '../../keys/key-builder.js';
import type { CacheStore, NodePage, StoreCapabilities, StoreContext, StoreDefinition, StoreEntry } from '../cache-store.interface.js';
import { type RedisClientLike, type RedisCommander, type RedisReply, toCommander } from './redis-commander.js';
import type { BreakerState } from '../resilience/circuit-breaker.js';
import { CommandGuard, type ResilienceOptions } from '../resilience/command-guard.js';
import { isCommandError } from '../resilience/resilient.store.js';
import { openRedisConnection } from './redis-connection.js';
import { RedisBudget } from './redis-budget.js';
import { type OverQuotaPolicy, type TenantQuotaOptions, assertQuotaOptions } from '../quota/tenant-quota.js';
import { DEFAULT_KEY_PREFIX } from '../../tenant-cache.constants.js';
import { LEASE_CHANNEL, type LeaseChannel, type LeaseChannelOpener, clientLeaseChannel, ownedLeaseChannel } from './lease-channel.js';
import { redisSourceMember } from './redis-source.js';
import { optionKeys } from '../../tenant-cache.option-keys.js';
import { RESILIENCE_KEYS, assertStoreOptions } from '../store-option-keys.js';
import { INCR_WITH_TTL, RELEASE_LEASE, RENEW_LEASE, SADD_KEEP_LONGEST, TAKE_LEASE } from './redis-scripts.js';

/** Options of `redisStore`. Give either `url` (the store creates and closes its client) or `client`. */
export interface RedisStoreOptions extends ResilienceOptions {
  /** `redis://[user:pass@]host:port[/db]`; the store creates a node-redis client for it. */
  url?: string;
  /** A client you already have: node-redis v5 or ioredis (client or cluster). Never closed by the store. */
  client?: RedisClientLike;
  /**
   * Bound on each connection attempt (TCP and handshake) of a client the store creates, ms. Default 2000. The
   * store never waits for a connection beyond it: it connects in the background, and commands fail fast
   * (reads are misses) while it is not connected.
   */
  connectTimeout?: number;
  /** Largest value in one Redis item, bytes. Default 64 MiB (larger values are chunked by the codec). */
  maxValueBytes?: number;
  /** Reserve this store for one tenant (keys then skip the tenant segment). */
  dedicatedTenant?: string;
  /** Keys per SCAN page and per UNLINK batch. Default 500. */
  batchSize?: number;
  /**
   * A budget per tenant on this (shared) Redis: entries and bytes one tenant may write per `budgetWindow`,
   * a number or a function of the tenant id. Kept by a counter hash per tenant that each process charges
   * in batches (one script per tenant per 100 ms or 64 writes): no command per write. Approximate: see docs/tenancy.md.
   */
  perTenant?: TenantQuotaOptions;
  /**
   * Over a tenant's budget: `'evict'` (default) writes, and deletes the tenant's idlest sampled entries in
   * the background; `'reject'` drops the write (a later read is a miss). Both emit `quota:exceeded`.
   */
  overQuota?: OverQuotaPolicy;
  /** With `perTenant`: how long one counting window lasts, ms. Default 3,600,000 (one hour). */
  budgetWindow?: number;
}

/**
 * Redis (or Valkey) store. Atomic add/incr/touch on the server, pipelined batches, SCAN + UNLINK in
 * batches for prefixes (never KEYS; every master of a cluster). Every command is bounded by
 * `commandTimeout` and a circuit breaker.
 */
export class RedisStore implements CacheStore {
  readonly capabilities: StoreCapabilities;
  private readonly batch: number;
  private readonly guard: CommandGuard;
  /** Set with `perTenant`: the tenants' budgets (see redis-budget.ts). */
  private readonly budget?: RedisBudget;

  constructor(
    readonly name: string,
    private readonly redis: RedisCommander,
    private readonly ownsClient: boolean,
    options: Omit<RedisStoreOptions, 'url' | 'client' | 'connectTimeout'> = {},
    context?: StoreContext,
    /** Opens the subscription of lease wake-ups (`watchLeases`); without it the store has no leases. */
    private readonly leaseChannel?: LeaseChannelOpener,
  ) {
    this.batch = options.batchSize ?? 500;
    this.guard = new CommandGuard(name, { ...options, isCallerError: isCommandError, outages: context?.outages });
    if (options.perTenant !== undefined) {
      const io = { call: this.call.bind(this), scan: this.scan.bind(this) };
      const budget = { perTenant: options.perTenant, overQuota: options.overQuota, budgetWindow: options.budgetWindow };
      this.budget = new RedisBudget(name, budget, context?.keyPrefix ?? DEFAULT_KEY_PREFIX, options.dedicatedTenant, io, context?.quotaExceeded);
    }
    // Back after an outage: hits resume with the next call rather than after the breaker's `resetAfter`.
    redis.onConnect?.(() => this.guard.retryNow());
    this.capabilities = {
      distributed: true,
      atomic: true,
      scan: true,
      ttl: true,
      maxKeyLength: 1024,
      maxValueBytes: options.maxValueBytes ?? 64 * 1024 * 1024,
    };
  }

  /** The circuit breaker's state, for health checks. */
  get state(): BreakerState {
    return this.guard.state;
  }

  /** One command on `node` (the client, or a master for SCAN), bounded by the guard; `map` shapes the reply. */
  private call<R = RedisReply>(
    args: readonly (string | Buffer | number)[],
    firstKey?: string,
    map?: (reply: RedisReply) => R,
    node = this.redis,
    recover?: (error: unknown) => R,
  ): Promise<R> {
    return this.guard.run(args[0] as string, () => node.call(args, firstKey), map, recover);
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.call(['GET', key], key, asBuffer);
  }

  getThen<R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R> {
    return this.call(['GET', key], key, (reply) => onValue(asBuffer(reply)), this.redis, onError);
  }

  set(key: string, value: Buffer, ttl?: number): Promise<void> {
    const write = () => this.call(ttl ? ['SET', key, value, 'PX', String(ttl)] : ['SET', key, value], key, nothing);
    return this.budget ? this.budget.write(key, key.length + value.length, write, undefined) : write();
  }

  setText(key: string, text: string, ttl?: number): Promise<void> {
    const write = () => this.call(ttl ? ['SET', key, text, 'PX', String(ttl)] : ['SET', key, text], key, nothing);
    return this.budget ? this.budget.write(key, key.length + Buffer.byteLength(text), write, undefined) : write();
  }

  setThen(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void> {
    const write = () => this.call(ttl ? ['SET', key, value, 'PX', String(ttl)] : ['SET', key, value], key, nothing, this.redis, onError);
    return this.budget ? this.budget.write(key, key.length + Buffer.byteLength(value), write, undefined) : write();
  }

  /** False when the key exists, or when the tenant's budget refuses the write (`overQuota: 'reject'`). */
  async add(key: string, value: Buffer, ttl?: number): Promise<boolean> {
    if (this.budget?.refusesAdd(key, key.length + value.length)) return false;
    const added = await this.call(ttl ? ['SET', key, value, 'NX', 'PX', ttl] : ['SET', key, value, 'NX'], key, isSet);
    if (added && this.budget) await this.budget.added(key, key.length + value.length);
    return added;
  }

  /**
   * With `perTenant`: the budget counters of the tenant that `key` (any physical key of the tenant) belongs to,
   * as Redis holds them now; `undefined` for a key of no tenant or without `perTenant`.
   */
  budgetOf(key: string): Promise<{ entries: number; bytes: number } | undefined> {
    return this.budget?.read(key) ?? Promise.resolve(undefined);
  }

  delete(key: string): Promise<boolean> {
    const remove = () => this.call(['UNLINK', key], key, isPositive);
    return this.budget ? this.budget.removing([key], remove) : remove();
  }

  has(key: string): Promise<boolean> {
    return this.call(['EXISTS', key], key, isPositive);
  }

  async mget(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    // A cluster spreads keys over slots: one GET each, pipelined by the client, instead of MGET.
    if (this.redis.cluster) return Promise.all(keys.map((k) => this.get(k)));
    return this.call(['MGET', ...keys], keys[0], (reply) => (reply as RedisReply[]).map(asBuffer));
  }

  async mset(entries: readonly StoreEntry[]): Promise<void> {
    await Promise.all(entries.map((e) => this.set(e.key, e.value, e.ttl)));
  }

  async mdel(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (this.redis.cluster) return (await Promise.all(keys.map((k) => this.delete(k)))).filter(Boolean).length;
    let n = 0;
    for (let i = 0; i < keys.length; i += this.batch) {
      const page = keys.slice(i, i + this.batch);
      const remove = () => this.call(['UNLINK', ...page], page[0], Number);
      n += await (this.budget ? this.budget.removing(page, remove) : remove());
    }
    return n;
  }

  incr(key: string, by: number, ttl?: number): Promise<number> {
    if (!ttl) return this.call(['INCRBY', key, by], key, Number);
    return this.call(['EVAL', INCR_WITH_TTL, 1, key, by, ttl], key, Number);
  }

  async touch(key: string, ttl?: number): Promise<boolean> {
    if (await this.call(ttl ? ['PEXPIRE', key, ttl] : ['PERSIST', key], key, isPositive)) return true;
    // PERSIST answers 0 for a key that exists without expiry.
    return ttl ? false : this.has(key);
  }

  async ttl(key: string): Promise<number | undefined> {
    const ms = await this.call(['PTTL', key], key, Number);
    if (ms === -2) return undefined;
    return ms === -1 ? Infinity : ms;
  }

  /** The nodes a keyspace walk visits (every master of a cluster), bounded by the guard like a command. */
  private scanNodes(): Promise<RedisCommander[]> {
    return this.guard.run('SCAN', () => this.redis.scanNodes());
  }

  async *scan(prefix: string, pageSize = this.batch): AsyncIterable<string[]> {
    for await (const page of this.scanPerNode(prefix, pageSize)) yield page.keys;
  }

  /** `scan`, each page with its node: the `host:port` of a cluster master (for purge reports). */
  async *scanPerNode(prefix: string, pageSize = this.batch): AsyncIterable<NodePage> {
    const match = `${escapeGlob(prefix)}*`;
    const nodes = await this.scanNodes();
    for (const [i, node] of nodes.entries()) {
      const name = node.address ?? (nodes.length === 1 ? this.name : `${this.name}#${i + 1}`);
      let cursor = '0';
      do {
        const [next, keys] = (await this.call(['SCAN', cursor, 'MATCH', match, 'COUNT', pageSize], undefined, undefined, node)) as [Buffer | string, RedisReply[]];
        cursor = String(next);
        // NOTE: COUNT is a hint: Redis may answer more (e.g. while it rehashes), and a page holds at most pageSize keys.
        for (let j = 0; j < keys.length; j += pageSize) yield { node: name, keys: keys.slice(j, j + pageSize).map((k) => String(k)) };
      } while (cursor !== '0');
    }
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    let n = 0;
    for await (const page of this.scan(prefix)) n += await this.mdel(page);
    return n;
  }

  async sadd(key: string, members: readonly string[], ttl?: number): Promise<void> {
    if (members.length === 0) return;
    for (let i = 0; i < members.length; i += this.batch) {
      await this.call(['EVAL', SADD_KEEP_LONGEST, 1, key, ttl ?? 0, ...members.slice(i, i + this.batch)], key);
    }
  }

  async *sscan(key: string, pageSize = this.batch): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, members] = (await this.call(['SSCAN', key, cursor, 'COUNT', pageSize], key)) as [Buffer | string, RedisReply[]];
      cursor = String(next);
      // NOTE: a small set answers whole, whatever COUNT says.
      for (let i = 0; i < members.length; i += pageSize) yield members.slice(i, i + pageSize).map((m) => String(m));
    } while (cursor !== '0');
  }

  takeLease(key: string, token: string, ttl: number): Promise<number> {
    return this.call(['EVAL', TAKE_LEASE, 1, key, token, Math.max(1, Math.ceil(ttl))], key, Number);
  }

  renewLease(key: string, token: string, ttl: number): Promise<boolean> {
    return this.call(['EVAL', RENEW_LEASE, 1, key, token, Math.max(1, Math.ceil(ttl))], key, isPositive);
  }

  releaseLease(key: string, token: string): Promise<boolean> {
    return this.call(['EVAL', RELEASE_LEASE, 1, key, token, LEASE_CHANNEL], key, isPositive);
  }

  private channel: LeaseChannel | undefined;
  private readonly releaseListeners = new Set<(key: string) => void>();

  watchLeases(onRelease: (key: string) => void): Promise<void> {
    if (this.leaseChannel === undefined) return Promise.reject(new Error('this Redis client cannot subscribe (no duplicate())'));
    this.releaseListeners.add(onRelease);
    // One subscription per store, opened on first use; a failed one is opened again by the next watcher.
    if (this.channel === undefined) {
      const channel = this.leaseChannel((key) => {
        for (const listener of this.releaseListeners) listener(key);
      });
      this.channel = channel;
      channel.ready.catch(() => {
        if (this.channel === channel) this.channel = undefined;
        void channel.close().catch(() => undefined);
      });
    }
    return this.channel.ready;
  }

  async flush(): Promise<void> {
    for (const node of await this.scanNodes()) await this.call(['FLUSHDB'], undefined, undefined, node);
  }

  async close(): Promise<void> {
    await this.budget?.close();
    this.guard.close();
    this.releaseListeners.clear();
    await this.channel?.close().catch(() => undefined);
    this.channel = undefined;
    if (this.ownsClient) await this.redis.quit();
  }
}

function nothing(): void {}

function isPositive(reply: RedisReply): boolean {
  return Number(reply) > 0;
}

/** `SET ... NX` answers null when the key existed. */
function isSet(reply: RedisReply): boolean {
  return reply !== null;
}

function asBuffer(reply: RedisReply): Buffer | undefined {
  if (reply === null || reply === undefined) return undefined;
  return Buffer.isBuffer(reply) ? reply : Buffer.from(String(reply));
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

const REDIS_STORE_KEYS = optionKeys<RedisStoreOptions>({
  ...RESILIENCE_KEYS,
  url: true,
  client: true,
  connectTimeout: true,
  maxValueBytes: true,
  dedicatedTenant: true,
  batchSize: true,
  perTenant: true,
  overQuota: true,
  budgetWindow: true,
});
const CONNECTION = 'Write `url: "redis://[user:password@]host:port[/db]"`, or hand in a client you configured (`client`).';

/**
 * A Redis (or Valkey) store: `redisStore({ url })` creates and owns a node-redis client; `redisStore({ client })`
 * uses yours (node-redis v5 or ioredis, e.g. the one BullMQ already runs).
 *
 * @example
 * TenantCacheModule.forRoot({ stores: { default: redisStore({ url: process.env.REDIS_URL }) } })
 */
export function redisStore(options: RedisStoreOptions): StoreDefinition {
  assertStoreOptions('redisStore', options, REDIS_STORE_KEYS, {
    host: CONNECTION,
    port: CONNECTION,
    password: CONNECTION,
    username: CONNECTION,
    db: CONNECTION,
    database: CONNECTION,
    socket: CONNECTION,
  });
  if (!options || (options.url === undefined) === (options.client === undefined)) {
    throw new TypeError('redisStore() takes exactly one of { url } or { client }.');
  }
  assertQuotaOptions('redisStore', options.perTenant, options.overQuota);
  if (options.budgetWindow !== undefined && !(typeof options.budgetWindow === 'number' && options.budgetWindow >= 1000 && Number.isFinite(options.budgetWindow))) {
    throw new InvalidOptionsError('redisStore.budgetWindow', `is ${String(options.budgetWindow)}`, 'Give a number of milliseconds, at least 1000 (default 3,600,000).');
  }
  for (const name of ['connectTimeout', 'commandTimeout'] as const) {
    const value = options[name];
    // NOTE: 0 does not mean "no timeout" here: an unbounded connect or command is what these options prevent.
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new InvalidOptionsError(
        `redisStore({ ${name} })`,
        `is ${String(value)}`,
        `Give a number of milliseconds above 0 (default ${name === 'connectTimeout' ? 2000 : 1000}).`,
      );
    }
  }
  // NOTE: loading node-redis takes a few hundred ms: start while the app boots, not in the first request.
  const clientModule = options.url === undefined ? undefined : import('@redis/client');
  clientModule?.catch(() => {}); // a missing package fails create(), with its own message
  return {
    create: async (alias, context) => {
      // NOTE: never waits for Redis: a store of its own connects in the background (see RedisConnection).
      const commander = options.client
        ? toCommander(options.client)
        : (
            await openRedisConnection(
              options.url!,
              {
                alias,
                target: redact(options.url!),
                connectTimeout: options.connectTimeout ?? 2000,
                commandTimeout: options.commandTimeout ?? 1000,
              },
              clientModule,
            )
          ).commander;
      const leases = options.client
        ? clientLeaseChannel(options.client)
        : ownedLeaseChannel(options.url!, options.connectTimeout ?? 2000, options.commandTimeout ?? 1000);
      return new RedisStore(alias, commander, !options.client, options, context, leases);
    },
    dedicatedTenant: options.dedicatedTenant,
    description: `redisStore(${options.url ? redact(options.url) : 'client'})`,
    // NOTE: for a tier in front of this store (tieredStore), which opens its pub/sub connections alike.
    ...redisSourceMember({ url: options.url, client: options.client, connectTimeout: options.connectTimeout ?? 2000, commandTimeout: options.commandTimeout ?? 1000 }),
  };
}
