/**
 * The `code` of every error the library throws, by the name of its class (without `Error`). Codes are
 * stable across releases; compare `error.code` with these rather than with the messages.
 *
 * @example
 * if (e instanceof TenantCacheError && e.code === TenantCacheErrorCode.StoreUnavailable) serveStale();
 */
export const TenantCacheErrorCode = {
  TenantContextMissing: 'E_TENANT_MISSING',
  InvalidTenantId: 'E_TENANT_INVALID',
  TenantScopeMissing: 'E_TENANT_SCOPE_MISSING',
  TenantAuthorizationPending: 'E_TENANT_AUTHORIZATION_PENDING',
  InvalidCacheKey: 'E_KEY_INVALID',
  InvalidKeyConstructor: 'E_KEY_CONSTRUCTOR',
  /** Also the code of `CacheValueTooLargeError`, a kind of invalid value. */
  InvalidCacheValue: 'E_VALUE_INVALID',
  InvalidTtl: 'E_TTL_INVALID',
  InvalidTag: 'E_TAG_INVALID',
  InvalidPartition: 'E_PARTITION_INVALID',
  InvalidOptions: 'E_OPTIONS_INVALID',
  CachedMethodNotFound: 'E_METHOD_NOT_CACHED',
  StoreUnavailable: 'E_STORE_UNAVAILABLE',
  UnknownStore: 'E_STORE_UNKNOWN',
  UnsupportedOperation: 'E_UNSUPPORTED',
  InvalidInvalidationRule: 'E_INVALIDATION_RULE',
  InvalidationFailed: 'E_INVALIDATION_FAILED',
  InvalidEntityChange: 'E_ENTITY_CHANGE_INVALID',
  CdnPurgeFailed: 'E_CDN_PURGE_FAILED',
  UnknownResponseBackend: 'E_RESPONSE_BACKEND_UNKNOWN',
  LoaderTimeout: 'E_LOADER_TIMEOUT',
  AdminConfirmation: 'E_ADMIN_CONFIRMATION',
  SingleFlightTimeout: 'E_SINGLE_FLIGHT_TIMEOUT',
} as const;

/** One of the codes in `TenantCacheErrorCode`: the `code` of an error the library throws. */
export type TenantCacheErrorCode = (typeof TenantCacheErrorCode)[keyof typeof TenantCacheErrorCode];
