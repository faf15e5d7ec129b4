import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';
import { TenantContextMissingError } from '../errors/tenant-context-missing.error.js';

/** What one async scope knows about its tenant. Mutable only so a guard can fill a scope opened by middleware. */
interface TenantScope {
  tenantId: string | undefined;
}

// NOTE: the one AsyncLocalStorage of the package lives on globalThis under a registered symbol,
// so an ESM and a CJS copy of the package (or two bundles) share the same tenant context.
const STORAGE_KEY = Symbol.for('nestjs-tenant-cache.tenant-context');
type GlobalWithStorage = typeof globalThis & { [STORAGE_KEY]?: AsyncLocalStorage<TenantScope> };
const holder = globalThis as GlobalWithStorage;
const storage: AsyncLocalStorage<TenantScope> = (holder[STORAGE_KEY] ??= new AsyncLocalStorage<TenantScope>());

/**
 * The current tenant, carried through async calls with Node's AsyncLocalStorage.
 *
 * @example
 * await TenantContext.run('acme', () => cache.get('settings')); // a job, script or message handler
 */
export class TenantContext {
  private constructor() {}

  /** Runs `fn` with `tenantId` as the current tenant; scopes nest, and the outer tenant is back afterwards. */
  static run<T>(tenantId: string, fn: () => T): T {
    assertTenantShape(tenantId);
    return storage.run({ tenantId }, fn);
  }

  /** The current tenant id, or `undefined` outside any tenant scope. */
  static current(): string | undefined {
    return storage.getStore()?.tenantId;
  }

  /** The current tenant id; throws `TenantContextMissingError` when there is none. */
  static require(operation = 'this operation'): string {
    const tenantId = storage.getStore()?.tenantId;
    if (tenantId === undefined) throw new TenantContextMissingError(operation);
    return tenantId;
  }

  /**
   * Opens an empty scope for one request; `TenantGuard` fills it once it has resolved the tenant.
   * Used by the HTTP middleware so that each request has its own scope (never `enterWith`).
   */
  static openScope<T>(fn: () => T): T {
    return storage.run({ tenantId: undefined }, fn);
  }

  /**
   * Sets the tenant of the scope opened by `openScope`. Returns false when there is no open scope
   * (the caller then has to run the rest of the request inside `run`).
   */
  static assign(tenantId: string): boolean {
    assertTenantShape(tenantId);
    const scope = storage.getStore();
    if (!scope) return false;
    if (scope.tenantId !== undefined && scope.tenantId !== tenantId) {
      throw new InvalidTenantIdError(`this request scope already belongs to another tenant`, tenantId);
    }
    scope.tenantId = tenantId;
    return true;
  }
}

function assertTenantShape(tenantId: unknown): asserts tenantId is string {
  if (typeof tenantId !== 'string') throw new InvalidTenantIdError('it must be a string', tenantId);
  if (tenantId.length === 0) throw new InvalidTenantIdError('it must not be empty', tenantId);
}
