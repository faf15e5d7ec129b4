export * from './cache-store.interface.js';
export { MemoryStore, memoryStore, type MemoryStoreOptions } from './memory.store.js';
