import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { type CacheScope, MemoryStore, type StoreDefinition, type TenantCacheModuleOptions, TenantCacheService, redisStore } from '../../lib/index.js';
import { CacheEngine } from '../../lib/engine/cache-engine.js';
import type { ResolvedStore } from '../../lib/engine/store-registry.js';
import { sharedRedisUrl } from '../support/redis-server.js';
import { bootCache } from '../support/test-module.js';

export const SECRET_1 = 'first-secret-0123456789abcdefghijklmnopqrstuvwxyz';
export const SECRET_2 = 'second-secret-0123456789abcdefghijklmnopqrstuvwxyz';
export const SECRET_3 = 'third-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** Tenant ids that a naive key layout or key derivation would confuse. */
export const ADVERSARIAL_TENANTS = ['a:b', 'a', '*', '{x}', 'ü租户', 't'.repeat(200), 'c:', 'tc:t1:a'];
export const ADVERSARIAL_KEYS = ['b:c', '*', ' ', 'k:x', 'c:00:0', 'g1:c:x', 'x'.repeat(600), '4*', 'ü'];

/**
 * A store to run codec suites on. `open()` returns a factory of definitions that all reach the same data
 * (one memory store instance, or one Redis server), so that several module instances can share entries.
 */
export interface CodecStoreCase {
  name: string;
  open(options?: { maxValueBytes?: number }): () => StoreDefinition;
}

/** The embedded memory store and the shared real Redis (unique key prefixes; `close()` removes them). */
export function codecStores(): CodecStoreCase[] {
  const cases: CodecStoreCase[] = [
    {
      name: 'memory',
      open: (o = {}) => {
        const store = new MemoryStore('memory', { maxEntries: 200_000, maxBytes: 512 * 1024 * 1024, maxValueBytes: o.maxValueBytes });
        return () => ({ create: () => store, description: 'memory (shared by the test)' });
      },
    },
  ];
  cases.push({
    name: 'redis',
    open:
      (o = {}) =>
      () =>
        redisStore({ url: sharedRedisUrl(), commandTimeout: 5000, maxValueBytes: o.maxValueBytes }),
  });
  return cases;
}

/** A started module with the pieces tests need to reach the raw store. */
export interface Booted {
  cache: TenantCacheService;
  engine: CacheEngine;
  close(): Promise<void>;
  /** The physical key and raw store behind a logical key. */
  physical(scope: CacheScope, key: string): Promise<{ resolved: ResolvedStore; key: string }>;
  /** Every physical key under the module's prefix. */
  rawKeys(prefix?: string): Promise<string[]>;
}

export function uniquePrefix(tag: string): string {
  return `codec-${tag}-${randomUUID().slice(0, 8)}:`;
}

export async function boot(options: TenantCacheModuleOptions & { keyPrefix: string }): Promise<Booted> {
  const app = await bootCache({ tenant: { pattern: /^[\s\S]+$/u, maxLength: 300, middleware: false }, ...options }, { logger: false });
  const engine = app.get(CacheEngine);
  return {
    cache: app.cache,
    engine,
    async close() {
      // The shared Redis outlives the test: leave nothing under this prefix.
      try {
        await (await engine.store({ kind: 'shared' })).store.deleteByPrefix(options.keyPrefix);
      } finally {
        await app.close();
      }
    },
    async physical(scope, key) {
      const resolved = await engine.store(scope);
      return { resolved, key: resolved.keys.entryKey(scope, await engine.generation(resolved, scope), key) };
    },
    async rawKeys(prefix = options.keyPrefix) {
      const resolved = await engine.store({ kind: 'shared' });
      const out: string[] = [];
      for await (const page of resolved.store.scan(prefix)) out.push(...page);
      return out.sort();
    },
  };
}

export const tenant = (tenantId: string): CacheScope => ({ kind: 'tenant', tenantId });

/** Text that compresses well (a JSON-like report), about `bytes` long. */
export function compressible(bytes: number): string {
  const row = '{"id":1234,"name":"Widget","price":19.99,"tags":["blue","large"],"stock":true},';
  return row.repeat(Math.ceil(bytes / row.length)).slice(0, bytes);
}

/** Bytes that do not compress. */
export function incompressible(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Physical keys that belong to chunks (`...g<n>:c:<writeId>:<i>`). */
export function chunkKeys(keys: readonly string[]): string[] {
  return keys.filter((k) => /g\d+:c:[0-9a-f]{32}:\d+$/.test(k));
}
