import { type RedisSubscriber, openSubscriber, pubSubClientKind } from './redis-pubsub.js';

/** The pub/sub channel lease releases are published on: the message is the released lease key (unique to its app, store and tenant). */
export const LEASE_CHANNEL = 'tenant-cache:lease-released';

/**
 * The subscription of one Redis store to lease releases: opened on first use, on a connection of its own
 * (a subscribed connection runs no other command). Messages are at-most-once: a waiter that misses one wakes
 * when the lease it waits for expires (see `ClusterFlight`).
 */
export type LeaseChannel = Pick<RedisSubscriber, 'ready' | 'close'>;

/** How a channel is opened for the store's client: by URL (a connection of the store's own) or by duplicating a handed-in client. */
export type LeaseChannelOpener = (onRelease: (leaseKey: string) => void) => LeaseChannel;

const LABELS = {
  alias: 'leases',
  name: 'The cluster single-flight (lease wake-ups)',
  whileDown: 'waiters for a lease wake when it expires until it can',
};

/** The opener for a store of its own (`redisStore({ url })`): a `RedisConnection` that subscribes on every (re)connect. */
export function ownedLeaseChannel(url: string, connectTimeout: number, commandTimeout: number): LeaseChannelOpener {
  return (onRelease) => openSubscriber({ url, connectTimeout, commandTimeout }, LEASE_CHANNEL, LABELS, { message: onRelease });
}

/** The opener for a handed-in client (node-redis client or cluster, ioredis client or cluster): its duplicate subscribes. */
export function clientLeaseChannel(client: object): LeaseChannelOpener | undefined {
  if (pubSubClientKind(client) === undefined) return undefined;
  return (onRelease) => openSubscriber({ client }, LEASE_CHANNEL, LABELS, { message: onRelease });
}
