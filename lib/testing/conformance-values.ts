import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type ConformanceCases, bytes } from './conformance-support.js';

/** Capabilities, byte round-trips, the optional fast paths, the basic calls and unusual keys. */
export function valueCases({ it, k, prefix }: ConformanceCases): void {
  it('declares well-formed capabilities and a name', async (store) => {
    const c = store.capabilities;
    assert.equal(typeof store.name, 'string');
    for (const flag of ['distributed', 'atomic', 'scan', 'ttl'] as const) assert.equal(typeof c[flag], 'boolean', `capabilities.${flag}`);
    assert.ok(Number.isInteger(c.maxKeyLength) && c.maxKeyLength >= 64, 'capabilities.maxKeyLength is an integer >= 64');
    assert.ok(Number.isInteger(c.maxValueBytes) && c.maxValueBytes >= 1024, 'capabilities.maxValueBytes is an integer >= 1024');
    assert.ok(c.allowedKey === undefined || c.allowedKey instanceof RegExp, 'capabilities.allowedKey is a RegExp or undefined');
    assert.equal(store.sadd === undefined, store.sscan === undefined, 'sadd and sscan come together');
  });

  it('round-trips bytes exactly (every byte value, text, large values)', async (store) => {
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
  });

  it('optional fast paths (getSync/setSync, setText, getThen/setThen), where present, agree with get and set', async (store) => {
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
  });

  it('get/has/set/delete: undefined for a miss, overwrite, delete says whether the key existed', async (store) => {
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
  });

  it('keeps keys with unusual characters apart', async (store) => {
    const allowed = store.capabilities.allowedKey;
    const room = store.capabilities.maxKeyLength - prefix.length - 'chars:'.length;
    const suffixes = ['a:b', 'a', 'a:', '*', '4*', '42', '{x}', '[ab]', '?', 'a\\b', 'ü租户', ' ', 'x'.repeat(Math.max(1, room))].filter(
      (s) => allowed === undefined || allowed.test(prefix + 'chars:' + s),
    );
    for (const s of suffixes) await store.set(k(`chars:${s}`), bytes(`v:${s}`));
    for (const s of suffixes) assert.equal((await store.get(k(`chars:${s}`)))?.toString(), `v:${s}`, `key "chars:${s.slice(0, 20)}"`);
  });
}
