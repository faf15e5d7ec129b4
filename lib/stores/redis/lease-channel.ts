import { CLOSE_DRAIN_MAX_MS, RedisConnection, createOwnedClient } from './redis-connection.js';

/** The pub/sub channel lease releases are published on: the message is the released lease key (unique to its app, store and tenant). */
export const LEASE_CHANNEL = 'tenant-cache:lease-released';

/**
 * The subscription of one Redis store to lease releases: opened on first use, on a connection of its own
 * (a subscribed connection runs no other command). Messages are at-most-once: a waiter that misses one wakes
 * when the lease it waits for expires (see `ClusterFlight`).
 */
export interface LeaseChannel {
  /** Resolves once subscribed; rejects when the subscription cannot be made now. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** How a channel is opened for the store's client: by URL (a connection of the store's own) or by duplicating a handed-in client. */
export type LeaseChannelOpener = (onRelease: (leaseKey: string) => void) => LeaseChannel;

interface NodeRedisLike {
  isOpen?: boolean;
  isReady?: boolean;
  destroy?(): void;
  connect(): Promise<unknown>;
  duplicate(overrides?: object): NodeRedisLike;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

interface IoredisLike {
  status: string;
  duplicate(): IoredisLike;
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

/** The opener for a store of its own (`redisStore({ url })`): a `RedisConnection` that subscribes on every (re)connect. */
export function ownedLeaseChannel(url: string, target: string, connectTimeout: number, commandTimeout: number): LeaseChannelOpener {
  return (onRelease) => {
    let closed = false;
    let connection: RedisConnection | undefined;
    const ready = (async () => {
      const { client, abort } = await createOwnedClient(url, connectTimeout);
      connection = new RedisConnection(client, abort, {
        alias: 'leases',
        target,
        connectTimeout,
        commandTimeout,
        name: 'The cluster single-flight (lease wake-ups)',
        whileDown: 'waiters for a lease wake when it expires until it can',
      });
      if (closed) return void (await connection.close());
      const subscribe = () => client.subscribe(LEASE_CHANNEL, onRelease);
      connection.commander.onConnect?.(() => void subscribe().catch(() => undefined));
      if (!(await connection.attempted())) throw new Error(`not connected to ${target}`);
      await subscribe();
    })();
    ready.catch(() => undefined);
    return {
      ready,
      close: async () => {
        closed = true;
        await connection?.close();
      },
    };
  };
}

/** The opener for a handed-in client (node-redis client or cluster, ioredis client or cluster): its duplicate subscribes. */
export function clientLeaseChannel(client: object): LeaseChannelOpener | undefined {
  if ('status' in client && typeof (client as IoredisLike).duplicate === 'function') {
    return (onRelease) => {
      const subscriber = (client as IoredisLike).duplicate();
      subscriber.on('error', () => undefined);
      subscriber.on('message', (channel, message) => {
        if (channel === LEASE_CHANNEL) onRelease(message);
      });
      const ready = subscriber.subscribe(LEASE_CHANNEL).then(() => undefined);
      ready.catch(() => undefined);
      return {
        ready,
        close: async () => {
          await bounded(subscriber.quit());
          subscriber.disconnect?.();
        },
      };
    };
  }
  if (typeof (client as NodeRedisLike).duplicate === 'function') {
    return (onRelease) => {
      const subscriber = (client as NodeRedisLike).duplicate();
      subscriber.on('error', () => undefined);
      const ready = subscriber.connect().then(() => subscriber.subscribe(LEASE_CHANNEL, onRelease).then(() => undefined));
      ready.catch(() => undefined);
      return {
        ready,
        close: async () => {
          if (subscriber.isOpen === false) return;
          if (subscriber.isReady === false && subscriber.destroy) return void subscriber.destroy();
          await bounded((subscriber.close ?? subscriber.quit)?.call(subscriber));
          try {
            subscriber.destroy?.();
          } catch {
            // closed already
          }
        },
      };
    };
  }
  return undefined;
}
