import type { StoreDefinition } from '../cache-store.interface.js';
import type { RedisClientLike } from './redis-commander.js';

/** Where a `redisStore` definition connects: what a tier in front of it needs to open its pub/sub connections. */
export interface RedisSource {
  readonly url?: string;
  readonly client?: RedisClientLike;
  readonly connectTimeout: number;
  readonly commandTimeout: number;
}

/** The member of a `redisStore()` definition that carries its `RedisSource` (a symbol: kept by `{ ...def }`, unseen by JSON). */
const SOURCE = Symbol('tenantCache.redisSource');

/** The member to spread into a `redisStore()` definition. */
export function redisSourceMember(source: RedisSource): object {
  return { [SOURCE]: source };
}

/** The Redis source of a `redisStore()` definition; `undefined` for any other store. */
export function redisSourceOf(def: StoreDefinition): RedisSource | undefined {
  return (def as { [SOURCE]?: RedisSource })[SOURCE];
}
