import { Controller, Delete, Param, UseGuards } from '@nestjs/common';
import { OperatorGuard } from '../ops/operator.guard.js';
import { SkipTenant, TenantCacheService, type TenantPurgeReport, type TenantShredReport, UnsupportedOperationError } from '../../lib/index.js';

/**
 * Offboarding a tenant: its cached data removed everywhere (`purgeTenant`, with a report to keep), then its data
 * key destroyed (`shredTenant`) so that copies the purge cannot reach (replicas, RDB/AOF files) are unreadable.
 * Shredding needs `codec.encryption.tenantKeys: 'wrapped'` (the sample turns it on when CACHE_SECRET is set).
 * An operator route (ADMIN_TOKEN): it acts on the id in the path, not on a tenant in context.
 */
@SkipTenant()
@UseGuards(OperatorGuard)
@Controller('admin/tenants')
export class AdminController {
  constructor(private readonly cache: TenantCacheService) {}

  @Delete(':id')
  async offboard(@Param('id') id: string): Promise<{ purge: TenantPurgeReport; shred: TenantShredReport | string }> {
    const purge = await this.cache.purgeTenant(id);
    let shred: TenantShredReport | string;
    try {
      shred = await this.cache.shredTenant(id);
    } catch (error) {
      if (!(error instanceof UnsupportedOperationError)) throw error;
      shred = 'not shredded: no per-tenant data keys (start the sample with CACHE_SECRET set)';
    }
    return { purge, shred };
  }
}
