import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { InvalidKeyConstructorError } from '../errors/invalid-key-constructor.error.js';
import { InvalidTtlError } from '../errors/invalid-ttl.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { UnknownStoreError } from '../errors/unknown-store.error.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import { CompiledKey } from '../keys/key-constructor.compiler.js';
import { KeyConstructor } from '../keys/key-constructor.js';
import { CacheEngine } from '../service/cache-engine.js';
import { type CacheResultConfig, CachedMethodDefinition, type ScopeResolver } from '../service/cached-method.js';
import { type TagSpec, isVersionedTag, resolveTags, versioned } from '../engine/tags.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import { validateCodecCallOptions } from '../codec/codec.options.js';
import { copyMethodMetadata } from './copy-method-metadata.js';
import { InvalidationRegistry } from '../invalidation/invalidation.registry.js';
import { alreadyWrapped, evictionFailed, notStaticProvider, onController } from './decorators.messages.js';
import { type RecordedCacheEvict, type RecordedCacheResult, TenantCacheMetadataAccessor } from './tenant-cache-metadata.accessor.js';
import { CACHE_EVICT_KEYS, CACHE_RESULT_KEYS, ITERABLE_KEYS, describeUnknownKeys } from './decorator-options.js';

type AnyMethod = (...args: unknown[]) => unknown;

/** Marks, on a provider instance, the methods a TenantCacheModule already wrapped (two module instances must not both wrap). */
const WRAPPED = Symbol.for('nestjs-tenant-cache:wrapped-methods');
type Marked = { [WRAPPED]?: Set<string> };

function wrappedMethodsOf(instance: object): Set<string> {
  const existing = (instance as Marked)[WRAPPED];
  if (existing) return existing;
  const created = new Set<string>();
  Object.defineProperty(instance, WRAPPED, { value: created, enumerable: false });
  return created;
}

/** One eviction of a `@CacheEvict`, resolved at start-up. */
interface EvictionSpec {
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
interface EvictionPlan {
  before: boolean;
  steps: { what: string; run: () => Promise<unknown> }[];
}

/**
 * Wraps the `@CacheResult` and `@CacheEvict` methods of every singleton provider at module init
 * (DiscoveryService + MetadataScanner), registering cached methods for `cache.method(...)`. Options
 * are validated here, so a bad declaration fails start-up with the method's name.
 */
@Injectable()
export class TenantCacheExplorer implements OnModuleInit {
  private readonly logger = new Logger('TenantCache');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly metadata: TenantCacheMetadataAccessor,
    private readonly engine: CacheEngine,
    private readonly service: TenantCacheService,
    private readonly invalidation: InvalidationRegistry,
  ) {}

  onModuleInit(): void {
    const resolve: ScopeResolver = (operation) => this.service.resolveScope(operation);
    this.engine.methods.tags.declareRules(this.engine.options.invalidation?.rules, 'invalidation.rules');
    this.engine.methods.readDecorationsWith((type, name) => this.metadata.cacheResult(type.prototype as object, name) !== undefined);
    const evictions: { instance: object; prototype: object; name: string; options: readonly RecordedCacheEvict[] }[] = [];
    const seen = new WeakMap<object, Set<string>>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (wrapper.isAlias || !instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype || prototype === Object.prototype) continue;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const result = this.metadata.cacheResult(prototype, name);
        const evict = this.metadata.cacheEvict(prototype, name);
        if (!result && !evict) continue;
        const label = `${instance.constructor.name}.${name}`;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(notStaticProvider(label));
          continue;
        }
        const done = seen.get(instance) ?? new Set<string>();
        seen.set(instance, done);
        if (done.has(name)) continue;
        done.add(name);
        const marked = wrappedMethodsOf(instance);
        if (marked.has(name)) {
          this.logger.warn(alreadyWrapped(label));
          continue;
        }
        marked.add(name);
        if (result) this.wrapResult(instance, prototype, name, result, resolve);
        if (evict) evictions.push({ instance, prototype, name, options: evict });
      }
    }
    // Evictions name cached methods: resolved once every cached method is registered.
    for (const e of evictions) this.wrapEvict(e.instance, e.name, e.options, resolve);
    for (const wrapper of this.discovery.getControllers()) {
      const instance: unknown = wrapper.instance;
      const prototype = instance && typeof instance === 'object' ? (Object.getPrototypeOf(instance) as object) : undefined;
      if (!prototype) continue;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        if (this.metadata.cacheResult(prototype, name) || this.metadata.cacheEvict(prototype, name)) {
          this.logger.warn(onController(`${(instance as object).constructor.name}.${name}`));
        }
      }
    }
  }

  private wrapResult(instance: object, prototype: object, name: string, options: RecordedCacheResult, resolve: ScopeResolver): void {
    const type = instance.constructor;
    const label = `@CacheResult on ${type.name}.${name}`;
    const original = (instance as Record<string, AnyMethod>)[name]!;
    const config = this.validateResult(label, options);
    const paramTypes = Reflect.getMetadata('design:paramtypes', prototype, name) as unknown[] | undefined;
    // A trailing Array parameter may be a rest parameter: then the count is unknown.
    const paramCount = paramTypes && paramTypes[paramTypes.length - 1] !== Array ? paramTypes.length : undefined;
    const target = { className: type.name, methodName: name, paramCount };
    const keyOption = options.key as unknown;
    let key: CompiledKey;
    let keyType: Function | undefined;
    if (keyOption === undefined) key = CompiledKey.fromArguments(target, options.namespace);
    else if (typeof keyOption === 'function' && keyOption.prototype instanceof KeyConstructor) {
      keyType = keyOption;
      key = CompiledKey.fromConstructor(keyOption as new () => object, target, options.namespace);
    } else if (typeof keyOption === 'function') key = CompiledKey.fromFunction(keyOption as AnyMethod, target, options.namespace);
    else throw new InvalidKeyConstructorError(label, 'key must be a KeyConstructor subclass or a function returning a string');
    const clash = this.engine.methods.byNamespaceOf(key.namespace);
    if (clash && (clash.type !== type || clash.methodName !== name)) {
      throw new InvalidKeyConstructorError(label, `its key namespace "${key.namespace}" is already used by ${clash.name}; give each method its own`);
    }
    this.engine.methods.tags.declare(config.tags, label);
    config.tags = this.engine.methods.tags.adapt(config.tags);
    const definition = new CachedMethodDefinition(type, name, instance, original, key, keyType, config, this.engine);
    const wrapped = config.iterable
      ? function (this: unknown, ...args: unknown[]) {
          return definition.callIterable(this, args, resolve);
        }
      : function (this: unknown, ...args: unknown[]) {
          return definition.call(this, args, resolve);
        };
    copyMethodMetadata(original, wrapped);
    Object.defineProperty(instance, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
    this.engine.methods.register(definition);
    // Rules are checked against the method's key now: a bad one fails start-up naming the method.
    this.invalidation.attach(definition, options.invalidatesOn, label);
    this.engine.methods.tags.declareRules(options.invalidatesOn, `invalidatesOn of ${label}`);
  }

  private validateResult(label: string, options: RecordedCacheResult): CacheResultConfig {
    if (typeof options !== 'object' || options === null) throw new InvalidKeyConstructorError(label, 'options must be an object');
    const fail = (problem: string) => new InvalidKeyConstructorError(label, problem);
    const unknown = describeUnknownKeys(options, CACHE_RESULT_KEYS, { iterable: ITERABLE_KEYS });
    if (unknown) throw fail(unknown);
    if (options.namespace !== undefined && (typeof options.namespace !== 'string' || options.namespace.length === 0)) {
      throw fail('namespace must be a non-empty string');
    }
    this.validateTtl(options.ttl, label);
    for (const fn of ['unless', 'condition'] as const) {
      if (options[fn] !== undefined && typeof options[fn] !== 'function') throw fail(`${fn} must be a function`);
    }
    const scope = options.scope ?? 'tenant';
    if (scope !== 'tenant' && scope !== 'shared') throw fail(`scope must be "tenant" or "shared", got ${JSON.stringify(scope)}`);
    this.validateStore(options.store, label);
    try {
      validateCodecCallOptions(options.codec, 'codec');
    } catch (error) {
      throw fail((error as Error).message);
    }
    const iterable = this.validateIterable(options, fail);
    return {
      iterable,
      codec: options.codec,
      ttl: options.ttl,
      tags: this.validateTags(label, options.tags),
      unless: options.unless as ((result: unknown) => boolean) | undefined,
      condition: options.condition as ((...args: unknown[]) => boolean) | undefined,
      cacheNullish: options.cacheNullish === true,
      scope,
      store: options.store,
    };
  }

  private validateIterable(options: RecordedCacheResult, fail: (problem: string) => Error): { pageBytes?: number } | undefined {
    const it = options.iterable;
    if (it === undefined || it === false) return undefined;
    if (it !== true && (typeof it !== 'object' || it === null)) throw fail('iterable must be true or { pageBytes }');
    for (const o of ['tags', 'unless', 'cacheNullish'] as const) {
      if (options[o] !== undefined) throw fail(`${o} does not apply to an iterable method; remove it (invalidate the entry by its arguments instead)`);
    }
    const pageBytes = it === true ? undefined : it.pageBytes;
    if (pageBytes !== undefined && (!Number.isSafeInteger(pageBytes) || pageBytes <= 0)) {
      throw fail(`iterable.pageBytes must be a positive whole number of bytes, got ${String(pageBytes)}`);
    }
    return { pageBytes };
  }

  private validateTags(label: string, tags: unknown): readonly TagSpec[] {
    if (tags === undefined) return [];
    if (!Array.isArray(tags)) throw new InvalidKeyConstructorError(label, 'tags must be a list');
    for (const t of tags) {
      if (typeof t === 'function') continue;
      if (typeof t !== 'string' && !isVersionedTag(t)) {
        throw new InvalidKeyConstructorError(label, `tags hold names, versioned(name) or functions, got ${t === null ? 'null' : typeof t}`);
      }
    }
    try {
      resolveTags(tags.filter((t) => typeof t !== 'function') as TagSpec[], []);
    } catch (error) {
      throw new InvalidKeyConstructorError(label, (error as Error).message, error);
    }
    return tags as TagSpec[];
  }

  private validateStore(alias: string | undefined, label: string): void {
    if (alias !== undefined && !(typeof alias === 'string' && Object.prototype.hasOwnProperty.call(this.engine.options.stores, alias))) {
      throw new UnknownStoreError(String(alias), Object.keys(this.engine.options.stores), label);
    }
  }

  private validateTtl(ttl: number | undefined, label: string): void {
    if (ttl === undefined) return;
    try {
      this.engine.ttl(ttl);
    } catch (error) {
      if (error instanceof InvalidTtlError) throw new InvalidTtlError(ttl, label);
      throw error;
    }
  }

  private wrapEvict(instance: object, name: string, all: readonly RecordedCacheEvict[], resolve: ScopeResolver): void {
    const type = instance.constructor;
    const label = `@CacheEvict on ${type.name}.${name}`;
    const specs = all.map((options) => this.compileEvict(label, type, options));
    const original = (instance as Record<string, AnyMethod>)[name]!;
    const method = `${type.name}.${name}`;
    const plan = (args: unknown[]): EvictionPlan[] => specs.map((s) => this.plan(s, args, resolve));
    const apply = async (plans: EvictionPlan[], before: boolean) => {
      // NOTE: every eviction at once: a store that stops answering costs the method one timeout, not one per step.
      const steps = plans.filter((p) => p.before === before).flatMap((p) => p.steps);
      await Promise.all(
        steps.map(async (step) => {
          try {
            await step.run();
          } catch (error) {
            // NOTE: the write is done (or about to be): a cache failure must not fail it. A store failure was
            // logged by the engine (once per outage) and emitted as store:error: one more line per call
            // would flood the log during an outage. Anything else is logged here.
            if (error instanceof StoreUnavailableError) return;
            this.logger.warn(evictionFailed(method, step.what, error instanceof Error ? error : new Error(String(error))));
          }
        }),
      );
    };
    const wrapped = async function (this: unknown, ...args: unknown[]) {
      const plans = plan(args);
      await apply(plans, true);
      const result = await original.apply(this, args);
      await apply(plans, false);
      return result;
    };
    copyMethodMetadata(original, wrapped);
    Object.defineProperty(instance, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
  }

  private compileEvict(label: string, ownType: Function, options: RecordedCacheEvict): EvictionSpec {
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
      target = this.engine.methods.get(type, options.method, CachedMethodDefinition);
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
    this.validateStore(options.store, label);
    const tags = this.validateTags(label, options.tags);
    this.engine.methods.tags.declare(tags, label);
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
  private plan(spec: EvictionSpec, args: unknown[], resolve: ScopeResolver): EvictionPlan {
    const steps: EvictionPlan['steps'] = [];
    const engine: CacheEngine = this.engine;
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
}
