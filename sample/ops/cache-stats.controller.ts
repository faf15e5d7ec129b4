import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { type CacheStats, type ScopeStats, SkipTenant, TenantCacheService } from '../../lib/index.js';
import { OperatorGuard } from './operator.guard.js';

/**
 * The cache's counters in this process, for an admin page: hit ratio, stale serves, loads, invalidations,
 * store failures, in total and per tenant (the busiest tenants are counted on their own; see
 * docs/observability.md). With an OpenTelemetry meter provider registered, the same numbers are metrics.
 */
@SkipTenant()
@UseGuards(OperatorGuard)
@Controller('ops/cache-stats')
export class CacheStatsController {
  constructor(private readonly cache: TenantCacheService) {}

  @Get()
  all(): CacheStats {
    return this.cache.stats();
  }

  @Get(':tenant')
  tenant(@Param('tenant') tenant: string): ScopeStats {
    return this.cache.forTenant(tenant).stats();
  }
}
