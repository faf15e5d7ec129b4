import 'reflect-metadata';
import { createCache } from 'cache-manager';
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, cacheManagerStore, keyvStore, legacyStore, memoryStore, redisStore } from '../../lib/index.js';

/** What a store factory throws for `options`, or undefined when it accepts them. */
function thrown(call: () => unknown): InvalidOptionsError | undefined {
  try {
    call();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
}

const legacyBackend = {
  get: async () => undefined,
  set: async () => undefined,
  del: async () => undefined,
  mget: async () => [],
  mset: async () => undefined,
  mdel: async () => undefined,
  reset: async () => undefined,
  keys: async () => [],
  ttl: async () => -1,
};

describe('store factories refuse options they do not have', () => {
  it('memoryStore: a typo names the close option; cache-manager names say what to write', () => {
    expect(thrown(() => memoryStore({ maxEntires: 10 } as never))!.message).toMatch(/memoryStore\.maxEntires[\s\S]*Did you mean "memoryStore\.maxEntries"/);
    expect(thrown(() => memoryStore({ max: 10 } as never))!.message).toMatch(/memoryStore\.max[\s\S]*maxEntries/);
    expect(thrown(() => memoryStore({ ttl: 10 } as never))!.message).toMatch(/memoryStore\.ttl[\s\S]*defaultTtl/);
  });

  it('redisStore: ioredis-style connection keys point at url, every problem at once, breaker keys too', () => {
    const error = thrown(() => redisStore({ host: '127.0.0.1', port: 6379, commandTimout: 50 } as never))!;
    expect(error.problems.map((p) => p.option)).toEqual(['redisStore.host', 'redisStore.port', 'redisStore.commandTimout']);
    expect(error.message).toMatch(/url: "redis:\/\//);
    expect(error.message).toMatch(/Did you mean "redisStore\.commandTimeout"/);
    expect(thrown(() => redisStore({ url: 'redis://127.0.0.1:1', breaker: { failureTreshold: 3 } } as never))!.message).toMatch(
      /redisStore\.breaker\.failureTreshold[\s\S]*failureThreshold/,
    );
  });

  it('the adapters check theirs too', () => {
    expect(thrown(() => keyvStore(new Keyv(), { distribute: true } as never))!.message).toMatch(/keyvStore\.distribute[\s\S]*distributed/);
    expect(thrown(() => cacheManagerStore(createCache(), { maxKeyLen: 10 } as never))!.message).toMatch(/cacheManagerStore\.maxKeyLen/);
    expect(thrown(() => legacyStore(legacyBackend as never, { allowKeyListing: true } as never))!.message).toMatch(/legacyStore\.allowKeyListing[\s\S]*allowKeysListing/);
  });

  it('every documented option is accepted', () => {
    const resilience = { commandTimeout: 100, breaker: { failureThreshold: 2, resetAfter: 100 }, onBreakerChange: () => undefined };
    expect(thrown(() => memoryStore({ maxEntries: 1, maxBytes: 1024, maxValueBytes: 512, dedicatedTenant: 'acme', shareReads: true }))).toBeUndefined();
    expect(
      thrown(() => redisStore({ url: 'redis://127.0.0.1:1', connectTimeout: 100, maxValueBytes: 1, dedicatedTenant: 'a', batchSize: 10, ...resilience })),
    ).toBeUndefined();
    const adapter = { distributed: true, maxKeyLength: 100, maxValueBytes: 100, dedicatedTenant: 'a', ...resilience };
    expect(thrown(() => keyvStore(new Keyv(), adapter))).toBeUndefined();
    expect(thrown(() => cacheManagerStore(createCache(), adapter))).toBeUndefined();
    expect(thrown(() => legacyStore(legacyBackend as never, { ...adapter, allowKeysListing: true }))).toBeUndefined();
  });
});
