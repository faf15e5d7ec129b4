import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { TenantCacheModuleOptions } from './tenant-cache.options.js';

export const {
  ConfigurableModuleClass: ConfigurableTenantCacheModule,
  MODULE_OPTIONS_TOKEN: RAW_TENANT_CACHE_OPTIONS,
  OPTIONS_TYPE: TENANT_CACHE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: TENANT_CACHE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<TenantCacheModuleOptions>({ moduleName: 'TenantCache' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createTenantCacheOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
