import assert from 'node:assert/strict';
import { type ConformanceCases, bytes, rejectsUnsupported, sleep } from './conformance-support.js';

/** TTLs, `add`, `incr` and `touch`, with their atomicity when `capabilities.atomic`. */
export function expiryCases({ it, k }: ConformanceCases): void {
  it('expires entries after their TTL; no TTL (undefined or 0) means no expiry; ttl() reports what is left', async (store) => {
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
  });

  it('add writes only when the key is absent (or expired)', async (store) => {
    assert.equal(await store.add(k('add:a'), bytes('first')), true);
    assert.equal(await store.add(k('add:a'), bytes('second')), false);
    assert.equal((await store.get(k('add:a')))?.toString(), 'first');
    assert.equal(await store.add(k('add:ttl'), bytes('1'), 100), true);
    await sleep(250);
    assert.equal(await store.add(k('add:ttl'), bytes('2')), true, 'add succeeds once the entry expired');
    assert.equal((await store.get(k('add:ttl')))?.toString(), '2');
  });

  it('concurrent adds of one key: exactly one wins when capabilities.atomic', async (store) => {
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
  });

  it('incr: missing counts from 0, negative steps, TTL only on creation, non-integers refused', async (store) => {
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
  });

  it('concurrent incr: no increment lost when capabilities.atomic', async (store) => {
    const results = await Promise.all(Array.from({ length: 50 }, () => store.incr(k('incr:race'), 1)));
    const final = Number((await store.get(k('incr:race')))?.toString('latin1'));
    if (store.capabilities.atomic) {
      assert.equal(new Set(results).size, 50, 'every increment sees its own value');
      assert.equal(final, 50);
    } else {
      assert.ok(final >= 1 && final <= 50, `the counter is between 1 and 50, got ${final}`);
    }
  });

  it('touch: false for a missing key, sets a new TTL (or none) on an existing one', async (store) => {
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
  });
}
