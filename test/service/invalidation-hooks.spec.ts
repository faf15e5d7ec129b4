import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantCacheService, versioned } from '../../lib/index.js';
import { CacheEngine } from '../../lib/engine/cache-engine.js';
import type { InvalidationEvent } from '../../lib/engine/invalidation-hooks.js';
import { as, boot, type CapturingLogger } from '../decorators/fixtures.js';
import { storeCases } from '../support/store-cases.js';

/** The listeners CDN backends and the cross-instance bus rely on: told of every invalidation, once, after it happened. */
describe.each(storeCases())('invalidation hooks on $name', ({ definition }) => {
  let cache: TenantCacheService;
  let engine: CacheEngine;
  let logger: CapturingLogger;
  let close: () => Promise<void>;
  const seen: InvalidationEvent[] = [];

  beforeAll(async () => {
    const app = await boot(definition(), []);
    ({ cache, close, logger } = app);
    engine = app.moduleRef.get(CacheEngine);
    engine.hooks.add((e) => {
      seen.push(e);
    });
  });
  afterAll(() => close());

  const take = () => seen.splice(0).map(({ scope, ...rest }) => ({ tenant: scope.kind === 'tenant' ? scope.tenantId : 'shared', ...rest }));

  it('reports keys, prefixes, tags and invalidateAll with the tenant and store they happened in', async () => {
    take();
    await as('a:b', async () => {
      await cache.set('k', 1);
      await cache.delete('k');
      await cache.mdel(['x', 'y']);
      await cache.deleteByPrefix('4*');
      await cache.invalidateTag('products');
      await cache.invalidateTag(versioned('catalog'));
      await cache.invalidateAll();
    });
    await cache.shared().delete('s');
    expect(take()).toEqual([
      { tenant: 'a:b', store: 'default', kind: 'keys', keys: ['k'] },
      { tenant: 'a:b', store: 'default', kind: 'keys', keys: ['x', 'y'] },
      { tenant: 'a:b', store: 'default', kind: 'prefix', prefix: '4*' },
      { tenant: 'a:b', store: 'default', kind: 'tag', tag: 'products', versioned: false },
      { tenant: 'a:b', store: 'default', kind: 'tag', tag: 'catalog', versioned: true },
      { tenant: 'a:b', store: 'default', kind: 'all' },
      { tenant: 'shared', store: 'default', kind: 'keys', keys: ['s'] },
    ]);
  });

  it('reads and writes report nothing', async () => {
    take();
    await as('t1', async () => {
      await cache.set('k', 1);
      await cache.get('k');
      await cache.getOrSet('g', () => 2);
    });
    expect(take()).toEqual([]);
  });

  it('a failing listener is logged and never fails the invalidation', async () => {
    const remove = engine.hooks.add(() => {
      throw new Error('CDN unreachable');
    });
    try {
      await as('t2', async () => {
        await cache.set('k', 1);
        expect(await cache.delete('k')).toBe(true);
        expect(await cache.get('k')).toBeUndefined();
      });
      expect(logger.warnings().some((w) => w.includes('CDN unreachable'))).toBe(true);
    } finally {
      remove();
    }
  });
});
