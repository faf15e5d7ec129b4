export { EntityChangeBus, type EntityChangeBatch } from './entity-change.bus.js';
export { type EntityChange, type EntityChangeEvent, type EntityTarget, type EntityValues, entityName } from './entity-change.js';
export type { EntityChangeSource, EntityChangePublisher } from './entity-change-source.js';
export {
  not,
  isNegated,
  invalidationRule,
  type InvalidationRule,
  type InvalidationContext,
  type WhenCondition,
  type ColumnCondition,
  type ColumnOf,
  type Negated,
} from './invalidation-rule.js';
export type { InvalidationJob } from './invalidation-job.js';
export type { InvalidationModuleOptions } from './invalidation.options.js';
export type { InvalidationDispatcher, InvalidationDispatcherDefinition, InvalidationJobRunner } from './dispatchers/invalidation-dispatcher.js';
export { inlineDispatcher } from './dispatchers/inline.dispatcher.js';
export { backgroundDispatcher, type BackgroundDispatcherOptions } from './dispatchers/background.dispatcher.js';
export type { InvalidationBusDefinition, InvalidationTransport } from './invalidation-bus.js';
export { redisInvalidationBus, type RedisInvalidationBusOptions } from './redis-invalidation.bus.js';
export { InvalidationBusHost } from './invalidation-bus.host.js';
export { InvalidationRegistry } from './invalidation.registry.js';
export { InvalidationRunner } from './invalidation.runner.js';
