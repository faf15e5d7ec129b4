import { describe, expect, it } from 'vitest';
import { MemoryStore, ResilientStore, StoreUnavailableError } from '../../lib/index.js';

/** A user's store whose calls can be made to hang (never answer) or fail, as a broken backend does. */
class FlakyStore extends MemoryStore {
  mode: 'ok' | 'hang' | 'fail' | 'wrongtype' = 'ok';

  override get(key: string): Promise<Buffer | undefined> {
    if (this.mode === 'hang') return new Promise(() => undefined);
    if (this.mode === 'fail') return Promise.reject(new Error('ECONNRESET'));
    if (this.mode === 'wrongtype') return Promise.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    return super.get(key);
  }
}

describe('ResilientStore (timeouts and breaker around any store)', () => {
  it('fails a call that hangs after the command timeout (within a tenth more), with a typed error', async () => {
    const inner = new FlakyStore('flaky');
    const store = new ResilientStore(inner, { commandTimeout: 200, breaker: { failureThreshold: 100 } });
    await store.set('k', Buffer.from('v'));
    inner.mode = 'hang';
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.get('k')));
    const elapsed = Date.now() - started;
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailableError)).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/get timed out after 200 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(400);
    // Answers again once the backend does; calls that finished in time were never failed.
    inner.mode = 'ok';
    expect(await store.get('k')).toEqual(Buffer.from('v'));
    await store.close();
  });

  it('opens the breaker after repeated failures (nothing sent, no waiting), then lets a probe through', async () => {
    const inner = new FlakyStore('flaky');
    const changes: string[] = [];
    const store = new ResilientStore(inner, {
      commandTimeout: 100,
      breaker: { failureThreshold: 3, resetAfter: 150 },
      onBreakerChange: (state) => changes.push(state),
    });
    inner.mode = 'fail';
    for (let i = 0; i < 3; i++) await expect(store.get('k')).rejects.toThrow(/get failed: ECONNRESET/);
    expect(store.state).toBe('open');
    inner.mode = 'ok';
    const fast = Date.now();
    await expect(store.get('k')).rejects.toThrow(/circuit open/);
    expect(Date.now() - fast).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 170));
    expect(await store.get('k')).toBeUndefined();
    expect(store.state).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
    await store.close();
  });

  it("passes a command error through as it is: the caller's mistake, not the backend's health", async () => {
    const inner = new FlakyStore('flaky');
    const store = new ResilientStore(inner, { breaker: { failureThreshold: 1 } });
    inner.mode = 'wrongtype';
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/^WRONGTYPE/);
    expect(store.state).toBe('closed');
    await store.close();
  });

  it('fails the calls still in flight when it is closed', async () => {
    const inner = new FlakyStore('flaky');
    const store = new ResilientStore(inner, { commandTimeout: 60_000 });
    inner.mode = 'hang';
    const pending = store.get('k');
    await store.close();
    await expect(pending).rejects.toThrow(/abandoned: the store was closed/);
  });
});
