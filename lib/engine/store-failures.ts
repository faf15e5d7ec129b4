import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import { TenantCacheError } from '../errors/tenant-cache.error.js';
import type { CacheScope } from '../keys/key-builder.js';
import type { OutageLog } from '../stores/resilience/outage-log.js';
import type { Target } from './target.js';
import type { TenantCacheEvents } from './tenant-cache.events.js';

/** What `StoreFailures.resolve` gives when the store failed: the caller answers its miss, or drops its write. */
export class Unresolved {
  constructor(readonly error: Error) {}
}

/** How an operation answers a store failure: a read is a miss; a write follows `onWriteError`. */
export type FailurePolicy = 'read' | 'write';

/**
 * The one place a failure of a store operation is classified and answered. Our own typed errors (bad
 * input) reach the caller; anything else is the store failing: logged (once per outage, through the
 * OutageLog), emitted as `store:error` with the tenant, then answered by the operation's policy.
 */
export class StoreFailures {
  constructor(
    private readonly events: TenantCacheEvents,
    private readonly outages: OutageLog,
    private readonly onWriteError: 'throw' | 'ignore',
  ) {}

  /**
   * Runs the part of an operation that finds where its entries live (the store's creation, the scope's
   * generation counter, tag versions). A store failure there resolves to `Unresolved` for a read (the
   * caller answers a miss); for a write it throws `StoreUnavailableError`, or resolves to `Unresolved`
   * (the write is dropped) with `onWriteError: 'ignore'`.
   */
  async resolve<X>(policy: FailurePolicy, operation: string, scope: CacheScope, alias: () => string, run: () => Promise<X>): Promise<X | Unresolved> {
    try {
      return await run();
    } catch (error) {
      if (isInputError(error)) throw error;
      if (policy === 'read') this.report(alias(), scope, operation, error);
      else this.writeFailed(alias(), scope, operation, error);
      return new Unresolved(asError(error));
    }
  }

  /** A write that failed: input errors are rethrown, store failures reported, then dropped or thrown per `onWriteError`. */
  writeFailed(alias: string, scope: CacheScope, operation: string, error: unknown): undefined {
    if (isInputError(error)) throw error;
    this.report(alias, scope, operation, error);
    if (this.onWriteError === 'ignore') return undefined;
    throw unavailable(alias, operation, error);
  }

  /** Runs a write on `t`; a store failure is answered by `onWriteError` (see `writeFailed`). */
  async write<R>(t: Target, operation: string, run: () => Promise<R>): Promise<R | undefined> {
    try {
      return await run();
    } catch (error) {
      return this.writeFailed(t.resolved.alias, t.scope, operation, error);
    }
  }

  /** `report` for an operation on `t`. */
  failed(t: Target, operation: string, error: unknown): void {
    this.report(t.resolved.alias, t.scope, operation, error);
  }

  /** A store failure: logged once per outage (then counted and summarized); every failure is emitted. */
  report(alias: string, scope: CacheScope, operation: string, error: unknown): void {
    const err = asError(error);
    const tenant = scope.kind === 'tenant' ? scope.tenantId : undefined;
    this.outages.failure(alias, operation, tenant, err);
    this.events.emit('store:error', { store: alias, operation, error: err, tenant });
  }
}

/** Our own typed errors (bad input) reach the caller; anything else is the store failing. */
export function isInputError(error: unknown): boolean {
  return error instanceof TenantCacheError && !(error instanceof StoreUnavailableError);
}

export function unavailable(alias: string, operation: string, error: unknown): StoreUnavailableError {
  return error instanceof StoreUnavailableError ? error : new StoreUnavailableError(alias, `${operation} failed: ${asError(error).message}`, error);
}

export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
