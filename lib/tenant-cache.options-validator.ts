import { type CodecOptions, type CompressionOptions, type EncryptionOptions, normalizeCodecOptions, PLAIN_CODEC } from './codec/codec.options.js';
import { type HttpCacheOptions, type ResponseHeaderOptions, normalizeHttpOptions } from './http/http.options.js';
import { type InvalidOption, InvalidOptionsError } from './errors/invalid-options.error.js';
import { DEFAULT_KEY_PREFIX, DEFAULT_STORE } from './tenant-cache.constants.js';
import type { TenantOptions } from './context/tenant.options.js';
import type { NormalizedTenantCacheOptions, TenantCacheModuleOptions } from './tenant-cache.options.js';
import { memoryStore } from './stores/memory/memory-store.factory.js';
import { type InvalidationModuleOptions, normalizeInvalidationOptions } from './invalidation/invalidation.options.js';
import { closestName, optionKeys, unknownKeys } from './tenant-cache.option-keys.js';
import { failSafeProblems } from './engine/fail-safe.js';
import { singleFlightProblems, singleFlightSettings } from './engine/single-flight.options.js';
import { normalizeMetricsOptions } from './observability/observability.options.js';

/** The keys of `TenantCacheModuleOptions` (what `forRoot` and a `forRootAsync` factory may give). */
export const MODULE_OPTION_KEYS = optionKeys<TenantCacheModuleOptions>({
  stores: true,
  defaultTtl: true,
  keyPrefix: true,
  tenant: true,
  storeFor: true,
  onWriteError: true,
  versionCacheTtl: true,
  grace: true,
  staleWhileRevalidate: true,
  refreshAhead: true,
  ttlJitter: true,
  singleFlight: true,
  provideCacheManager: true,
  tagIndex: true,
  codec: true,
  invalidation: true,
  http: true,
  metrics: true,
});

/** The keys of each option group; an unknown key in any of them fails start-up. */
const TENANT_KEYS = optionKeys<TenantOptions>({ resolver: true, isKnownTenant: true, authorize: true, middleware: true, cls: true, maxLength: true, pattern: true });
const TENANT_CLS_KEYS = optionKeys<NonNullable<TenantOptions['cls']>>({ store: true, key: true });
const CODEC_KEYS = optionKeys<CodecOptions>({ compression: true, encryption: true, chunkSize: true, maxValueBytes: true, hashKeys: true });
const COMPRESSION_KEYS = optionKeys<CompressionOptions>({ algorithm: true, threshold: true, level: true });
const ENCRYPTION_KEYS = optionKeys<EncryptionOptions>({ secrets: true, required: true, tenantKeys: true, keyStore: true });
const HASH_KEYS_KEYS = optionKeys<Exclude<NonNullable<CodecOptions['hashKeys']>, boolean>>({ secret: true });
const INVALIDATION_KEYS = optionKeys<InvalidationModuleOptions>({ dispatchers: true, onError: true, sources: true, rules: true, bus: true });
const HTTP_KEYS = optionKeys<HttpCacheOptions>({
  backends: true,
  purge: true,
  surrogateHeaders: true,
  surrogateKeyPrefix: true,
  userId: true,
  ttl: true,
  headers: true,
  maxBodyBytes: true,
  tenantHeaders: true,
});
const HTTP_HEADER_KEYS = optionKeys<ResponseHeaderOptions>({ xCache: true, age: true, etag: true });

const FOR_ROOT_ASYNC_ONLY = 'It is a forRootAsync option: TenantCacheModule.forRootAsync({ imports, inject, useFactory }).';
const REDIS_CONNECTION = 'Connection options go to the store: stores: { default: redisStore({ url: "redis://host:6379" }) }.';

/**
 * What to write instead of the options of cache-manager, `@nestjs/cache-manager`'s `CacheModule.register`
 * and other cache modules (docs/migrating-from-cache-manager.md lists them all).
 */
function moduleHints(options: Readonly<Record<string, unknown>>): Record<string, string> {
  return {
    ttl: `cache-manager's ttl is defaultTtl here (milliseconds, 0 = no expiry): write defaultTtl: ${typeof options.ttl === 'number' ? options.ttl : 60_000}.`,
    store: 'A store goes under a name: stores: { default: redisStore({ url }) } (keyvStore(keyv), cacheManagerStore(cache) or legacyStore(store) take an existing one).',
    max: 'Bound the memory store itself: stores: { default: memoryStore({ maxEntries: 1000 }) }.',
    refreshThreshold: "There is no module-wide refresh: give it per call to the drop-in CACHE_MANAGER's wrap(key, fn, ttl, refreshThreshold).",
    refreshAllStores: 'Each tenant reads one store (see storeFor), so there is nothing to refresh in other stores: remove it.',
    nonBlocking:
      'Each tenant writes one store (see storeFor), so no write waits on a second one: remove it (onWriteError: "ignore" keeps a failed write from failing the call).',
    cacheId: 'Separate two caches sharing a store with keyPrefix: "myapp:".',
    namespace: 'Separate two caches sharing a store with keyPrefix: "myapp:".',
    isCacheableValue: 'Say it per call: getOrSet(key, fn, { shouldCache }) or @CacheResult({ unless }).',
    extraProviders: 'It is a forRootAsync option (providers its useFactory can inject): TenantCacheModule.forRootAsync({ extraProviders, inject, useFactory }).',
    isGlobal: 'In forRootAsync it goes next to useFactory, not inside what the factory returns: forRootAsync({ isGlobal: true, useFactory }).',
    useFactory: FOR_ROOT_ASYNC_ONLY,
    useClass: FOR_ROOT_ASYNC_ONLY,
    useExisting: FOR_ROOT_ASYNC_ONLY,
    inject: FOR_ROOT_ASYNC_ONLY,
    imports: FOR_ROOT_ASYNC_ONLY,
    url: REDIS_CONNECTION,
    host: REDIS_CONNECTION,
    port: REDIS_CONNECTION,
    password: REDIS_CONNECTION,
    db: REDIS_CONNECTION,
    socket: REDIS_CONNECTION,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Unknown keys of a codec group (module or store), nested groups included. */
function unknownCodecKeys(codec: unknown, path: string): InvalidOption[] {
  if (!isObject(codec)) return [];
  return [
    ...unknownKeys(codec, CODEC_KEYS, `${path}.`),
    ...unknownKeys(codec.compression, COMPRESSION_KEYS, `${path}.compression.`),
    ...unknownKeys(codec.encryption, ENCRYPTION_KEYS, `${path}.encryption.`),
    ...unknownKeys(codec.hashKeys, HASH_KEYS_KEYS, `${path}.hashKeys.`),
  ];
}

/**
 * Merges defaults and validates once, at start-up. Every problem is collected and reported at once in
 * one `InvalidOptionsError` (a single problem keeps the error the check raised), each naming the
 * option and what to write instead; unknown keys, at any depth, are problems too.
 */
export function normalizeOptions(options: TenantCacheModuleOptions = {}): NormalizedTenantCacheOptions {
  const problems: InvalidOption[] = [];
  const errors: Error[] = [];
  const bad = (option: string, problem: string, fix: string) => {
    problems.push({ option, problem, fix });
  };
  /** Runs a group's own normalizer, collecting what it raises; `fallback` stands in for its result. */
  const attempt = <T>(run: () => T, fallback: T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof InvalidOptionsError) problems.push(...error.problems);
      else if (error instanceof Error) {
        errors.push(error);
        problems.push({ option: '', problem: error.message, fix: '' });
      } else throw error;
      return fallback;
    }
  };
  if (!isObject(options as unknown)) {
    throw new InvalidOptionsError(
      '(options)',
      `are ${Array.isArray(options) ? 'a list' : String(options)}`,
      'Pass an object: TenantCacheModule.forRoot({ stores, defaultTtl }).',
    );
  }
  const raw = options as Readonly<Record<string, unknown>>;
  problems.push(...unknownKeys(raw, MODULE_OPTION_KEYS, '', moduleHints(raw)));

  const defaultStores = { [DEFAULT_STORE]: memoryStore() };
  let stores = options.stores ?? defaultStores;
  if (Array.isArray(stores)) {
    bad('stores', "is a list (cache-manager's stores: [keyv])", 'Name each store: stores: { default: keyvStore(keyv) } (or redisStore({ url }), memoryStore()).');
    stores = defaultStores;
  } else if (!isObject(stores)) {
    bad('stores', 'must be an object of named stores', 'Write stores: { default: memoryStore() }.');
    stores = defaultStores;
  } else if (!(DEFAULT_STORE in stores)) {
    const misspelt = Object.keys(stores).find((k) => closestName(k, [DEFAULT_STORE]) !== undefined);
    bad(
      'stores',
      `has no "default" entry (got ${
        Object.keys(stores)
          .map((k) => `"${k}"`)
          .join(', ') || 'none'
      })`,
      misspelt !== undefined
        ? `Did you mean "default" for "${misspelt}"? The default store serves tenants without a route and the shared namespace.`
        : 'Name one store "default": it serves tenants without a route and the shared namespace.',
    );
  }
  const definitions = Object.entries(stores).filter(([alias, def]) => {
    if (def && typeof def.create === 'function') return true;
    bad(`stores.${alias}`, 'is not a store definition', 'Use memoryStore(), redisStore({ url }), keyvStore(keyv), cacheManagerStore(cache) or legacyStore(store).');
    return false;
  });
  const defaultTtl = options.defaultTtl ?? 0;
  if (typeof defaultTtl !== 'number' || Number.isNaN(defaultTtl) || defaultTtl < 0) {
    bad('defaultTtl', `is ${String(defaultTtl)}`, 'Give milliseconds >= 0 (0 = no expiry).');
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string' || !/^[A-Za-z0-9_.:-]{0,64}$/.test(keyPrefix)) {
    bad('keyPrefix', `is ${JSON.stringify(keyPrefix)}`, 'Use up to 64 letters, digits or "_-.:" (e.g. "myapp:").');
  }
  if (options.tenant !== undefined && !isObject(options.tenant)) {
    bad('tenant', 'must be an object', 'Write tenant: { resolver: fromHeader("x-tenant-id") }.');
  }
  const tenant: TenantOptions & { middleware: boolean } = { middleware: true, ...(isObject(options.tenant) ? (options.tenant as TenantOptions) : {}) };
  problems.push(...unknownKeys(options.tenant, TENANT_KEYS, 'tenant.', { header: 'Write resolver: fromHeader("x-tenant-id").' }));
  if (tenant.maxLength !== undefined && (!Number.isInteger(tenant.maxLength) || tenant.maxLength < 1)) {
    bad('tenant.maxLength', `is ${String(tenant.maxLength)}`, 'Give a positive integer.');
  }
  if (tenant.pattern !== undefined && !(tenant.pattern instanceof RegExp)) {
    bad('tenant.pattern', 'is not a RegExp', 'Give a RegExp such as /^[a-z0-9-]+$/.');
  } else if (tenant.pattern?.global || tenant.pattern?.sticky) {
    bad('tenant.pattern', 'has the g or y flag', 'Drop the flag: the pattern is tested once per id.');
  }
  const resolvers = tenant.resolver === undefined ? [] : Array.isArray(tenant.resolver) ? tenant.resolver : [tenant.resolver];
  if (resolvers.some((r) => typeof r !== 'function')) {
    bad('tenant.resolver', 'must be a function or a list of functions', 'Use fromHeader(), fromJwtClaim(), ...');
  }
  for (const fn of ['isKnownTenant', 'authorize'] as const) {
    if (tenant[fn] !== undefined && typeof tenant[fn] !== 'function') bad(`tenant.${fn}`, 'must be a function', 'Pass a (sync or async) function.');
  }
  if (tenant.cls !== undefined && (typeof tenant.cls !== 'object' || typeof tenant.cls.store?.get !== 'function')) {
    bad('tenant.cls', 'must be { store, key? } where store has get(key)', 'Pass your nestjs-cls ClsService: tenant: { cls: { store: clsService, key: "tenantId" } }.');
  }
  problems.push(...unknownKeys(tenant.cls, TENANT_CLS_KEYS, 'tenant.cls.'));
  if (tenant.middleware !== undefined && typeof tenant.middleware !== 'boolean') {
    bad('tenant.middleware', `is ${String(tenant.middleware)}`, 'Write middleware: false to open tenant scopes yourself, or leave it out.');
  }
  if (options.storeFor !== undefined && typeof options.storeFor !== 'function') {
    bad('storeFor', 'must be a function', 'Write storeFor: (tenantId) => alias.');
  }
  const onWriteError = options.onWriteError ?? 'throw';
  if (onWriteError !== 'throw' && onWriteError !== 'ignore') bad('onWriteError', `is ${JSON.stringify(onWriteError)}`, 'Use "throw" or "ignore".');
  const versionCacheTtl = options.versionCacheTtl ?? 1000;
  if (typeof versionCacheTtl !== 'number' || !(versionCacheTtl >= 0)) bad('versionCacheTtl', `is ${String(versionCacheTtl)}`, 'Give milliseconds >= 0.');
  const grace = options.grace ?? 0;
  if (typeof grace !== 'number' || !Number.isFinite(grace) || grace < 0) {
    bad('grace', `is ${String(grace)}`, 'Give a finite number of milliseconds >= 0 (0 = no fail-safe), or leave it out.');
  }
  const swr = { staleWhileRevalidate: options.staleWhileRevalidate, refreshAhead: options.refreshAhead, ttlJitter: options.ttlJitter };
  problems.push(...failSafeProblems(swr));
  const flightProblems = singleFlightProblems(options.singleFlight);
  for (const [option, problem, fix] of flightProblems) bad(option, problem, fix);
  const singleFlight = singleFlightSettings(flightProblems.length === 0 ? options.singleFlight : undefined);
  if (singleFlight.scope === 'cluster') {
    for (const [alias, def] of definitions) {
      if (def.processLocal) {
        bad(
          'singleFlight.scope',
          `is 'cluster' but store "${alias}" (${def.description}) lives in one process`,
          "Use a shared store (redisStore) for it, or keep the module's scope 'process' and give singleFlight: 'cluster' per call on a shared store.",
        );
      }
    }
  }
  if (options.provideCacheManager !== undefined && typeof options.provideCacheManager !== 'boolean') {
    bad('provideCacheManager', `is ${String(options.provideCacheManager)}`, 'Write provideCacheManager: true or leave it out.');
  }
  const tagIndex = options.tagIndex ?? 'store';
  if (tagIndex !== 'store' && tagIndex !== 'none') {
    bad('tagIndex', `is ${JSON.stringify(tagIndex)}`, 'Use "store" (index tags in the store) or "none" (CDN-only tags).');
  }
  // Fails start-up on a missing or short secret, an unknown or unavailable (zstd) algorithm, a bad size.
  problems.push(...unknownCodecKeys(options.codec, 'codec'));
  const moduleCodecOk = attempt(() => (normalizeCodecOptions(options.codec), true), false);
  const codec = Object.fromEntries(
    definitions.map(([alias, def]) => {
      problems.push(...unknownCodecKeys(def.codec, `stores.${alias}.codec`));
      const run = () => normalizeCodecOptions(options.codec, def.codec, `stores.${alias}.codec`);
      // NOTE: a store's codec is merged over the module's: a bad module codec is reported once, above.
      return [alias, moduleCodecOk ? attempt(run, PLAIN_CODEC) : PLAIN_CODEC];
    }),
  );
  problems.push(...unknownKeys(options.invalidation, INVALIDATION_KEYS, 'invalidation.'));
  const invalidation = attempt(() => normalizeInvalidationOptions(options.invalidation), undefined);
  problems.push(...unknownKeys(options.http, HTTP_KEYS, 'http.'));
  problems.push(...unknownKeys(isObject(options.http) ? options.http.headers : undefined, HTTP_HEADER_KEYS, 'http.headers.'));
  const http = attempt(() => normalizeHttpOptions(options.http), undefined);
  const metrics = normalizeMetricsOptions(options.metrics);
  problems.push(...metrics.problems);

  /** A misspelt key and the check of the name it was meant for are one problem: reported once. */
  const suggested = new Set(problems.flatMap((p) => /^Did you mean "([^"]+)"\?$/.exec(p.fix)?.[1] ?? []));
  const reported = new Set<string>();
  const unique = problems.filter((p) => {
    const id = `${p.option}\u0000${p.problem}`;
    if (reported.has(id) || (suggested.has(p.option) && !p.problem.startsWith('is not an option'))) return false;
    reported.add(id);
    return true;
  });
  if (unique.length === 1 && errors.length === 1) throw errors[0]!;
  if (unique.length > 0) throw new InvalidOptionsError(unique);
  return {
    stores,
    defaultTtl,
    keyPrefix,
    tenant,
    storeFor: options.storeFor,
    onWriteError,
    versionCacheTtl,
    grace,
    staleWhileRevalidate: swr.staleWhileRevalidate ?? 0,
    refreshAhead: swr.refreshAhead ?? 0,
    ttlJitter: swr.ttlJitter ?? 0,
    singleFlight,
    provideCacheManager: options.provideCacheManager ?? false,
    tagIndex,
    codec,
    invalidation: invalidation!,
    http: http!,
    metrics: metrics.value,
  };
}
