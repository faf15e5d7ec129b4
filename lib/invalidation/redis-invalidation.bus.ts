import { type PubSubSource, openPublisher, openSubscriber, pubSubClientKind, redactUrl } from '../stores/redis/redis-pubsub.js';
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
    description: `redisInvalidationBus(${options.url ? redactUrl(options.url) : 'client'})`,
    stores: options.stores,
    create: async (defaultChannel) => {
      if (options.client && pubSubClientKind(options.client) === undefined) {
        throw new TypeError('redisInvalidationBus({ client }) takes a node-redis v5 or ioredis client.');
      }
      return openTransport(
        { url: options.url, client: options.client, connectTimeout: BUS_CONNECT_TIMEOUT_MS, commandTimeout: BUS_COMMAND_TIMEOUT_MS },
        options.channel ?? defaultChannel,
      );
    },
  };
}

/**
 * The bus's publisher and subscriber (see `redis-pubsub.ts`): with a `url`, two connections of its own, each
 * connect attempt bounded, reconnecting in the background and subscribing again on every reconnect; with a
 * handed-in client, the client publishes and its duplicate (ours, closed with the bus) subscribes. Start-up
 * waits for the first connection attempts only (each bounded by the connect timeout; a failure is logged by
 * the connection), not for Redis.
 */
async function openTransport(source: PubSubSource, channel: string): Promise<InvalidationTransport> {
  let listener: ((message: string) => void) | undefined;
  const publisher = await openPublisher(source, {
    alias: 'invalidation bus',
    name: 'The invalidation bus (publishing)',
    whileDown: 'other instances are not told of invalidations until it can',
  });
  const subscriber = openSubscriber(
    source,
    channel,
    {
      alias: 'invalidation bus',
      name: 'The invalidation bus (subscribing)',
      whileDown: "this instance misses other instances' invalidations until it can",
    },
    { message: (message) => listener?.(message) },
  );
  await Promise.all([publisher.attempted(), subscriber.attempted()]);
  return {
    publish: (message) => publisher.publish(channel, message),
    subscribe: (onMessage) => {
      listener = onMessage;
      // Not connected: rejects without holding start-up; the subscription is made when the connection comes up.
      return subscriber.ready;
    },
    close: async () => {
      await Promise.all([subscriber.close(), publisher.close()]);
    },
  };
}
