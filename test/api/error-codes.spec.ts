import { describe, expect, it } from 'vitest';
import * as errors from '../../lib/errors/index.js';
import * as root from '../../lib/index.js';

const { TenantCacheError, TenantCacheErrorCode } = errors;
type ErrorClass = new (...args: unknown[]) => errors.TenantCacheError;

/** Every error class the library exports, its base excepted. */
const errorClasses = Object.entries(errors as Record<string, unknown>).filter(
  (entry): entry is [string, ErrorClass] => typeof entry[1] === 'function' && entry[1] !== TenantCacheError && entry[1].prototype instanceof TenantCacheError,
);

/** An instance built with placeholder arguments (a string, a list, then strings; templates accept a list too). */
function instanceOf(ErrorClass: ErrorClass): errors.TenantCacheError {
  return new ErrorClass('a', ['b'], 'c', 'd', undefined);
}

describe('TenantCacheErrorCode', () => {
  it('is exported from the root entry', () => {
    expect(root.TenantCacheErrorCode).toBe(TenantCacheErrorCode);
  });

  it('holds the code of every error class', () => {
    expect(errorClasses.length).toBeGreaterThanOrEqual(20);
    const codes = new Set<string>(Object.values(TenantCacheErrorCode));
    for (const [name, ErrorClass] of errorClasses) expect(codes.has(instanceOf(ErrorClass).code), `${name}.code`).toBe(true);
  });

  it('holds no code that no error class uses, and no code twice', () => {
    const used = new Set(errorClasses.map(([, ErrorClass]) => instanceOf(ErrorClass).code));
    const values = Object.values(TenantCacheErrorCode);
    expect([...used].sort()).toEqual([...values].sort());
    expect(new Set(values).size).toBe(values.length);
  });

  it('names each code for its class', () => {
    for (const [key, code] of Object.entries(TenantCacheErrorCode)) {
      const ErrorClass = (errors as Record<string, unknown>)[`${key}Error`] as ErrorClass | undefined;
      expect(ErrorClass, `${key}Error`).toBeTypeOf('function');
      expect(instanceOf(ErrorClass!).code).toBe(code);
    }
  });
});
