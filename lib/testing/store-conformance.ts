import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { UnsupportedOperationError } from '../errors/unsupported-operation.error.js';
import type { CacheStore, StoreDefinition } from '../stores/cache-store.interface.js';

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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function collect(pages: AsyncIterable<string[]>, pageSize?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const page of pages) {
    assert.ok(Array.isArray(page), 'scan yields arrays of keys');
    if (pageSize !== undefined) assert.ok(page.length <= pageSize, `a page holds at most pageSize (${pageSize}) keys, got ${page.length}`);
    out.push(...page);
  }
  return out;
}

async function rejectsUnsupported(run: () => Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof UnsupportedOperationError, `${what} must fail with UnsupportedOperationError, got ${String(error)}`);
    return true;
  });
}

/**
 * Registers a suite that checks a `CacheStore` keeps the contract the service relies on: bytes round-trip
 * exactly, TTLs, add/incr/touch semantics (atomic when `capabilities.atomic`), batches, literal-prefix
 * listing (glob characters are not patterns) or a clear `UnsupportedOperationError` when
 * `capabilities.scan` is false, tag sets when `sadd`/`sscan` exist, and `flush` when asked.
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
  const bytes = (text: string) => Buffer.from(text, 'utf8');
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

    it(
      'declares well-formed capabilities and a name',
      async () => {
        const c = store.capabilities;
        assert.equal(typeof store.name, 'string');
        for (const flag of ['distributed', 'atomic', 'scan', 'ttl'] as const) assert.equal(typeof c[flag], 'boolean', `capabilities.${flag}`);
        assert.ok(Number.isInteger(c.maxKeyLength) && c.maxKeyLength >= 64, 'capabilities.maxKeyLength is an integer >= 64');
        assert.ok(Number.isInteger(c.maxValueBytes) && c.maxValueBytes >= 1024, 'capabilities.maxValueBytes is an integer >= 1024');
        assert.ok(c.allowedKey === undefined || c.allowedKey instanceof RegExp, 'capabilities.allowedKey is a RegExp or undefined');
        assert.equal(store.sadd === undefined, store.sscan === undefined, 'sadd and sscan come together');
      },
      timeout,
    );

    it(
      'round-trips bytes exactly (every byte value, text, large values)',
      async () => {
        const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const big = randomBytes(Math.min(store.capabilities.maxValueBytes, 256 * 1024));
        const cases: [string, Buffer][] = [
          ['bytes:all', all],
          ['bytes:zero', Buffer.from([0])],
          ['bytes:text', bytes('{"ü":"租户","n":1}')],
          ['bytes:digits', Buffer.from('12345', 'latin1')],
          ['bytes:big', big],
        ];
        for (const [key, value] of cases) await store.set(k(key), value);
        for (const [key, value] of cases) {
          const back = await store.get(k(key));
          assert.ok(Buffer.isBuffer(back), `${key} comes back as a Buffer`);
          assert.ok(back.equals(value), `${key} comes back byte for byte`);
        }
      },
      timeout,
    );

    it(
      'optional fast paths (getSync/setSync, setText, getThen/setThen), where present, agree with get and set',
      async () => {
        const text = '\u001e1-1:text ü 租户 🎉';
        const utf8 = Buffer.from(text, 'utf8');
        if (store.setText) {
          await store.setText(k('fast:text'), text);
          assert.ok((await store.get(k('fast:text')))?.equals(utf8), 'setText writes the UTF-8 bytes that get returns');
        }
        if (store.getSync || store.setSync) {
          assert.ok(store.getSync && store.setSync, 'getSync and setSync come together');
          store.setSync(k('fast:sync'), utf8);
          assert.ok((await store.get(k('fast:sync')))?.equals(utf8), 'setSync writes what get returns');
          const back = store.getSync(k('fast:sync'));
          assert.ok(Buffer.isBuffer(back) && back.equals(utf8), 'getSync returns what setSync wrote');
          assert.equal(store.getSync(k('fast:missing')), undefined);
          if (store.setText) {
            store.setSync(k('fast:sync-text'), text);
            const held = store.getSync(k('fast:sync-text'));
            assert.ok(held === text || (Buffer.isBuffer(held) && held.equals(utf8)), 'getSync returns a text entry as written, or its bytes');
            assert.ok((await store.get(k('fast:sync-text')))?.equals(utf8), 'get returns the bytes of a text entry');
          }
        }
        if (store.getThen) {
          await store.set(k('fast:then'), utf8);
          const found = await store.getThen<Buffer | string | undefined>(
            k('fast:then'),
            (v) => v,
            () => 'failed',
          );
          assert.ok(Buffer.isBuffer(found) && found.equals(utf8), 'getThen hands the value to onValue');
          assert.equal(
            await store.getThen<Buffer | string>(
              k('fast:none'),
              (v) => v ?? 'miss',
              () => 'failed',
            ),
            'miss',
          );
        }
        if (store.setThen) {
          await store.setThen(k('fast:setthen'), utf8, undefined, () => assert.fail('setThen reported a failure'));
          assert.ok((await store.get(k('fast:setthen')))?.equals(utf8), 'setThen writes what get returns');
        }
      },
      timeout,
    );

    it(
      'get/has/set/delete: undefined for a miss, overwrite, delete says whether the key existed',
      async () => {
        assert.equal(await store.get(k('basic:missing')), undefined);
        assert.equal(await store.has(k('basic:missing')), false);
        await store.set(k('basic:a'), bytes('1'));
        await store.set(k('basic:a'), bytes('2'));
        assert.equal((await store.get(k('basic:a')))?.toString(), '2');
        assert.equal(await store.has(k('basic:a')), true);
        assert.equal(await store.delete(k('basic:a')), true);
        assert.equal(await store.delete(k('basic:a')), false);
        assert.equal(await store.get(k('basic:a')), undefined);
        assert.equal(await store.has(k('basic:a')), false);
      },
      timeout,
    );

    it(
      'keeps keys with unusual characters apart',
      async () => {
        const allowed = store.capabilities.allowedKey;
        const room = store.capabilities.maxKeyLength - prefix.length - 'chars:'.length;
        const suffixes = ['a:b', 'a', 'a:', '*', '4*', '42', '{x}', '[ab]', '?', 'a\\b', 'ü租户', ' ', 'x'.repeat(Math.max(1, room))].filter(
          (s) => allowed === undefined || allowed.test(prefix + 'chars:' + s),
        );
        for (const s of suffixes) await store.set(k(`chars:${s}`), bytes(`v:${s}`));
        for (const s of suffixes) assert.equal((await store.get(k(`chars:${s}`)))?.toString(), `v:${s}`, `key "chars:${s.slice(0, 20)}"`);
      },
      timeout,
    );

    it(
      'expires entries after their TTL; no TTL (undefined or 0) means no expiry; ttl() reports what is left',
      async () => {
        await store.set(k('ttl:short'), bytes('x'), 150);
        await store.set(k('ttl:none'), bytes('y'));
        await store.set(k('ttl:zero'), bytes('z'), 0);
        await store.set(k('ttl:long'), bytes('w'), 60_000);
        if (store.capabilities.ttl) {
          const left = await store.ttl(k('ttl:short'));
          assert.ok(left !== undefined && left > 0 && left <= 150, `ttl() of a 150 ms entry is in (0, 150], got ${left}`);
          const long = await store.ttl(k('ttl:long'));
          assert.ok(long !== undefined && long > 30_000 && long <= 60_000, `ttl() of a 60 s entry is in (30 s, 60 s], got ${long}`);
          assert.equal(await store.ttl(k('ttl:none')), Infinity);
          assert.equal(await store.ttl(k('ttl:zero')), Infinity);
          assert.equal(await store.ttl(k('ttl:missing')), undefined);
        } else {
          await rejectsUnsupported(() => store.ttl(k('ttl:none')), 'ttl() on a store without capabilities.ttl');
        }
        await sleep(400);
        assert.equal(await store.get(k('ttl:short')), undefined, 'an expired entry is a miss');
        assert.equal(await store.has(k('ttl:short')), false);
        assert.deepEqual(
          (await store.mget([k('ttl:short'), k('ttl:none')])).map((b) => b?.toString()),
          [undefined, 'y'],
        );
        assert.equal((await store.get(k('ttl:none')))?.toString(), 'y');
        assert.equal((await store.get(k('ttl:zero')))?.toString(), 'z');
      },
      timeout,
    );

    it(
      'add writes only when the key is absent (or expired)',
      async () => {
        assert.equal(await store.add(k('add:a'), bytes('first')), true);
        assert.equal(await store.add(k('add:a'), bytes('second')), false);
        assert.equal((await store.get(k('add:a')))?.toString(), 'first');
        assert.equal(await store.add(k('add:ttl'), bytes('1'), 100), true);
        await sleep(250);
        assert.equal(await store.add(k('add:ttl'), bytes('2')), true, 'add succeeds once the entry expired');
        assert.equal((await store.get(k('add:ttl')))?.toString(), '2');
      },
      timeout,
    );

    it(
      'concurrent adds of one key: exactly one wins when capabilities.atomic',
      async () => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.add(k('add:race'), bytes(`w${i}`))));
        const winners = results.flatMap((won, i) => (won ? [`w${i}`] : []));
        const stored = (await store.get(k('add:race')))?.toString();
        if (store.capabilities.atomic) {
          assert.equal(winners.length, 1, `exactly one add wins, got ${winners.length}`);
          assert.equal(stored, winners[0]);
        } else {
          assert.ok(winners.length >= 1, 'at least one add wins');
          assert.ok(stored !== undefined && winners.includes(stored), "the stored value is a winner's");
        }
      },
      timeout,
    );

    it(
      'incr: missing counts from 0, negative steps, TTL only on creation, non-integers refused',
      async () => {
        assert.equal(await store.incr(k('incr:n'), 5), 5);
        assert.equal(await store.incr(k('incr:n'), -7), -2);
        assert.equal((await store.get(k('incr:n')))?.toString('latin1'), '-2', 'counters are stored as decimal text');
        await store.set(k('incr:preset'), Buffer.from('40', 'latin1'));
        assert.equal(await store.incr(k('incr:preset'), 2), 42);
        assert.equal(await store.incr(k('incr:ttl'), 1, 60_000), 1);
        assert.equal(await store.incr(k('incr:n'), 1, 60_000), -1);
        if (store.capabilities.ttl) {
          const left = await store.ttl(k('incr:ttl'));
          assert.ok(left !== undefined && left > 30_000 && left <= 60_000, `a counter created with a TTL expires, got ${left}`);
          assert.equal(await store.ttl(k('incr:n')), Infinity, 'incr on an existing counter does not change its TTL');
        }
        await store.set(k('incr:text'), bytes('not a number'));
        await assert.rejects(() => store.incr(k('incr:text'), 1), 'incr of a non-integer value rejects');
        assert.equal((await store.get(k('incr:text')))?.toString(), 'not a number', 'and leaves the value alone');
      },
      timeout,
    );

    it(
      'concurrent incr: no increment lost when capabilities.atomic',
      async () => {
        const results = await Promise.all(Array.from({ length: 50 }, () => store.incr(k('incr:race'), 1)));
        const final = Number((await store.get(k('incr:race')))?.toString('latin1'));
        if (store.capabilities.atomic) {
          assert.equal(new Set(results).size, 50, 'every increment sees its own value');
          assert.equal(final, 50);
        } else {
          assert.ok(final >= 1 && final <= 50, `the counter is between 1 and 50, got ${final}`);
        }
      },
      timeout,
    );

    it(
      'touch: false for a missing key, sets a new TTL (or none) on an existing one',
      async () => {
        assert.equal(await store.touch(k('touch:missing'), 1000), false);
        assert.equal(await store.has(k('touch:missing')), false, 'touch does not create the key');
        await store.set(k('touch:a'), bytes('v'), 150);
        assert.equal(await store.touch(k('touch:a'), 60_000), true);
        await store.set(k('touch:b'), bytes('v'), 60_000);
        assert.equal(await store.touch(k('touch:b')), true);
        await sleep(300);
        assert.equal((await store.get(k('touch:a')))?.toString(), 'v', 'the new TTL replaced the short one');
        assert.equal((await store.get(k('touch:a')))?.toString(), 'v');
        if (store.capabilities.ttl) {
          const left = await store.ttl(k('touch:a'));
          assert.ok(left !== undefined && left > 30_000, `ttl() after touch, got ${left}`);
          assert.equal(await store.ttl(k('touch:b')), Infinity, 'touch without TTL removes the expiry');
        }
        await store.set(k('touch:c'), bytes('v'), 60_000);
        assert.equal(await store.touch(k('touch:c'), 100), true);
        await sleep(250);
        assert.equal(await store.get(k('touch:c')), undefined, 'a shorter TTL set by touch applies');
      },
      timeout,
    );

    it(
      'mget/mset/mdel: order kept, misses undefined, per-entry TTL, mdel counts what existed',
      async () => {
        assert.deepEqual(await store.mget([]), []);
        await store.mset([]);
        assert.equal(await store.mdel([]), 0);
        await store.mset([
          { key: k('m:1'), value: bytes('one') },
          { key: k('m:2'), value: bytes('two'), ttl: 100 },
          { key: k('m:3'), value: bytes('three'), ttl: 60_000 },
        ]);
        const read = async (keys: string[]) => (await store.mget(keys.map(k))).map((b) => b?.toString());
        assert.deepEqual(await read(['m:3', 'm:missing', 'm:1', 'm:2']), ['three', undefined, 'one', 'two']);
        await sleep(250);
        assert.deepEqual(await read(['m:1', 'm:2', 'm:3']), ['one', undefined, 'three'], 'the per-entry TTL applied');
        if (store.capabilities.ttl) assert.equal(await store.ttl(k('m:1')), Infinity);
        assert.equal(await store.mdel([k('m:1'), k('m:missing'), k('m:3')]), 2);
        assert.deepEqual(await read(['m:1', 'm:3']), [undefined, undefined]);
      },
      timeout,
    );

    it(
      'scan and deleteByPrefix take the prefix literally (glob characters are not patterns), or refuse clearly',
      async () => {
        const names = ['p*1', 'p*2', 'pa1', 'p?x', 'p[a]1', 'pa]1', 'p\\1', 'q*1'];
        for (const n of names) await store.set(k(`scan:${n}`), bytes(n));
        if (!store.capabilities.scan) {
          await rejectsUnsupported(() => collect(store.scan(k('scan:'))), 'scan() without capabilities.scan');
          await rejectsUnsupported(() => store.deleteByPrefix(k('scan:p*')), 'deleteByPrefix() without capabilities.scan');
          assert.equal((await store.get(k('scan:p*1')))?.toString(), 'p*1', 'a refused deleteByPrefix deletes nothing');
          return;
        }
        const listed = async (p: string, pageSize?: number) => (await collect(store.scan(k(`scan:${p}`), pageSize), pageSize)).sort();
        assert.deepEqual(await listed(''), names.map((n) => k(`scan:${n}`)).sort());
        assert.deepEqual(await listed('p*'), [k('scan:p*1'), k('scan:p*2')]);
        assert.deepEqual(await listed('p?'), [k('scan:p?x')]);
        assert.deepEqual(await listed('p[a]'), [k('scan:p[a]1')]);
        assert.deepEqual(await listed('p\\'), [k('scan:p\\1')]);
        assert.deepEqual(await listed('nothing'), []);
        assert.deepEqual(await listed('', 3), names.map((n) => k(`scan:${n}`)).sort(), 'small pages list every key');
        assert.equal(await store.deleteByPrefix(k('scan:p*')), 2);
        assert.equal(await store.get(k('scan:p*1')), undefined);
        assert.deepEqual(await listed(''), ['pa1', 'p?x', 'p[a]1', 'pa]1', 'p\\1', 'q*1'].map((n) => k(`scan:${n}`)).sort());
        assert.equal(await store.deleteByPrefix(k('scan:')), 6);
        assert.deepEqual(await listed(''), []);
      },
      timeout,
    );

    it(
      'tag sets (sadd/sscan), when the store has them, collect members and honour their TTL',
      async () => {
        const { sadd, sscan } = store;
        if (sadd === undefined || sscan === undefined) {
          assert.equal(sadd, sscan, 'a store without sets has neither sadd nor sscan');
          return;
        }
        const members = Array.from({ length: 25 }, (_, i) => `member:${i}:ü`);
        await sadd.call(store, k('set:a'), members.slice(0, 10));
        await sadd.call(store, k('set:a'), members.slice(5));
        const got = await collect(sscan.call(store, k('set:a'), 7));
        assert.deepEqual([...new Set(got)].sort(), [...members].sort());
        assert.deepEqual(await collect(sscan.call(store, k('set:missing'))), []);
        await sadd.call(store, k('set:ttl'), ['x'], 100);
        await sleep(250);
        assert.deepEqual(await collect(sscan.call(store, k('set:ttl'))), [], 'a set expires with its TTL');
        await store.delete(k('set:a'));
        assert.deepEqual(await collect(sscan.call(store, k('set:a'))), [], 'delete removes a set');
      },
      timeout,
    );

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
