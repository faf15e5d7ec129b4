import assert from 'node:assert/strict';
import { type ConformanceCases, bytes, collect, rejectsUnsupported, sleep } from './conformance-support.js';

/** Batches, literal-prefix listing and tag sets. */
export function listingCases({ it, k }: ConformanceCases): void {
  it('mget/mset/mdel: order kept, misses undefined, per-entry TTL, mdel counts what existed', async (store) => {
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
  });

  it('scan and deleteByPrefix take the prefix literally (glob characters are not patterns), or refuse clearly', async (store) => {
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
  });

  it('tag sets (sadd/sscan), when the store has them, collect members and honour their TTL', async (store) => {
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
  });
}
