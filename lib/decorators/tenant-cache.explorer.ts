import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { InvalidKeyConstructorError } from '../errors/invalid-key-constructor.error.js';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { CompiledKey } from '../keys/key-constructor.compiler.js';
import { KeyConstructor } from '../keys/key-constructor.js';
import { CacheEngine } from '../engine/cache-engine.js';
import { CachedMethodDefinition, type ScopeResolver } from '../service/cached-method.js';
import { TenantCacheService } from '../service/tenant-cache.service.js';
import type { NormalizedInvalidationOptions } from '../invalidation/invalidation.options.js';
import { InvalidationRegistry } from '../invalidation/invalidation.registry.js';
import { TENANT_CACHE_OPTIONS } from '../tenant-cache.constants.js';
import { type EvictionPlan, compileEviction, planEviction } from './cache-evict.compiler.js';
import { validateCacheResult } from './cache-result.validator.js';
import { copyMethodMetadata } from './copy-method-metadata.js';
import { alreadyWrapped, evictionFailed, notStaticProvider, onController } from './decorators.messages.js';
import { type RecordedCacheEvict, type RecordedCacheResult, TenantCacheMetadataAccessor } from './tenant-cache-metadata.accessor.js';

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

/**
 * Wraps the `@CacheResult` and `@CacheEvict` methods of every singleton provider at module init
 * (DiscoveryService + MetadataScanner), registering cached methods for `cache.method(...)`. Options
 * are checked as they are wrapped (cache-result.validator.ts, cache-evict.compiler.ts), so a bad
 * declaration fails start-up with the method's name.
 */
/** The module options the explorer reads (the invalidation rules' tags are declared with the decorators' tags). */
export interface ExplorerOptions {
  readonly invalidation?: Pick<NormalizedInvalidationOptions, 'rules'>;
}

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
    @Inject(TENANT_CACHE_OPTIONS) private readonly options: ExplorerOptions,
  ) {}

  onModuleInit(): void {
    const resolve: ScopeResolver = (operation) => this.service.resolveScope(operation);
    this.engine.methods.tags.declareRules(this.options.invalidation?.rules, 'invalidation.rules');
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
    const config = validateCacheResult(this.engine, label, options);
    const paramTypes = this.metadata.paramTypes(prototype, name);
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

  private wrapEvict(instance: object, name: string, all: readonly RecordedCacheEvict[], resolve: ScopeResolver): void {
    const type = instance.constructor;
    const engine = this.engine;
    const specs = all.map((options) => compileEviction(engine, `@CacheEvict on ${type.name}.${name}`, type, options));
    const original = (instance as Record<string, AnyMethod>)[name]!;
    const method = `${type.name}.${name}`;
    const plan = (args: unknown[]): EvictionPlan[] => specs.map((s) => planEviction(engine, s, args, resolve));
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
}
