import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';

/** A `redis-server` this test started on its own loopback port. */
export interface RedisServerHandle {
  url: string;
  port: number;
  process: ChildProcess;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** The shared Redis of the machine (REDIS_URL or 127.0.0.1:6379). Never flush it: use unique key prefixes. */
export function sharedRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts an isolated `redis-server` on a free loopback port (or on `port`, e.g. one a test reserved with
 * `freePort()` to start Redis only after the app booted, or the port of a server it stopped), nothing persisted.
 * A port it chose that another process takes before the server binds it is replaced by a new one (a few times).
 */
export async function startRedisServer(extraArgs: string[] = [], { port: wanted }: { port?: number } = {}): Promise<RedisServerHandle> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (the tests start their own instances).');
  }
  for (let attempt = 1; ; attempt++) {
    const port = wanted ?? (await freePort());
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
      stdio: 'ignore',
    });
    try {
      await waitForOwnServer(port, child, SERVER_START_MS);
    } catch (error) {
      await kill(child);
      if (error instanceof PortTakenError && wanted === undefined && attempt < START_ATTEMPTS) continue;
      throw error;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      process: child,
      pause: () => child.kill('SIGSTOP'),
      resume: () => child.kill('SIGCONT'),
      stop: () => kill(child),
    };
  }
}

/** How long a `redis-server` may take to answer after it was spawned (generous: the machine may be loaded). */
const SERVER_START_MS = 10_000;
/** How many times a server (or a whole cluster) is started on new ports when one of its ports was taken. */
const START_ATTEMPTS = 3;

/** A spawned `redis-server` did not come up on its port: it exited (the port or its cluster bus port was taken), or another process answers there. */
class PortTakenError extends Error {}

/** Kills `child` (SIGKILL, after SIGCONT in case it is paused); resolves once it exited. */
function kill(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
}

/**
 * Waits until the `redis-server` that is `child` answers on `port`: `INFO server` names its process id. Something
 * merely listening there is not enough: when another process took the port first, our server exits at once and
 * the test would run against someone else's (or, for a cluster node, fail later in a way that says nothing).
 */
async function waitForOwnServer(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new PortTakenError(`redis-server for port ${port} exited (${child.exitCode ?? child.signalCode}) before it answered: was the port taken?`);
    }
    const pid = await serverPid(port);
    if (pid === child.pid) return;
    if (pid === 'unknown' && child.exitCode === null) return; // it needs a password: ours if still running
    // NOTE: while another process answers, our child exits as soon as its bind fails (caught above).
    if (Date.now() > deadline) {
      if (pid === undefined) throw new Error(`redis-server did not start on port ${port} within ${timeoutMs} ms`);
      throw new PortTakenError(`port ${port} is answered by another redis-server (pid ${pid}), not the one started for it`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The process id the Redis on `port` reports (`INFO server`), `'unknown'` when it refuses to say, `undefined` when nothing answers. */
function serverPid(port: number): Promise<number | 'unknown' | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (pid: number | 'unknown' | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(1000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      reply += chunk;
      const pid = /process_id:(\d+)\r\n/.exec(reply);
      if (pid) done(Number(pid[1]));
      else if (reply.startsWith('-NOAUTH')) done('unknown');
      else if (reply.startsWith('-') && reply.includes('\r\n')) done(undefined); // e.g. -LOADING: not ready yet
    });
  });
}

/** A local Redis Cluster this test started: one `redis-server` per master, no replicas, nothing persisted. */
export interface RedisClusterHandle {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled `redis-server`s on free loopback ports, joins them with
 * `redis-cli --cluster create` (slots split evenly, no replicas) and waits for `cluster_state:ok` on every node.
 * When a node's port was taken before it could bind it, the cluster is started again on new ports (a few times).
 */
export async function startRedisCluster({ masters = 3 }: { masters?: number } = {}): Promise<RedisClusterHandle> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (the cluster tests start their own instances).');
  }
  if (spawnSync('redis-cli', ['--version']).error) {
    throw new Error('redis-cli is not installed: `apt-get install redis-tools` (needed to create the test cluster).');
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(masters);
    } catch (error) {
      if (error instanceof PortTakenError && attempt < START_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** One try of `startRedisCluster` on new ports; everything it started is stopped if it fails. */
async function startClusterOnce(masters: number): Promise<RedisClusterHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // NOTE: no server binds its ports before the last is chosen: `freePort()` may hand out the same port twice.
    const chosen = new Set<number>();
    const newPort = async (): Promise<number> => {
      for (;;) {
        const port = await freePort();
        if (!chosen.has(port)) return (chosen.add(port), port);
      }
    };
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await newPort();
      // The cluster bus defaults to port + 10000, which may be taken or past 65535: give it a free port of its own.
      const busPort = await newPort();
      ports.push(port);
      children.push(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-port',
            String(busPort),
            '--cluster-node-timeout',
            '5000',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
          ],
          { stdio: 'ignore' },
        ),
      );
    }
    await Promise.all(ports.map((port, i) => waitForOwnServer(port, children[i]!, SERVER_START_MS)));
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status ?? create.error?.message}): ${create.stdout}${create.stderr}`);
    const deadline = Date.now() + 20_000;
    for (const port of ports) {
      for (;;) {
        const info = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'CLUSTER', 'INFO'], { encoding: 'utf8' }).stdout ?? '';
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster node 127.0.0.1:${port} did not reach cluster_state:ok within 20 s:\n${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Every key of the Redis at `url` matching `match` (all keys without one), read with SCAN on a connection of its own. */
export async function scanKeys(url: string, match?: string): Promise<string[]> {
  const client = createClient({ url });
  await client.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = (await client.sendCommand(['SCAN', cursor, ...(match === undefined ? [] : ['MATCH', match]), 'COUNT', '5000'])) as [string, string[]];
      cursor = next;
      keys.push(...page);
    } while (cursor !== '0');
    return keys;
  } finally {
    await client.close();
  }
}

/**
 * Which node of `nodes` serves each of `keys` (its index in `nodes`), as the cluster says now: `CLUSTER KEYSLOT`
 * for each key and `CLUSTER SLOTS` for the slot ranges, asked of the first node. Throws for a slot no node of
 * `nodes` serves, so a test that plans where its keys live cannot plan on a cluster it does not know.
 */
export async function mastersOfKeys(nodes: readonly { host: string; port: number }[], keys: readonly string[]): Promise<number[]> {
  const client = createClient({ url: `redis://${nodes[0]!.host}:${nodes[0]!.port}` });
  await client.connect();
  try {
    const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
    const slots = (await Promise.all(keys.map((key) => client.sendCommand(['CLUSTER', 'KEYSLOT', key])))) as unknown as number[];
    return slots.map((slot, i) => {
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const index = range === undefined ? -1 : nodes.findIndex((n) => n.port === Number(range[2][1]));
      if (index < 0) throw new Error(`no node of ${nodes.map((n) => n.port).join(', ')} serves slot ${slot} (key ${keys[i]})`);
      return index;
    });
  } finally {
    await client.close();
  }
}

/** `scanKeys` on each node of a cluster, in the order of `nodes`. */
export function scanKeysPerNode(nodes: readonly { host: string; port: number }[], match?: string): Promise<string[][]> {
  return Promise.all(nodes.map(({ host, port }) => scanKeys(`redis://${host}:${port}`, match)));
}
