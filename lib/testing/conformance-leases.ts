import assert from 'node:assert/strict';
import type { ConformanceCases } from './conformance-support.js';
import { sleep } from './conformance-support.js';

/** Leases (`takeLease`, `renewLease`, `releaseLease`, `watchLeases`), when the store has them: all four or none. */
export function leaseCases({ it, k }: ConformanceCases): void {
  it('leases, when the store has them: one holder per key, renewed and released only by its token, expiring, releases heard', async (store) => {
    const { takeLease, renewLease, releaseLease, watchLeases } = store;
    const members = [takeLease, renewLease, releaseLease, watchLeases];
    if (members.some((m) => m === undefined)) {
      assert.ok(
        members.every((m) => m === undefined),
        'takeLease, renewLease, releaseLease and watchLeases come together',
      );
      return;
    }
    const heard: string[] = [];
    await watchLeases!.call(store, (key) => void heard.push(key));
    const key = k('lease:a');
    assert.equal(await takeLease!.call(store, key, 'one', 1000), 0, 'a free lease is taken (0)');
    const left = await takeLease!.call(store, key, 'two', 1000);
    assert.ok(left > 0 && left <= 1000, `a held lease answers the holder's remaining ms, got ${left}`);
    assert.equal(await renewLease!.call(store, key, 'two', 1000), false, 'another token cannot renew');
    assert.equal(await releaseLease!.call(store, key, 'two'), false, 'another token cannot release');
    assert.equal(await renewLease!.call(store, key, 'one', 1000), true, 'the holder renews');
    assert.equal(await releaseLease!.call(store, key, 'one'), true, 'the holder releases');
    assert.equal(await takeLease!.call(store, key, 'two', 150), 0, 'a released lease is free');
    await sleep(300);
    assert.equal(await renewLease!.call(store, key, 'two', 1000), false, 'an expired lease is not renewed');
    assert.equal(await takeLease!.call(store, key, 'three', 1000), 0, 'an expired lease is free');
    await releaseLease!.call(store, key, 'three');
    for (let i = 0; i < 50 && !heard.includes(key); i++) await sleep(20);
    assert.ok(heard.includes(key), 'watchLeases hears a release');
    const other = k('lease:b');
    assert.equal(await takeLease!.call(store, other, 'one', 1000), 0, 'leases of other keys are independent');
    await releaseLease!.call(store, other, 'one');
  });
}
