import { Inject, Injectable } from '@nestjs/common';
import { InvalidInvalidationRuleError } from '../errors/invalid-invalidation-rule.error.js';
import type { CachedMethodDefinition } from '../service/cached-method.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import type { EntityChangeSource } from './entity-change-source.js';
import type { InvalidationRule } from './invalidation-rule.js';
import { type CompiledRule, compileRule } from './invalidation-rule.validator.js';
import { type NormalizedInvalidationOptions, normalizeInvalidationOptions } from './invalidation.options.js';

/** What the registry reads of the module options (`TENANT_CACHE_OPTIONS`). */
export interface InvalidationRegistryOptions {
  /** The `invalidation` group (missing = defaults: inline and background dispatchers, `log`). */
  readonly invalidation?: NormalizedInvalidationOptions;
}

/**
 * The invalidation rules of one application, by stable name and by entity. Filled at start-up by the
 * explorer (`@CacheResult({ invalidatesOn })`) and from `invalidation.rules`; one per module instance.
 */
@Injectable()
export class InvalidationRegistry {
  readonly options: NormalizedInvalidationOptions;
  private readonly byName = new Map<string, CompiledRule>();
  private readonly byEntity = new Map<string, CompiledRule[]>();
  private readonly routes = new Set<string>();

  constructor(@Inject(TENANT_CACHE_OPTIONS) moduleOptions: InvalidationRegistryOptions) {
    this.options = moduleOptions.invalidation ?? normalizeInvalidationOptions(undefined);
    for (const rule of this.options.rules) this.add(compileRule(rule, undefined, this.dispatcherNames, `invalidation.rules "${String(rule?.name)}"`));
  }

  get dispatcherNames(): string[] {
    return Object.keys(this.options.dispatchers);
  }

  /** Compiles and registers the rules of a cached method; throws on a bad rule (start-up). */
  attach(method: CachedMethodDefinition, rules: unknown, label: string): void {
    if (rules === undefined) return;
    if (!Array.isArray(rules)) throw new InvalidInvalidationRuleError(label, 'invalidatesOn must be a list of rules');
    // A class provided under two tokens has two instances with the same keys: the first one's rules serve both.
    if (this.all().some((r) => r.method?.type === method.type && r.method.methodName === method.methodName)) return;
    for (const rule of rules as InvalidationRule[]) this.add(compileRule(rule, method, this.dispatcherNames, label));
  }

  /**
   * Compiles and registers the rules of a cached route (`@CacheResponse({ invalidatesOn })`): rules that
   * invalidate tags, named `<route><-<entity>` unless they carry a name. Throws on a bad rule (start-up).
   */
  attachRoute(route: string, rules: unknown): void {
    if (rules === undefined) return;
    const label = `@CacheResponse on ${route}`;
    if (!Array.isArray(rules)) throw new InvalidInvalidationRuleError(label, 'invalidatesOn must be a list of rules');
    if (this.routes.has(route)) return;
    this.routes.add(route);
    for (const rule of rules as InvalidationRule[]) {
      const entity: unknown = rule?.entity;
      const entityName = typeof entity === 'function' ? entity.name : String(entity);
      this.add(compileRule({ ...rule, name: rule?.name ?? `${route}<-${entityName}` }, undefined, this.dispatcherNames, label));
    }
  }

  get(name: string): CompiledRule | undefined {
    return this.byName.get(name);
  }

  /** The rules following an entity (by name). */
  forEntity(entity: string): readonly CompiledRule[] {
    return this.byEntity.get(entity) ?? [];
  }

  all(): CompiledRule[] {
    return [...this.byName.values()];
  }

  /** Fails start-up when a rule names a column a source knows the entity lacks. */
  verifyColumns(source: EntityChangeSource): void {
    if (!source.columnsOf) return;
    for (const rule of this.byName.values()) {
      const known = source.columnsOf(rule.entity);
      if (!known) continue;
      for (const column of rule.columns) {
        if (!known.includes(column)) {
          const mapped = rule.fields.find(([, c]) => c === column);
          throw new InvalidInvalidationRuleError(
            rule.name,
            `${mapped ? `field "${mapped[0]}" of ${rule.method?.keyType?.name ?? rule.method?.name ?? 'the key'} maps to ` : ''}column "${column}", which entity ${rule.entity} does not have (${source.name} columns: ${known.join(', ')})`,
          );
        }
      }
    }
  }

  private add(rule: CompiledRule): void {
    const existing = this.byName.get(rule.name);
    if (existing) {
      throw new InvalidInvalidationRuleError(
        rule.name,
        `two rules have this name${existing.method ? ` (the other is on ${existing.method.name})` : ''}; give each rule its own name: jobs find their rule by name`,
      );
    }
    this.byName.set(rule.name, rule);
    const list = this.byEntity.get(rule.entity) ?? [];
    list.push(rule);
    this.byEntity.set(rule.entity, list);
  }
}
