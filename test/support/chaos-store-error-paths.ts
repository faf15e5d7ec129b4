import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type CacheStore, MemoryStore, type StoreDefinition } from '../../lib/index.js';
import type { ConformanceTestApi } from '../../lib/testing/index.js';
import { type ChaosControl, type ChaosOperation, chaosStore } from './chaos-store.js';

/** A memory store with the remote fast paths too (`getThen`, `setThen`), so that one store has every member. */
export class EveryMemberStore extends MemoryStore {
  getThen<R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R> {
    return this.get(key).then(onValue, onError);
  }
  setThen(key: string, value: Buffer | string, ttl: number | undefined, onError: (error: unknown) => void): Promise<void> {
    return (typeof value === 'string' ? this.setText(key, value, ttl) : this.set(key, value, ttl)).catch(onError);
  }
  // Leases as a remote store has them (one process only: for the chaos and error-path suites).
  private readonly leases = new Map<string, { token: string; until: number }>();
  async takeLease(key: string, token: string, ttl: number): Promise<number> {
    const held = this.leases.get(key);
    if (held !== undefined && held.until > Date.now()) return held.until - Date.now();
    this.leases.set(key, { token, until: Date.now() + ttl });
    return 0;
  }
  async renewLease(key: string, token: string, ttl: number): Promise<boolean> {
    const held = this.leases.get(key);
    if (held === undefined || held.token !== token || held.until <= Date.now()) return false;
    held.until = Date.now() + ttl;
    return true;
  }
  async releaseLease(key: string, token: string): Promise<boolean> {
    const held = this.leases.get(key);
    for (const listener of this.watchers) listener(key);
    if (held === undefined || held.token !== token) return false;
    this.leases.delete(key);
    return true;
  }
  private readonly watchers: ((key: string) => void)[] = [];
  async watchLeases(onRelease: (key: string) => void): Promise<void> {
    this.watchers.push(onRelease);
  }
}

/** Options of `runErrorPathSuite`. */
export interface ErrorPathSuiteOptions {
  test: ConformanceTestApi;
  /** The store that fails: wrapped in a chaos store, taken down for each case. */
  inner: StoreDefinition;
  /** Builds the store under test around the failing one (e.g. a `ResilientStore`); default: the chaos store itself. */
  wrap?: (failing: CacheStore) => CacheStore | Promise<CacheStore>;
  /** Longest a call may take to settle while the store is down, ms (past it, the call hangs). Default 3000. */
  settleWithin?: number;
}

/** An outcome check: throws (an assertion) when the member of `store` does not fail the way the contract says. */
type Check = (store: CacheStore, key: string, bound: <T>(work: Promise<T>, what: string) => Promise<T>) => Promise<void>;

const value = Buffer.from('fresh');

/** A promise's outcome, without letting a rejection go unhandled. */
async function settle<T>(work: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Asserts that `work` rejects with an Error (the failure surfaced, not turned into an answer). */
async function rejectsWithError(work: () => Promise<unknown>, what: string): Promise<void> {
  let outcome;
  try {
    outcome = await settle(work());
  } catch (error) {
    assert.fail(`${what} threw synchronously (${String(error)}) instead of returning a rejected promise`);
  }
  assert.equal(outcome.ok, false, `${what} answered ${JSON.stringify(outcome.ok ? outcome.value : undefined)} while the store is down; it must reject`);
  if (!outcome.ok) assert.ok(outcome.error instanceof Error, `${what} rejects with an Error, got ${String(outcome.error)}`);
}

/** Asserts that iterating the pages rejects with an Error. */
function pagesReject(pages: () => AsyncIterable<string[]>, what: string, bound: <T>(work: Promise<T>, what: string) => Promise<T>): Promise<void> {
  return rejectsWithError(
    () =>
      bound(
        (async () => {
          for await (const page of pages()) void page;
        })(),
        what,
      ),
    what,
  );
}

/** What each member must do while its store is down, as `CacheStore` documents it. */
const CHECKS: Partial<Record<ChaosOperation, Check>> = {
  get: (s, key, bound) => rejectsWithError(() => bound(s.get(key), 'get'), 'get'),
  getSync: async (s, key) => {
    let held: unknown;
    try {
      held = s.getSync!(key);
    } catch (error) {
      assert.ok(error instanceof Error, `getSync throws an Error, got ${String(error)}`);
      return;
    }
    assert.equal(held, undefined, 'getSync of a failing store throws or misses; it returned a value (stale bytes?)');
  },
  getThen: async (s, key, bound) => {
    const calls: string[] = [];
    let seen: unknown;
    const outcome = await settle(
      bound(
        s.getThen!(
          key,
          () => (calls.push('onValue'), 'value'),
          (error) => ((seen = error), calls.push('onError'), 'mapped'),
        ),
        'getThen',
      ),
    );
    assert.deepEqual(calls, ['onError'], 'getThen hands a failure to onError once, and never to onValue');
    assert.ok(seen instanceof Error, `onError gets an Error, got ${String(seen)}`);
    assert.deepEqual(outcome, { ok: true, value: 'mapped' }, 'getThen resolves to what onError returns; it must not reject');
  },
  set: (s, key, bound) => rejectsWithError(() => bound(s.set(key, value), 'set'), 'set'),
  setSync: async (s, key) => {
    assert.throws(() => s.setSync!(key, value), Error, 'setSync of a failing store throws (a write is never lost silently)');
  },
  setText: (s, key, bound) => rejectsWithError(() => bound(s.setText!(key, 'fresh'), 'setText'), 'setText'),
  setThen: async (s, key, bound) => {
    const errors: unknown[] = [];
    const outcome = await settle(
      bound(
        s.setThen!(key, value, undefined, (error) => void errors.push(error)),
        'setThen',
      ),
    );
    assert.equal(errors.length, 1, `setThen hands a failure to onError once, got ${errors.length} calls`);
    assert.ok(errors[0] instanceof Error, `onError gets an Error, got ${String(errors[0])}`);
    assert.deepEqual(outcome, { ok: true, value: undefined }, 'setThen resolves once onError handled the failure');
    const thrown = new Error('thrown by onError');
    const rethrown = await settle(
      bound(
        s.setThen!(key, 'text', undefined, () => {
          throw thrown;
        }),
        'setThen',
      ),
    );
    assert.deepEqual(rethrown, { ok: false, error: thrown }, 'setThen rejects with what onError throws');
  },
  add: (s, key, bound) => rejectsWithError(() => bound(s.add(`${key}:new`, value), 'add'), 'add'),
  delete: (s, key, bound) => rejectsWithError(() => bound(s.delete(key), 'delete'), 'delete'),
  has: (s, key, bound) => rejectsWithError(() => bound(s.has(key), 'has'), 'has'),
  mget: (s, key, bound) => rejectsWithError(() => bound(s.mget([key, `${key}:other`]), 'mget'), 'mget'),
  mset: (s, key, bound) => rejectsWithError(() => bound(s.mset([{ key, value }]), 'mset'), 'mset'),
  mdel: (s, key, bound) => rejectsWithError(() => bound(s.mdel([key]), 'mdel'), 'mdel'),
  incr: (s, key, bound) => rejectsWithError(() => bound(s.incr(`${key}:n`, 1), 'incr'), 'incr'),
  touch: (s, key, bound) => rejectsWithError(() => bound(s.touch(key, 1000), 'touch'), 'touch'),
  ttl: (s, key, bound) => rejectsWithError(() => bound(s.ttl(key), 'ttl'), 'ttl'),
  scan: (s, key, bound) => pagesReject(() => s.scan(key), 'scan', bound),
  deleteByPrefix: (s, key, bound) => rejectsWithError(() => bound(s.deleteByPrefix(key), 'deleteByPrefix'), 'deleteByPrefix'),
  sadd: (s, key, bound) => rejectsWithError(() => bound(s.sadd!(`${key}:set`, ['m']), 'sadd'), 'sadd'),
  sscan: (s, key, bound) => pagesReject(() => s.sscan!(`${key}:set`), 'sscan', bound),
  takeLease: (s, key, bound) => rejectsWithError(() => bound(s.takeLease!(`${key}:lease`, 'me', 1000), 'takeLease'), 'takeLease'),
  renewLease: (s, key, bound) => rejectsWithError(() => bound(s.renewLease!(`${key}:lease`, 'me', 1000), 'renewLease'), 'renewLease'),
  releaseLease: (s, key, bound) => rejectsWithError(() => bound(s.releaseLease!(`${key}:lease`, 'me'), 'releaseLease'), 'releaseLease'),
};

/**
 * Registers a suite that takes the store down (through a chaos store) and calls each member of the store
 * under test, the fast paths included: each must fail the documented way (a rejected promise, a throw
 * from a synchronous member, `onError` for `getThen`/`setThen`, a failed page pull), within
 * `settleWithin`, with no unhandled rejection, and never answer with data. A member the store lacks is
 * skipped.
 */
export function runErrorPathSuite(name: string, options: ErrorPathSuiteOptions): void {
  const { describe, it, beforeAll, afterAll } = options.test;
  const limit = options.settleWithin ?? 3000;
  const prefix = `error-paths:${randomUUID().slice(0, 8)}:`;
  let store!: CacheStore;
  let control!: ChaosControl;
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => void unhandled.push(reason);

  const bound = <T>(work: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what} did not settle within ${limit} ms while the store is down (a hang)` })), limit);
    });
    return Promise.race([work, hang]).finally(() => clearTimeout(timer));
  };

  describe(`fast paths' error paths: ${name}`, () => {
    beforeAll(async () => {
      const chaos = chaosStore(options.inner);
      control = chaos.control;
      const failing = await chaos.definition.create(`error-paths-${name}`);
      store = options.wrap ? await options.wrap(failing) : failing;
      // A value to read back: a store answering it while down would serve what it cannot vouch for.
      // Read through every read path while up, as an app would have: a wrapper that kept what it saw must
      // still not answer it once the store fails.
      await failing.set(`${prefix}present`, Buffer.from('stale'));
      await store.get(`${prefix}present`);
      await store.mget([`${prefix}present`]);
      store.getSync?.(`${prefix}present`);
      await store.getThen?.(
        `${prefix}present`,
        () => undefined,
        () => undefined,
      );
      process.on('unhandledRejection', record);
    });

    afterAll(async () => {
      process.off('unhandledRejection', record);
      control.reset();
      const failing = control.stores[0];
      try {
        if (failing?.capabilities.scan) await failing.deleteByPrefix(prefix);
        await failing?.mdel([`${prefix}present`]);
      } finally {
        await store.close();
        if (failing !== store) await failing?.close().catch(() => undefined);
      }
    });

    for (const [operation, check] of Object.entries(CHECKS) as [ChaosOperation, Check][]) {
      it(
        `${operation}, while the store is down, fails the documented way`,
        async () => {
          if (typeof store[operation as keyof CacheStore] !== 'function') return;
          control.down();
          try {
            await check(store, `${prefix}present`, bound);
            await new Promise((resolve) => setTimeout(resolve, 10));
            assert.deepEqual(unhandled.splice(0), [], `${operation} left an unhandled rejection`);
          } finally {
            control.up();
          }
        },
        limit * 3,
      );
    }
  });
}
