import { InvalidTenantIdError } from '../errors/invalid-tenant-id.error.js';

/** Rules a tenant id must pass before it reaches a key or a request scope. */
export interface TenantIdRules {
  /** Longest accepted id. Default 128. */
  maxLength?: number;
  /** Characters an id may contain. Default: letters, digits, `.`, `_`, `-` (first character alphanumeric). */
  pattern?: RegExp;
}

export const DEFAULT_TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const DEFAULT_TENANT_ID_MAX_LENGTH = 128;

/** Throws `InvalidTenantIdError` with the reason when `tenantId` breaks the rules. */
export function validateTenantId(tenantId: unknown, rules: TenantIdRules = {}): asserts tenantId is string {
  const maxLength = rules.maxLength ?? DEFAULT_TENANT_ID_MAX_LENGTH;
  const pattern = rules.pattern ?? DEFAULT_TENANT_ID_PATTERN;
  if (typeof tenantId !== 'string') throw new InvalidTenantIdError('it must be a string', tenantId);
  if (tenantId.length === 0) throw new InvalidTenantIdError('it must not be empty', tenantId);
  if (tenantId.length > maxLength) {
    throw new InvalidTenantIdError(`it is ${tenantId.length} characters long; the maximum is ${maxLength}`, tenantId);
  }
  // NOTE: control characters are refused whatever the pattern says: they end up in logs and headers.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(tenantId)) throw new InvalidTenantIdError('it contains control characters', tenantId);
  pattern.lastIndex = 0;
  if (!pattern.test(tenantId)) throw new InvalidTenantIdError(`it does not match ${String(pattern)}`, tenantId);
}
