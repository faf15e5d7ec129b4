// Compiled by `npm run typecheck` (never run): TenantCacheManager must fit cache-manager v7's `Cache`,
// so that `@Inject(CACHE_MANAGER) cache: Cache` code takes it unchanged.
import { CACHE_MANAGER } from '@nestjs/cache-manager';
import type { Cache } from 'cache-manager';
import { CACHE_MANAGER_TOKEN, type TenantCacheManager } from '../../lib/index.js';

declare const manager: TenantCacheManager;
export const asCache: Cache = manager;
// The token is the very string @nestjs/cache-manager injects with.
export const sameToken: typeof CACHE_MANAGER = CACHE_MANAGER_TOKEN;
