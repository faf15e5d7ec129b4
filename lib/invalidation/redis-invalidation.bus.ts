import { Logger } from '@nestjs/common';
import type { InvalidationBusDefinition, InvalidationTransport } from './invalidation-bus.js';
import { busUnreachable } from './invalidation.messages.js';

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
      const own = createClient({
        url: options.url,
        // Publishing fails at once while disconnected (a dead Redis must not hold up invalidations).
        disableOfflineQueue: true,
        socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5000) },
      }) as unknown as NodeRedisLike;
      own.on('error', () => undefined);
      // NOTE: not waited for past the connect timeout: the client keeps reconnecting in the background,
      // and until then other instances are not told (logged).
      const connecting = own.connect().then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      const outcome = await Promise.race([connecting, new Promise<Error>((r) => setTimeout(() => r(new Error('connect timed out')), 2000).unref())]);
      if (outcome) new Logger('TenantCache').warn(busUnreachable(redact(options.url!), outcome));
      return nodeRedisTransport(own, true, channel);
    },
  };
}

async function nodeRedisTransport(publisher: NodeRedisLike, owned: boolean, channel: string): Promise<InvalidationTransport> {
  // The subscriber queues SUBSCRIBE until it is connected, and node-redis subscribes again after a reconnect.
  const subscriber = publisher.duplicate({ disableOfflineQueue: false });
  subscriber.on('error', () => undefined);
  subscriber.connect().catch(() => undefined);
  const quit = async (c: NodeRedisLike) => {
    if (c.isOpen === false) return;
    // A client still reconnecting is dropped at once (a graceful close would wait for Redis).
    if (c.isReady === false && c.destroy) return void c.destroy();
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
