import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { CacheEvict, CacheResult, type StoreDefinition, TenantCacheService, memoryStore, versioned } from '../../lib/index.js';
import { spawn } from 'node:child_process';
import { afterAll } from 'vitest';
import { redisStore } from '../../lib/index.js';
import { chaosStore } from '../support/chaos-store.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';
import { as, boot, sleep } from './fixtures.js';

@Injectable()
class Reports {
  runs = 0;
  @CacheResult({ ttl: 60_000, tags: ['reports', versioned('reports-v')] })
  async build(id: string): Promise<string> {
    this.runs++;
    return `${id}#${this.runs}`;
  }

  @CacheEvict({ method: 'build', tags: ['reports'] })
  async update(id: string): Promise<string> {
    return `updated ${id}`;
  }
}

export function storeFailureSuite(name: string, make: () => Promise<{ definition: StoreDefinition; stop: () => Promise<void>; start: () => Promise<void> }>) {
  describe(`a cache that is down never fails the method (${name})`, () => {
    it('runs the method uncached, logs and emits store:error, then caches again once the store is back', async () => {
      const { definition, stop, start } = await make();
      const app = await boot(definition, [Reports]);
      const reports = app.moduleRef.get(Reports);
      const cache: TenantCacheService = app.cache;
      const errors: string[] = [];
      cache.events.on('store:error', (e) => errors.push(e.operation));
      await as('down', async () => {
        expect(await reports.build('a')).toBe('a#1');
        expect(await reports.build('a')).toBe('a#1');
        await stop();
        expect(await reports.build('a')).toBe('a#2');
        expect(await reports.build('b')).toBe('b#3');
        // Eviction does not fail the write either
        expect(await reports.update('a')).toBe('updated a');
        // Single-flight still holds while the store is down
        const all = await Promise.all(Array.from({ length: 50 }, () => reports.build('c')));
        expect(new Set(all).size).toBe(1);
        expect(errors.length).toBeGreaterThan(0);
        expect(app.logger.warnings().some((w) => /failed|could not invalidate/.test(w))).toBe(true);
        await start();
        const again = await reports.build('d');
        expect(await reports.build('d')).toBe(again);
      });
      await app.close();
    });
  });
}

storeFailureSuite('memory store switched off', async () => {
  // Every call but close fails while down: synchronous ones throw, asynchronous ones reject, listings fail on the first pull.
  const { definition, control } = chaosStore(memoryStore({ maxEntries: 10_000 }));
  return {
    definition,
    stop: async () => control.down(),
    start: async () => control.up(),
  };
});

const servers: RedisServerHandle[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

storeFailureSuite('real redis-server frozen (SIGSTOP): commands time out', async () => {
  const server = await startRedisServer();
  servers.push(server);
  return {
    definition: redisStore({ url: server.url, commandTimeout: 150, breaker: { failureThreshold: 3, resetAfter: 200 } }),
    stop: async () => server.pause(),
    start: async () => {
      server.resume();
      // Let the breaker's probe find the server back.
      await sleep(300);
    },
  };
});

storeFailureSuite('real redis-server killed, then restarted on the same port', async () => {
  const server = await startRedisServer();
  servers.push(server);
  let restarted: ReturnType<typeof spawn> | undefined;
  return {
    definition: redisStore({ url: server.url, commandTimeout: 150, connectTimeout: 150, breaker: { failureThreshold: 3, resetAfter: 200 } }),
    stop: async () => server.stop(),
    start: async () => {
      restarted = spawn('redis-server', ['--port', String(server.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      servers.push({ ...server, stop: async () => void restarted?.kill('SIGKILL') });
      // Reconnect and the breaker's probe.
      await sleep(1500);
    },
  };
});
