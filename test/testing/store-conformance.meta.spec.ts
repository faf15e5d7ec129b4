import { describe, expect, it } from 'vitest';
import { type CacheStore, MemoryStore, ResilientStore, type StoreCapabilities, type StoreDefinition } from '../../lib/index.js';
import { type ConformanceTestApi, runStoreConformanceSuite } from '../../lib/testing/index.js';
import { EveryMemberStore, runErrorPathSuite } from '../support/chaos-store-error-paths.js';

/** Runs the conformance suite on a store with a test API that records each test's outcome instead of reporting it. */
function outcomes(store: () => CacheStore): Promise<Map<string, boolean>> {
  return recorded((test) => runStoreConformanceSuite('probe', { test, store, flush: true }));
}

/** Registers a suite with `register` on a test API that records each test's outcome instead of reporting it, and runs it. */
async function recorded(register: (test: ConformanceTestApi) => void): Promise<Map<string, boolean>> {
  const before: (() => unknown)[] = [];
  const after: (() => unknown)[] = [];
  const tests: [string, () => Promise<void>][] = [];
  const api: ConformanceTestApi = {
    describe: (_name, fn) => fn(),
    it: (name, fn) => void tests.push([name, fn]),
    beforeAll: (fn) => void before.push(fn),
    afterAll: (fn) => void after.push(fn),
  };
  register(api);
  for (const fn of before) await fn();
  const result = new Map<string, boolean>();
  for (const [name, fn] of tests) {
    try {
      await fn();
      result.set(name, true);
    } catch {
      result.set(name, false);
    }
  }
  for (const fn of after) await fn();
  return result;
}

const failed = (results: Map<string, boolean>) => [...results].filter(([, ok]) => !ok).map(([name]) => name);

/** Loses bytes that are not valid UTF-8 (a store that keeps text, not bytes). */
class TextStore extends MemoryStore {
  override async set(key: string, value: Buffer, ttl?: number) {
    return super.set(key, Buffer.from(value.toString('utf8'), 'utf8'), ttl);
  }
}

/** Treats the prefix as a glob pattern (`p*` lists `pa1`). */
class GlobScanStore extends MemoryStore {
  override scan(prefix: string, pageSize?: number): AsyncIterable<string[]> {
    const cut = prefix.search(/[*?[]/);
    return super.scan(cut < 0 ? prefix : prefix.slice(0, cut), pageSize);
  }
}

/** Claims atomic add, but reads and writes in two steps. */
class RacyAddStore extends MemoryStore {
  override async add(key: string, value: Buffer, ttl?: number) {
    const present = await this.has(key);
    await new Promise((resolve) => setImmediate(resolve));
    if (present) return false;
    await this.set(key, value, ttl);
    return true;
  }
}

/** Gives an existing counter the TTL of the call (the bug the suite found in the Redis store's script). */
class IncrTtlStore extends MemoryStore {
  override async incr(key: string, by: number, ttl?: number) {
    const n = await super.incr(key, by, ttl);
    if (ttl) await this.touch(key, ttl);
    return n;
  }
}

/** Says it cannot list, but lists anyway (no UnsupportedOperationError). */
class DishonestScanStore extends MemoryStore {
  override readonly capabilities: StoreCapabilities = { ...new MemoryStore('x').capabilities, scan: false };
}

/** Its synchronous read misses what the promise-based write stored (a cache of its own, not the store). */
class StaleSyncStore extends MemoryStore {
  override getSync(key: string): Buffer | string | undefined {
    const held = super.getSync(key);
    return held === undefined || typeof held === 'string' ? held : undefined;
  }
}

/** A `getThen` that hands every answer to `onValue` as a miss. */
class MissingGetThenStore extends MemoryStore {
  getThen<R>(key: string, onValue: (value: Buffer | undefined) => R, onError: (error: unknown) => R): Promise<R> {
    return this.get(key).then(() => onValue(undefined), onError);
  }
}

/** A `setThen` that reports success but writes nothing. */
class LostSetThenStore extends MemoryStore {
  setThen(): Promise<void> {
    return Promise.resolve();
  }
}

/** Has `sadd` but no `sscan` (a wrapper that forwarded one and forgot the other). */
function halfSetsStore(): CacheStore {
  const store = new MemoryStore('half-sets');
  Object.defineProperty(store, 'sscan', { value: undefined });
  return store;
}

// Concurrent: each run sleeps through the suite's TTL checks.
describe.concurrent('the store conformance suite catches broken stores', () => {
  it('passes a correct store (memory)', async () => {
    expect(failed(await outcomes(() => new MemoryStore('ok')))).toEqual([]);
  });

  it.each([
    ['bytes kept as text', () => new TextStore('text'), /round-trips bytes/],
    ['prefix taken as a glob', () => new GlobScanStore('glob'), /literally/],
    ['a racy add claimed atomic', () => new RacyAddStore('racy'), /concurrent adds/],
    ['incr moving the TTL of an existing counter', () => new IncrTtlStore('incr'), /^incr:/],
    ['listing that capabilities deny but the store does anyway', () => new DishonestScanStore('dishonest'), /literally/],
    ['a getSync that misses what set wrote', () => new StaleSyncStore('stale-sync'), /fast paths/],
    ['a getThen that loses the value', () => new MissingGetThenStore('get-then'), /fast paths/],
    ['a setThen that writes nothing', () => new LostSetThenStore('set-then'), /fast paths/],
    ['sadd without sscan', halfSetsStore, /capabilities|tag sets/],
  ] as const)('%s', async (_, store, test) => {
    const broken = failed(await outcomes(store));
    expect(broken.length).toBeGreaterThan(0);
    expect(broken.every((name) => test.test(name))).toBe(true);
  });
});

/** The error-path suite's outcomes for `wrap` around a failing memory store that has every fast path. */
function errorPathOutcomes(wrap?: (failing: CacheStore) => CacheStore): Promise<Map<string, boolean>> {
  const inner: StoreDefinition = { create: (alias) => new EveryMemberStore(alias), description: 'every member' };
  return recorded((test) => runErrorPathSuite('probe', { test, inner, wrap, settleWithin: 300 }));
}

/** A wrapper that forwards every member but replaces one (the kind of slip a hand-written wrapper makes). */
function replacing(member: keyof CacheStore, build: (failing: CacheStore) => unknown): (failing: CacheStore) => CacheStore {
  return (failing) => {
    const wrapper = new ResilientStore(failing, { breaker: { failureThreshold: 1000 } });
    Object.defineProperty(wrapper, member, { value: build(failing) });
    return wrapper;
  };
}

/** Keeps the last bytes its getSync saw and answers them when the store fails: stale bytes during an outage. */
function staleOnFailure(failing: CacheStore) {
  const last = new Map<string, Buffer | string>();
  return (key: string) => {
    try {
      const held = failing.getSync!(key);
      if (held !== undefined) last.set(key, held);
      return held;
    } catch {
      return last.get(key);
    }
  };
}

describe.concurrent("the fast-path error suite catches wrappers that lose a store's failures", () => {
  it('passes the chaos store itself and a ResilientStore around it', async () => {
    expect(failed(await errorPathOutcomes())).toEqual([]);
    expect(failed(await errorPathOutcomes((failing) => new ResilientStore(failing, { breaker: { failureThreshold: 1000 } })))).toEqual([]);
  });

  it.each([
    [
      'a setThen that swallows failures (onError never called)',
      replacing('setThen', (s) => (key: string, value: Buffer | string, ttl: number | undefined) => s.setThen!(key, value, ttl, () => undefined)),
      /^setThen/,
    ],
    [
      'a getThen that rejects instead of calling onError',
      replacing('getThen', (s) => (key: string, onValue: (v: Buffer | undefined) => unknown) => s.get(key).then(onValue)),
      /^getThen/,
    ],
    [
      'a getThen that never settles on a failure',
      replacing('getThen', (s) => (key: string, onValue: (v: Buffer | undefined) => unknown) => s.get(key).then(onValue, () => new Promise(() => undefined))),
      /^getThen/,
    ],
    ['a getSync that answers stale bytes while the store fails', replacing('getSync', (s) => staleOnFailure(s)), /^getSync/],
    [
      'a setSync that drops the write silently',
      replacing('setSync', (s) => (key: string, value: Buffer | string) => {
        try {
          s.setSync!(key, value);
        } catch {
          // lost
        }
      }),
      /^setSync/,
    ],
    ['a get that turns a failure into a miss', replacing('get', (s) => (key: string) => s.get(key).catch(() => undefined)), /^get,/],
  ] as const)('%s', async (_, wrap, test) => {
    const broken = failed(await errorPathOutcomes(wrap));
    expect(broken.length).toBeGreaterThan(0);
    expect(
      broken.every((name) => test.test(name)),
      broken.join('; '),
    ).toBe(true);
  });
});
