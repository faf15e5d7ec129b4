export * from './admin.types.js';
export * from './tenant-cache-admin.js';
export * from './tenant-cache-admin.options.js';
export * from './tenant-cache-admin.module.js';
export type { FlushRequest } from './admin.controller.js';
