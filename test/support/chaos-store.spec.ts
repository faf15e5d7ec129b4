import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheStore, type StoreDefinition, StoreUnavailableError, keyvStore, memoryStore } from '../../lib/index.js';
import { runStoreConformanceSuite } from '../../lib/testing/index.js';
import { EveryMemberStore } from './chaos-store-error-paths.js';
import { CHAOS_OPERATIONS, type ChaosOperation, OPTIONAL_OPERATIONS, chaosStore } from './chaos-store.js';

const cases: { name: string; inner: () => StoreDefinition }[] = [
  { name: 'MemoryStore', inner: () => memoryStore() },
  { name: 'Keyv adapter', inner: () => keyvStore(new Keyv()) },
  { name: 'every member', inner: () => ({ create: (alias) => new EveryMemberStore(alias), description: 'every member' }) },
];

const buf = Buffer.from('v');
/** One call of each member, as the engine makes it. */
const CALLS: Record<Exclude<ChaosOperation, 'getThen' | 'setThen'>, (s: CacheStore) => unknown> = {
  get: (s) => s.get('k'),
  getSync: (s) => s.getSync!('k'),
  peekLocal: (s) => s.peekLocal?.('k'),
  set: (s) => s.set('k', buf),
  setSync: (s) => s.setSync!('k', buf),
  setText: (s) => s.setText!('k', 'text'),
  add: (s) => s.add('a', buf),
  delete: (s) => s.delete('k'),
  has: (s) => s.has('k'),
  mget: (s) => s.mget(['k']),
  mset: (s) => s.mset([{ key: 'k', value: buf }]),
  mdel: (s) => s.mdel(['k']),
  incr: (s) => s.incr('n', 1),
  touch: (s) => s.touch('k', 1000),
  ttl: (s) => s.ttl('k'),
  scan: (s) => s.scan(''),
  deleteByPrefix: (s) => s.deleteByPrefix('zz'),
  sadd: (s) => s.sadd!('s', ['m']),
  sscan: (s) => s.sscan!('s'),
  takeLease: (s) => s.takeLease!('l', 'me', 1000),
  renewLease: (s) => s.renewLease!('l', 'me', 1000),
  releaseLease: (s) => s.releaseLease!('l', 'me'),
  watchLeases: (s) => s.watchLeases!(() => undefined),
  flush: (s) => s.flush(),
  close: (s) => s.close(),
};

/** Runs one member to its end: a result, or the error it failed with, and how it failed. */
async function outcome(store: CacheStore, op: ChaosOperation): Promise<{ how: 'ok' | 'threw' | 'rejected' | 'onError' | 'pull'; error?: unknown }> {
  if (op === 'getThen' || op === 'setThen') {
    let seen: unknown;
    const onError = (error: unknown) => ((seen = error), 'mapped');
    const result = op === 'getThen' ? await store.getThen!('k', () => 'value', onError) : await store.setThen!('k', buf, undefined, onError);
    return seen === undefined ? { how: 'ok' } : { how: 'onError', error: op === 'getThen' && result !== 'mapped' ? 'onError result lost' : seen };
  }
  let value: unknown;
  try {
    value = CALLS[op](store);
  } catch (error) {
    return { how: 'threw', error };
  }
  if (op === 'scan' || op === 'sscan') {
    try {
      for await (const _ of value as AsyncIterable<string[]>);
      return { how: 'ok' };
    } catch (error) {
      return { how: 'pull', error };
    }
  }
  if (!(value instanceof Promise)) return { how: 'ok' };
  try {
    await value;
    return { how: 'ok' };
  } catch (error) {
    return { how: 'rejected', error };
  }
}

/** How each kind of member fails when its store is down. */
const expectedFailure = (op: ChaosOperation) =>
  op === 'getSync' || op === 'peekLocal' || op === 'setSync'
    ? 'threw'
    : op === 'getThen' || op === 'setThen'
      ? 'onError'
      : op === 'scan' || op === 'sscan'
        ? 'pull'
        : 'rejected';

describe.each(cases)('chaosStore over $name', ({ inner }) => {
  let bare: CacheStore;
  beforeAll(async () => {
    bare = await inner().create('bare');
  });
  afterAll(() => bare.close());

  it('has exactly the optional members, shareReads, name and capabilities of the inner store', async () => {
    const store = await chaosStore(inner()).definition.create('bare');
    for (const op of OPTIONAL_OPERATIONS) expect(typeof store[op], op).toBe(typeof bare[op]);
    expect('shareReads' in store).toBe(bare.shareReads !== undefined);
    expect(store.shareReads).toBe(bare.shareReads);
    expect(store.name).toBe(bare.name);
    expect(store.capabilities).toEqual(bare.capabilities);
  });

  it('fails every member when down, each the way a real store fails; close still closes; all pass once up', async () => {
    const { definition, control } = chaosStore(inner());
    const store = await definition.create('down');
    const present = CHAOS_OPERATIONS.filter((op) => typeof store[op] === 'function');
    control.down();
    for (const op of present.filter((o) => o !== 'close')) {
      const { how, error } = await outcome(store, op);
      expect(how, op).toBe(expectedFailure(op));
      expect(error, op).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message, op).toMatch(new RegExp(`"down".*${op}`));
    }
    control.up();
    for (const op of present.filter((o) => o !== 'close' && o !== 'flush')) expect((await outcome(store, op)).how, op).toBe('ok');
    expect(Object.entries(control.calls).filter(([, n]) => n > 0)).toEqual(present.filter((o) => o !== 'close').map((op) => [op, op === 'flush' ? 1 : 2]));
    control.down();
    expect((await outcome(store, 'close')).how).toBe('ok');
    expect(control.calls.close).toBe(1);
  });

  it('passes values through unchanged when up', async () => {
    const store = await chaosStore(inner()).definition.create('up');
    await store.set('p:1', Buffer.from('one'), 60_000);
    expect(await store.add('p:1', buf)).toBe(false);
    expect(await store.mget(['p:1', 'p:2'])).toEqual([Buffer.from('one'), undefined]);
    expect(await store.incr('p:n', 5)).toBe(5);
    expect(await bare.get('p:1')).toBeUndefined(); // its own inner store, not bare's
    if (store.capabilities.scan) {
      const keys: string[] = [];
      for await (const page of store.scan('p:')) keys.push(...page);
      expect(keys.sort()).toEqual(['p:1', 'p:n']);
    }
    await store.close();
  });

  it('failNext fails the next n calls of the named operations only, then passes', async () => {
    const { definition, control } = chaosStore(inner());
    const store = await definition.create('next');
    control.failNext(2, ['get', 'scan']);
    await expect(store.has('x')).resolves.toBe(false);
    await expect(store.get('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect((await outcome(store, 'scan')).how).toBe('pull');
    await expect(store.get('x')).resolves.toBeUndefined();
    expect((await outcome(store, 'scan')).how).toBe('ok');
  });

  it('freeze holds asynchronous calls until thaw; latency delays them', async () => {
    const { definition, control } = chaosStore(inner());
    const store = await definition.create('slow');
    control.freeze();
    let settled = false;
    const pending = store.set('f', buf).then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    control.thaw();
    await pending;
    expect(await store.get('f')).toEqual(buf);
    control.latency(40);
    const started = performance.now();
    await store.has('f');
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });
});

describe('chaosStore options', () => {
  it('error, onCall and gate shape failures, see calls and hold calls', async () => {
    const seen: string[] = [];
    let open!: () => void;
    const gateOpen = new Promise<void>((resolve) => (open = resolve));
    const { definition, control } = chaosStore(memoryStore(), {
      error: (op) => new Error(`injected: ${op} failed`),
      onCall: (op, args) => seen.push(`${op}(${String(args[0])})`),
      gate: (op) => (op === 'get' ? gateOpen : undefined),
    });
    const store = await definition.create('opts');
    control.down(['mset']);
    await expect(store.mset([])).rejects.toThrow('injected: mset failed');
    await store.set('g', buf);
    let got: Buffer | undefined;
    const pending = store.get('g').then((v) => (got = v));
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toBeUndefined();
    open();
    await pending;
    expect(got).toEqual(buf);
    expect(seen).toEqual(['mset()', 'set(g)', 'get(g)']);
    expect(control.stores).toEqual([store]);
  });
});

// Up, the wrapper keeps the store contract, fast paths included.
for (const { name, inner } of cases) {
  runStoreConformanceSuite(`chaos over ${name}`, { test: { describe, it, beforeAll, afterAll }, store: chaosStore(inner()).definition, flush: true });
}
