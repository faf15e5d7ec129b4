import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { CacheResult, InvalidInvalidationRuleError, InvalidOptionsError, type InvalidationRule, KeyConstructor, invalidationRule, memoryStore } from '../../lib/index.js';
import { boot } from '../decorators/fixtures.js';
import { Item } from './fixtures.js';

class ListKey extends KeyConstructor.params('org', 'category', 'query')<[org: string, category: string, query: { page: number }]> {
  org = this.arg('org', { partition: true });
  category = this.arg('category', { partition: true });
  page = this.arg('query.page');
  tenant = this.custom((_a, ctx) => ctx.tenantId);
}

/** Boots an app whose one cached method carries `rules`; resolves to the start-up error, if any. */
async function startWith(rules: readonly InvalidationRule[], options: Parameters<typeof boot>[2] = {}): Promise<unknown> {
  @Injectable()
  class Lists {
    @CacheResult({ key: ListKey, invalidatesOn: rules })
    async list(org: string, category: string, query: { page: number }): Promise<string> {
      return `${org}/${category}/${query.page}`;
    }
  }
  try {
    const app = await boot(memoryStore(), [Lists], options);
    await app.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('InvalidationRule start-up checks', () => {
  it('accepts entry, partition (any subset), and whole-method rules', async () => {
    expect(
      await startWith([
        { name: 'entry', entity: Item, fields: { org: 'tenantId', category: 'category', page: 'price' } },
        { name: 'partition', entity: Item, fields: { category: 'category' } },
        { name: 'all', entity: Item },
        invalidationRule(Item, { name: 'typed', fields: { org: 'tenantId' }, watchFields: ['price'], when: { status: 'published' } }),
      ]),
    ).toBeUndefined();
  });

  it('a field the key does not have: the error names the field, the column and the key constructor', async () => {
    const error = await startWith([{ entity: Item, fields: { sku: 'id' } }]);
    expect(error).toBeInstanceOf(InvalidInvalidationRuleError);
    expect((error as Error).message).toMatch(/field "sku" \(mapped to column "id"\) is not a field of ListKey/);
    expect((error as Error).message).toContain('fields: org, category, page, tenant');
  });

  it('a subset that is neither one entry nor only partition fields is refused, saying what to map', async () => {
    const error = await startWith([{ entity: Item, fields: { org: 'tenantId', page: 'price' } }]);
    expect((error as Error).message).toMatch(/maps org, page but not category/);
  });

  it('refresh needs one entry; custom fields cannot be mapped; fields and args exclude each other', async () => {
    expect(((await startWith([{ entity: Item, fields: { category: 'category' }, action: 'refresh' }])) as Error).message).toMatch(/refresh recomputes one entry/);
    expect(((await startWith([{ entity: Item, fields: { org: 'tenantId', category: 'category', page: 'price', tenant: 'tenantId' } }])) as Error).message).toMatch(
      /custom field\(s\) "tenant"/,
    );
    expect(((await startWith([{ entity: Item, fields: { org: 'tenantId' }, args: () => [] }])) as Error).message).toMatch(/fields or args, not both/);
  });

  it('two rules with one name, an unknown dispatcher, an unknown option or event fail start-up', async () => {
    expect(((await startWith([{ entity: Item }, { entity: 'Item' }])) as Error).message).toMatch(/two rules have this name/);
    expect(((await startWith([{ entity: Item, dispatcher: 'queue' }])) as Error).message).toMatch(/dispatcher "queue" is not configured/);
    expect(((await startWith([{ entity: Item, feilds: {} } as unknown as InvalidationRule])) as Error).message).toMatch(/unknown option "feilds"/);
    expect(((await startWith([{ entity: Item, events: ['upsert'] } as unknown as InvalidationRule])) as Error).message).toMatch(/events must be/);
  });

  it('a class provided under two tokens registers its rules once (no duplicate-name error)', async () => {
    @Injectable()
    class Twice {
      @CacheResult({ invalidatesOn: [{ entity: Item }] })
      async all(): Promise<number> {
        return 1;
      }
    }
    const app = await boot(memoryStore(), [Twice, { provide: 'TWICE', useClass: Twice }]);
    await app.close();
  });

  it('module rules need a name and something to do; bad option groups name the option', async () => {
    const noName = await startWith([], { invalidation: { rules: [{ entity: Item, tags: ['x'] }] } });
    expect(noName).toBeInstanceOf(InvalidInvalidationRuleError);
    expect((noName as Error).message).toMatch(/needs a stable name/);
    expect(((await startWith([], { invalidation: { rules: [{ name: 'n', entity: Item }] } })) as Error).message).toMatch(/invalidates nothing/);
    expect(await startWith([], { invalidation: { onError: 'throw' as 'raise' } })).toBeInstanceOf(InvalidOptionsError);
    expect(((await startWith([], { invalidation: { dispatchers: { q: {} as never } } })) as Error).message).toMatch(/invalidation.dispatchers.q/);
  });
});
