import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { backgroundDispatcher } from './dispatchers/background.dispatcher.js';
import { inlineDispatcher } from './dispatchers/inline.dispatcher.js';
import type { InvalidationDispatcher, InvalidationDispatcherDefinition } from './dispatchers/invalidation-dispatcher.js';
import type { EntityChangeSource } from './entity-change-source.js';
import type { InvalidationBusDefinition } from './invalidation-bus.js';
import type { InvalidationRule } from './invalidation-rule.js';

/** The `invalidation` option group of `TenantCacheModule.forRoot`. */
export interface InvalidationModuleOptions {
  /**
   * Named dispatchers rules can use. `inline` (default of every rule) and `background` always exist;
   * override them or add others (`bullmqDispatcher()` from `nestjs-tenant-cache/bullmq`, or your own).
   */
  dispatchers?: Record<string, InvalidationDispatcher | InvalidationDispatcherDefinition>;
  /**
   * A failed invalidation is logged (`log`, default), or also rejects an explicit `EntityChangeBus.publish()`
   * with `InvalidationFailedError` (`raise`, inline dispatcher only). ORM sources never fail the
   * committed transaction: they log.
   */
  onError?: 'raise' | 'log';
  /** Where changes come from: `typeOrmSource(dataSource)` (from `nestjs-tenant-cache/typeorm`) or your own. */
  sources?: readonly EntityChangeSource[];
  /** Rules that belong to no `@CacheResult` method: tags (e.g. of cached HTTP responses) or custom invalidators. Each needs a name. */
  rules?: readonly InvalidationRule[];
  /** Cross-instance bus, so every instance's memory store drops what one instance invalidated. */
  bus?: InvalidationBusDefinition;
}

/** The group after defaults and validation. */
export interface NormalizedInvalidationOptions {
  dispatchers: Readonly<Record<string, InvalidationDispatcher | InvalidationDispatcherDefinition>>;
  onError: 'raise' | 'log';
  sources: readonly EntityChangeSource[];
  rules: readonly InvalidationRule[];
  bus?: InvalidationBusDefinition;
}

/** Merges defaults and validates the `invalidation` group at start-up. */
export function normalizeInvalidationOptions(options: InvalidationModuleOptions | undefined): NormalizedInvalidationOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new InvalidOptionsError('invalidation', 'must be an object', 'Write invalidation: { sources: [...], dispatchers: {...} }.');
  }
  const dispatchers: Record<string, InvalidationDispatcher | InvalidationDispatcherDefinition> = {
    inline: inlineDispatcher(),
    background: backgroundDispatcher(),
  };
  if (o.dispatchers !== undefined && (typeof o.dispatchers !== 'object' || o.dispatchers === null)) {
    throw new InvalidOptionsError(
      'invalidation.dispatchers',
      'must be an object of named dispatchers',
      'Write dispatchers: { queue: bullmqDispatcher({ connection }) }.',
    );
  }
  for (const [name, d] of Object.entries(o.dispatchers ?? {})) {
    const ok =
      typeof d === 'object' &&
      d !== null &&
      (typeof (d as InvalidationDispatcherDefinition).create === 'function' || typeof (d as InvalidationDispatcher).dispatch === 'function');
    if (!ok) {
      throw new InvalidOptionsError(
        `invalidation.dispatchers.${name}`,
        'is not a dispatcher',
        'Use inlineDispatcher(), backgroundDispatcher({ concurrency }), bullmqDispatcher({ connection }) or an object with dispatch(jobs, runner).',
      );
    }
    dispatchers[name] = d;
  }
  const onError = o.onError ?? 'log';
  if (onError !== 'raise' && onError !== 'log') throw new InvalidOptionsError('invalidation.onError', `is ${JSON.stringify(onError)}`, 'Use "log" or "raise".');
  const sources = o.sources ?? [];
  if (!Array.isArray(sources) || sources.some((s) => typeof s !== 'object' || s === null || typeof (s as EntityChangeSource).attach !== 'function')) {
    throw new InvalidOptionsError(
      'invalidation.sources',
      'must be a list of entity change sources',
      'Use sources: [typeOrmSource(dataSource)] (from nestjs-tenant-cache/typeorm).',
    );
  }
  const rules = o.rules ?? [];
  if (!Array.isArray(rules)) throw new InvalidOptionsError('invalidation.rules', 'must be a list of rules', 'Write rules: [{ name, entity, tags }].');
  if (o.bus !== undefined && (typeof o.bus !== 'object' || o.bus === null || typeof o.bus.create !== 'function')) {
    throw new InvalidOptionsError('invalidation.bus', 'is not a bus definition', 'Use redisInvalidationBus({ url }) or redisInvalidationBus({ client }).');
  }
  return { dispatchers, onError, sources, rules, bus: o.bus };
}
