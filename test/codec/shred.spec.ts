import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createClient, createCluster } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CacheStore,
  InvalidOptionsError,
  StoreUnavailableError,
  type StoreDefinition,
  type TenantKeyStore,
  UnsupportedOperationError,
  memoryStore,
  redisInvalidationBus,
  redisStore,
} from '../../lib/index.js';
import { TenantDataKeys } from '../../lib/codec/tenant-data-keys.js';
import { parsePhysicalKey } from '../../lib/keys/key-layout.js';
import type { RedisClientLike } from '../../lib/stores/redis/redis-commander.js';
import { type RedisClusterHandle, sharedRedisUrl, startRedisCluster, startRedisServer } from '../support/redis-server.js';
import { type TestModule, bootCache } from '../support/test-module.js';

/**
 * Crypto-shredding (`encryption.tenantKeys: 'wrapped'`, `shredTenant`): a ciphertext copied aside before the
 * shred and written back after it reads as a miss with `entry:corrupt`; other tenants (ids around the shredded
 * one) still decrypt; the tenant starts afresh; master-secret rotation keeps working per tenant; another
 * instance drops its copy of the key through the bus.
 */

const S1 = 'shred-test-secret-one-0123456789abcdefghij';
const S2 = 'shred-test-secret-two-0123456789abcdefghij';
const VICTIM = 'acme';
const OTHERS = ['acme2', 'acm', 'acme.x', 'Acme'];

const wrapped = (secrets: string[], extra: object = {}) => ({ encryption: { secrets, tenantKeys: 'wrapped' as const, ...extra } });

/** Captures the store a definition creates, for raw reads and writes beside the cache. */
function capturing(definition: StoreDefinition): { definition: StoreDefinition; store: () => CacheStore } {
  let created: CacheStore | undefined;
  return {
    definition: { ...definition, create: async (alias, context) => (created = await definition.create(alias, context)) },
    store: () => created!,
  };
}

/** The physical key of `tenant`'s entry `key` (literal entry key, found by listing). */
async function physicalKeyOf(store: CacheStore, prefix: string, tenant: string, key: string): Promise<string> {
  for await (const page of store.scan(prefix)) {
    for (const k of page) {
      const parsed = parsePhysicalKey(k, prefix);
      if (parsed?.kind === 'entry' && parsed.scope === `t${tenant.length}:${tenant}:` && parsed.rest === key) return k;
    }
  }
  throw new Error(`no physical key for ${tenant}/${key}`);
}

let cluster: RedisClusterHandle | undefined;
let clusterClient: ReturnType<typeof createCluster> | undefined;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  clusterClient = createCluster({ rootNodes: [{ url: `redis://${cluster.nodes[0]!.host}:${cluster.nodes[0]!.port}` }] });
  clusterClient.on('error', () => {});
  await clusterClient.connect();
}, 60_000);
afterAll(async () => {
  await clusterClient?.close();
  await cluster?.stop();
});

const STORES: { name: string; definition: () => StoreDefinition }[] = [
  { name: 'memory', definition: () => memoryStore() },
  { name: 'redis', definition: () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) },
  { name: 'a 3-master Redis Cluster', definition: () => redisStore({ client: clusterClient as unknown as RedisClientLike, commandTimeout: 5000 }) },
];

describe.each(STORES)('shredTenant on $name', ({ definition }) => {
  let app: TestModule;
  let store: () => CacheStore;
  const prefix = `shred-${randomUUID().slice(0, 8)}:`;
  const corrupt: { tenant?: string; reason: string }[] = [];

  beforeAll(async () => {
    const captured = capturing(definition());
    store = captured.store;
    app = await bootCache({ keyPrefix: prefix, stores: { default: captured.definition }, codec: wrapped([S1]) }, { logger: false });
    app.cache.events.on('entry:corrupt', (e) => void corrupt.push({ tenant: e.tenant, reason: e.reason }));
  });
  afterAll(async () => {
    await store()?.deleteByPrefix(prefix);
    await app?.close();
  });

  it('a ciphertext copied aside before the shred and written back after it is a miss with entry:corrupt; other tenants still decrypt', async () => {
    for (const t of [VICTIM, ...OTHERS]) await app.cache.forTenant(t).set('secret', { owner: t, card: '4111' });
    const physical = await physicalKeyOf(store(), prefix, VICTIM, 'secret');
    const copy = await store().get(physical);
    expect(copy).toBeInstanceOf(Buffer);
    expect(copy!.toString('latin1')).not.toContain('4111');

    const report = await app.cache.shredTenant(VICTIM);
    expect(report).toEqual({ tenant: VICTIM, stores: ['default'] });

    await store().set(physical, copy!); // the leftover copy (a replica, an RDB file, a missed purge)
    corrupt.length = 0;
    expect(await app.cache.forTenant(VICTIM).get('secret')).toBeUndefined();
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]!.tenant).toBe(VICTIM);
    expect(await store().get(physical)).toBeUndefined(); // removed as corrupt
    for (const t of OTHERS) expect(await app.cache.forTenant(t).get('secret')).toEqual({ owner: t, card: '4111' });
    expect(corrupt).toHaveLength(1);
  });

  it('the shredded tenant starts afresh under a new key', async () => {
    const view = app.cache.forTenant(VICTIM);
    await view.set('again', 'new value');
    expect(await view.get('again')).toBe('new value');
  });

  it('refuses invalid tenant ids with the typed error', async () => {
    for (const bad of ['', 'a:b', '*']) await expect(app.cache.shredTenant(bad)).rejects.toMatchObject({ name: 'InvalidTenantIdError' });
  });
});

describe('TenantDataKeys', () => {
  it("a tenant's wrapped key copied under another tenant does not unwrap (it is bound to its tenant)", async () => {
    const keys = new Map<string, Buffer>();
    const keyStore: TenantKeyStore = {
      get: async (t) => keys.get(t),
      add: async (t, w) => (keys.has(t) ? false : (keys.set(t, w), true)),
      set: async (t, w) => void keys.set(t, w),
      delete: async (t) => void keys.delete(t),
    };
    const first = new TenantDataKeys([Buffer.from(S1)], keyStore);
    const a = await first.load('a');
    await first.load('b');
    keys.set('b', keys.get('a')!);
    const fresh = new TenantDataKeys([Buffer.from(S1)], keyStore);
    await expect(fresh.load('b')).rejects.toThrow(/does not open/);
    expect((await fresh.load('a')).key.equals(a.key)).toBe(true);
    await fresh.shred('a');
    expect(keys.has('a')).toBe(false);
    expect((await fresh.load('a')).key.equals(a.key)).toBe(false);
  });
});

describe('shredTenant without wrapped data keys, and the options', () => {
  it('a store that is down: shredTenant rejects with StoreUnavailableError (it never looks done), and the app still closes', async () => {
    const server = await startRedisServer();
    const app = await bootCache({ stores: { default: redisStore({ url: server.url, commandTimeout: 300 }) }, codec: wrapped([S1]) }, { logger: false });
    try {
      await app.cache.forTenant(VICTIM).set('k', 1);
      await server.stop();
      const started = Date.now();
      await expect(app.cache.shredTenant(VICTIM)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await app.cache.forTenant('other').get('k')).toBeUndefined(); // a read is a miss
    } finally {
      await app.close();
    }
  });

  it('throws UnsupportedOperationError when no store has wrapped data keys', async () => {
    const app = await bootCache({ codec: { encryption: { secrets: [S1] } } }, { logger: false });
    try {
      await expect(app.cache.shredTenant(VICTIM)).rejects.toBeInstanceOf(UnsupportedOperationError);
    } finally {
      await app.close();
    }
  });

  it('rejects a bad tenantKeys or keyStore at start-up', async () => {
    await expect(bootCache({ codec: { encryption: { secrets: [S1], tenantKeys: 'random' as 'wrapped' } } }, { logger: false })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
    await expect(bootCache({ codec: { encryption: { secrets: [S1], keyStore: {} as TenantKeyStore } } }, { logger: false })).rejects.toBeInstanceOf(InvalidOptionsError);
  });
});

describe('wrapped data keys on Redis: rotation, migration, a user key store, another instance', () => {
  const prefix = `shred-rot-${randomUUID().slice(0, 8)}:`;
  const opened: TestModule[] = [];
  const boot = async (codec: object, extra: object = {}) => {
    const app = await bootCache(
      { keyPrefix: prefix, stores: { default: redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) }, codec, ...extra },
      { logger: false },
    );
    opened.push(app);
    return app;
  };
  afterAll(async () => {
    for (const app of opened) await app.close();
    const client = createClient({ url: sharedRedisUrl() });
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.unlink(keys);
    await client.close();
  });

  it('master-secret rotation: [S1] -> [S2, S1] -> [S2] keeps every tenant readable (the data key is wrapped again under S2)', async () => {
    const one = await boot(wrapped([S1]));
    await one.cache.forTenant('rot').set('r1', 'written under S1');
    await one.close();
    const both = await boot(wrapped([S2, S1]));
    expect(await both.cache.forTenant('rot').get('r1')).toBe('written under S1');
    await both.cache.forTenant('rot').set('r2', 'written under S2');
    await both.close();
    const two = await boot(wrapped([S2]));
    expect(await two.cache.forTenant('rot').get('r1')).toBe('written under S1');
    expect(await two.cache.forTenant('rot').get('r2')).toBe('written under S2');
    // Per tenant: shredding 'rot' under the rotated secret works, and leaves another tenant alone.
    await two.cache.forTenant('rot-2').set('x', 1);
    await two.cache.shredTenant('rot');
    const three = await boot(wrapped([S2]));
    expect(await three.cache.forTenant('rot').get('r1')).toBeUndefined();
    expect(await three.cache.forTenant('rot-2').get('x')).toBe(1);
  });

  it('purgeTenant removes the data key with the segment: this instance stops using it, so a fresh one reads what it writes next', async () => {
    const a = await boot(wrapped([S1]));
    await a.cache.forTenant('pur').set('before', 1);
    const report = await a.cache.purgeTenant('pur');
    expect(report.removed).toBeGreaterThanOrEqual(3); // the entry, the generation counter, the wrapped data key
    await a.cache.forTenant('pur').set('after', 2);
    const b = await boot(wrapped([S1]));
    expect(await b.cache.forTenant('pur').get('before')).toBeUndefined();
    expect(await b.cache.forTenant('pur').get('after')).toBe(2);
  });

  it("clear() keeps the tenant's data key (clearing is not shredding): a fresh instance reads what was written after it", async () => {
    const a = await boot(wrapped([S1]));
    await a.cache.forTenant('clr').set('before', 1);
    await a.cache.forTenant('clr').clear();
    await a.cache.forTenant('clr').set('after', 2);
    const b = await boot(wrapped([S1]));
    expect(await b.cache.forTenant('clr').get('before')).toBeUndefined();
    expect(await b.cache.forTenant('clr').get('after')).toBe(2);
  });

  it("migration: entries written with derived keys still open after switching to 'wrapped'", async () => {
    const derived = await boot({ encryption: { secrets: [S1] } });
    await derived.cache.forTenant('mig').set('old', 'derived');
    await derived.close();
    const now = await boot(wrapped([S1]));
    expect(await now.cache.forTenant('mig').get('old')).toBe('derived');
    await now.cache.forTenant('mig').set('new', 'wrapped');
    expect(await now.cache.forTenant('mig').get('new')).toBe('wrapped');
  });

  it('a user-supplied key store holds the wrapped keys; shredTenant deletes from it', async () => {
    const keys = new Map<string, Buffer>();
    const keyStore: TenantKeyStore = {
      get: async (t) => keys.get(t),
      add: async (t, w) => (keys.has(t) ? false : (keys.set(t, w), true)),
      set: async (t, w) => void keys.set(t, w),
      delete: async (t) => void keys.delete(t),
    };
    const app = await boot(wrapped([S1], { keyStore }));
    await app.cache.forTenant('kms').set('k', 'v');
    expect(keys.get('kms')).toBeInstanceOf(Buffer);
    expect(keys.get('kms')!.length).toBe(66);
    await app.cache.shredTenant('kms');
    expect(keys.has('kms')).toBe(false);
    expect(await app.cache.forTenant('kms').get('k')).toBeUndefined();
  });

  it('another instance drops its cached copy of the key through the bus', async () => {
    const channel = `tc-test-shred-${randomUUID()}`;
    const bus = () => ({ invalidation: { bus: redisInvalidationBus({ url: sharedRedisUrl(), channel }) } });
    const a = await boot(wrapped([S1]), bus());
    const b = await boot(wrapped([S1]), bus());
    await a.cache.forTenant('multi').set('k', 'v');
    expect(await b.cache.forTenant('multi').get('k')).toBe('v'); // b now holds the data key
    const corrupt: string[] = [];
    b.cache.events.on('entry:corrupt', (e) => void corrupt.push(e.tenant ?? ''));
    const client = createClient({ url: sharedRedisUrl() });
    await client.connect();
    let physical = '';
    for await (const keys of client.scanIterator({ MATCH: `${prefix}t5:multi:g*:k2:k`, COUNT: 1000 })) physical ||= keys[0] ?? '';
    const copy = (await client.sendCommand(['GET', physical], { typeMapping: { 36: Buffer } })) as Buffer;
    await a.cache.shredTenant('multi');
    await client.sendCommand(['SET', physical, copy]);
    await client.close();
    // The bus is asynchronous: b drops its copy of the key shortly after.
    const deadline = Date.now() + 5000;
    let value: unknown = 'v';
    while (Date.now() < deadline && (value = await b.cache.forTenant('multi').get('k')) !== undefined) {
      await client.sendCommand(['SET', physical, copy]).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(value).toBeUndefined();
    expect(corrupt).toContain('multi');
  });
});
