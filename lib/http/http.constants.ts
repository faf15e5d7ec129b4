import { METADATA_PREFIX } from '../tenant-cache.constants.js';

/** Metadata key under which `@CacheResponse` records its options (method or controller). */
export const CACHE_RESPONSE_METADATA = `${METADATA_PREFIX}cache_response`;
/** Metadata key under which `@NoCache()` marks a method or controller. */
export const NO_CACHE_METADATA = `${METADATA_PREFIX}no_cache`;

/** Values of the `X-Cache` header. */
export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS' | 'STALE';

/** Response headers stored and replayed by default (never cookies, auth or hop-by-hop headers). */
export const SAFE_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-language',
  'content-disposition',
  'content-location',
  'last-modified',
  'link',
  'x-content-type-options',
  'x-robots-tag',
]);

/** Headers never stored, whatever the options say. */
export const NEVER_STORED_HEADERS: ReadonlySet<string> = new Set([
  'set-cookie',
  'authorization',
  'www-authenticate',
  'proxy-authenticate',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'date',
  'age',
  'etag',
  'x-cache',
  'x-cached-at',
  'vary',
  'cache-control',
  'surrogate-key',
  'cache-tag',
]);
