import type { RedisClientType } from '@redis/client';
import { CLOSE_DRAIN_MAX_MS, RedisConnection, ownedClientFactory } from './redis-connection.js';

/**
 * Redis pub/sub for the parts of the library that talk across instances (the invalidation bus, a tier's L1
 * coherence channel, the lease wake-ups of the cluster single-flight). A subscriber runs on a connection of
 * its own (a subscribed connection runs no other command):
 *
 * - with a `url`, a node-redis connection driven like the store's (`RedisConnection`: bounded connects,
 *   background reconnects on a timer `close()` clears, `close()` bounded), subscribing again on every connect;
 * - with a handed-in node-redis v5 or ioredis client (or cluster), a duplicate of it (ours, closed with the
 *   subscriber; the client library reconnects it and subscribes again), the client itself publishing.
 *
 * Messages are at-most-once: a subscriber that is disconnected when a message passes never gets it.
 */

/** Where pub/sub connects: a URL (connections of its own) or a handed-in client (duplicated to subscribe). */
export interface PubSubSource {
  readonly url?: string;
  readonly client?: object;
  /** Bound of one connection attempt of an owned connection, ms; default 2000 (as `redisStore`). */
  readonly connectTimeout?: number;
  /** Bound of one command (a publish) on an owned connection, ms; default 1000 (as `redisStore`). */
  readonly commandTimeout?: number;
}

/** The `RedisConnection` options of an owned connection to `url`. */
function connectionOptions(url: string, source: PubSubSource, labels: PubSubLabels) {
  return { ...labels, target: redactUrl(url), connectTimeout: source.connectTimeout ?? 2000, commandTimeout: source.commandTimeout ?? 1000 };
}

/** What an owned connection is called in its log lines (see `RedisConnectionOptions`). */
export interface PubSubLabels {
  alias: string;
  name: string;
  whileDown: string;
}

/** What a subscriber tells its user. */
export interface SubscriberEvents {
  /** A message published on the channel (by any process, this one included). */
  message(text: string): void;
  /** The subscription is in place (the first time, or again after it was lost). */
  up?(): void;
  /** The subscriber cannot receive messages any more (connection lost or closed). */
  down?(): void;
}

/** One subscription to one channel. */
export interface RedisSubscriber {
  /** Resolves once first subscribed; rejects when the first attempt fails (it keeps trying in the background). */
  readonly ready: Promise<void>;
  /** Resolves once the first connection attempt of an owned connection has settled (at once for a duplicate). */
  attempted(): Promise<unknown>;
  /** Returns within about `CLOSE_DRAIN_MAX_MS`, whatever the state of Redis; tells `down`. */
  close(): Promise<void>;
}

/** Publishing on a channel. */
export interface RedisPublisher {
  /** PUBLISH's answer: how many subscribers got the message. */
  publish(channel: string, message: string): Promise<number>;
  /** Resolves once the first connection attempt of an owned connection has settled (at once for a handed-in client). */
  attempted(): Promise<unknown>;
  /** Closes an owned connection (bounded); a handed-in client is left alone. */
  close(): Promise<void>;
}

/** The client library of a handed-in client that can be duplicated for subscribing; `undefined` when it cannot. */
export function pubSubClientKind(client: object): 'ioredis' | 'node-redis' | undefined {
  const c = client as { status?: unknown; callBuffer?: unknown; duplicate?: unknown };
  if (typeof c.duplicate !== 'function') return undefined;
  return 'status' in c || typeof c.callBuffer === 'function' ? 'ioredis' : 'node-redis';
}

/**
 * Subscribes to `channel`, now, in the background: `ready` says when it is in place. Throws a `TypeError` for
 * a handed-in client that cannot be duplicated (see `pubSubClientKind`).
 */
export function openSubscriber(source: PubSubSource, channel: string, labels: PubSubLabels, listener: SubscriberEvents): RedisSubscriber {
  const events = new SubscriptionState(listener);
  if (source.url !== undefined) return ownedSubscriber(source.url, source, channel, labels, events);
  const kind = source.client ? pubSubClientKind(source.client) : undefined;
  if (kind === 'ioredis') return ioredisSubscriber(source.client as IoredisLike, channel, events);
  if (kind === 'node-redis') return nodeRedisSubscriber(source.client as NodeRedisLike, channel, events);
  throw new TypeError('this Redis client cannot be duplicated for pub/sub (give a node-redis v5 or ioredis client, or a url)');
}

/**
 * Publishes on a connection of its own (`url`; each publish bounded like a store command) or through the
 * handed-in client (bounded by `clientTimeout` when given: a client's own command may wait for a reconnect).
 */
export async function openPublisher(source: PubSubSource, labels: PubSubLabels, clientTimeout?: number): Promise<RedisPublisher> {
  if (source.url === undefined) {
    const client = source.client as { publish(channel: string, message: string): Promise<unknown> };
    return {
      publish: async (channel, message) => {
        const sent = client.publish(channel, message);
        return Number(clientTimeout === undefined ? await sent : await bounded(sent, clientTimeout, true));
      },
      attempted: async () => undefined,
      close: async () => undefined,
    };
  }
  const options = connectionOptions(source.url, source, labels);
  const connection = new RedisConnection(await ownedClientFactory(source.url, options.connectTimeout), options);
  return {
    publish: async (channel, message) => Number(await connection.commander.call(['PUBLISH', channel, message], undefined)),
    attempted: () => connection.attempted(),
    close: () => connection.close(),
  };
}

/** `url` without its credentials, for log lines and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** A node-redis connection of its own (`RedisConnection`), subscribing on every (re)connect (each on a client of its own). */
function ownedSubscriber(url: string, source: PubSubSource, channel: string, labels: PubSubLabels, events: SubscriptionState): RedisSubscriber {
  const options = connectionOptions(url, source, labels);
  let connection: RedisConnection | undefined;
  const onMessage = (message: string) => events.message(message);
  const opened = ownedClientFactory(url, options.connectTimeout).then((create) => {
    // Every client the connection makes (one per attempt) tells when the subscription is lost.
    const watched = (signal: AbortSignal): RedisClientType => {
      const client = create(signal);
      client.on('error', () => {
        if (!client.isReady) events.down();
      });
      client.on('end', () => events.down());
      return client;
    };
    connection = new RedisConnection(watched, options);
    return connection;
  });
  const ready = (async () => {
    const connection = await opened;
    if (events.closed) return void (await connection.close());
    const subscribe = () => {
      const client = connection.client;
      return events.confirm(client.subscribe(channel, onMessage), () => client.isReady);
    };
    // NOTE: a repeated SUBSCRIBE of the same listener is a no-op for node-redis.
    connection.commander.onConnect?.(() => void subscribe().catch(() => undefined));
    if (!(await connection.attempted())) throw new Error(`not connected to ${options.target}`);
    await subscribe();
  })();
  ready.catch(() => undefined);
  return {
    ready,
    attempted: () => opened.then((connection) => connection.attempted()),
    close: async () => {
      events.close();
      await connection?.close();
    },
  };
}

interface NodeRedisLike {
  isOpen?: boolean;
  isReady?: boolean;
  destroy?(): void;
  connect(): Promise<unknown>;
  duplicate(): NodeRedisLike;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

/** A node-redis v5 client or cluster: its duplicate subscribes once connected and after each reconnect. */
function nodeRedisSubscriber(client: NodeRedisLike, channel: string, events: SubscriptionState): RedisSubscriber {
  const sub = client.duplicate();
  const onMessage = (message: string) => events.message(message);
  const subscribe = () => events.confirm(sub.subscribe(channel, onMessage));
  // NOTE: node-redis throws an 'error' event that has no listener.
  sub.on('error', () => {
    if (sub.isReady !== true) events.down();
  });
  sub.on('end', () => events.down());
  // NOTE: a cluster has no 'ready' event of its own: it subscribes once connected.
  const ready = sub.connect().then(subscribe, (error: unknown) => {
    events.down();
    throw error;
  });
  return duplicateSubscriber(sub, events, subscribe, ready, async () => {
    if (sub.isOpen === false) return;
    // A client still reconnecting is dropped at once (a graceful close would wait for Redis); a frozen Redis
    // never answers QUIT: wait a bounded time, then drop the connection.
    if (sub.isReady !== false || !sub.destroy) await bounded((sub.close ?? sub.quit)?.call(sub), CLOSE_DRAIN_MAX_MS, false);
    destroyQuietly(sub);
  });
}

/** Drops a node-redis client or cluster at once, in whatever state it is: never throws. */
function destroyQuietly(sub: NodeRedisLike): void {
  if (sub.isOpen === false) return;
  try {
    sub.destroy?.();
  } catch {
    // Closed meanwhile (node-redis throws when destroying a closed client).
  }
}

interface IoredisLike {
  status: string;
  duplicate(): IoredisLike;
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect?(): void;
}

/** An ioredis client or cluster: its duplicate subscribes now (queued until connected) and on each 'ready'. */
function ioredisSubscriber(client: IoredisLike, channel: string, events: SubscriptionState): RedisSubscriber {
  const sub = client.duplicate();
  sub.on('message', (ch: unknown, message: unknown) => {
    if (String(ch) === channel) events.message(String(message));
  });
  const subscribe = () => events.confirm(sub.subscribe(channel));
  sub.on('error', () => undefined);
  sub.on('close', () => events.down());
  return duplicateSubscriber(sub, events, subscribe, subscribe(), async () => {
    // Bounded, then dropped: QUIT waits for a Redis that may be frozen.
    await bounded(sub.quit(), CLOSE_DRAIN_MAX_MS, false);
    sub.disconnect?.();
  });
}

/**
 * The subscriber on a duplicate `sub` (its client library reconnects it): lost while it reconnects, subscribed
 * again on each 'ready'; `drop` closes it (bounded).
 */
function duplicateSubscriber(
  sub: { on(event: string, listener: () => void): unknown },
  events: SubscriptionState,
  subscribe: () => Promise<void>,
  ready: Promise<void>,
  drop: () => Promise<void>,
): RedisSubscriber {
  sub.on('reconnecting', () => events.down());
  sub.on('ready', () => void subscribe().catch(() => undefined));
  ready.catch(() => undefined);
  return {
    ready,
    attempted: async () => undefined,
    close: async () => {
      events.close();
      await drop();
    },
  };
}

/** What a subscriber tells its user: `up` only when it was not up already (a subscription may be confirmed twice in a row), and never once closed. */
class SubscriptionState {
  closed = false;
  private up = false;

  constructor(private readonly events: SubscriberEvents) {}

  message(text: string): void {
    this.events.message(text);
  }

  /** Tells what a SUBSCRIBE's outcome means: up once it is in place (and `live()`), down when it failed (rejects then). */
  confirm(subscribed: Promise<unknown>, live: () => boolean = () => true): Promise<void> {
    return subscribed.then(
      () => {
        if (this.closed || !live() || this.up) return;
        this.up = true;
        this.events.up?.();
      },
      (error: unknown) => {
        this.down();
        throw error;
      },
    );
  }

  down(): void {
    this.up = false;
    this.events.down?.();
  }

  close(): void {
    this.closed = true;
    this.down();
  }
}

/** Waits for `promise` at most `ms`: then rejects (`fail`) or resolves (its failure ignored); leaves no timer. */
async function bounded<T>(promise: Promise<T> | undefined, ms: number, fail: boolean): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve, reject) => {
    timer = setTimeout(() => (fail ? reject(new Error(`no answer within ${ms} ms`)) : resolve(undefined)), ms);
  });
  try {
    return await Promise.race([fail ? promise : promise?.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
