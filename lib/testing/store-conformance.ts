import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { CacheStore, StoreDefinition } from '../stores/cache-store.interface.js';
import { expiryCases } from './conformance-expiry.js';
import { listingCases } from './conformance-listing.js';
import { leaseCases } from './conformance-leases.js';
import { type ConformanceCases, bytes } from './conformance-support.js';
import { valueCases } from './conformance-values.js';

/**
 * The test functions of your runner. Vitest's and Jest's `describe`, `it`, `beforeAll`, `afterAll` fit
 * as they are; for `node:test` pass `{ describe, it, beforeAll: before, afterAll: after }`.
 * Assertions use `node:assert`, so no `expect` is needed.
 */
export interface ConformanceTestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>, timeout?: number): void;
  beforeAll(fn: () => Promise<void> | void): void;
  afterAll(fn: () => Promise<void> | void): void;
}

/** Options of `runStoreConformanceSuite`. */
export interface StoreConformanceOptions {
  /** Your runner's `describe`, `it`, `beforeAll`, `afterAll`. */
  test: ConformanceTestApi;
  /** The store under test: a definition (`memoryStore()`, `keyvStore(keyv)`, your own) or a factory of a `CacheStore`. */
  store: StoreDefinition | (() => CacheStore | Promise<CacheStore>);
  /** Prefix of every key the suite writes (all removed at the end). Default `conformance:<random>:`. */
  keyPrefix?: string;
  /**
   * Also test `flush()`, which empties the WHOLE store. Default false: never turn it on against a shared
   * server (it would delete other programs' keys).
   */
  flush?: boolean;
  /** Called after the store was closed (e.g. disconnect the client you handed in). */
  cleanup?: () => Promise<void> | void;
  /** Timeout of each test, ms (passed to `it`). Default 20000. */
  timeout?: number;
}

/**
 * Registers a suite that checks a `CacheStore` keeps the contract the service relies on: bytes round-trip
 * exactly, TTLs, add/incr/touch semantics (atomic when `capabilities.atomic`), batches, literal-prefix
 * listing (glob characters are not patterns) or a clear `UnsupportedOperationError` when
 * `capabilities.scan` is false, tag sets when `sadd`/`sscan` exist, leases when the lease members exist, and `flush` when asked.
 * Every key it writes starts with `keyPrefix` and is removed at the end, so it can run against a shared server.
 *
 * @example
 * import { describe, it, beforeAll, afterAll } from 'vitest';
 * import { runStoreConformanceSuite } from 'nestjs-tenant-cache/testing';
 * runStoreConformanceSuite('my store', { test: { describe, it, beforeAll, afterAll }, store: myStore({ url }) });
 */
export function runStoreConformanceSuite(name: string, options: StoreConformanceOptions): void {
  const { describe, it, beforeAll, afterAll } = options.test;
  const prefix = options.keyPrefix ?? `conformance:${randomUUID().slice(0, 8)}:`;
  const timeout = options.timeout ?? 20_000;
  const used = new Set<string>();
  /** A key of this run (recorded for the final clean-up). */
  const k = (suffix: string) => {
    const key = prefix + suffix;
    used.add(key);
    return key;
  };
  let store!: CacheStore;

  describe(`CacheStore conformance: ${name}`, () => {
    beforeAll(async () => {
      const source = options.store;
      store = typeof source === 'function' ? await source() : await source.create(`conformance-${name}`);
    });

    afterAll(async () => {
      if (store) {
        try {
          if (store.capabilities.scan) await store.deleteByPrefix(prefix);
          const keys = [...used];
          for (let i = 0; i < keys.length; i += 200) await store.mdel(keys.slice(i, i + 200));
        } finally {
          await store.close();
        }
      }
      await options.cleanup?.();
    });

    const cases: ConformanceCases = { it: (caseName, fn) => it(caseName, () => fn(store), timeout), k, prefix };
    valueCases(cases);
    expiryCases(cases);
    listingCases(cases);
    leaseCases(cases);

    if (options.flush) {
      it(
        'flush empties the store',
        async () => {
          await store.set(k('flush:a'), bytes('1'));
          await store.flush();
          assert.equal(await store.get(k('flush:a')), undefined);
          assert.equal(await store.has(k('flush:a')), false);
        },
        timeout,
      );
    }
  });
}
