export * from './errors/index.js';
export { TenantContext } from './context/tenant-context.js';
export { validateTenantId, type TenantIdRules } from './context/tenant-id.validator.js';
export type { TenantRequest, TenantResolver, TenantAuthorizer, TenantSource } from './context/tenant-resolver.interface.js';
export {
  TenantGuard,
  CurrentTenant,
  SkipTenant,
  TenantOptional,
  TenantContextMiddleware,
  fromHeader,
  fromSubdomain,
  fromJwtClaim,
  fromRouteParam,
  fromFunction,
  DEFAULT_TENANT_HEADER,
  DEFAULT_TENANT_CLS_KEY,
  type CurrentTenantOptions,
  type SubdomainResolverOptions,
  type FunctionResolverOptions,
  type TenantClsStore,
  type TenantOptions,
} from './context/index.js';
export type { CacheScope } from './keys/key-builder.js';
export * from './stores/index.js';
export { TenantCacheService } from './service/tenant-cache.service.js';
export type { TenantPurgeReport, StorePurgeResult, PurgeBusResult, PurgeCdnResult } from './service/tenant-purge.js';
export type { TenantShredReport } from './service/tenant-shred.js';
export { TenantScopedCache, type CacheEntryInput } from './service/tenant-scoped-cache.js';
export type { CacheLookup, GetOrSetOptions } from './engine/cache-engine.js';
export { KeyListing } from './service/key-listing.js';
export { TenantCacheEvents, type TenantCacheEventMap, type StaleReason } from './engine/tenant-cache.events.js';
export type { FailSafeOptions, LoaderTimeout } from './engine/fail-safe.js';
export type { SingleFlightOptions, SingleFlightOption } from './engine/single-flight.options.js';
export type { CacheStats, ScopeStats, StoreStats, RequestStats, CacheRequestResult, InvalidationKind, MetricsOptions, TenantLabel } from './observability/index.js';
export { TENANT_CACHE_CHANNELS, type TenantRequestMessage } from './observability/index.js';
export { TenantCacheModule, type TenantCacheAsyncOptions, type TenantCacheOptionsFactory } from './tenant-cache.module.js';
export { TENANT_CACHE_OPTIONS } from './tenant-cache.constants.js';
export type { TenantCacheModuleOptions } from './tenant-cache.options.js';
export { CacheResult, CacheEvict, type CacheResultOptions, type CacheResultDecorator, type CacheEvictOptions, type CacheEvictDecorator } from './decorators/index.js';
export {
  KeyConstructor,
  canonicalEncode,
  type KeyField,
  type KeyFieldOptions,
  type KeyContext,
  type KeyConstructorType,
  type KeyFunction,
  type PartitionValues,
  type ArgPath,
  type ArgPathValue,
  type PropertyPath,
  type ArgIndex,
  type CanonicalOptions,
} from './keys/index.js';
export { versioned, isVersionedTag, type VersionedTag, type TagInput, type TagSpec } from './engine/tags.js';
export { CachedMethod, type MethodName } from './service/cached-method.handle.js';
export type { SetOptions, AddressOptions, CachedMethodOf, InvalidateTagOptions } from './service/tenant-scoped-cache.js';
export {
  validateCodecCallOptions,
  type CodecOptions,
  type CodecCallOptions,
  type CompressionOptions,
  type CompressionAlgorithm,
  type EncryptionOptions,
  type MemoizeIterableOptions,
  type TenantKeyStore,
} from './codec/index.js';
export {
  TenantCacheInterceptor,
  CacheResponse,
  NoCache,
  ResponseKey,
  Surrogate,
  surrogateKeyFor,
  scopeSurrogateKey,
  defaultUserId,
  fastlyBackend,
  cloudflareBackend,
  compositeBackend,
  type CacheResponseOptions,
  type ResponseCacheControl,
  type ResponseKeyPart,
  type ResponseKeySpec,
  type UserIdResolver,
  type ResponseTagSpec,
  type CacheRequest,
  type CacheStatus,
  type StoredResponse,
  type HttpCacheOptions,
  type ResponseHeaderOptions,
  type ResponseCacheBackend,
  type PurgeRequest,
  type SurrogateHeader,
  type Credential,
  type FastlyBackendOptions,
  type CloudflareBackendOptions,
} from './http/index.js';
export {
  EntityChangeBus,
  entityName,
  not,
  invalidationRule,
  inlineDispatcher,
  backgroundDispatcher,
  redisInvalidationBus,
  type EntityChangeBatch,
  type EntityChange,
  type EntityChangeEvent,
  type EntityTarget,
  type EntityValues,
  type EntityChangeSource,
  type EntityChangePublisher,
  type InvalidationRule,
  type InvalidationContext,
  type WhenCondition,
  type ColumnCondition,
  type ColumnOf,
  type Negated,
  type InvalidationJob,
  type InvalidationModuleOptions,
  type InvalidationDispatcher,
  type InvalidationDispatcherDefinition,
  type InvalidationJobRunner,
  type BackgroundDispatcherOptions,
  type InvalidationBusDefinition,
  type InvalidationTransport,
  type RedisInvalidationBusOptions,
} from './invalidation/index.js';
export {
  TenantCacheManager,
  CACHE_MANAGER_TOKEN,
  type TenantCacheManagerEvents,
  type TenantCacheManagerWrapOptions,
  type TenantCacheManagerRawWrapOptions,
  type TenantCacheManagerRawEntry,
} from './interop/index.js';
export * from './admin/index.js';
