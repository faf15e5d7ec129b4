import { normalizeCodecOptions } from './codec/codec.options.js';
import { normalizeHttpOptions } from './http/http.options.js';
import { InvalidOptionsError } from './errors/invalid-options.error.js';
import { DEFAULT_KEY_PREFIX, DEFAULT_STORE } from './tenant-cache.constants.js';
import type { NormalizedTenantCacheOptions, TenantCacheModuleOptions } from './tenant-cache.options.js';
import { memoryStore } from './stores/memory.store.js';
import { normalizeInvalidationOptions } from './invalidation/invalidation.options.js';

/** Merges defaults and validates once, at start-up; a bad option fails boot with what to write instead. */
export function normalizeOptions(options: TenantCacheModuleOptions = {}): NormalizedTenantCacheOptions {
  const stores = options.stores ?? { [DEFAULT_STORE]: memoryStore() };
  if (typeof stores !== 'object' || stores === null) {
    throw new InvalidOptionsError('stores', 'must be an object of named stores', 'Write stores: { default: memoryStore() }.');
  }
  if (!(DEFAULT_STORE in stores)) {
    throw new InvalidOptionsError(
      'stores',
      `has no "default" entry (got ${Object.keys(stores).map((k) => `"${k}"`).join(', ') || 'none'})`,
      'Name one store "default": it serves tenants without a route and the shared namespace.',
    );
  }
  for (const [alias, def] of Object.entries(stores)) {
    if (!def || typeof def.create !== 'function') {
      throw new InvalidOptionsError(
        `stores.${alias}`,
        'is not a store definition',
        'Use memoryStore(), redisStore({ url }), keyvStore(keyv), cacheManagerStore(cache) or legacyStore(store).',
      );
    }
  }
  const defaultTtl = options.defaultTtl ?? 0;
  if (typeof defaultTtl !== 'number' || Number.isNaN(defaultTtl) || defaultTtl < 0) {
    throw new InvalidOptionsError('defaultTtl', `is ${String(defaultTtl)}`, 'Give milliseconds >= 0 (0 = no expiry).');
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string' || !/^[A-Za-z0-9_.:-]{0,64}$/.test(keyPrefix)) {
    throw new InvalidOptionsError(
      'keyPrefix',
      `is ${JSON.stringify(keyPrefix)}`,
      'Use up to 64 letters, digits or "_-.:" (e.g. "myapp:").',
    );
  }
  const tenant = { middleware: true, ...options.tenant };
  if (tenant.maxLength !== undefined && (!Number.isInteger(tenant.maxLength) || tenant.maxLength < 1)) {
    throw new InvalidOptionsError('tenant.maxLength', `is ${String(tenant.maxLength)}`, 'Give a positive integer.');
  }
  if (tenant.pattern !== undefined && !(tenant.pattern instanceof RegExp)) {
    throw new InvalidOptionsError('tenant.pattern', 'is not a RegExp', 'Give a RegExp such as /^[a-z0-9-]+$/.');
  }
  if (tenant.pattern?.global || tenant.pattern?.sticky) {
    throw new InvalidOptionsError('tenant.pattern', 'has the g or y flag', 'Drop the flag: the pattern is tested once per id.');
  }
  const resolvers = tenant.resolver === undefined ? [] : Array.isArray(tenant.resolver) ? tenant.resolver : [tenant.resolver];
  if (resolvers.some((r) => typeof r !== 'function')) {
    throw new InvalidOptionsError('tenant.resolver', 'must be a function or a list of functions', 'Use fromHeader(), fromJwtClaim(), ...');
  }
  for (const fn of ['isKnownTenant', 'authorize'] as const) {
    if (tenant[fn] !== undefined && typeof tenant[fn] !== 'function') {
      throw new InvalidOptionsError(`tenant.${fn}`, 'must be a function', 'Pass a (sync or async) function.');
    }
  }
  if (tenant.cls !== undefined && (typeof tenant.cls !== 'object' || typeof tenant.cls.store?.get !== 'function')) {
    throw new InvalidOptionsError(
      'tenant.cls',
      'must be { store, key? } where store has get(key)',
      'Pass your nestjs-cls ClsService: tenant: { cls: { store: clsService, key: "tenantId" } }.',
    );
  }
  if (options.storeFor !== undefined && typeof options.storeFor !== 'function') {
    throw new InvalidOptionsError('storeFor', 'must be a function', 'Write storeFor: (tenantId) => alias.');
  }
  const onWriteError = options.onWriteError ?? 'throw';
  if (onWriteError !== 'throw' && onWriteError !== 'ignore') {
    throw new InvalidOptionsError('onWriteError', `is ${JSON.stringify(onWriteError)}`, 'Use "throw" or "ignore".');
  }
  const versionCacheTtl = options.versionCacheTtl ?? 1000;
  if (typeof versionCacheTtl !== 'number' || !(versionCacheTtl >= 0)) {
    throw new InvalidOptionsError('versionCacheTtl', `is ${String(versionCacheTtl)}`, 'Give milliseconds >= 0.');
  }
  const tagIndex = options.tagIndex ?? 'store';
  if (tagIndex !== 'store' && tagIndex !== 'none') {
    throw new InvalidOptionsError('tagIndex', `is ${JSON.stringify(tagIndex)}`, 'Use "store" (index tags in the store) or "none" (CDN-only tags).');
  }
  // Fails start-up on a missing or short secret, an unknown or unavailable (zstd) algorithm, a bad size.
  normalizeCodecOptions(options.codec);
  const codec = Object.fromEntries(Object.entries(stores).map(([alias, def]) => [alias, normalizeCodecOptions(options.codec, def.codec, `stores.${alias}.codec`)]));
  return {
    stores,
    defaultTtl,
    keyPrefix,
    tenant,
    storeFor: options.storeFor,
    onWriteError,
    versionCacheTtl,
    provideCacheManager: options.provideCacheManager ?? false,
    tagIndex,
    codec,
    invalidation: normalizeInvalidationOptions(options.invalidation),
    http: normalizeHttpOptions(options.http),
  };
}
