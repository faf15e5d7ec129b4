import type { DeferredTenantCheck } from './tenant-check.js';

/**
 * The part of a context store the library uses, shaped so that nestjs-cls's `ClsService` fits as is.
 * Apps that already run nestjs-cls hand theirs in with `tenant.cls = { store: clsService }`; the
 * library never calls `ClsModule.forRoot` itself.
 */
export interface TenantClsStore {
  /** Reads the tenant when no `TenantContext` scope is open. */
  get(key: string): unknown;
  /** When present, `TenantGuard` writes the tenant it resolved and checked under the key. */
  set?(key: string, value: unknown): void;
  /** When present and false, there is no context to write to (`ClsService.isActive()`). */
  isActive?(): boolean;
}

/** Key of the tenant id in the CLS store when `tenant.cls.key` is not given. */
export const DEFAULT_TENANT_CLS_KEY = 'tenantId';

/** @internal Key of the deferred check `TenantGuard` leaves in the CLS store (see `DeferredTenantCheck`). */
export const TENANT_CLS_CHECK_KEY = 'nestjs-tenant-cache.check';

/**
 * @internal The tenant in the CLS store, after the deferred check `TenantGuard` left there when it ran
 * before the request was authenticated (throws its refusal, or `TenantAuthorizationPendingError`).
 */
export function readClsTenant(cls: { store: TenantClsStore; key?: string }): string | undefined {
  const value = cls.store.get(cls.key ?? DEFAULT_TENANT_CLS_KEY);
  if (value === undefined || value === null) return undefined;
  // NOTE: duck-typed, not instanceof: the guard may come from another copy of the package (ESM and CJS).
  const check = cls.store.get(TENANT_CLS_CHECK_KEY) as DeferredTenantCheck | undefined;
  if (typeof check?.read === 'function') {
    check.read();
    if (check.settled) cls.store.set?.(TENANT_CLS_CHECK_KEY, undefined);
  }
  return value as string;
}
