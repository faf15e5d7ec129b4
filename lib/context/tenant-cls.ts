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
