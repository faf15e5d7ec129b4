import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { createClient } from '@redis/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheResult, EntityChangeBus, fastlyBackend, KeyConstructor, type TenantScopedCache, memoryStore, redisInvalidationBus, versioned } from '../../lib/index.js';
import { FakeCdn } from '../support/fake-cdn.js';
import { sharedRedisUrl, startRedisServer } from '../support/redis-server.js';
import { ADVERSARIAL_TENANTS, as, boot, sleep } from '../decorators/fixtures.js';

class ShelfKey extends KeyConstructor.params('shelf', 'slot')<[shelf: string, slot: number]> {
  shelf = this.arg('shelf', { partition: true });
  slot = this.arg('slot');
}

@Injectable()
class Shelves {
  @CacheResult({ key: ShelfKey, tags: [versioned('shelves')], invalidatesOn: [{ entity: 'Book', fields: { shelf: 'shelf', slot: 'slot' }, tenantField: 'tenantId' }] })
  async at(shelf: string, slot: number): Promise<string> {
    return `${shelf}/${slot}`;
  }
}

class WideKey extends KeyConstructor.params('org', 'shelf', 'slot')<[org: string, shelf: string, slot: number]> {
  org = this.arg('org', { partition: true });
  shelf = this.arg('shelf', { partition: true });
  slot = this.arg('slot');
}

@Injectable()
class Wide {
  @CacheResult({ key: WideKey })
  async at(org: string, shelf: string, slot: number): Promise<string> {
    return `${org}/${shelf}/${slot}`;
  }
}

type App = Awaited<ReturnType<typeof boot>>;

/** ioredis clients handed to the bus: the user's, so the test closes them (the bus closes only its duplicate). */
const userClients: Redis[] = [];
function userClient(): Redis {
  const client = new Redis(sharedRedisUrl());
  userClients.push(client);
  return client;
}
afterAll(async () => {
  for (const c of userClients) await c.quit();
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not seen in time: ${what}`);
    await sleep(10);
  }
}

describe.each([
  ['node-redis (url)', (channel: string) => redisInvalidationBus({ url: sharedRedisUrl(), channel })],
  ['ioredis (client)', (channel: string) => redisInvalidationBus({ client: userClient(), channel })],
])('cross-instance invalidation bus, %s: two app instances, each on its own memory store', (_name, makeBus) => {
  let a: App;
  let b: App;
  const channel = `tc-test-bus-${randomUUID()}`;
  const messages: string[] = [];
  const listener = createClient({ url: sharedRedisUrl() });

  beforeAll(async () => {
    const keyPrefix = `bus-${randomUUID().slice(0, 8)}:`;
    await listener.connect();
    await listener.subscribe(channel, (m) => messages.push(m));
    // Two instances of one configuration: same key prefix, same channel, each its own memory store.
    a = await boot(memoryStore(), [Shelves, Wide], { keyPrefix, invalidation: { bus: makeBus(channel) } });
    b = await boot(memoryStore(), [Shelves, Wide], { keyPrefix, invalidation: { bus: makeBus(channel) } });
  });
  afterAll(async () => {
    await listener.close();
    await a?.close();
    await b?.close();
  });

  const cached = (app: App, tenant: string, shelf: string, slot: number) => as(tenant, async () => (await app.cache.method(Shelves, 'at').peek(shelf, slot)).hit);
  const warm = async (tenants: readonly string[]) => {
    for (const app of [a, b])
      for (const t of tenants)
        for (const [s, n] of [
          ['s1', 1],
          ['s1', 2],
          ['s2', 1],
        ] as const)
          await as(t, () => app.moduleRef.get(Shelves).at(s, n));
  };

  it('an entity change handled by one instance drops the entry in the other, for that tenant only', async () => {
    const tenants = ['acme', ...ADVERSARIAL_TENANTS.slice(0, 4)];
    await warm(tenants);
    await a.moduleRef.get(EntityChangeBus).publish({ entity: 'Book', event: 'update', data: { shelf: 's1', slot: 2, tenantId: tenants[2] } });
    await waitFor(async () => !(await cached(b, tenants[2]!, 's1', 2)), 'remote delete');
    expect(await cached(a, tenants[2]!, 's1', 2)).toBe(false);
    expect(await cached(b, tenants[2]!, 's1', 1)).toBe(true);
    for (const t of tenants.filter((x) => x !== tenants[2])) expect(await cached(b, t, 's1', 2)).toBe(true);
    await waitFor(async () => messages.length === 1, 'the one message on the channel');
    expect(JSON.parse(messages[0]!)).toMatchObject({ v: 1, event: { kind: 'keys', store: 'default', scope: { kind: 'tenant', tenantId: tenants[2] } } });
  });

  it('partitions, tags, prefixes and whole tenants travel too; remote events are not published again', async () => {
    await warm(['acme', 'globex']);
    const view = (app: App): TenantScopedCache => app.cache.forTenant('acme');
    const before = messages.length;
    await view(a).method(Shelves, 'at').invalidatePartition({ shelf: 's1' });
    await waitFor(async () => !(await cached(b, 'acme', 's1', 1)) && !(await cached(b, 'acme', 's1', 2)), 'remote partition');
    expect(await cached(b, 'acme', 's2', 1)).toBe(true);
    expect(await cached(b, 'globex', 's1', 1)).toBe(true);

    await view(b).invalidateTag(versioned('shelves'));
    await waitFor(async () => !(await cached(a, 'acme', 's2', 1)), 'remote versioned tag');
    expect(await cached(a, 'globex', 's2', 1)).toBe(true);

    await as('globex', () => a.cache.set('note', 'x'));
    await as('globex', () => b.cache.set('note', 'x'));
    await a.cache.forTenant('globex').invalidateAll();
    await waitFor(async () => (await as('globex', () => b.cache.get('note'))) === undefined, 'remote invalidateAll');
    expect(await cached(b, 'acme', 's2', 1)).toBe(false); // (dropped by the tag above, not by globex's invalidateAll)
    await sleep(100);
    // One message per local invalidation: the instance that applied a remote one stays quiet.
    const sent = messages.slice(before).map((m) => JSON.parse(m) as { from: string; event: { kind: string } });
    expect(sent.map((m) => m.event.kind)).toEqual(['prefix', 'tag', 'all']);
    expect(new Set(sent.map((m) => m.from)).size).toBe(2);
  });

  it('a partition addressed by a non-leading field travels as its prefix: other instances drop a superset, never less', async () => {
    await warm(['acme']);
    const wide = async (app: App) => as('acme', () => app.moduleRef.get(Wide).at('org1', 's1', 1));
    for (const app of [a, b]) {
      await wide(app);
      await as('acme', () => app.moduleRef.get(Wide).at('org1', 's2', 1));
    }
    await a.cache.forTenant('acme').method(Wide, 'at').invalidatePartition({ shelf: 's1' });
    const onB = b.cache.forTenant('acme').method(Wide, 'at');
    await waitFor(async () => !(await onB.peek('org1', 's1', 1)).hit, 'remote partition (filtered)');
    expect((await a.cache.forTenant('acme').method(Wide, 'at').peek('org1', 's2', 1)).hit).toBe(true); // exact locally
    expect((await onB.peek('org1', 's2', 1)).hit).toBe(false); // superset remotely
    expect(await cached(b, 'acme', 's1', 1)).toBe(true); // other methods untouched
  });

  it('ignores malformed messages and scopes with invalid tenant ids (logged)', async () => {
    await warm(['acme']);
    const pub = createClient({ url: sharedRedisUrl() });
    await pub.connect();
    try {
      await pub.publish(channel, 'not json');
      await pub.publish(channel, JSON.stringify({ v: 1, from: 'x', event: { kind: 'all', store: 'default', scope: { kind: 'tenant', tenantId: '' } } }));
      await pub.publish(channel, JSON.stringify({ v: 2 }));
    } finally {
      await pub.close();
    }
    await waitFor(async () => b.logger.warnings().filter((w) => w.includes('invalidation bus message') || w.includes('remote invalidation')).length >= 3, 'warnings');
    expect(await cached(b, 'acme', 's1', 1)).toBe(true);
  });

  it('logs a message naming a store this instance does not configure, once per unknown alias', async () => {
    await warm(['acme']);
    const [gone, other] = [`gone-${randomUUID().slice(0, 8)}`, `other-${randomUUID().slice(0, 8)}`];
    const unknown = (store: string) => JSON.stringify({ v: 1, from: 'x', event: { kind: 'all', store, scope: { kind: 'tenant', tenantId: 'acme' } } });
    const pub = createClient({ url: sharedRedisUrl() });
    await pub.connect();
    try {
      for (const store of [gone, gone, other, gone, other]) await pub.publish(channel, unknown(store));
      await pub.publish(channel, unknown('toString')); // not an own alias either
    } finally {
      await pub.close();
    }
    // Both instances receive every message; Nest's static logger may route both to one capturing logger.
    const about = (store: string) => [...a.logger.warnings(), ...b.logger.warnings()].filter((w) => w.includes(`store "${store}"`));
    await waitFor(async () => about(gone).length >= 2 && about(other).length >= 2 && about('toString').length >= 2, 'unknown-store warnings');
    await sleep(200);
    for (const store of [gone, other]) {
      expect(about(store)).toHaveLength(2); // one per instance, not one per message
      for (const line of about(store)) expect(line).toMatch(/does not configure \(its stores: "default"\)/);
    }
    expect(await cached(b, 'acme', 's1', 1)).toBe(true);
  });
});

describe('cross-instance bus when Redis goes away', () => {
  it('local invalidations still complete (logged), and the app starts even when Redis is down', async () => {
    const server = await startRedisServer();
    const keyPrefix = `bus-down-${randomUUID().slice(0, 8)}:`;
    const a = await boot(memoryStore(), [Shelves], { keyPrefix, invalidation: { bus: redisInvalidationBus({ url: server.url }) } });
    let late: App | undefined;
    try {
      await as('acme', () => a.moduleRef.get(Shelves).at('s1', 1));
      await server.stop();
      await a.moduleRef.get(EntityChangeBus).publish({ entity: 'Book', event: 'remove', data: { shelf: 's1', slot: 1, tenantId: 'acme' } });
      expect(await cached(a, 'acme', 's1', 1)).toBe(false);
      await waitFor(async () => a.logger.warnings().some((w) => w.includes('Could not publish an invalidation (keys)')), 'publish warning');
      // A second instance starting while Redis is down still starts, and caches.
      late = await boot(memoryStore(), [Shelves], { keyPrefix, invalidation: { bus: redisInvalidationBus({ url: server.url }) } });
      expect(await as('acme', () => late!.moduleRef.get(Shelves).at('s1', 1))).toBe('s1/1');
      await waitFor(async () => late!.logger.warnings().some((w) => w.includes('invalidation bus (publishing) cannot reach')), 'unreachable warning');
    } finally {
      await late?.close();
      await a.close();
      await server.stop();
    }
  });
});

function cached(app: App, tenant: string, shelf: string, slot: number): Promise<boolean> {
  return as(tenant, async () => (await app.cache.method(Shelves, 'at').peek(shelf, slot)).hit);
}

describe('cross-instance bus with a CDN backend on every instance', () => {
  let a: App;
  let b: App;
  let cdn: FakeCdn;

  beforeAll(async () => {
    cdn = await new FakeCdn({ fastly: { serviceId: 'svc', token: 'tok' } }).start();
    const keyPrefix = `bus-cdn-${randomUUID().slice(0, 8)}:`;
    const channel = `tc-test-bus-cdn-${randomUUID()}`;
    const options = () => ({
      keyPrefix,
      invalidation: { bus: redisInvalidationBus({ url: sharedRedisUrl(), channel }) },
      http: { backends: { fastly: fastlyBackend({ serviceId: 'svc', apiToken: 'tok', baseUrl: cdn.url }) } },
    });
    a = await boot(memoryStore(), [], options());
    b = await boot(memoryStore(), [], options());
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cdn?.stop();
  });

  it('purges the CDN once, from the instance where the invalidation started, while the other instance still drops its entry', async () => {
    await as('acme', () => b.cache.set('p', 1, { tags: ['products'] }));
    await as('acme', () => a.cache.invalidateTag('products'));
    await waitFor(async () => (await as('acme', () => b.cache.get('p'))) === undefined, 'remote tag invalidation');
    await sleep(200);
    expect(cdn.purges).toHaveLength(1);
    expect(cdn.purges[0]!.keys).toHaveLength(1);
  });
});
