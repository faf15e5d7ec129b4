import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastlyBackend, memoryStore, redisInvalidationBus, scopeSurrogateKey } from '../../lib/index.js';
import { CacheEngine } from '../../lib/engine/cache-engine.js';
import { InvalidationBusHost } from '../../lib/invalidation/invalidation-bus.host.js';
import { parsePhysicalKey } from '../../lib/keys/key-layout.js';
import { ADVERSARIAL_TENANTS, boot } from '../decorators/fixtures.js';
import { FakeCdn } from '../support/fake-cdn.js';
import { sharedRedisUrl } from '../support/redis-server.js';

/**
 * `purgeTenant` across instances: three app instances, each on its own memory store, share a bus and a CDN.
 * The purge resolves once the other instances acknowledged, so their stores already hold none of the tenant's
 * keys; the CDN is purged once, by the tenant's surrogate key; other tenants (adversarial ids) keep theirs.
 */

type App = Awaited<ReturnType<typeof boot>>;

const VICTIM = 'a:b';
const OTHERS = ADVERSARIAL_TENANTS.filter((t) => t !== VICTIM);

describe('purgeTenant with the invalidation bus and a CDN backend', () => {
  const apps: App[] = [];
  let cdn: FakeCdn;
  let keyPrefix: string;
  const channel = `tc-test-purge-${randomUUID()}`;
  const messages: string[] = [];
  const listener = createClient({ url: sharedRedisUrl() });

  beforeAll(async () => {
    cdn = await new FakeCdn({ fastly: { serviceId: 'svc', token: 'tok' } }).start();
    keyPrefix = `purge-bus-${randomUUID().slice(0, 8)}:`;
    await listener.connect();
    await listener.subscribe(channel, (m) => messages.push(m));
    for (let i = 0; i < 3; i++) {
      apps.push(
        await boot(memoryStore(), [], {
          keyPrefix,
          invalidation: { bus: redisInvalidationBus({ url: sharedRedisUrl(), channel }) },
          http: { backends: { fastly: fastlyBackend({ serviceId: 'svc', apiToken: 'tok', baseUrl: cdn.url }) } },
        }),
      );
    }
  });
  afterAll(async () => {
    await listener.close();
    for (const app of apps) await app.close();
    await cdn?.stop();
  });

  /** Keys per tenant in one instance's memory store (raw listing). */
  async function keysByTenant(app: App): Promise<Map<string, number>> {
    const { store, keys } = await app.moduleRef.get(CacheEngine).registry.get('default');
    const counts = new Map<string, number>();
    for await (const page of store.scan('')) {
      for (const k of page) {
        const scope = parsePhysicalKey(k, keyPrefix)?.scope ?? 'foreign';
        counts.set(scope, (counts.get(scope) ?? 0) + 1);
      }
    }
    // Name the segments by tenant for readable failures.
    const named = new Map<string, number>();
    for (const t of [VICTIM, ...OTHERS]) {
      const segment = keys.scopePrefix({ kind: 'tenant', tenantId: t }).slice(keyPrefix.length);
      named.set(t, counts.get(segment) ?? 0);
    }
    return named;
  }

  it('empties the tenant on every instance before it resolves, reports the acknowledgements and purges the CDN once', async () => {
    for (const app of apps) {
      for (const t of [VICTIM, ...OTHERS]) {
        const view = app.cache.forTenant(t);
        for (let i = 0; i < 20; i++) await view.set(`k${i}`, i, { tags: ['products'] });
        await view.invalidateAll();
        await view.set('after', 1);
      }
    }
    const before = await Promise.all(apps.map(keysByTenant));
    for (const counts of before) expect(counts.get(VICTIM)).toBeGreaterThan(20);
    cdn.purges.length = 0;
    const sentBefore = messages.length;

    const report = await apps[0]!.cache.purgeTenant(VICTIM);

    // The others acknowledged: their stores are empty of the tenant already (no waiting here).
    const ids = apps.slice(1).map((app) => app.moduleRef.get(InvalidationBusHost).instanceId);
    expect(report.bus.default).toMatchObject({ published: true, subscribers: 4 }); // 3 instances + this test's listener
    expect([...report.bus.default!.acknowledged!].sort()).toEqual([...ids].sort());
    const after = await Promise.all(apps.map(keysByTenant));
    after.forEach((counts, i) => {
      expect(counts.get(VICTIM), `instance ${i}`).toBe(0);
      for (const t of OTHERS) expect(counts.get(t), `instance ${i}, tenant ${t}`).toBe(before[i]!.get(t));
    });
    expect(report.removed).toBe(before[0]!.get(VICTIM));
    expect(report.complete).toBe(true);

    // The CDN: once, by the tenant's own surrogate key, from the instance that purged.
    expect(report.cdn).toEqual([{ backend: 'fastly', ok: true }]);
    expect(cdn.purges).toEqual([{ cdn: 'fastly', target: 'svc', keys: [scopeSurrogateKey(keyPrefix, { kind: 'tenant', tenantId: VICTIM })], soft: false }]);

    // On the wire: one purge, and one acknowledgement per other instance; nothing published again.
    await new Promise((r) => setTimeout(r, 100));
    const sent = messages.slice(sentBefore).map((m) => JSON.parse(m) as { from: string; event?: { kind: string; scope: unknown }; ack?: string });
    expect(sent.filter((m) => m.event).map((m) => [m.event!.kind, m.event!.scope])).toEqual([['purge', { kind: 'tenant', tenantId: VICTIM }]]);
    expect(
      sent
        .filter((m) => m.ack)
        .map((m) => m.from)
        .sort(),
    ).toEqual([...ids].sort());

    // (Each instance's invalidateAll above travelled too: the last instance's `after` entries are the ones still current.)
    for (const t of OTHERS) expect(await apps[2]!.cache.forTenant(t).get('after')).toBe(1);
  });

  it('reports a failed CDN purge and is then not complete', async () => {
    cdn.failNext = { count: 10, status: 500 };
    const report = await apps[1]!.cache.purgeTenant(OTHERS[1]!);
    cdn.failNext = { count: 0, status: 503 };
    expect(report.complete).toBe(false);
    expect(report.cdn).toHaveLength(1);
    expect(report.cdn[0]).toMatchObject({ backend: 'fastly', ok: false });
    expect(report.cdn[0]!.error).toMatch(/500/);
  });
});
