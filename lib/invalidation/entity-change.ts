/** What happened to an entity: a row was inserted, updated or removed. */
export type EntityChangeEvent = 'insert' | 'update' | 'remove';

/** Every event, the default of a rule's `events`. */
export const ENTITY_CHANGE_EVENTS: readonly EntityChangeEvent[] = Object.freeze(['insert', 'update', 'remove']);

/** An entity class (TypeORM, MikroORM, a plain class) or an entity name (`'Product'`, a Prisma model name). */
export type EntityTarget = (abstract new (...args: never[]) => object) | string;

/** A row's values, by property (column) name. */
export type EntityValues = Readonly<Record<string, unknown>>;

/**
 * One change of one entity, as a source publishes it to the `EntityChangeBus`.
 *
 * @example
 * await bus.publish({ entity: Product, event: 'update', data: { id: 7, tenantId: 'acme', price: 10 }, changedFields: ['price'] });
 */
export interface EntityChange {
  /** The entity class or its name; rules match it by name. */
  entity: EntityTarget;
  event: EntityChangeEvent;
  /** The row's values: after the change for insert and update, before it for remove. Missing values widen the invalidation. */
  data?: object;
  /** The row's values before an update, when known (an update that moves a mapped column invalidates both addresses). */
  previous?: object;
  /** Properties the update changed; `undefined` = unknown (rules with `watchFields` then act). */
  changedFields?: readonly string[];
  /** The tenant of the change; default the tenant in context when it is published. A rule's `tenantField` wins over both. */
  tenantId?: string;
}

/** The name rules and jobs use for an entity target. */
export function entityName(target: EntityTarget): string {
  return typeof target === 'string' ? target : target.name;
}

/** A plain copy of an entity's own enumerable values (what a job carries; functions are left out). */
export function snapshot(value: object | undefined | null): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v !== 'function') out[k] = v;
  return out;
}
