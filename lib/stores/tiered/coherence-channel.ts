import { RedisConnection, createOwnedClient } from '../redis/redis-connection.js';
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

/** Longest `close()` waits for a handed-in client's duplicate to quit, ms. */
const CLOSE_WAIT_MS = 500;

/**
 * Opens the pub/sub connections of a tier over the Redis its L2 uses: with `url`, two connections of its own
 * driven like the store's (`RedisConnection`: bounded connects, background reconnects, `close()` bounded);
 * with a handed-in client, a duplicate of it for subscribing (its own reconnect loop) and the client itself
 * for publishing.
 */
export async function openCoherenceChannel(source: RedisSource, channel: string, alias: string, listener: ChannelListener): Promise<CoherenceChannel> {
  if (source.url !== undefined) return ownedChannel(source.url, source, channel, alias, listener);
  const client = source.client as Record<string, unknown>;
  if (typeof client.callBuffer === 'function' && typeof client.duplicate === 'function')
    return ioredisChannel(client as unknown as IoredisLike, source, channel, listener);
  if (typeof client.duplicate === 'function') return nodeRedisChannel(client as unknown as NodeRedisLike, source, channel, listener);
  throw new TypeError('tieredStore: the L2 client cannot be duplicated for pub/sub (give redisStore a node-redis v5 or ioredis client, or a url).');
}

async function ownedChannel(url: string, source: RedisSource, channel: string, alias: string, listener: ChannelListener): Promise<CoherenceChannel> {
  const target = url.replace(/\/\/[^@/]*@/, '//***@');
  const common = { alias, target, connectTimeout: source.connectTimeout, commandTimeout: source.commandTimeout };
  const pub = await createOwnedClient(url, source.connectTimeout);
  const publisher = new RedisConnection(pub.client, pub.abort, {
    ...common,
    name: `The L1 coherence channel of "${alias}" (publishing)`,
    whileDown: "other instances are not told of this one's writes until it can (their L1 is cleared when it is back)",
  });
  const sub = await createOwnedClient(url, source.connectTimeout);
  const subscriber = new RedisConnection(sub.client, sub.abort, {
    ...common,
    name: `The L1 coherence channel of "${alias}" (subscribing)`,
    whileDown: 'its L1 is bypassed (reads go to Redis) until it can',
  });
  let closed = false;
  const onMessage = (message: string) => listener.message(message);
  const lost = () => {
    if (!sub.client.isReady) listener.down();
  };
  sub.client.on('error', lost);
  sub.client.on('end', () => listener.down());
  subscriber.commander.onConnect?.(() => {
    sub.client.subscribe(channel, onMessage).then(
      () => {
        if (!closed && sub.client.isReady) listener.up();
      },
      () => listener.down(),
    );
  });
  return {
    publish: async (message) => {
      await publisher.commander.call(['PUBLISH', channel, message]);
    },
    close: async () => {
      closed = true;
      listener.down();
      await Promise.all([subscriber.close(), publisher.close()]);
    },
  };
}

interface NodeRedisLike {
  isReady?: boolean;
  isOpen?: boolean;
  duplicate(overrides?: object): NodeRedisLike;
  connect(): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
}

/** A node-redis v5 client or cluster: its duplicate subscribes (node-redis reconnects it and subscribes again). */
async function nodeRedisChannel(client: NodeRedisLike, source: RedisSource, channel: string, listener: ChannelListener): Promise<CoherenceChannel> {
  const sub = client.duplicate();
  let closed = false;
  const onMessage = (message: string) => listener.message(message);
  const subscribe = () => {
    sub.subscribe(channel, onMessage).then(
      () => {
        if (!closed) listener.up();
      },
      () => listener.down(),
    );
  };
  sub.on('error', () => {
    if (sub.isReady !== true) listener.down();
  });
  sub.on('end', () => listener.down());
  sub.on('reconnecting', () => listener.down());
  // NOTE: a cluster has no 'ready' event of its own: it subscribes once connected, below.
  sub.on('ready', () => subscribe());
  sub.connect().then(subscribe, () => listener.down());
  return {
    publish: (message) => bounded(client.publish(channel, message), source.commandTimeout, true),
    close: async () => {
      closed = true;
      listener.down();
      if (sub.isReady === false && sub.destroy) return void sub.destroy();
      await bounded((sub.close ?? sub.quit)?.call(sub), CLOSE_WAIT_MS, false);
      try {
        sub.destroy?.();
      } catch {
        // Closed already.
      }
    },
  };
}

interface IoredisLike {
  status: string;
  duplicate(): IoredisLike;
  publish(channel: string, message: string): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect?(): void;
}

/** An ioredis client or cluster: its duplicate subscribes (ioredis reconnects it and subscribes again). */
async function ioredisChannel(client: IoredisLike, source: RedisSource, channel: string, listener: ChannelListener): Promise<CoherenceChannel> {
  const sub = client.duplicate();
  let closed = false;
  sub.on('message', (ch: unknown, message: unknown) => {
    if (String(ch) === channel) listener.message(String(message));
  });
  const subscribe = () => {
    sub.subscribe(channel).then(
      () => {
        if (!closed) listener.up();
      },
      () => listener.down(),
    );
  };
  sub.on('error', () => undefined);
  sub.on('close', () => listener.down());
  sub.on('reconnecting', () => listener.down());
  sub.on('ready', () => subscribe());
  if (sub.status === 'ready') subscribe();
  return {
    publish: (message) => bounded(client.publish(channel, message), source.commandTimeout, true),
    close: async () => {
      closed = true;
      listener.down();
      await bounded(sub.quit(), CLOSE_WAIT_MS, false);
      sub.disconnect?.();
    },
  };
}

/** Waits for `promise` at most `ms`: then rejects (`fail`) or resolves; leaves no timer. */
async function bounded(promise: Promise<unknown> | undefined, ms: number, fail: boolean): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve, reject) => {
    timer = setTimeout(() => (fail ? reject(new Error(`no answer within ${ms} ms`)) : resolve()), ms);
  });
  try {
    await Promise.race([fail ? promise : promise?.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
