import { Redis } from 'ioredis';
import { type StoreDefinition, memoryStore, redisStore } from '../../lib/index.js';
import { sharedRedisUrl } from './redis-server.js';

/** A store to run a suite against. */
export interface StoreCase {
  name: string;
  definition: () => StoreDefinition;
}

/**
 * The stores every service-level suite runs on: the embedded memory store and real Redis, through a
 * client the store creates (node-redis) and through a user's ioredis client.
 */
export function storeCases(): StoreCase[] {
  return [
    { name: 'memory', definition: () => memoryStore({ maxEntries: 100_000 }) },
    { name: 'redis (node-redis, url)', definition: () => redisStore({ url: sharedRedisUrl(), commandTimeout: 5000 }) },
    {
      name: 'redis (user ioredis client)',
      definition: () => redisStore({ client: new Redis(sharedRedisUrl(), { lazyConnect: false }), commandTimeout: 5000 }),
    },
  ];
}
