import { AsyncLocalStorage } from 'node:async_hooks';
import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';
import { TenantContextMissingError } from '../errors/tenant-context-missing.error.js';
import type { DeferredTenantCheck } from './tenant-check.js';

/** What one async scope knows about its tenant. Mutable only so a guard can fill a scope opened by middleware. */
interface TenantScope {
  tenantId: string | undefined;
  /** Set while the tenant is provisional: `TenantGuard` ran before the request was authenticated. */
  check?: DeferredTenantCheck | undefined;
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

  /**
   * The current tenant id, or `undefined` outside any tenant scope. When `TenantGuard` ran before the
   * request was authenticated, the first read after authentication completes the guard's check
   * (`tenant.authorize`, or the refusal of a client-chosen tenant) and throws its refusal (a 403).
   */
  static current(): string | undefined {
    const scope = storage.getStore();
    if (scope?.check !== undefined) settle(scope);
    return scope?.tenantId;
  }

  /** The current tenant id; throws `TenantContextMissingError` when there is none. */
  static require(operation = 'this operation'): string {
    const tenantId = TenantContext.current();
    if (tenantId === undefined) throw new TenantContextMissingError(operation);
    return tenantId;
  }

  /**
   * The current tenant id once the check of the request's user is complete: use it before the first
   * synchronous read when `tenant.authorize` is async and `TenantGuard` may run before the auth guard.
   * Rejects with the refusal (a 403). Resolves at once in every other case.
   *
   * @example
   * const tenantId = await TenantContext.authorized();
   */
  static async authorized(): Promise<string | undefined> {
    await TenantContext.pendingCheck();
    return TenantContext.current();
  }

  /**
   * @internal Runs the deferred check of the current scope: `undefined` when the tenant can be read
   * now (no check, authorized, or anonymous), a promise while an async `authorize` runs; throws the refusal.
   */
  static pendingCheck(): Promise<void> | undefined {
    const scope = storage.getStore();
    const check = scope?.check;
    if (check === undefined) return undefined;
    const outcome = check.run();
    if (outcome === true) scope!.check = undefined;
    return typeof outcome === 'boolean' ? undefined : outcome;
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
   * (the caller then has to run the rest of the request inside `run`). `check`: the tenant is
   * provisional until it passes (see `current`).
   */
  static assign(tenantId: string, check?: DeferredTenantCheck): boolean {
    assertTenantShape(tenantId);
    const scope = storage.getStore();
    if (!scope) return false;
    if (scope.tenantId !== undefined && scope.tenantId !== tenantId) {
      throw new InvalidTenantIdError(`this request scope already belongs to another tenant`, tenantId);
    }
    scope.tenantId = tenantId;
    scope.check = check;
    return true;
  }
}

/** Completes a provisional tenant's check at a synchronous read: throws its refusal, or when it cannot be waited for. */
function settle(scope: TenantScope): void {
  const check = scope.check!;
  check.read();
  if (check.settled) scope.check = undefined;
}

function assertTenantShape(tenantId: unknown): asserts tenantId is string {
  if (typeof tenantId !== 'string') throw new InvalidTenantIdError('it must be a string', tenantId);
  if (tenantId.length === 0) throw new InvalidTenantIdError('it must not be empty', tenantId);
}
