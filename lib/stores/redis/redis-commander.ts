import type { RedisClientType } from '@redis/client';

/** One reply of a raw command: bulk strings come back as Buffers. */
export type RedisReply = Buffer | string | number | null | RedisReply[];

/**
 * The few things the Redis store needs from a client, whichever client it is: a raw command, and the
 * nodes a keyspace scan must visit (every master on a cluster, the client itself otherwise).
 */
export interface RedisCommander {
  readonly kind: 'node-redis' | 'ioredis';
  readonly cluster: boolean;
  /** `host:port` of a node (a master of a cluster), where the client tells it; for reports. */
  readonly address?: string;
  call(args: readonly (string | Buffer | number)[], firstKey?: string): Promise<RedisReply>;
  /** One commander per master, for SCAN. */
  scanNodes(): Promise<RedisCommander[]>;
  quit(): Promise<void>;
  /** Tells `listener` each time the connection is (re)established; only for a connection the store owns. */
  onConnect?(listener: () => void): void;
}

/** The shape of an ioredis client or cluster we rely on (ioredis is an optional peer). */
export interface IoredisLike {
  callBuffer(command: string, ...args: (string | Buffer | number)[]): Promise<unknown>;
  nodes?: (role: 'master') => IoredisLike[];
  quit(): Promise<unknown>;
  isCluster?: boolean;
  status?: string;
  once?(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** The shape of a node-redis v5 cluster we rely on. */
interface NodeRedisClusterLike {
  masters: unknown[];
  nodeClient(node: unknown): RedisClientType | Promise<RedisClientType>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: readonly (string | Buffer)[], options?: unknown): Promise<unknown>;
  close?(): Promise<void>;
  quit?(): Promise<void>;
}

/** A client a user may hand in: node-redis v5 (client or cluster) or ioredis (client or cluster). */
export type RedisClientLike = RedisClientType | IoredisLike | NodeRedisClusterLike | object;

const BUFFER_TYPES = { 36: Buffer } as const; // RESP blob strings as Buffers

/** Options of every node-redis command: bulk strings as Buffers. */
const BUFFER_REPLIES = { typeMapping: BUFFER_TYPES } as const;

function toArgs(args: readonly (string | Buffer | number)[]): (string | Buffer)[] {
  // NOTE: most commands (GET, SET) carry no numbers: no copy for them.
  for (let i = 0; i < args.length; i++) if (typeof args[i] === 'number') return args.map((a) => (typeof a === 'number' ? String(a) : a));
  return args as (string | Buffer)[];
}

/** Wraps any supported client; throws a clear TypeError for anything else. */
export function toCommander(client: RedisClientLike): RedisCommander {
  const c = client as Record<string, unknown>;
  if (typeof c.callBuffer === 'function') return ioredisCommander(client as IoredisLike);
  if (Array.isArray(c.masters) && typeof c.nodeClient === 'function') return nodeRedisClusterCommander(client as NodeRedisClusterLike);
  if (typeof c.sendCommand === 'function') return nodeRedisCommander(client as RedisClientType);
  throw new TypeError('redisStore({ client }) takes a node-redis v5 client or cluster, or an ioredis client or cluster.');
}

/** A node-redis v5 client as a commander (no readiness handling: see RedisConnection for the store's own client). */
export function nodeRedisCommander(client: RedisClientType, address?: string): RedisCommander {
  const self: RedisCommander = {
    kind: 'node-redis',
    cluster: false,
    address,
    call: (args) => client.sendCommand(toArgs(args), BUFFER_REPLIES) as Promise<RedisReply>,
    scanNodes: async () => [self],
    quit: async () => {
      if (client.isOpen) await client.close();
    },
  };
  return self;
}

function nodeRedisClusterCommander(cluster: NodeRedisClusterLike): RedisCommander {
  return {
    kind: 'node-redis',
    cluster: true,
    call: (args, firstKey) => cluster.sendCommand(firstKey, false, toArgs(args), BUFFER_REPLIES) as Promise<RedisReply>,
    scanNodes: async () => {
      // NOTE: a cluster that never connected knows no masters: scanning none would make keys(), deleteByPrefix()
      // and flush() report an empty success. Fail instead, like the other commands of an unconnected cluster do.
      if (cluster.masters.length === 0) throw new Error('the node-redis cluster has no known master (is it connected?)');
      return Promise.all(cluster.masters.map(async (m) => nodeRedisCommander(await cluster.nodeClient(m), nodeAddress(m))));
    },
    quit: async () => {
      await (cluster.close ?? cluster.quit)?.call(cluster);
    },
  };
}

function ioredisCommander(client: IoredisLike, address?: string): RedisCommander {
  const cluster = client.isCluster === true || typeof client.nodes === 'function';
  let ready: Promise<void> | undefined;
  const self: RedisCommander = {
    kind: 'ioredis',
    cluster,
    address,
    call: (args) => {
      const [command, ...rest] = toArgs(args);
      return client.callBuffer(String(command), ...rest) as Promise<RedisReply>;
    },
    scanNodes: async () => {
      if (!cluster || !client.nodes) return [self];
      // NOTE: until an ioredis Cluster is ready, nodes('master') lists only the seed nodes it was given (one seed:
      // one master), so a scan right after start-up silently missed the other masters. Wait for the slot map
      // (the store bounds this wait with commandTimeout).
      if (client.status !== 'ready' && client.once) await (ready ??= whenIoredisReady(client).finally(() => (ready = undefined)));
      return client.nodes('master').map((n) => ioredisCommander(n, nodeAddress((n as { options?: unknown }).options)));
    },
    quit: async () => {
      await client.quit();
    },
  };
  return self;
}

/** `host:port` of a cluster node description (node-redis master, ioredis node options), if it has them. */
function nodeAddress(node: unknown): string | undefined {
  const n = node as { host?: unknown; port?: unknown } | undefined;
  return typeof n?.host === 'string' && n.port !== undefined ? `${n.host}:${String(n.port)}` : undefined;
}

/** Resolves once an ioredis Cluster is ready (its slot map known); rejects if it ends first. */
function whenIoredisReady(client: IoredisLike): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new Error('the ioredis Cluster is closed'));
  return new Promise<void>((resolve, reject) => {
    const onReady = () => {
      client.removeListener?.('end', onEnd);
      resolve();
    };
    const onEnd = () => {
      client.removeListener?.('ready', onReady);
      reject(new Error('the ioredis Cluster closed before it was ready'));
    };
    client.once!('ready', onReady);
    client.once!('end', onEnd);
  });
}
