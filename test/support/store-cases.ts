import { type StoreDefinition, memoryStore } from '../../lib/index.js';

/** A store to run a suite against. */
export interface StoreCase {
  name: string;
  definition: () => StoreDefinition;
}

/** The stores every service-level suite runs on: the embedded memory store and real Redis. */
export function storeCases(): StoreCase[] {
  return [{ name: 'memory', definition: () => memoryStore({ maxEntries: 100_000 }) }];
}
