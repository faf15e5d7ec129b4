import { openPublisher, openSubscriber, pubSubClientKind } from '../redis/redis-pubsub.js';
import type { RedisSource } from '../redis/redis-source.js';

/** What the channel tells its tier. */
export interface ChannelListener {
  /** A message another process (or this one) published. */
  message(text: string): void;
  /** The subscription is in place (the first time, or again after a lost connection). */
  up(): void;
  /** The subscriber cannot receive messages any more (connection lost or closed). */
  down(): void;
}

/** The pub/sub of one tier: publishing is bounded; `close()` returns whatever the state of Redis. */
export interface CoherenceChannel {
  publish(message: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the pub/sub connections of a tier over the Redis its L2 uses (see `redis-pubsub.ts`): with `url`, two
 * connections of its own driven like the store's; with a handed-in client, a duplicate of it for subscribing
 * and the client itself for publishing (bounded by the store's `commandTimeout`). The listener hears when the
 * subscription is in place and when it is lost: the tier bypasses its L1 meanwhile.
 */
export async function openCoherenceChannel(source: RedisSource, channel: string, alias: string, listener: ChannelListener): Promise<CoherenceChannel> {
  if (source.url === undefined && (source.client === undefined || pubSubClientKind(source.client) === undefined)) {
    throw new TypeError('tieredStore: the L2 client cannot be duplicated for pub/sub (give redisStore a node-redis v5 or ioredis client, or a url).');
  }
  const name = `The L1 coherence channel of "${alias}"`;
  const publisher = await openPublisher(
    source,
    { alias, name: `${name} (publishing)`, whileDown: "other instances are not told of this one's writes until it can (their L1 is cleared when it is back)" },
    source.commandTimeout,
  );
  const subscriber = openSubscriber(
    source,
    channel,
    { alias, name: `${name} (subscribing)`, whileDown: 'its L1 is bypassed (reads go to Redis) until it can' },
    listener,
  );
  return {
    publish: async (message) => {
      await publisher.publish(channel, message);
    },
    close: async () => {
      await Promise.all([subscriber.close(), publisher.close()]);
    },
  };
}
