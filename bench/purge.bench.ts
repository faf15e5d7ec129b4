/**
 * Offboarding bench: `purgeTenant` of a tenant with 10^6 keys (BENCH_PURGE_KEYS to change it) on a Redis of its
 * own (a `redis-server` started on a free port, so its slow log and keyspace are the bench's alone), beside a
 * second tenant of 10^4 keys that must keep them. Prints the duration, keys per second, and the slowest purge
 * command the server logged (SLOWLOG at 1 ms).
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/purge.bench.ts`. `npm run bench` calls `run`.
 */
import 'reflect-metadata';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createClient } from '@redis/client';
import { TenantCacheModule, TenantCacheService, redisStore } from '../lib/index.js';
import { CacheEngine } from '../lib/engine/cache-engine.js';

const KEYS = Number(process.env.BENCH_PURGE_KEYS ?? 1_000_000);
const OTHER_KEYS = 10_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Writes `n` entries of `tenant` straight into Redis, under the physical keys the library builds (pipelined SETs). */
async function populate(engine: CacheEngine, url: string, tenant: string, n: number): Promise<string[]> {
  const scope = { kind: 'tenant', tenantId: tenant } as const;
  const resolved = await engine.store(scope);
  // The generation the library will read (created now at its random start).
  await engine.invalidateAll(scope);
  const generation = Number((await resolved.store.get(resolved.keys.generationKey(scope)))!.toString('latin1'));
  const client = createClient({ url });
  await client.connect();
  const written: string[] = [];
  try {
    const value = Buffer.from('bench value of a purged tenant, about sixty bytes long.......');
    for (let i = 0; i < n; i += 10_000) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(n, i + 10_000); j++) {
        const key = resolved.keys.entryKey(scope, generation, `item:${j}`);
        if (written.length < 500) written.push(key);
        batch.push(client.sendCommand(['SET', key, value]));
      }
      await Promise.all(batch);
    }
  } finally {
    await client.close();
  }
  return written;
}

export async function run(): Promise<void> {
  if (spawnSync('redis-server', ['--version']).error) {
    console.log('purge bench skipped: no redis-server binary to start a Redis of its own.');
    return;
  }
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 100; i++) {
      const probe = createClient({ url });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '1000']);
        await probe.close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    @Module({ imports: [TenantCacheModule.forRoot({ keyPrefix: 'bench:', stores: { default: redisStore({ url, commandTimeout: 10_000 }) } })] })
    class PurgeBenchModule {}
    const app = await NestFactory.createApplicationContext(PurgeBenchModule, { logger: false });
    Logger.overrideLogger(false);
    try {
      const engine = app.get(CacheEngine);
      const cache = app.get(TenantCacheService);
      const filled = performance.now();
      await populate(engine, url, 'acme', KEYS);
      const controlKeys = await populate(engine, url, 'globex', OTHER_KEYS);
      const fillSeconds = (performance.now() - filled) / 1000;

      const admin = createClient({ url });
      await admin.connect();
      await admin.sendCommand(['SLOWLOG', 'RESET']);
      // A control beside the purge: an MGET of 500 keys of the other tenant (about the work of one purge page), in
      // a loop on another connection. When they show in SLOWLOG as often, the server was descheduled (a loaded
      // machine), not held by a purge command.
      const control = createClient({ url });
      await control.connect();
      let purging = true;
      const echoes = (async () => {
        while (purging) await control.sendCommand(['MGET', ...controlKeys]);
      })();
      const started = performance.now();
      const report = await cache.purgeTenant('acme');
      const seconds = (performance.now() - started) / 1000;
      purging = false;
      await echoes;
      await control.close();
      const log = (await admin.sendCommand(['SLOWLOG', 'GET', '10000'])) as unknown[][];
      const purgeCommands = log.filter((e) => ['SCAN', 'UNLINK'].includes(String((e[3] as unknown[])[0]).toUpperCase()));
      const slowest = purgeCommands.reduce((m, e) => Math.max(m, Number(e[2])), 0);
      const slowEchoes = log.filter((e) => String((e[3] as unknown[])[0]).toUpperCase() === 'MGET');
      const slowestEcho = slowEchoes.reduce((m, e) => Math.max(m, Number(e[2])), 0);
      const left = Number(await admin.sendCommand(['DBSIZE']));
      const byCommand = new Map<string, number[]>();
      for (const e of purgeCommands) {
        const name = String((e[3] as unknown[])[0]).toUpperCase();
        byCommand.set(name, [...(byCommand.get(name) ?? []), Number(e[2]) / 1000]);
      }
      const slowList = [...byCommand]
        .map(
          ([name, ms]) =>
            `${name}: ${ms.length} (${ms
              .sort((x, y) => y - x)
              .slice(0, 5)
              .map((m) => m.toFixed(1))
              .join(', ')} ms)`,
        )
        .join('; ');
      await admin.close();

      console.table([
        {
          benchmark: 'purgeTenant, single Redis',
          keys: KEYS,
          removed: report.removed,
          'other tenant kept': left === OTHER_KEYS + 1 ? 'yes' : `no (${left} keys left)`,
          seconds: Number(seconds.toFixed(2)),
          'keys/s': Math.round(report.removed / seconds),
          'purge commands > 1 ms': purgeCommands.length,
          'slowest purge command (ms)': slowest / 1000,
          'control MGETs > 1 ms': slowEchoes.length,
          'slowest control MGET (ms)': slowestEcho / 1000,
        },
      ]);
      console.log(`(populating ${KEYS + OTHER_KEYS} keys took ${fillSeconds.toFixed(1)} s; SCAN and UNLINK pages of 500 keys)`);
      if (slowList)
        console.log(
          `Purge commands in SLOWLOG (> 1 ms), slowest first: ${slowList}. Load average: ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')}.`,
        );
      console.log('Goal: purgeTenant of 10^6 keys with no purge command above 10 ms in SLOWLOG.');
    } finally {
      await app.close();
    }
  } finally {
    server.kill('SIGKILL');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
