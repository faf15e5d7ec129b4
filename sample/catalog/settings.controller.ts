import { Body, Controller, Delete, Get, Put } from '@nestjs/common';
import { TenantCacheService } from '../../lib/index.js';

interface Settings {
  theme: string;
  currency: string;
}

/** Per-tenant settings kept in the cache directly, through TenantCacheService. */
@Controller('settings')
export class SettingsController {
  constructor(private readonly cache: TenantCacheService) {}

  @Get()
  async get(): Promise<Settings> {
    return this.cache.getOrSet<Settings>('settings', () => ({ theme: 'light', currency: 'EUR' }));
  }

  @Put()
  async put(@Body() body: Partial<Settings>): Promise<Settings> {
    const next = { ...(await this.get()), ...body };
    await this.cache.set('settings', next);
    return next;
  }

  @Delete()
  async reset(): Promise<{ cleared: true }> {
    await this.cache.clear();
    return { cleared: true };
  }
}
