import type { CanActivate, Type } from '@nestjs/common';

/** Options of `TenantCacheAdminModule.forRoot`. */
export interface TenantCacheAdminModuleOptions {
  /**
   * Guards that protect every admin route (your authentication / role check). Required: the module
   * refuses to start without one, since its routes read and delete any tenant's entries.
   */
  guards: readonly (Type<CanActivate> | CanActivate)[];
  /** Path of the routes. Default `tenant-cache-admin`. */
  path?: string;
  /** Whether `GET .../entries/:key?value=true` may return decoded values (they may hold personal data). Default false. */
  exposeValues?: boolean;
}
