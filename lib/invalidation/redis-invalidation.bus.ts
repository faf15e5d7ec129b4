import type { InvalidationBusDefinition, InvalidationTransport } from './invalidation-bus.js';

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
  connect(): Promise<unknown>;
  duplicate(): NodeRedisLike;
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
        return nodeRedisTransport(client as NodeRedisLike, false, channel);
      }
      if (client) throw new TypeError('redisInvalidationBus({ client }) takes a node-redis v5 or ioredis client.');
      const { createClient } = await import('@redis/client');
      const own = createClient({ url: options.url, socket: { connectTimeout: 2000 } }) as unknown as NodeRedisLike;
      own.on('error', () => undefined);
      await own.connect();
      return nodeRedisTransport(own, true, channel);
    },
  };
}

async function nodeRedisTransport(publisher: NodeRedisLike, owned: boolean, channel: string): Promise<InvalidationTransport> {
  const subscriber = publisher.duplicate();
  subscriber.on('error', () => undefined);
  await subscriber.connect();
  const quit = async (c: NodeRedisLike) => {
    if (c.isOpen === false) return;
    await (c.close ?? c.quit)?.call(c);
  };
  return {
    publish: async (message) => {
      await publisher.publish(channel, message);
    },
    subscribe: async (onMessage) => {
      await subscriber.subscribe(channel, onMessage);
    },
    close: async () => {
      await quit(subscriber);
      if (owned) await quit(publisher);
    },
  };
}

async function ioredisTransport(publisher: IoredisLike, channel: string): Promise<InvalidationTransport> {
  const subscriber = publisher.duplicate();
  subscriber.on('error', () => undefined);
  return {
    publish: async (message) => {
      await publisher.publish(channel, message);
    },
    subscribe: async (onMessage) => {
      subscriber.on('message', (ch, message) => {
        if (ch === channel) onMessage(message);
      });
      await subscriber.subscribe(channel);
    },
    close: async () => {
      await subscriber.quit();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
