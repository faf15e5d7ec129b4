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
 */
export async function startRedisServer(extraArgs: string[] = [], { port: wanted }: { port?: number } = {}): Promise<RedisServerHandle> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (the tests start their own instances).');
  }
  const port = wanted ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
    stdio: 'ignore',
  });
  await waitForPort(port, 5000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.kill('SIGCONT');
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A local Redis Cluster this test started: one `redis-server` per master, no replicas, nothing persisted. */
export interface RedisClusterHandle {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/**
 * Starts `masters` cluster-enabled `redis-server`s on free loopback ports, joins them with
 * `redis-cli --cluster create` (slots split evenly, no replicas) and waits for `cluster_state:ok` on every node.
 */
export async function startRedisCluster({ masters = 3 }: { masters?: number } = {}): Promise<RedisClusterHandle> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server is not installed: `apt-get install redis-server` (the cluster tests start their own instances).');
  }
  if (spawnSync('redis-cli', ['--version']).error) {
    throw new Error('redis-cli is not installed: `apt-get install redis-tools` (needed to create the test cluster).');
  }
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      // The cluster bus defaults to port + 10000, which may be taken or past 65535: give it a free port of its own.
      const busPort = await freePort();
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
    await Promise.all(ports.map((p) => waitForPort(p, 5000)));
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

/** `scanKeys` on each node of a cluster, in the order of `nodes`. */
export function scanKeysPerNode(nodes: readonly { host: string; port: number }[], match?: string): Promise<string[][]> {
  return Promise.all(nodes.map(({ host, port }) => scanKeys(`redis://${host}:${port}`, match)));
}
