import { CLOSE_DRAIN_MAX_MS, RedisConnection, createOwnedClient } from '../stores/redis/redis-connection.js';
import type { InvalidationBusDefinition, InvalidationTransport } from './invalidation-bus.js';

/** Bound of one connection attempt of the bus's own connections, ms. */
const BUS_CONNECT_TIMEOUT_MS = 2000;
/** The bus's bound on a publish (the host waits as long); `close()` waits at most `min(this, CLOSE_DRAIN_MAX_MS)`. */
const BUS_COMMAND_TIMEOUT_MS = 1000;

/** Options of `redisInvalidationBus`. */
export interface RedisInvalidationBusOptions {
  /** `redis://host:port`; the bus opens two node-redis connections (publish, subscribe). */
  url?: string;
  /** A node-redis v5 or ioredis client you have; the bus duplicates it for subscribing and closes only the duplicate. */
  client?: object;
  /** Pub/sub channel; default `<keyPrefix>invalidation`. Instances of one application share it. */
  channel?: string;
  /** Store aliases whose invalidations travel. Default: every store that is not shared (memory). */
  stores?: readonly string[];
}

interface NodeRedisLike {
  isOpen?: boolean;
  isReady?: boolean;
  destroy?(): void;
  connect(): Promise<unknown>;
  duplicate(overrides?: object): NodeRedisLike;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

interface IoredisLike {
  status: string;
  duplicate(): IoredisLike;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  quit(): Promise<unknown>;
  disconnect?(): void;
}

/** Waits for `promise` (its failure ignored) at most `CLOSE_DRAIN_MAX_MS`, leaving no timer. */
async function bounded(promise: Promise<unknown> | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise?.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_DRAIN_MAX_MS)))]);
  clearTimeout(timer);
}

/**
 * The cross-instance invalidation bus over Redis pub/sub: every instance publishes the invalidations
 * it does (keys, prefixes, partitions, tags, whole tenants) and applies the others', so memory stores
 * of several instances drop the same entries. Messages are small JSON; an instance ignores its own.
 * Pub/sub is at-most-once: an instance that is disconnected when a message passes keeps its entry
 * until it expires, so keep TTLs on memory-cached data.
 *
 * @example
 * TenantCacheModule.forRoot({ invalidation: { bus: redisInvalidationBus({ url: process.env.REDIS_URL }) } })
 */
export function redisInvalidationBus(options: RedisInvalidationBusOptions): InvalidationBusDefinition {
  if (!options || (options.url === undefined) === (options.client === undefined)) {
    throw new TypeError('redisInvalidationBus() takes exactly one of { url } or { client }.');
  }
  if (options.channel !== undefined && (typeof options.channel !== 'string' || options.channel.length === 0)) {
    throw new TypeError('redisInvalidationBus({ channel }) must be a non-empty string.');
  }
  return {
    description: `redisInvalidationBus(${options.url ? redact(options.url) : 'client'})`,
    stores: options.stores,
    create: async (defaultChannel) => {
      const channel = options.channel ?? defaultChannel;
      const client = options.client;
      if (client && 'status' in client && typeof (client as IoredisLike).duplicate === 'function') return ioredisTransport(client as IoredisLike, channel);
      if (client && typeof (client as NodeRedisLike).duplicate === 'function') {
        return nodeRedisTransport(client as NodeRedisLike, channel);
      }
      if (client) throw new TypeError('redisInvalidationBus({ client }) takes a node-redis v5 or ioredis client.');
      return ownedTransport(options.url!, channel);
    },
  };
}

/**
 * The bus's own two connections (publish, subscribe), driven like the Redis store's (`RedisConnection`): each
 * connect attempt bounded, reconnecting in the background with a back-off of at most 1 s on a timer `close()`
 * clears, publishing failing at once while disconnected, and `close()` bounded whatever the state of Redis.
 * node-redis subscribes again on every reconnect once a subscription is in place; until the first one is, each
 * connect subscribes (a repeated SUBSCRIBE of the same listener is a no-op).
 */
async function ownedTransport(url: string, channel: string): Promise<InvalidationTransport> {
  const target = redact(url);
  const common = { alias: 'invalidation bus', target, connectTimeout: BUS_CONNECT_TIMEOUT_MS, commandTimeout: BUS_COMMAND_TIMEOUT_MS };
  const pub = await createOwnedClient(url, BUS_CONNECT_TIMEOUT_MS);
  const publisher = new RedisConnection(pub.client, pub.abort, {
    ...common,
    name: 'The invalidation bus (publishing)',
    whileDown: 'other instances are not told of invalidations until it can',
  });
  const sub = await createOwnedClient(url, BUS_CONNECT_TIMEOUT_MS);
  const subscriber = new RedisConnection(sub.client, sub.abort, {
    ...common,
    name: 'The invalidation bus (subscribing)',
    whileDown: "this instance misses other instances' invalidations until it can",
  });
  let listener: ((message: string) => void) | undefined;
  let subscribed: (() => void) | undefined;
  const subscribe = async () => {
    if (!listener) return;
    await sub.client.subscribe(channel, listener);
    subscribed?.();
  };
  subscriber.commander.onConnect?.(() => void subscribe().catch(() => undefined));
  // Start-up waits for the first attempts only (each bounded by the connect timeout); a failure is logged by the connection.
  const [, subscriberUp] = await Promise.all([publisher.attempted(), subscriber.attempted()]);
  return {
    publish: async (message) => Number(await publisher.commander.call(['PUBLISH', channel, message], undefined)),
    subscribe: (onMessage) => {
      listener = onMessage;
      // Not connected: do not hold start-up; the subscription is made when the connection comes up (logged already).
      if (!subscriberUp && !subscriber.ready) return Promise.reject(new Error(`not connected to ${target}`));
      return new Promise<void>((resolve, reject) => {
        subscribed = resolve;
        subscribe().catch(reject);
      });
    },
    close: async () => {
      await Promise.all([subscriber.close(), publisher.close()]);
    },
  };
}

/** A handed-in node-redis client publishes; its duplicate (ours, closed with the bus) subscribes. */
async function nodeRedisTransport(publisher: NodeRedisLike, channel: string): Promise<InvalidationTransport> {
  // The subscriber queues SUBSCRIBE until it is connected, and node-redis subscribes again after a reconnect.
  const subscriber = publisher.duplicate({ disableOfflineQueue: false });
  subscriber.on('error', () => undefined);
  subscriber.connect().catch(() => undefined);
  const quit = async (c: NodeRedisLike) => {
    if (c.isOpen === false) return;
    // A client still reconnecting is dropped at once (a graceful close would wait for Redis).
    if (c.isReady === false && c.destroy) return void c.destroy();
    // A frozen Redis never answers QUIT: wait a bounded time, then drop the connection.
    await bounded((c.close ?? c.quit)?.call(c));
    try {
      c.destroy?.();
    } catch {
      // Closed already (node-redis throws when destroying a closed client).
    }
  };
  return {
    publish: async (message) => Number(await publisher.publish(channel, message)),
    subscribe: async (onMessage) => {
      await subscriber.subscribe(channel, onMessage);
    },
    close: async () => {
      await quit(subscriber);
    },
  };
}

async function ioredisTransport(publisher: IoredisLike, channel: string): Promise<InvalidationTransport> {
  const subscriber = publisher.duplicate();
  subscriber.on('error', () => undefined);
  return {
    publish: async (message) => Number(await publisher.publish(channel, message)),
    subscribe: async (onMessage) => {
      subscriber.on('message', (ch, message) => {
        if (ch === channel) onMessage(message);
      });
      await subscriber.subscribe(channel);
    },
    close: async () => {
      // Bounded, then dropped: QUIT waits for a Redis that may be frozen.
      await bounded(subscriber.quit());
      subscriber.disconnect?.();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
