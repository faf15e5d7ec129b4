export { TenantCacheInterceptor } from './tenant-cache.interceptor.js';
export { CacheResponse, type CacheResponseOptions, type ResponseCacheControl } from './cache-response.decorator.js';
export { NoCache } from './no-cache.decorator.js';
export { ResponseKey, defaultUserId, type ResponseKeyPart, type ResponseKeySpec, type UserIdResolver } from './response-key.js';
export { Surrogate, surrogateKeyFor, scopeSurrogateKey, type ResponseTagSpec } from './surrogate-keys.js';
export type { CacheRequest } from './cache-request.js';
export type { CacheStatus } from './http.constants.js';
export type { StoredResponse } from './cached-response.js';
export type { HttpCacheOptions, ResponseHeaderOptions } from './http.options.js';
export type { ResponseCacheBackend, PurgeRequest, SurrogateHeader, Credential } from './response-cache-backend.interface.js';
export { fastlyBackend, type FastlyBackendOptions } from './backends/fastly.backend.js';
export { cloudflareBackend, type CloudflareBackendOptions } from './backends/cloudflare.backend.js';
export { compositeBackend } from './backends/composite.backend.js';

