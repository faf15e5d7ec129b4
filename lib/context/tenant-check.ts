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
    private readonly checkUser: UserCheck,
  ) {}

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
