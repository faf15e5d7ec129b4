export * from './cache-store.interface.js';
export { MemoryStore, memoryStore, type MemoryStoreOptions } from './memory.store.js';
export { RedisStore, redisStore, type RedisStoreOptions } from './redis.store.js';
export type { RedisClientLike, IoredisLike } from './redis-commander.js';
export { ResilientStore, type ResilienceOptions } from './resilient.store.js';
export { CircuitBreaker, type BreakerState, type CircuitBreakerOptions } from './circuit-breaker.js';
