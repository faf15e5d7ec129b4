import type { TagInput } from '../engine/tags.js';
import type { TenantScopedCache } from '../service/tenant-scoped-cache.js';
import type { EntityChangeEvent, EntityTarget } from './entity-change.js';

/** Property names of an entity, as a rule names its columns. */
export type ColumnOf<E> = Extract<keyof E, string>;

const NEGATED = Symbol.for('nestjs-tenant-cache:not');

/** A condition turned around by `not(...)`. */
export interface Negated<T> {
  readonly [NEGATED]: true;
  readonly condition: T;
}

/**
 * Negates a `when` condition: a column value, a list of values, a predicate, or a whole condition.
 *
 * @example
 * when: { status: not('draft'), deletedAt: null }   // not a draft, and not soft-deleted
 * when: not({ internal: true })                      // every row except internal ones
 */
export function not<T>(condition: T): Negated<T> {
  return Object.freeze({ [NEGATED]: true as const, condition });
}

/** Whether a value is `not(...)`. */
export function isNegated(value: unknown): value is Negated<unknown> {
  return typeof value === 'object' && value !== null && (value as Partial<Negated<unknown>>)[NEGATED] === true;
}

/** A condition on one column: equal to a value, one of a list, a predicate, or `not(...)` of these. */
export type ColumnCondition<V> = V | readonly V[] | ((value: V) => boolean) | Negated<V | readonly V[] | ((value: V) => boolean)>;

/**
 * When a rule acts, judged on the row's values before or after the change (either is enough, so a row
 * leaving the condition invalidates too): column conditions (all must hold), a predicate, or `not(...)`.
 */
export type WhenCondition<E> = { readonly [K in ColumnOf<E>]?: ColumnCondition<E[K]> } | ((entity: E) => boolean) | Negated<WhenCondition<E>>;

/** What a custom invalidator is given. */
export interface InvalidationContext<E = Record<string, unknown>> {
  /** The rule's name. */
  readonly rule: string;
  readonly entity: string;
  readonly event: EntityChangeEvent;
  /** The row after the change (before it for a remove); may be partial (e.g. `repository.update(criteria, patch)`). */
  readonly data: Partial<E> | undefined;
  readonly previous: Partial<E> | undefined;
  /** The change's tenant (also the tenant in context while the invalidator runs); `undefined` for shared data. */
  readonly tenantId: string | undefined;
  /** The cache of that tenant (or the shared namespace when there is no tenant). */
  readonly cache: TenantScopedCache;
}

/**
 * Invalidates cached results when an entity changes. Attach rules to `@CacheResult({ invalidatesOn })`
 * (they then address that method's entries), or give tag-only rules in the module's
 * `invalidation.rules` (e.g. for HTTP responses cached with tags).
 *
 * - `fields` maps the method's key fields (with a `KeyConstructor`; argument positions `'0'`, `'1'`
 *   otherwise) to entity columns. Mapping every argument field addresses one entry; mapping only
 *   partition fields wipes the partition; no mapping drops every entry of the method for the tenant.
 * - `action: 'refresh'` recomputes the entry instead of deleting it (a failed refresh deletes it).
 *
 * @example
 * @CacheResult({ key: ProductKey, invalidatesOn: [{ entity: Product, fields: { id: 'id' }, tenantField: 'tenantId' }] })
 * getProduct(id: number): Promise<Product | null> { ... }
 */
export interface InvalidationRule<E extends object = Record<string, unknown>> {
  /**
   * Stable name: jobs carry it, so a worker process maps them to the same rule whatever the order of
   * registration. Default `ClassName.methodName<-Entity` (give names when one method has two rules on one entity).
   */
  name?: string;
  /** The entity class (or name) whose changes this rule follows. */
  entity: EntityTarget;
  /** Which events act. Default all: insert, update, remove. */
  events?: readonly EntityChangeEvent[];
  /** Key field (or argument position) -> entity column. */
  fields?: Readonly<Record<string, ColumnOf<E>>>;
  /** The cached method's arguments for a row, instead of `fields` (full control, e.g. for `refresh`). */
  args?(entity: Partial<E>): readonly unknown[];
  /** `delete` the addressed entries (default) or `refresh` them (recompute and store; one entry only). */
  action?: 'delete' | 'refresh';
  /** Tags invalidated too, in the change's tenant: names, `versioned(name)`, or functions of the row. */
  tags?: readonly (TagInput | ((entity: Partial<E>) => TagInput | readonly TagInput[] | undefined | null))[];
  /** Dispatcher that runs the invalidation: `inline` (default), `background`, or a name from `invalidation.dispatchers`. */
  dispatcher?: string;
  /** Act on updates only when one of these columns changed (an update whose changed columns are unknown acts). */
  watchFields?: readonly ColumnOf<E>[];
  /** Act only when this holds for the row before or after the change. */
  when?: WhenCondition<E>;
  /** Whether inserts act. Default true. */
  onCreate?: boolean;
  /** Column holding the row's tenant id: it wins over the tenant in context when the change happened. */
  tenantField?: ColumnOf<E>;
  /** A custom invalidator, run with the change (inside the change's tenant context). */
  invalidate?(context: InvalidationContext<E>): void | Promise<void>;
  /** Rules without a method: whose tags are invalidated, the tenant's (default) or the shared namespace's. */
  scope?: 'tenant' | 'shared';
  /** Rules without a method: store alias of the tags; default the tenant's route. */
  store?: string;
}

/**
 * Types a rule against its entity class, so columns, conditions and functions are checked.
 *
 * @example
 * invalidatesOn: [invalidationRule(Product, { fields: { id: 'id' }, watchFields: ['price', 'name'], tenantField: 'tenantId' })]
 */
export function invalidationRule<C extends abstract new (...args: never[]) => object>(
  entity: C,
  rule: Omit<InvalidationRule<InstanceType<C>>, 'entity'>,
): InvalidationRule {
  return { ...rule, entity } as unknown as InvalidationRule;
}
