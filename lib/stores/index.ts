export * from './cache-store.interface.js';
export { MemoryStore } from './memory/memory.store.js';
export { memoryStore } from './memory/memory-store.factory.js';
export type { MemoryStoreOptions } from './memory/memory-store.options.js';
export type { OverQuotaPolicy, QuotaExceededEvent, QuotaSink, TenantLimit, TenantQuotaOptions } from './quota/tenant-quota.js';
export { RedisStore, redisStore, type RedisStoreOptions } from './redis/redis.store.js';
export type { RedisClientLike, IoredisLike } from './redis/redis-commander.js';
export { ResilientStore, type ResilienceOptions } from './resilience/resilient.store.js';
export { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './resilience/circuit-breaker.js';
export { OutageLog } from './resilience/outage-log.js';
export { KeyvStore, keyvStore, type KeyvStoreOptions } from './adapters/keyv.store.js';
export { CacheManagerStore, cacheManagerStore, type CacheManagerStoreOptions } from './adapters/cache-manager.store.js';
export { LegacyStore, legacyStore, type LegacyStoreOptions, type LegacyCacheStore } from './adapters/legacy.store.js';
export type { AdapterStoreOptions } from './adapters/adapter-support.js';
export type {
  KeyvLike,
  KeyvStoreAdapterLike,
  KeyvIteratorLike,
  KeyvRawEntryLike,
  KeyvEntryLike,
  CacheManagerLike,
  CacheManagerTierLike,
} from './adapters/adapter-types.js';
export { tieredStore, type TieredStoreOptions } from './tiered/tiered-store.factory.js';
