import { assertKnownOptions, optionKeys } from '../tenant-cache.option-keys.js';
import type { AdapterStoreOptions } from './adapters/adapter-support.js';
import type { CircuitBreakerOptions } from './resilience/circuit-breaker.js';
import type { ResilienceOptions } from './resilience/command-guard.js';

const BREAKER_KEYS = optionKeys<CircuitBreakerOptions>({ failureThreshold: true, resetAfter: true });

/** The keys of `ResilienceOptions`, for the option lists of the stores that take them. */
export const RESILIENCE_KEYS = { commandTimeout: true, breaker: true, onBreakerChange: true } as const satisfies {
  readonly [K in keyof Required<ResilienceOptions>]: true;
};

/** The keys of `AdapterStoreOptions` (Keyv, cache-manager and legacy adapters). */
export const ADAPTER_KEYS = { ...RESILIENCE_KEYS, distributed: true, maxKeyLength: true, maxValueBytes: true, dedicatedTenant: true } as const satisfies {
  readonly [K in keyof Required<AdapterStoreOptions>]: true;
};

/** Names given by cache-manager / Keyv users that mean something else here. */
const HINTS: Readonly<Record<string, string>> = {
  ttl: 'A store has no TTL of its own: set `defaultTtl` in TenantCacheModule.forRoot(), or a ttl per call.',
  namespace: 'Write `keyPrefix` in TenantCacheModule.forRoot().',
};

/**
 * Fails a store factory call with one `InvalidOptionsError` naming every unknown option
 * (`redisStore.commandTimout`, with the closest known name or what to write), `breaker` included.
 */
export function assertStoreOptions(factory: string, options: object | undefined, known: readonly string[], hints: Readonly<Record<string, string>> = {}): void {
  assertKnownOptions(options, known, factory, { ...HINTS, ...hints });
  const breaker = (options as ResilienceOptions | undefined)?.breaker;
  if (breaker !== undefined) assertKnownOptions(breaker, BREAKER_KEYS, `${factory}.breaker`);
}
