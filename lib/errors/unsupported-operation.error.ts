import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** The store behind an alias lacks a capability the operation needs (e.g. key listing on a Keyv store). */
export class UnsupportedOperationError extends TenantCacheError {
  constructor(store: string, operation: string, hint = '') {
    super(TenantCacheErrorCode.UnsupportedOperation, `Cache store "${store}" does not support ${operation}.${hint ? ` ${hint}` : ''}`, { store });
  }
}
