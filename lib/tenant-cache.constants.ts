/** Injection token of the validated, defaults-merged module options. */
export const TENANT_CACHE_OPTIONS = Symbol.for('nestjs-tenant-cache:options');
/** Metadata key under which decorators record their options. */
export const METADATA_PREFIX = 'tenant-cache:';
/** Default physical key prefix. */
export const DEFAULT_KEY_PREFIX = 'tc:';
/** Alias of the store used when a tenant has no route. */
export const DEFAULT_STORE = 'default';
