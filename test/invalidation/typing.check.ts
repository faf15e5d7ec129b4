// Compile-time checks (run by `npm run typecheck`): rules typed against their entity.
import { type InvalidationRule, invalidationRule, not } from '../../lib/index.js';
import { Item } from './fixtures.js';

export const typed: InvalidationRule[] = [
  invalidationRule(Item, {
    fields: { id: 'id' },
    watchFields: ['price', 'name'],
    tenantField: 'tenantId',
    when: { status: not('draft'), price: (p) => p > 0 },
    tags: [(row) => (row.id === undefined ? undefined : `item:${row.id}`)],
    args: (row) => [row.id],
    invalidate: ({ data, tenantId }) => void [data?.category, tenantId],
  }),
  // Plain objects are accepted too (columns are then plain strings).
  { entity: 'Item', fields: { id: 'id' }, when: not({ status: 'draft' }) },
];

// @ts-expect-error 'sku' is not a column of Item
invalidationRule(Item, { fields: { id: 'sku' } });
// @ts-expect-error watchFields name columns of Item
invalidationRule(Item, { watchFields: ['colour'] });
// @ts-expect-error status is a string union, not a number
invalidationRule(Item, { when: { status: 3 } });
// @ts-expect-error events are insert, update, remove
invalidationRule(Item, { events: ['upsert'] });
