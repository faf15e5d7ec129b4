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
 * Makes the node-redis client of one connection attempt, its socket bound to `signal`. A client per attempt, so
 * that each attempt has a signal of its own: Node's `net` adds an abort listener to the signal of every socket
 * it creates and removes it only on abort, so one long-lived signal shared by every reconnect gained a listener
 * per attempt (`MaxListenersExceededWarning` after ten of them).
 */
export type OwnedClientFactory = (signal: AbortSignal) => RedisClientType;

/** One attempt's client, the signal that drops its socket, and whether it was let go of. */
interface Link {
  readonly client: RedisClientType;
  readonly send: RedisCommander;
  readonly abort: AbortController;
  /** Let go of (failed, lost or closed): what it reports from now on is not the connection's fault. */
  released: boolean;
}

/**
 * The connection of the node-redis clients that `redisStore({ url })` creates and owns. It never makes a caller
 * wait for Redis beyond the command's own bound, and it can always be closed at once:
 *
 * - it connects in the background, each attempt (TCP and handshake) bounded by `connectTimeout`, and after a
 *   failure or a lost connection tries again with a back-off of at most `RECONNECT_CAP_MS`, on a timer of its
 *   own that `close()` clears (node-redis's own reconnect loop sleeps on a timer nothing can cancel, and its
 *   `connect()` never settles while it retries);
 * - each attempt has a client and an `AbortController` of its own: aborting it drops the attempt's socket in any
 *   phase (a TCP connect in flight, a handshake a frozen Redis never answers, an established connection), and
 *   leaves nothing on any signal once the attempt is over;
 * - a command while the attempt in flight may still succeed waits for it (the store's `commandTimeout` bounds
 *   that wait); a command while no attempt is in flight fails at once (the breaker counts it);
 * - `close()` waits at most `min(commandTimeout, CLOSE_DRAIN_MAX_MS)` for replies still due, then drops the
 *   connection: no socket, timer or retry is left behind (node-redis `close()` and `quit()` wait for every
 *   reply, which a frozen Redis never sends).
 */
export class RedisConnection {
  readonly commander: RedisCommander;
  private state: State = 'connecting';
  /** Settles when the attempt in flight does: the commands waiting for it go on or fail. */
  private attempt: Promise<void> | undefined;
  private failures = 0;
  private retry: NodeJS.Timeout | undefined;
  /** The client of the attempt in flight or of the connection made. */
  private link!: Link;
  private readonly listeners: (() => void)[] = [];
  private lastError = '';
  private downSince = 0;
  private readonly logger = new Logger('TenantCache');

  constructor(
    private readonly createClient: OwnedClientFactory,
    private readonly options: RedisConnectionOptions,
  ) {
    const commander: RedisCommander = {
      kind: 'node-redis',
      cluster: false,
      call: (args, firstKey) => this.call(args, firstKey),
      scanNodes: async () => [commander],
      quit: () => this.close(),
      onConnect: (listener) => void this.listeners.push(listener),
    };
    this.commander = commander;
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
    return this.state === 'ready' && this.link.client.isReady;
  }

  /** The client of the attempt in flight or of the connection made (a new one after each reconnect). */
  get client(): RedisClientType {
    return this.link.client;
  }

  private call(args: readonly (string | Buffer | number)[], firstKey: string | undefined): Promise<RedisReply> {
    if (this.ready) return this.link.send.call(args, firstKey);
    if (this.state === 'connecting' && this.attempt !== undefined) {
      const asked = Date.now();
      return this.attempt.then(
        () => {
          // The store gave up on this call meanwhile: do not send a command nobody waits for.
          if (Date.now() - asked > this.options.commandTimeout) throw new Error('not sent: the connection came up after the command timed out');
          return this.link.send.call(args, firstKey);
        },
        () => {
          throw this.unavailable();
        },
      );
    }
    return Promise.reject(this.unavailable());
  }

  /** Why a command is not sent now. */
  private unavailable(): Error {
    if (this.state === 'closed') return new Error('the store is closed');
    return new Error(`not connected to ${this.options.target} (${this.lastError || 'connection lost'}); reconnecting in the background`);
  }

  /** One connection attempt on a client of its own, bounded by `connectTimeout` (node-redis bounds only its TCP part). */
  private connect(): void {
    this.state = 'connecting';
    this.retry = undefined;
    const abort = new AbortController();
    const client = this.createClient(abort.signal);
    const link: Link = { client, send: nodeRedisCommander(client), abort, released: false };
    this.link = link;
    // NOTE: node-redis throws an 'error' event that has no listener: keep this one for the client's whole life.
    client.on('error', (error: Error) => this.onError(link, error));
    const connecting = client.connect();
    let bound: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      bound = setTimeout(() => reject(new Error(`no answer within connectTimeout (${this.options.connectTimeout} ms)`)), this.options.connectTimeout);
      bound.unref();
    });
    const attempt = Promise.race([connecting.then(() => undefined), timedOut]).finally(() => clearTimeout(bound));
    this.attempt = attempt;
    attempt.then(
      () => this.connected(link),
      (error: unknown) => {
        if (this.state === 'closed') return;
        this.lastError = (error as Error).message;
        // A TCP connect or a handshake that hangs (a frozen Redis accepts TCP): drop its socket.
        this.release(link);
        // Go on only once node-redis has let go of this attempt, so that attempts never overlap.
        connecting.then(
          () => this.scheduleRetry(error),
          () => this.scheduleRetry(error),
        );
      },
    );
    // Waiting commands learn of a failed attempt through the race above; this rejection is handled there.
    attempt.catch(() => {});
  }

  /**
   * Lets go of an attempt's client: aborts its signal, which destroys its socket in any phase and removes the
   * listener `net` put on the signal.
   */
  private release(link: Link): void {
    if (link.released) return;
    link.released = true;
    // NOTE: never `destroy()` a client in its handshake: node-redis then fails the handshake on a socket it has
    // already let go of, and reports a TypeError ("reading 'destroy'") in place of the real fault.
    if (link.client.isOpen && link.client.isReady) link.client.destroy();
    link.abort.abort();
  }

  private connected(link: Link): void {
    if (this.state === 'closed' || link !== this.link) return;
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

  private onError(link: Link, error: Error): void {
    // A client let go of reports how it was dropped (an abort, node-redis's own errors): not the fault.
    if (link.released || link !== this.link) return;
    this.lastError = error.message;
    // A lost connection: node-redis (no reconnect strategy) has marked the client closed; connect again.
    if (this.state === 'ready' && !link.client.isOpen) {
      this.release(link);
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
        this.link.client.sendCommand(['PING']).catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(this.options.commandTimeout, CLOSE_DRAIN_MAX_MS)))),
      ]);
      clearTimeout(timer);
    }
    this.release(this.link);
  }
}

/**
 * Creates the node-redis connection of `redisStore({ url })` and starts connecting it in the background:
 * resolves at once (once node-redis is loaded), whether Redis answers or not.
 */
export async function openRedisConnection(
  url: string,
  options: RedisConnectionOptions,
  clientModule: Promise<typeof import('@redis/client')> = import('@redis/client'),
): Promise<RedisConnection> {
  return new RedisConnection(await ownedClientFactory(url, options.connectTimeout, clientModule), options);
}

/**
 * The factory of the node-redis clients a `RedisConnection` drives: no reconnect loop of their own, commands
 * fail at once while disconnected, the socket bound to the attempt's signal.
 */
export async function ownedClientFactory(
  url: string,
  connectTimeout: number,
  clientModule: Promise<typeof import('@redis/client')> = import('@redis/client'),
): Promise<OwnedClientFactory> {
  const { createClient } = await clientModule;
  return (signal) =>
    createClient({
      url,
      // Fail commands at once while disconnected instead of queueing them (a dead Redis must not hang requests).
      disableOfflineQueue: true,
      // NOTE: reconnecting is ours (RedisConnection), so that it can be bounded and cancelled.
      socket: { connectTimeout, reconnectStrategy: false, signal },
    }) as RedisClientType;
}
