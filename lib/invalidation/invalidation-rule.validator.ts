import { InvalidInvalidationRuleError } from '../errors/invalid-invalidation-rule.error.js';
import { type KeyFieldSpec, KEY_FIELD, isKeyField } from '../keys/key-constructor.js';
import type { CachedMethodDefinition } from '../service/cached-method.js';
import { isVersionedTag, resolveTags } from '../engine/tags.js';
import { ENTITY_CHANGE_EVENTS, type EntityChangeEvent, type EntityValues, entityName } from './entity-change.js';
import { type InvalidationContext, type InvalidationRule, isNegated } from './invalidation-rule.js';

/** How a rule addresses its method's entries. */
export type RuleMode = 'entry' | 'partition' | 'all' | 'none';

/** A rule validated at start-up. */
export interface CompiledRule {
  readonly name: string;
  readonly entity: string;
  readonly events: ReadonlySet<EntityChangeEvent>;
  readonly method?: CachedMethodDefinition;
  readonly mode: RuleMode;
  /** Key field (or argument position) -> column. */
  readonly fields: readonly (readonly [field: string, column: string])[];
  /** The method's arguments for a row (entry mode). */
  readonly argsOf?: (values: EntityValues) => unknown[];
  readonly action: 'delete' | 'refresh';
  readonly tags: NonNullable<InvalidationRule['tags']>;
  readonly dispatcher: string;
  readonly watchFields?: readonly string[];
  readonly when?: (values: EntityValues) => boolean;
  /** Columns `when` reads (a row lacking one of them is acted on: the condition cannot be judged). */
  readonly whenColumns: readonly string[];
  readonly onCreate: boolean;
  readonly tenantField?: string;
  readonly invalidate?: (context: InvalidationContext) => void | Promise<void>;
  readonly scope: 'tenant' | 'shared';
  readonly store?: string;
  /** Every column the rule names (checked against the entity's metadata by sources that know it). */
  readonly columns: readonly string[];
}

interface FieldInfo {
  name: string;
  spec: KeyFieldSpec;
  partition: boolean;
}

const RULE_KEYS = new Set([
  'name',
  'entity',
  'events',
  'fields',
  'args',
  'action',
  'tags',
  'dispatcher',
  'watchFields',
  'when',
  'onCreate',
  'tenantField',
  'invalidate',
  'scope',
  'store',
]);

/**
 * Validates one rule (of a `@CacheResult` method when `method` is given) and works out how it addresses
 * entries. Throws `InvalidInvalidationRuleError` naming the rule and what to change.
 */
export function compileRule(raw: InvalidationRule, method: CachedMethodDefinition | undefined, dispatchers: readonly string[], where: string): CompiledRule {
  if (typeof raw !== 'object' || raw === null) throw new InvalidInvalidationRuleError(where, 'a rule must be an object { entity, fields?, ... }');
  const entityTarget = raw.entity as unknown;
  if (!(typeof entityTarget === 'string' && entityTarget.length > 0) && typeof entityTarget !== 'function') {
    throw new InvalidInvalidationRuleError(where, 'entity must be the entity class or its name');
  }
  const entity = entityName(raw.entity);
  const name = raw.name ?? (method ? `${method.name}<-${entity}` : undefined);
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new InvalidInvalidationRuleError(
      where,
      method ? 'name must be a non-empty string of at most 200 characters' : 'a rule without a method needs a stable name (name: "products-tags")',
    );
  }
  const fail = (problem: string): never => {
    throw new InvalidInvalidationRuleError(name, `${where === name ? '' : `${where}: `}${problem}`);
  };
  for (const k of Object.keys(raw)) if (!RULE_KEYS.has(k)) fail(`unknown option "${k}" (options: ${[...RULE_KEYS].join(', ')})`);
  const events = raw.events ?? ENTITY_CHANGE_EVENTS;
  if (!Array.isArray(events) || events.length === 0 || events.some((e) => !ENTITY_CHANGE_EVENTS.includes(e))) {
    fail(`events must be a non-empty list of "insert", "update", "remove", got ${JSON.stringify(events)}`);
  }
  const action = raw.action ?? 'delete';
  if (action !== 'delete' && action !== 'refresh') fail(`action must be "delete" or "refresh", got ${JSON.stringify(action)}`);
  const dispatcher = raw.dispatcher ?? 'inline';
  if (!dispatchers.includes(dispatcher))
    fail(`dispatcher "${dispatcher}" is not configured (dispatchers: ${dispatchers.join(', ')}); add it to invalidation.dispatchers`);
  for (const fn of ['args', 'invalidate'] as const) if (raw[fn] !== undefined && typeof raw[fn] !== 'function') fail(`${fn} must be a function`);
  const onCreate = raw.onCreate ?? true;
  if (typeof onCreate !== 'boolean') fail('onCreate must be true or false');
  const columns = new Set<string>();
  const column = (value: unknown, option: string): string => {
    if (typeof value !== 'string' || value.length === 0) fail(`${option} must name an entity column (a property name), got ${JSON.stringify(value)}`);
    columns.add(value as string);
    return value as string;
  };
  const fieldsOption = raw.fields ?? {};
  if (typeof fieldsOption !== 'object' || fieldsOption === null || Array.isArray(fieldsOption)) fail('fields must be an object { keyField: "column" }');
  const fields = Object.entries(fieldsOption).map(([f, c]) => [f, column(c, `fields.${f}`)] as const);
  let watchFields: string[] | undefined;
  if (raw.watchFields !== undefined) {
    if (!Array.isArray(raw.watchFields) || raw.watchFields.length === 0) fail('watchFields must be a non-empty list of columns');
    watchFields = raw.watchFields.map((c, i) => column(c, `watchFields[${i}]`));
  }
  const tenantField = raw.tenantField === undefined ? undefined : column(raw.tenantField, 'tenantField');
  const whenColumns = new Set<string>();
  const when =
    raw.when === undefined
      ? undefined
      : compileWhen(
          raw.when,
          (c) => {
            whenColumns.add(c);
            return column(c, `when.${c}`);
          },
          fail,
        );
  const tags = raw.tags ?? [];
  if (!Array.isArray(tags)) fail('tags must be a list');
  for (const t of tags) {
    if (typeof t === 'function') continue;
    if (typeof t !== 'string' && !isVersionedTag(t)) fail(`tags hold names, versioned(name) or functions of the row, got ${t === null ? 'null' : typeof t}`);
    try {
      resolveTags([t], []);
    } catch (error) {
      fail((error as Error).message);
    }
  }
  const scope = raw.scope ?? 'tenant';
  if (scope !== 'tenant' && scope !== 'shared') fail(`scope must be "tenant" or "shared"`);
  if (method && (raw.scope !== undefined || raw.store !== undefined)) fail('scope and store come from the @CacheResult method; remove them from the rule');
  if (!method) {
    if (fields.length > 0 || raw.args || raw.action) fail('fields, args and action address a @CacheResult method: attach the rule with @CacheResult({ invalidatesOn })');
    if (tags.length === 0 && !raw.invalidate) fail('it invalidates nothing: give tags and/or invalidate');
  }
  if (raw.args && fields.length > 0) fail('give fields or args, not both');

  let mode: RuleMode = 'none';
  let argsOf: CompiledRule['argsOf'];
  if (method) {
    if (raw.args) {
      mode = 'entry';
      const args = raw.args as (values: EntityValues) => readonly unknown[];
      argsOf = (values) => {
        const out = args(values);
        if (!Array.isArray(out)) throw new TypeError("args must return the list of the cached method's arguments");
        return [...out];
      };
    } else if (fields.length === 0) mode = raw.invalidate ? 'none' : 'all';
    else ({ mode, argsOf } = addressing(method, fields, fail));
    if (action === 'refresh' && mode !== 'entry') {
      fail(`refresh recomputes one entry: map every argument field of ${method.name}'s key (or give args), or use action "delete"`);
    }
    if (action === 'refresh' && method.config.iterable) fail(`refresh does not apply to the iterable method ${method.name}; use action "delete"`);
  }
  return {
    name,
    entity,
    events: new Set(events),
    method,
    mode,
    fields,
    argsOf,
    action,
    tags,
    dispatcher,
    watchFields,
    when,
    whenColumns: [...whenColumns],
    onCreate,
    tenantField,
    invalidate: raw.invalidate as CompiledRule['invalidate'],
    scope: method ? method.config.scope : scope,
    store: method ? method.config.store : raw.store,
    columns: [...columns],
  };
}

/** Decides whether the mapped fields address one entry or a partition, and how to rebuild the arguments. */
function addressing(
  method: CachedMethodDefinition,
  mapped: readonly (readonly [string, string])[],
  fail: (problem: string) => never,
): { mode: RuleMode; argsOf?: CompiledRule['argsOf'] } {
  const keyFields = fieldsOf(method);
  const names = keyFields.map((f) => f.name);
  for (const [f, c] of mapped) {
    if (!names.includes(f)) {
      fail(
        method.keyType
          ? `field "${f}" (mapped to column "${c}") is not a field of ${method.keyType.name}, the key of ${method.name} (fields: ${names.join(', ') || 'none'})`
          : `"${f}" (mapped to column "${c}") is not an argument position of ${method.name}, which has no KeyConstructor: map positions ${names.map((n) => `"${n}"`).join(', ') || '"0"'}`,
      );
    }
  }
  const byName = new Map(keyFields.map((f) => [f.name, f]));
  const mappedNames = new Set(mapped.map(([f]) => f));
  const argFields = keyFields.filter((f) => f.spec.kind === 'arg');
  const customMapped = mapped.filter(([f]) => byName.get(f)!.spec.kind !== 'arg');
  if (argFields.every((f) => mappedNames.has(f.name)) && customMapped.length === 0) {
    const paths = mapped.map(([f, c]) => ({ column: c, ...argPath(byName.get(f)!.spec, method, fail) }));
    const arity = Math.max(paramCount(method) ?? 0, ...paths.map((p) => p.index + 1));
    return { mode: 'entry', argsOf: (values) => rebuildArgs(paths, arity, values) };
  }
  if (method.key.partitionNames.length > 0 && [...mappedNames].every((n) => byName.get(n)!.partition)) {
    return { mode: 'partition' };
  }
  const missing = argFields.filter((f) => !mappedNames.has(f.name)).map((f) => f.name);
  if (customMapped.length > 0 && missing.length === 0) {
    return fail(
      `custom field(s) ${customMapped.map(([f]) => `"${f}"`).join(', ')} of ${method.name}'s key are computed, not read from an argument: map the argument fields only (or give args)`,
    );
  }
  return fail(
    `it maps ${[...mappedNames].join(', ')} but not ${missing.join(', ')} of ${method.name}'s key: map every argument field to address one entry, ` +
      `or only partition fields (${method.key.partitionNames.join(', ') || 'the key has none'}) to wipe a partition`,
  );
}

/** The fields of a method's key: a KeyConstructor's declared fields, or one field per argument position. */
function fieldsOf(method: CachedMethodDefinition): FieldInfo[] {
  if (method.keyType) {
    const instance = new (method.keyType as new () => object)();
    return Object.entries(instance)
      .filter(([, v]) => isKeyField(v))
      .map(([name, v]) => {
        const spec = (v as { [KEY_FIELD]: KeyFieldSpec & { options: { partition?: boolean } } })[KEY_FIELD];
        return { name, spec, partition: spec.options.partition === true };
      });
  }
  const n = paramCount(method) ?? 1;
  return Array.from({ length: Math.max(n, 1) }, (_, i) => ({ name: String(i), spec: { kind: 'arg', path: i } as KeyFieldSpec, partition: false }));
}

function paramCount(method: CachedMethodDefinition): number | undefined {
  const types = Reflect.getMetadata('design:paramtypes', Object.getPrototypeOf(method.instance) as object, method.methodName) as unknown[] | undefined;
  return types ? types.length : undefined;
}

function argPath(spec: KeyFieldSpec, method: CachedMethodDefinition, fail: (problem: string) => never): { index: number; segments: string[] } {
  if (spec.kind !== 'arg') return fail('internal: not an argument field');
  const [head, ...segments] = String(spec.path).split('.');
  const names = (method.keyType as { paramNames?: readonly string[] } | undefined)?.paramNames;
  const index = /^\d+$/.test(head!) ? Number(head) : (names?.indexOf(head!) ?? -1);
  if (index < 0) return fail(`cannot tell which argument "${String(spec.path)}" reads`);
  return { index, segments };
}

/** Arguments holding the row's values at the paths the key reads (everything else undefined). */
function rebuildArgs(paths: readonly { column: string; index: number; segments: readonly string[] }[], arity: number, values: EntityValues): unknown[] {
  const args: unknown[] = new Array(arity).fill(undefined);
  // Whole arguments first, then paths into them.
  for (const p of [...paths].sort((a, b) => a.segments.length - b.segments.length)) {
    const value = values[p.column];
    if (p.segments.length === 0) {
      args[p.index] = value;
      continue;
    }
    let holder = (args[p.index] ??= {}) as Record<string, unknown>;
    for (const s of p.segments.slice(0, -1)) holder = (holder[s] ??= {}) as Record<string, unknown>;
    holder[p.segments[p.segments.length - 1]!] = value;
  }
  return args;
}

/** Compiles a `when` condition into a predicate on a row's values. */
function compileWhen(when: unknown, column: (c: string) => string, fail: (problem: string) => never): (values: EntityValues) => boolean {
  if (isNegated(when)) {
    const inner = compileWhen(when.condition, column, fail);
    return (values) => !inner(values);
  }
  if (typeof when === 'function') return (values) => (when as (v: EntityValues) => boolean)(values) === true;
  if (typeof when !== 'object' || when === null || Array.isArray(when)) return fail('when must be { column: condition }, a function of the row, or not(...)');
  const checks = Object.entries(when).map(([c, condition]) => {
    column(c);
    return (values: EntityValues) => matches(values[c], condition);
  });
  return (values) => checks.every((check) => check(values));
}

function matches(value: unknown, condition: unknown): boolean {
  if (isNegated(condition)) return !matches(value, condition.condition);
  if (typeof condition === 'function') return (condition as (v: unknown) => boolean)(value) === true;
  if (Array.isArray(condition)) return condition.some((c) => same(value, c));
  return same(value, condition);
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  // NOTE: undefined and null both mean "no value" (ORMs differ on which they report).
  if ((a === undefined || a === null) && (b === undefined || b === null)) return true;
  return Object.is(a, b);
}
