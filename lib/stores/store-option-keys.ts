import { assertKnownOptions, optionKeys } from '../tenant-cache.option-keys.js';
import type { AdapterStoreOptions } from './adapter-support.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { ResilienceOptions } from './command-guard.js';
import type { LegacyStoreOptions } from './legacy.store.js';
import type { MemoryStoreOptions } from './memory.store.js';
import type { RedisStoreOptions } from './redis.store.js';

const BREAKER = optionKeys<CircuitBreakerOptions>({ failureThreshold: true, resetAfter: true });
const RESILIENCE = { commandTimeout: true, breaker: true, onBreakerChange: true } as const satisfies { readonly [K in keyof Required<ResilienceOptions>]: true };
const ADAPTER = { ...RESILIENCE, distributed: true, maxKeyLength: true, maxValueBytes: true, dedicatedTenant: true } as const;

/** The option names of each store factory, checked by the compiler against its options interface. */
export const STORE_OPTION_KEYS = {
  memoryStore: optionKeys<MemoryStoreOptions>({ maxEntries: true, maxBytes: true, maxValueBytes: true, dedicatedTenant: true, shareReads: true }),
  redisStore: optionKeys<RedisStoreOptions>({
    ...RESILIENCE,
    url: true,
    client: true,
    connectTimeout: true,
    maxValueBytes: true,
    dedicatedTenant: true,
    batchSize: true,
  }),
  keyvStore: optionKeys<AdapterStoreOptions>(ADAPTER),
  cacheManagerStore: optionKeys<AdapterStoreOptions>(ADAPTER),
  legacyStore: optionKeys<LegacyStoreOptions>({ ...ADAPTER, allowKeysListing: true }),
} as const;

/** Names given by cache-manager / Keyv users that mean something else here. */
const HINTS: Readonly<Record<string, string>> = {
  ttl: 'A store has no TTL of its own: set `defaultTtl` in TenantCacheModule.forRoot(), or a ttl per call.',
  namespace: 'Write `keyPrefix` in TenantCacheModule.forRoot().',
};

const CONNECTION = 'Write `url: "redis://[user:password@]host:port[/db]"`, or hand in a client you configured (`client`).';
const FACTORY_HINTS: Partial<Record<keyof typeof STORE_OPTION_KEYS, Readonly<Record<string, string>>>> = {
  memoryStore: { max: 'Write `maxEntries`.', maxSize: 'Write `maxBytes`.' },
  redisStore: { host: CONNECTION, port: CONNECTION, password: CONNECTION, username: CONNECTION, db: CONNECTION, database: CONNECTION, socket: CONNECTION },
};

/**
 * Fails a store factory call with one `InvalidOptionsError` naming every unknown option
 * (`redisStore.commandTimout`, with the closest known name), `breaker` included.
 */
export function assertStoreOptions(factory: keyof typeof STORE_OPTION_KEYS, options: object | undefined): void {
  assertKnownOptions(options, STORE_OPTION_KEYS[factory], factory, { ...HINTS, ...FACTORY_HINTS[factory] });
  const breaker = (options as ResilienceOptions | undefined)?.breaker;
  if (breaker !== undefined) assertKnownOptions(breaker, BREAKER, `${factory}.breaker`);
}
