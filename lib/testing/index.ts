/**
 * `nestjs-tenant-cache/testing`: helpers for authors of stores and apps, kept out of the main entry so
 * that production code never loads them.
 */
export { runStoreConformanceSuite, type ConformanceTestApi, type StoreConformanceOptions } from './store-conformance.js';
