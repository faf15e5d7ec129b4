import { Logger } from '@nestjs/common';
import type { RedisClientType } from '@redis/client';
import { type RedisCommander, type RedisReply, nodeRedisCommander } from './redis-commander.js';

/** Longest wait between two connection attempts, ms: Redis is used again within about this long of coming back. */
export const RECONNECT_CAP_MS = 1000;

/** Longest `close()` waits for replies to commands already sent before it drops the connection, ms. */
export const CLOSE_DRAIN_MAX_MS = 500;

type State = 'connecting' | 'ready' | 'waiting' | 'closed';

/** What a connection is called in its log lines, and what its user loses while it is down. */
export interface RedisConnectionOptions {
  alias: string;
  target: string;
  connectTimeout: number;
  commandTimeout: number;
  /** Default: `Redis store "<alias>"`. */
  name?: string;
  /** Default: `reads are misses until it can`. */
  whileDown?: string;
}

/**
 * The connection of a node-redis client that `redisStore({ url })` created and owns. It never makes a caller
 * wait for Redis beyond the command's own bound, and it can always be closed at once:
 *
 * - it connects in the background, each attempt (TCP and handshake) bounded by `connectTimeout`, and after a
 *   failure or a lost connection tries again with a back-off of at most `RECONNECT_CAP_MS`, on a timer of its
 *   own that `close()` clears (node-redis's own reconnect loop sleeps on a timer nothing can cancel, and its
 *   `connect()` never settles while it retries);
 * - a command while the attempt in flight may still succeed waits for it (the store's `commandTimeout` bounds
 *   that wait); a command while no attempt is in flight fails at once (the breaker counts it);
 * - `close()` waits at most `min(commandTimeout, CLOSE_DRAIN_MAX_MS)` for replies still due, then destroys the
 *   client and aborts a TCP connect in flight: no socket, timer or retry is left behind (node-redis `close()`
 *   and `quit()` wait for every reply, which a frozen Redis never sends).
 */
export class RedisConnection {
  readonly commander: RedisCommander;
  private state: State = 'connecting';
  /** Settles when the attempt in flight does: the commands waiting for it go on or fail. */
  private attempt: Promise<void> | undefined;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly abort: AbortController;
  private readonly listeners: (() => void)[] = [];
  private lastError = '';
  private downSince = 0;
  private readonly logger = new Logger('TenantCache');

  constructor(
    private readonly client: RedisClientType,
    abort: AbortController,
    private readonly options: RedisConnectionOptions,
  ) {
    this.abort = abort;
    const send = nodeRedisCommander(client);
    const commander: RedisCommander = {
      kind: 'node-redis',
      cluster: false,
      call: (args, firstKey) => this.call(args, firstKey, send),
      scanNodes: async () => [commander],
      quit: () => this.close(),
      onConnect: (listener) => void this.listeners.push(listener),
    };
    this.commander = commander;
    // NOTE: node-redis throws an 'error' event that has no listener: keep this one for the client's whole life.
    client.on('error', (error: Error) => this.onError(error));
    this.connect();
  }

  /** Resolves once the connection attempt in flight, if any, has settled (at most `connectTimeout`): whether it is ready. */
  async attempted(): Promise<boolean> {
    await this.attempt?.catch(() => undefined);
    return this.ready;
  }

  private get name(): string {
    return this.options.name ?? `Redis store "${this.options.alias}"`;
  }

  /** Whether commands are sent now. */
  get ready(): boolean {
    return this.state === 'ready' && this.client.isReady;
  }

  private call(args: readonly (string | Buffer | number)[], firstKey: string | undefined, send: RedisCommander): Promise<RedisReply> {
    if (this.state === 'ready' && this.client.isReady) return send.call(args, firstKey);
    if (this.state === 'connecting' && this.attempt !== undefined) {
      const asked = Date.now();
      return this.attempt.then(() => {
        // The store gave up on this call meanwhile: do not send a command nobody waits for.
        if (Date.now() - asked > this.options.commandTimeout) throw new Error('not sent: the connection came up after the command timed out');
        return send.call(args, firstKey);
      });
    }
    return Promise.reject(
      new Error(
        this.state === 'closed'
          ? 'the store is closed'
          : `not connected to ${this.options.target} (${this.lastError || 'connection lost'}); reconnecting in the background`,
      ),
    );
  }

  /** One connection attempt, bounded by `connectTimeout` (node-redis bounds only its TCP part). */
  private connect(): void {
    this.state = 'connecting';
    this.retry = undefined;
    let handshaking = false;
    const onTcpConnected = () => (handshaking = true);
    this.client.once('connect', onTcpConnected);
    const connecting = this.client.connect().finally(() => this.client.off('connect', onTcpConnected));
    let bound: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      bound = setTimeout(() => reject(new Error(`no answer within connectTimeout (${this.options.connectTimeout} ms)`)), this.options.connectTimeout);
      bound.unref();
    });
    const attempt = Promise.race([connecting.then(() => undefined), timedOut]).finally(() => clearTimeout(bound));
    this.attempt = attempt;
    attempt.then(
      () => this.connected(),
      (error: unknown) => {
        if (this.state === 'closed') return;
        this.lastError = (error as Error).message;
        // A handshake that hangs (a frozen Redis accepts TCP): drop it; the client is reused for the next attempt.
        // NOTE: not during the TCP connect: the socket is not the client's yet (destroy() would miss it), and
        // node-redis ends that connect itself within the same connectTimeout.
        if (handshaking && this.client.isOpen) this.client.destroy();
        // Go on only once node-redis has let go of this attempt, so that attempts never overlap; one that made it
        // after all is a connection.
        connecting.then(
          () => this.connected(),
          () => this.scheduleRetry(error),
        );
      },
    );
    // Waiting commands learn of a failed attempt through the race above; this rejection is handled there.
    attempt.catch(() => {});
  }

  private connected(): void {
    if (this.state === 'closed') return;
    this.state = 'ready';
    this.attempt = undefined;
    if (this.failures > 0) {
      this.logger.log(`${this.name} connected to ${this.options.target} again after ${Math.round((Date.now() - this.downSince) / 100) / 10} s`);
    }
    this.failures = 0;
    for (const listener of this.listeners) listener();
  }

  private scheduleRetry(error: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'waiting';
    this.attempt = undefined;
    if (this.failures++ === 0) {
      this.downSince = Date.now();
      this.logger.warn(
        `${this.name} cannot reach ${this.options.target} (${(error as Error).message}): ${this.options.whileDown ?? 'reads are misses until it can'}; retrying in the background every ${RECONNECT_CAP_MS / 1000} s at most.`,
      );
    }
    this.retry = setTimeout(() => this.connect(), Math.min(50 * 2 ** (this.failures - 1), RECONNECT_CAP_MS));
    // A cache retrying in the background never keeps the process alive.
    this.retry.unref();
  }

  private onError(error: Error): void {
    this.lastError = error.message;
    // A lost connection: node-redis (no reconnect strategy) has marked the client closed; connect it again.
    if (this.state === 'ready' && !this.client.isOpen) {
      this.state = 'waiting';
      this.scheduleRetry(error);
    }
  }

  /**
   * Stops reconnecting, waits at most `min(commandTimeout, CLOSE_DRAIN_MAX_MS)` for replies still due, then
   * drops the connection. Returns promptly whatever the state of the connection.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasReady = this.ready;
    this.state = 'closed';
    clearTimeout(this.retry);
    this.retry = undefined;
    if (wasReady) {
      // Replies come in order: once this PING is answered, so is every command sent before it. Nothing is
      // counted per command (that would cost every cache hit a promise).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.client.sendCommand(['PING']).catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(this.options.commandTimeout, CLOSE_DRAIN_MAX_MS)))),
      ]);
      clearTimeout(timer);
    }
    // A TCP connect in flight is not the client's socket yet: only the signal reaches it.
    this.abort.abort();
    if (this.client.isOpen) this.client.destroy();
  }
}

/**
 * Creates the node-redis client of `redisStore({ url })` and starts connecting it in the background: resolves
 * at once, whether Redis answers or not.
 */
export async function openRedisConnection(
  url: string,
  options: RedisConnectionOptions,
  clientModule: Promise<typeof import('@redis/client')> = import('@redis/client'),
): Promise<RedisConnection> {
  const { client, abort } = await createOwnedClient(url, options.connectTimeout, clientModule);
  return new RedisConnection(client, abort, options);
}

/**
 * A node-redis client for a `RedisConnection` to drive (no reconnect loop of its own, commands fail at once
 * while disconnected), and the signal that aborts its TCP connect. For callers that also need the client itself
 * (the invalidation bus subscribes on it).
 */
export async function createOwnedClient(
  url: string,
  connectTimeout: number,
  clientModule: Promise<typeof import('@redis/client')> = import('@redis/client'),
): Promise<{ client: RedisClientType; abort: AbortController }> {
  const { createClient } = await clientModule;
  const abort = new AbortController();
  const client = createClient({
    url,
    // Fail commands at once while disconnected instead of queueing them (a dead Redis must not hang requests).
    disableOfflineQueue: true,
    // NOTE: reconnecting is ours (RedisConnection), so that it can be bounded and cancelled.
    socket: { connectTimeout, reconnectStrategy: false, signal: abort.signal },
  }) as RedisClientType;
  return { client, abort };
}
