import { TenantCacheError } from './tenant-cache.error.js';

/** Module or decorator options are wrong; raised at start-up with what to change. */
export class InvalidOptionsError extends TenantCacheError {
  constructor(option: string, problem: string, fix: string) {
    super('E_OPTIONS_INVALID', `TenantCacheModule option "${option}" ${problem}. ${fix}`);
  }
}
