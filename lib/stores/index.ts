export * from './cache-store.interface.js';
export { MemoryStore, memoryStore, type MemoryStoreOptions } from './memory.store.js';
export { RedisStore, redisStore, type RedisStoreOptions } from './redis.store.js';
export type { RedisClientLike, IoredisLike } from './redis-commander.js';
export { ResilientStore, type ResilienceOptions } from './resilient.store.js';
export { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './circuit-breaker.js';
export { OutageLog } from './outage-log.js';
export { KeyvStore, keyvStore, type KeyvStoreOptions } from './keyv.store.js';
export { CacheManagerStore, cacheManagerStore, type CacheManagerStoreOptions } from './cache-manager.store.js';
export { LegacyStore, legacyStore, type LegacyStoreOptions, type LegacyCacheStore } from './legacy.store.js';
export type { AdapterStoreOptions } from './adapter-support.js';
export type {
  KeyvLike,
  KeyvStoreAdapterLike,
  KeyvIteratorLike,
  KeyvRawEntryLike,
  KeyvEntryLike,
  CacheManagerLike,
  CacheManagerTierLike,
} from './adapter-types.js';
