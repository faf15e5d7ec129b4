/** Context attached to every library error, so logs say which tenant, key and store failed. */
export interface TenantCacheErrorContext {
  tenant?: string;
  key?: string;
  store?: string;
  cause?: unknown;
}

/**
 * Base class of every error the library throws. Catch this to handle all cache errors;
 * `code` is stable across releases, the message is not.
 */
export class TenantCacheError extends Error {
  readonly code: string;
  readonly tenant?: string;
  readonly key?: string;
  readonly store?: string;

  constructor(code: string, message: string, context: TenantCacheErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.tenant = context.tenant;
    this.key = context.key;
    this.store = context.store;
  }
}
