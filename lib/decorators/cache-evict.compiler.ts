import { InvalidKeyConstructorError } from '../errors/invalid-key-constructor.error.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import type { CacheEngine } from '../engine/cache-engine.js';
import { CachedMethodDefinition, type ScopeResolver } from '../service/cached-method.js';
import { type TagSpec, resolveTags, versioned } from '../engine/tags.js';
import { CACHE_EVICT_KEYS, describeUnknownKeys, validateStore, validateTags } from './decorator-options.js';
import type { RecordedCacheEvict } from './tenant-cache-metadata.accessor.js';

/** One eviction of a `@CacheEvict`, resolved at start-up. */
export interface EvictionSpec {
  target?: CachedMethodDefinition;
  mode: 'entry' | 'partition' | 'all' | 'none';
  args?: (...args: unknown[]) => readonly unknown[];
  partition?: (...args: unknown[]) => Readonly<Record<string, unknown>>;
  tags: readonly TagSpec[];
  tagScope: 'tenant' | 'shared';
  store?: string;
  before: boolean;
}

/** An eviction computed from one call's arguments, applied before or after the method runs. */
export interface EvictionPlan {
  before: boolean;
  steps: { what: string; run: () => Promise<unknown> }[];
}

/**
 * Checks one `@CacheEvict` of `ownType`'s method and resolves the `@CacheResult` method it names
 * (registered by then); a bad option throws a typed error naming the method (`label`).
 */
export function compileEviction(engine: CacheEngine, label: string, ownType: Function, options: RecordedCacheEvict): EvictionSpec {
  const fail = (problem: string) => new InvalidKeyConstructorError(label, problem);
  if (typeof options !== 'object' || options === null) throw fail('options must be an object');
  const unknown = describeUnknownKeys(
    options,
    CACHE_EVICT_KEYS,
    {},
    {
      key: 'Name the @CacheResult method and map the arguments: method: "get", args: (id) => [id].',
      methodName: 'Write method: "get".',
    },
  );
  if (unknown) throw fail(unknown);
  let target: CachedMethodDefinition | undefined;
  if (options.method !== undefined) {
    let type: unknown = options.target ?? ownType;
    // A function without a prototype is an arrow function returning the class (forward reference).
    if (typeof type === 'function' && !('prototype' in type && type.prototype)) type = (type as () => unknown)();
    if (typeof type !== 'function') throw fail('target must be a class or a function returning one');
    target = engine.methods.get(type, options.method, CachedMethodDefinition);
    if (!target) {
      throw fail(`it names ${type.name}.${options.method}, which is not a @CacheResult method of a singleton provider of this application`);
    }
  } else if (options.target !== undefined || options.args || options.partition || options.allEntries) {
    throw fail('target, args, partition and allEntries need method: the @CacheResult method to evict from');
  }
  const modes = [options.args && 'args', options.partition && 'partition', options.allEntries && 'allEntries'].filter(Boolean);
  if (modes.length > 1) throw fail(`give one of args, partition, allEntries (got ${modes.join(', ')})`);
  for (const fn of ['args', 'partition'] as const) {
    if (options[fn] !== undefined && typeof options[fn] !== 'function') throw fail(`${fn} must be a function of the method's arguments`);
  }
  if (options.partition && target && target.key.partitionNames.length === 0) {
    throw fail(`${target.name} has no partition fields to evict by`);
  }
  const tagScope = options.scope ?? 'tenant';
  if (tagScope !== 'tenant' && tagScope !== 'shared') throw fail(`scope must be "tenant" or "shared"`);
  validateStore(engine, options.store, label);
  const tags = validateTags(label, options.tags);
  engine.methods.tags.declare(tags, label);
  if (!target && tags.length === 0) throw fail('it evicts nothing: give method (with args, partition or allEntries) and/or tags');
  return {
    target,
    mode: !target ? 'none' : options.partition ? 'partition' : options.allEntries ? 'all' : 'entry',
    args: options.args as ((...args: unknown[]) => readonly unknown[]) | undefined,
    partition: options.partition as ((...args: unknown[]) => Readonly<Record<string, unknown>>) | undefined,
    tags,
    tagScope,
    store: options.store,
    before: options.beforeInvocation === true,
  };
}

/** Computes what one call evicts; throws (before the method runs) on bad input. */
export function planEviction(engine: CacheEngine, spec: EvictionSpec, args: unknown[], resolve: ScopeResolver): EvictionPlan {
  const steps: EvictionPlan['steps'] = [];
  const def = spec.target;
  if (def) {
    const scope = def.scopeFrom(resolve, 'evict');
    if (spec.mode === 'entry') {
      const targetArgs = spec.args ? spec.args(...args) : args;
      if (!Array.isArray(targetArgs)) {
        throw new InvalidKeyConstructorError(`@CacheEvict of ${def.name}`, 'args must return the list of arguments of the cached method');
      }
      const { key, tags } = def.address([...targetArgs], scope);
      const versionedTags = tags.versioned.map((n) => versioned(n));
      steps.push({ what: `an entry of ${def.name}`, run: () => engine.delete(scope, key, def.config.store, versionedTags) });
    } else if (spec.mode === 'partition') {
      const selector = def.key.partition(spec.partition!(...args), def.context(scope));
      steps.push({ what: `a partition of ${def.name}`, run: () => engine.invalidatePartition(scope, selector, def.config.store) });
    } else if (spec.mode === 'all') {
      steps.push({ what: `every entry of ${def.name}`, run: () => engine.deleteByPrefix(scope, def.key.head, def.config.store) });
    }
  }
  if (spec.tags.length > 0) {
    const scope: CacheScope = spec.tagScope === 'shared' ? SHARED_SCOPE : resolve('@CacheEvict tags');
    const tags = resolveTags(spec.tags, args);
    // A tag function may return a plain name the application declares versioned: that versioned tag.
    const kinds = engine.methods.tags;
    const names = new Set([...tags.versioned, ...tags.plain.filter((t) => kinds.isVersioned(t))]);
    for (const t of tags.plain) if (!names.has(t)) steps.push({ what: `tag "${t}"`, run: () => engine.invalidateTag(scope, t, spec.store) });
    for (const t of names) steps.push({ what: `tag versioned("${t}")`, run: () => engine.invalidateTag(scope, versioned(t), spec.store) });
  }
  return { before: spec.before, steps };
}
