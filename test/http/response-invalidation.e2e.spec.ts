import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Module, Param, UseInterceptors } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheResponse,
  EntityChangeBus,
  InvalidInvalidationRuleError,
  Surrogate,
  TenantCacheInterceptor,
  TenantCacheModule,
  TenantGuard,
  memoryStore,
} from '../../lib/index.js';
import { ADAPTERS, type RunningApp, startApp } from './http-app.js';

const runs = new Map<string, number>();

@Controller('items')
@UseInterceptors(TenantCacheInterceptor)
class ItemsController {
  @CacheResponse({
    ttl: 60_000,
    tags: [Surrogate.entity('item')],
    invalidatesOn: [{ entity: 'Item', events: ['update', 'remove'], tags: [(row) => `item:${String(row.id)}`], tenantField: 'tenantId' }],
  })
  @Get(':id')
  get(@Param('id') id: string) {
    const n = (runs.get(id) ?? 0) + 1;
    runs.set(id, n);
    return { id, run: n };
  }
}

@Module({
  imports: [TenantCacheModule.forRoot({ stores: { default: memoryStore() }, keyPrefix: `rinv-${randomUUID().slice(0, 6)}:`, tenant: { pattern: /^[\s\S]+$/u } })],
  controllers: [ItemsController],
  providers: [{ provide: APP_GUARD, useClass: TenantGuard }],
})
class ItemsModule {}

describe.each(ADAPTERS)('@CacheResponse({ invalidatesOn }) on %s', (adapter) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(adapter, ItemsModule);
  });
  afterAll(() => app.close());

  const get = (tenant: string, id: string) => app.call(`/items/${id}`, { headers: { 'x-tenant-id': tenant } });

  it("an entity change drops exactly the route responses its tags name, in the row's tenant only", async () => {
    for (const t of ['acme', 'a:b']) for (const id of ['1', '2']) await get(t, id);
    expect((await get('acme', '1')).headers['x-cache']).toBe('HIT');
    await app.app.get(EntityChangeBus).publish({ entity: 'Item', event: 'update', data: { id: 1, tenantId: 'acme' } });
    const after = await get('acme', '1');
    expect(after.headers['x-cache']).toBe('MISS');
    expect((await get('acme', '2')).headers['x-cache']).toBe('HIT');
    expect((await get('a:b', '1')).headers['x-cache']).toBe('HIT');
    // inserts are not among the rule's events
    await app.app.get(EntityChangeBus).publish({ entity: 'Item', event: 'insert', data: { id: 2, tenantId: 'acme' } });
    expect((await get('acme', '2')).headers['x-cache']).toBe('HIT');
  });
});

describe('@CacheResponse({ invalidatesOn }) start-up checks', () => {
  it('refuses a rule that addresses method entries, naming the route', async () => {
    @Controller('bad')
    class BadController {
      @CacheResponse({ invalidatesOn: [{ entity: 'Item', fields: { id: 'id' } }] })
      @Get()
      get() {
        return 1;
      }
    }
    @Module({ imports: [TenantCacheModule.forRoot({})], controllers: [BadController] })
    class BadModule {}
    const error = await startApp('express', BadModule).then(
      async (a) => (await a.close(), undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInvalidationRuleError);
    expect(String((error as Error).message)).toMatch(/BadController\.get[\s\S]*attach the rule with @CacheResult/);
  });
});
