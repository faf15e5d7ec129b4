import { TenantAuthorizationPendingError } from '../errors/tenant-authorization-pending.error.js';
import type { TenantRequest } from './tenant-resolver.interface.js';

/**
 * Decides whether `user` may act for the request's tenant: returns when it may, throws the refusal,
 * or returns a promise of either (an async `tenant.authorize`).
 */
export type UserCheck = (user: unknown) => void | Promise<void>;

/**
 * @internal The part of `TenantGuard`'s decision that waits for the user: the guard ran before the
 * request was authenticated, so the tenant it resolved is provisional (client-chosen, not yet
 * authorized). The request's tenant scope holds this check and every read of the tenant runs it
 * (`TenantContext.current()`), by then after every guard: an anonymous request keeps its tenant, an
 * authenticated one is authorized once (the outcome is kept, refusals included).
 */
export class DeferredTenantCheck {
  private outcome: 'open' | 'allowed' | 'refused' = 'open';
  private refusal: unknown;
  private running: Promise<void> | undefined;

  constructor(
    private readonly request: TenantRequest,
    /** The provisional tenant. */
    readonly tenantId: string,
    private readonly checkUser: UserCheck,
  ) {}

  /** True once the user was allowed: the check can be dropped. */
  get settled(): boolean {
    return this.outcome === 'allowed';
  }

  /** The tenant once the check allows it (or while anonymous); throws the refusal, or when an async check is under way. */
  read(): string {
    if (typeof this.run() !== 'boolean') throw new TenantAuthorizationPendingError(this.tenantId);
    return this.tenantId;
  }

  /**
   * `true`: authorized for good; `false`: still anonymous (allowed for now); a promise: an async
   * check under way. Throws the refusal (every time, once refused).
   */
  run(): boolean | Promise<void> {
    if (this.outcome === 'allowed') return true;
    if (this.outcome === 'refused') throw this.refusal;
    if (this.running !== undefined) return this.running;
    const user = this.request.user;
    if (user === undefined || user === null || user === false) return false;
    let pending: void | Promise<void>;
    try {
      pending = this.checkUser(user);
    } catch (error) {
      return this.refuse(error);
    }
    if (pending === undefined) {
      this.outcome = 'allowed';
      return true;
    }
    this.running = pending.then(
      () => {
        this.outcome = 'allowed';
      },
      (error: unknown) => this.refuse(error),
    );
    // NOTE: a caller that never awaits (a synchronous read that then failed) must not leave an unhandled rejection.
    this.running.catch(() => undefined);
    return this.running;
  }

  private refuse(error: unknown): never {
    this.outcome = 'refused';
    this.refusal = error;
    throw error;
  }
}

// NOTE: one getter for every request (a closure per request would give each request object its own
// hidden class): it finds the request's check under a registered symbol.
const REQUEST_CHECK = Symbol.for('nestjs-tenant-cache.tenant-check');

const tenantIdAccessor: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: Record<PropertyKey, unknown>): string {
    return (this[REQUEST_CHECK] as DeferredTenantCheck).read();
  },
  set(this: object, value: unknown): void {
    Object.defineProperty(this, 'tenantId', { value, writable: true, configurable: true, enumerable: true });
  },
};

/**
 * @internal Makes `request.tenantId` run the deferred check, so that code reading it directly gets
 * the same answer as `TenantContext.current()`. Assigning it replaces the getter with the value.
 */
export function deferRequestTenant(request: TenantRequest, check: DeferredTenantCheck): void {
  request[REQUEST_CHECK as unknown as string] = check;
  Object.defineProperty(request, 'tenantId', tenantIdAccessor);
}
