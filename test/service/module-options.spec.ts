import 'reflect-metadata';
import { type DynamicModule, Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, TENANT_CACHE_OPTIONS, TenantCacheError, TenantCacheModule, type TenantCacheModuleOptions, memoryStore } from '../../lib/index.js';
import { assertKnownOptions } from '../../lib/tenant-cache.option-keys.js';

/** Boots a real Nest testing module with the cache module; resolves to the start-up error, or undefined. */
async function bootError(module: DynamicModule): Promise<InvalidOptionsError | Error | undefined> {
  try {
    const ref = await Test.createTestingModule({ imports: [module] })
      .setLogger(false as never)
      .compile();
    await ref.close();
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

/** Boots and returns the normalized options the module provides. */
async function bootOptions(module: DynamicModule): Promise<Record<string, unknown>> {
  const ref = await Test.createTestingModule({ imports: [module] }).compile();
  const options = ref.get<Record<string, unknown>>(TENANT_CACHE_OPTIONS);
  await ref.close();
  return options;
}

const forRoot = (options: Record<string, unknown>) => TenantCacheModule.forRoot(options as TenantCacheModuleOptions);

describe('TenantCacheModule.forRoot: unknown options fail start-up', () => {
  it.each([
    ['ttl', 200, /"ttl" is not an option\. .*defaultTtl/],
    ['defaultTTL', 200, /"defaultTTL" is not an option\. Did you mean "defaultTtl"\?/],
    ['tenants', {}, /"tenants" is not an option\. Did you mean "tenant"\?/],
    ['storse', {}, /"storse" is not an option\. Did you mean "stores"\?/],
    ['store', {}, /"store" is not an option\. .*stores: \{ default:/],
    ['max', 100, /"max" is not an option\. .*memoryStore\(\{ maxEntries/],
    ['refreshThreshold', 1000, /"refreshThreshold" is not an option\. .*wrap/],
    ['cacheId', 'x', /"cacheId" is not an option\. .*keyPrefix/],
    ['nonBlocking', true, /"nonBlocking" is not an option\. /],
    ['extraProviders', [], /"extraProviders" is not an option\. .*forRootAsync/],
  ])('%s', async (name, value, message) => {
    const error = await bootError(forRoot({ [name]: value }));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).option).toBe(name);
    expect(error!.message).toMatch(message);
  });

  it('reports every problem at once, nested groups included, and keeps the error fields', async () => {
    const error = (await bootError(
      forRoot({
        ttl: 200,
        defaultTtl: -1,
        keyPrefix: 'bad prefix!',
        tenant: { maxLenght: 10, resolvers: [] },
        http: { ttls: 5, headers: { xcache: false } },
        codec: { compresion: { algorithm: 'gzip' }, encryption: { secret: 'x'.repeat(40) } },
        invalidation: { dispatcher: {}, onError: 'log' },
      }),
    )) as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toBeInstanceOf(TenantCacheError);
    expect(error.code).toBe('E_OPTIONS_INVALID');
    expect(error.name).toBe('InvalidOptionsError');
    expect(error.problems.map((p) => p.option)).toEqual([
      'ttl',
      'defaultTtl',
      'keyPrefix',
      'tenant.maxLenght',
      'tenant.resolvers',
      'codec.compresion',
      'codec.encryption.secret',
      'invalidation.dispatcher',
      'http.ttls',
      'http.headers.xcache',
    ]);
    expect(error.option).toBe('ttl');
    expect(error.message).toMatch(/10 problems/);
    expect(error.message).toMatch(/"tenant\.maxLenght" is not an option\. Did you mean "tenant\.maxLength"\?/);
    expect(error.message).toMatch(/"tenant\.resolvers" is not an option\. Did you mean "tenant\.resolver"\?/);
    expect(error.message).toMatch(/"codec\.encryption\.secret" is not an option\. Did you mean "codec\.encryption\.secrets"\?/);
    expect(error.message).toMatch(/"http\.headers\.xcache" is not an option\. Did you mean "http\.headers\.xCache"\?/);
    expect(error.message).toMatch(/"defaultTtl" is -1/);
  });

  it('checks compression, hashKeys and per-store codec keys', async () => {
    const error = (await bootError(
      forRoot({
        stores: { default: { ...memoryStore(), codec: { chunksize: 4096 } } },
        codec: { compression: { algoritm: 'gzip' }, hashKeys: { secrets: 'y'.repeat(40) } },
      }),
    )) as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.problems.map((p) => p.option)).toEqual(['codec.compression.algoritm', 'codec.hashKeys.secrets', 'stores.default.codec.chunksize']);
  });

  it("names cache-manager's stores list and says what to write", async () => {
    const error = (await bootError(forRoot({ stores: [memoryStore()] }))) as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.message).toMatch(/"stores" is a list.*stores: \{ default: keyvStore\(keyv\) \}/);
  });

  it('suggests "default" for a misspelt default store', async () => {
    const error = (await bootError(forRoot({ stores: { defualt: memoryStore() } }))) as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.message).toMatch(/"stores" has no "default" entry \(got "defualt"\)\. Did you mean "default" for "defualt"\?/);
  });

  it('still boots with every option the module accepts', async () => {
    const options = await bootOptions(
      forRoot({
        isGlobal: true,
        stores: { default: memoryStore({ maxEntries: 10 }) },
        defaultTtl: 5,
        keyPrefix: 'opts:',
        tenant: { middleware: true, maxLength: 40, pattern: /^[a-z]+$/, resolver: [() => 'a'], isKnownTenant: () => true, authorize: () => true },
        storeFor: () => undefined,
        onWriteError: 'ignore',
        versionCacheTtl: 10,
        provideCacheManager: false,
        tagIndex: 'store',
        codec: { compression: { algorithm: 'gzip', threshold: 10, level: 5 }, chunkSize: 4096, maxValueBytes: 1 << 20, encryption: false, hashKeys: false },
        invalidation: { dispatchers: {}, onError: 'log', sources: [], rules: [] },
        http: {
          backends: {},
          purge: [],
          surrogateHeaders: true,
          surrogateKeyPrefix: 'x-',
          ttl: 5,
          headers: { xCache: true, age: true, etag: true },
          maxBodyBytes: 10,
          tenantHeaders: [],
        },
      }),
    );
    expect(options.defaultTtl).toBe(5);
  });
});

describe('TenantCacheModule.forRootAsync options', () => {
  it('checks the factory result like forRoot, and refuses isGlobal inside it', async () => {
    const error = (await bootError(
      TenantCacheModule.forRootAsync({ useFactory: () => ({ ttl: 5, isGlobal: true }) as TenantCacheModuleOptions }),
    )) as InvalidOptionsError;
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error.problems.map((p) => p.option)).toEqual(['ttl', 'isGlobal']);
    expect(error.message).toMatch(/"isGlobal" .*next to useFactory/);
  });

  it('refuses unknown keys next to useFactory at the call', () => {
    expect(() => TenantCacheModule.forRootAsync({ useFactory: () => ({}), injects: [] } as never)).toThrow(/"injects" is not an option\. Did you mean "inject"\?/);
    expect(() => TenantCacheModule.forRootAsync({ useFactory: () => ({}), defaultTtl: 5 } as never)).toThrow(/"defaultTtl" .*inside what useFactory returns/);
  });

  it("accepts a useClass with cache-manager's createCacheOptions()", async () => {
    @Injectable()
    class CacheConfig {
      createCacheOptions(): TenantCacheModuleOptions {
        return { defaultTtl: 7 };
      }
    }
    const options = await bootOptions(TenantCacheModule.forRootAsync({ useClass: CacheConfig }));
    expect(options.defaultTtl).toBe(7);
  });

  it('accepts a useClass with createTenantCacheOptions()', async () => {
    @Injectable()
    class CacheConfig {
      async createTenantCacheOptions(): Promise<TenantCacheModuleOptions> {
        return { defaultTtl: 8 };
      }
    }
    const options = await bootOptions(TenantCacheModule.forRootAsync({ useClass: CacheConfig }));
    expect(options.defaultTtl).toBe(8);
  });

  it('fails a useClass with neither method, naming the method to write', async () => {
    @Injectable()
    class CacheConfig {
      options() {
        return {};
      }
    }
    const error = await bootError(TenantCacheModule.forRootAsync({ useClass: CacheConfig as never }));
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error!.message).toMatch(/CacheConfig has no createTenantCacheOptions\(\).*createTenantCacheOptions\(\): TenantCacheModuleOptions/);
  });

  it('registers extraProviders in the module, injectable into useFactory', async () => {
    const CONFIG = Symbol('config');
    const options = await bootOptions(
      TenantCacheModule.forRootAsync({
        extraProviders: [{ provide: CONFIG, useValue: { ttl: 9 } }],
        inject: [CONFIG],
        useFactory: (config: { ttl: number }) => ({ defaultTtl: config.ttl }),
      }),
    );
    expect(options.defaultTtl).toBe(9);
  });

  it('registers extraProviders that a useExisting factory class depends on', async () => {
    @Injectable()
    class Settings {
      readonly ttl = 11;
    }
    @Injectable()
    class CacheConfig {
      constructor(@Inject(Settings) private readonly settings: Settings) {}
      createCacheOptions(): TenantCacheModuleOptions {
        return { defaultTtl: this.settings.ttl };
      }
    }
    @Module({})
    class Root {}
    const ref = await Test.createTestingModule({
      imports: [Root, TenantCacheModule.forRootAsync({ useClass: CacheConfig, extraProviders: [Settings] })],
    }).compile();
    expect(ref.get<Record<string, unknown>>(TENANT_CACHE_OPTIONS).defaultTtl).toBe(11);
    await ref.close();
  });
});

describe('assertKnownOptions (for store and backend factories)', () => {
  it('lists every unknown key as factory.key with the closest name, in the InvalidOptionsError style', () => {
    const call = () =>
      assertKnownOptions({ maxEntires: 5, maxBytes: 1, ttl: 5 }, ['maxEntries', 'maxBytes'], 'memoryStore', { ttl: 'Give TTLs per call or as defaultTtl.' });
    expect(call).toThrow(InvalidOptionsError);
    expect(call).toThrow(/"memoryStore\.maxEntires" is not an option\. Did you mean "memoryStore\.maxEntries"\?/);
    expect(call).toThrow(/"memoryStore\.ttl" is not an option\. Give TTLs per call/);
    expect(() => assertKnownOptions({ maxEntries: 1 }, ['maxEntries'], 'memoryStore')).not.toThrow();
    expect(() => assertKnownOptions(undefined, ['maxEntries'], 'memoryStore')).not.toThrow();
  });
});
