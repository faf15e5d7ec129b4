import type { CodecCallOptions } from '../codec/codec.options.js';
import { TenantContext } from '../context/tenant-context.js';
import { TenantContextMissingError } from '../errors/tenant-context-missing.error.js';
import { type CacheScope, SHARED_SCOPE } from '../keys/key-builder.js';
import type { CompiledKey } from '../keys/key-constructor.compiler.js';
import type { KeyContext } from '../keys/key-constructor.js';
import type { CacheEngine, CacheLookup } from '../engine/cache-engine.js';
import type { FailSafeOptions } from '../engine/fail-safe.js';
import type { SingleFlightOption } from '../engine/single-flight.options.js';
import { type ResolvedTags, type TagSpec, resolveTags, versioned } from '../engine/tags.js';

/** `@CacheResult` options after start-up validation, with the fail-safe options (`FailSafeOptions`). */
export interface CacheResultConfig extends FailSafeOptions {
  ttl?: number;
  tags: readonly TagSpec[];
  unless?: (result: unknown) => boolean;
  condition?: (...args: unknown[]) => boolean;
  cacheNullish: boolean;
  scope: 'tenant' | 'shared';
  store?: string;
  codec?: CodecCallOptions;
  /** Set when the method returns an async iterable that is memoized item by item. */
  iterable?: { pageBytes?: number };
  /** Where concurrent misses share one load (see `SingleFlightOption`). */
  singleFlight?: SingleFlightOption;
  /** `false`: a tier's L1 is skipped (see `GetOrSetOptions.l1`). */
  l1?: boolean;
}

/** Resolves the scope of an operation (the ambient tenant, an explicit tenant, or shared). */
export type ScopeResolver = (operation: string) => CacheScope;

/**
 * One cached method of one provider: how its keys are built and every operation on its entries.
 * Entries hold the result wrapped in a one-element array, so `undefined` and `null` results can be
 * cached (with `cacheNullish`) and told apart from a miss.
 */
export class CachedMethodDefinition {
  constructor(
    readonly type: Function,
    readonly methodName: string,
    readonly instance: object,
    private readonly original: (...args: unknown[]) => unknown,
    readonly key: CompiledKey,
    /** The key constructor class, when the method uses one. */
    readonly keyType: Function | undefined,
    readonly config: CacheResultConfig,
    private readonly engine: CacheEngine,
  ) {}

  /** `ClassName.methodName`, for messages. */
  get name(): string {
    return `${this.type.name}.${this.methodName}`;
  }

  /** The scope an operation acts in: shared methods always use the shared namespace; tenant methods need a tenant. */
  scopeFrom(resolve: ScopeResolver, operation: string): CacheScope {
    if (this.config.scope === 'shared') return SHARED_SCOPE;
    const scope = resolve(`${this.name} (${operation})`);
    if (scope.kind !== 'tenant') throw new TenantContextMissingError(`${this.name} (${operation}): the method is cached per tenant, not in shared()`);
    return scope;
  }

  /** The body of the wrapped method: a cached call in the ambient scope. */
  async call(self: unknown, args: unknown[], resolve: ScopeResolver): Promise<unknown> {
    if (this.config.condition && !this.config.condition(...args)) return this.original.apply(self, args);
    const scope = this.scopeFrom(resolve, 'call');
    return (await this.fetch(self, args, scope, false)).value;
  }

  /** The body of a wrapped `iterable` method: items streamed while stored, or replayed from the entry. */
  callIterable(self: unknown, args: unknown[], resolve: ScopeResolver): AsyncIterable<unknown> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- a generator cannot be an arrow function
    const definition = this;
    return (async function* () {
      if (definition.config.condition && !definition.config.condition(...args)) {
        yield* definition.original.apply(self, args) as AsyncIterable<unknown>;
        return;
      }
      const scope = definition.scopeFrom(resolve, 'call');
      const key = definition.key.build(args, definition.context(scope));
      const { ttl, store, codec, iterable } = definition.config;
      yield* definition.engine.memoizeIterable(scope, key, () => definition.iterate(self, args, scope), { ttl, store, codec, pageBytes: iterable?.pageBytes });
    })();
  }

  /** A call through the cache, with whether it was a hit and when the entry was written. */
  async fetch(self: unknown, args: unknown[], scope: CacheScope, force: boolean): Promise<CacheLookup<unknown>> {
    const key = this.key.build(args, this.context(scope));
    const tags = resolveTags(this.config.tags, args, this.name);
    const found = await this.engine.fetch<[unknown]>(scope, key, async () => [await this.run(self, args, scope)], {
      ttl: this.config.ttl,
      store: this.config.store,
      tags,
      force,
      operation: 'CacheResult',
      codec: this.config.codec,
      grace: this.config.grace,
      graceBackoff: this.config.graceBackoff,
      timeout: this.config.timeout,
      staleWhileRevalidate: this.config.staleWhileRevalidate,
      refreshAhead: this.config.refreshAhead,
      ttlJitter: this.config.ttlJitter,
      singleFlight: this.config.singleFlight,
      l1: this.config.l1,
      shouldCache: ([result]) => (this.config.cacheNullish || (result !== null && result !== undefined)) && !(this.config.unless?.(result) ?? false),
    });
    return unwrap(found);
  }

  /** The entry of a call, without running the method. */
  async peek(args: unknown[], scope: CacheScope): Promise<CacheLookup<unknown>> {
    const { key, tags } = this.address(args, scope);
    return unwrap(
      await this.engine.lookup<[unknown]>(
        scope,
        key,
        this.config.store,
        tags.versioned.map((n) => versioned(n)),
      ),
    );
  }

  /** Deletes the entry of one call; true when it existed. */
  async invalidate(args: unknown[], scope: CacheScope): Promise<boolean> {
    const { key, tags } = this.address(args, scope);
    return this.engine.delete(
      scope,
      key,
      this.config.store,
      tags.versioned.map((n) => versioned(n)),
    );
  }

  /** Runs the method and stores its result (subject to `unless`/`cacheNullish`). */
  async refresh(args: unknown[], scope: CacheScope): Promise<unknown> {
    return (await this.fetch(this.instance, args, scope, true)).value;
  }

  /** Runs the method without reading or writing the cache. */
  async bypass(args: unknown[], scope: CacheScope): Promise<unknown> {
    return this.run(this.instance, args, scope);
  }

  /** Deletes the entries sharing the given partition values; resolves to how many existed. */
  async invalidatePartition(values: Readonly<Record<string, unknown>>, scope: CacheScope): Promise<number> {
    return this.engine.invalidatePartition(scope, this.key.partition(values, this.context(scope)), this.config.store);
  }

  /** Deletes every entry of this method (current version) in the scope. */
  async invalidateAll(scope: CacheScope): Promise<number> {
    return this.engine.deleteByPrefix(scope, this.key.head, this.config.store);
  }

  /** Deletes the entries written under other versions or shapes of this method's key constructor. */
  async purgeOldVersions(scope: CacheScope): Promise<number> {
    const old: string[] = [];
    let n = 0;
    for await (const page of this.engine.keysToDelete(scope, this.key.namespacePrefix, 'purgeOldVersions', this.config.store)) {
      for (const k of page) if (!k.startsWith(this.key.head)) old.push(k);
      if (old.length >= 500) n += await this.engine.mdel(scope, old.splice(0), this.config.store);
    }
    if (old.length > 0) n += await this.engine.mdel(scope, old, this.config.store);
    return n;
  }

  /** The logical key and tags of a call (exposed for `@CacheEvict`). */
  address(args: unknown[], scope: CacheScope): { key: string; tags: ResolvedTags } {
    return { key: this.key.build(args, this.context(scope)), tags: resolveTags(this.config.tags, args, this.name) };
  }

  context(scope: CacheScope): KeyContext {
    return { tenantId: scope.kind === 'tenant' ? scope.tenantId : undefined, className: this.type.name, methodName: this.methodName };
  }

  /** The items of the original iterable method, produced inside the scope's tenant. */
  private async *iterate(self: unknown, args: unknown[], scope: CacheScope): AsyncGenerator<unknown> {
    const source = (await this.run(self, args, scope)) as AsyncIterable<unknown>;
    if (scope.kind !== 'tenant' || TenantContext.current() === scope.tenantId) {
      yield* source;
      return;
    }
    // NOTE: a generator's body runs at each next(); keep the tenant in context for all of them.
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const step = await TenantContext.run(scope.tenantId, () => iterator.next());
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await iterator.return?.();
    }
  }

  /** Runs the original method as `self`, inside the scope's tenant when it is not the current one. */
  private async run(self: unknown, args: unknown[], scope: CacheScope): Promise<unknown> {
    if (scope.kind === 'tenant' && TenantContext.current() !== scope.tenantId) {
      return TenantContext.run(scope.tenantId, async () => this.original.apply(self, args));
    }
    return this.original.apply(self, args);
  }
}

function unwrap(found: CacheLookup<[unknown]>): CacheLookup<unknown> {
  const value = found.value;
  return { ...found, value: Array.isArray(value) ? value[0] : undefined };
}
