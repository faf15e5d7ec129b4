import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../../lib/index.js';
import { CommandGuard } from '../../lib/stores/resilience/command-guard.js';

// The guard every remote store (and adapters over a handed-in client) runs its calls through: closing it
// must leave no timer of its own, whatever was in flight, also when the client is the user's and stays open.
describe('CommandGuard.close() leaves no timer behind', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stops the timeout sweep and the outage summaries, and fails the calls still in flight', async () => {
    vi.useFakeTimers();
    const guard = new CommandGuard('redis', { commandTimeout: 100, breaker: { failureThreshold: 1, resetAfter: 1000 } });
    expect(vi.getTimerCount()).toBe(0);
    // A call that times out opens the breaker (the guard's own outage log starts its summary timer).
    const timedOut = guard.run('GET', () => new Promise<never>(() => {}));
    const settledTimeout = expect(timedOut).rejects.toBeInstanceOf(StoreUnavailableError);
    await vi.advanceTimersByTimeAsync(150);
    await settledTimeout;
    expect(guard.state).toBe('open');
    // Another call in flight, sent as the breaker's probe.
    await vi.advanceTimersByTimeAsync(1000);
    const hanging = guard.run('GET', () => new Promise<never>(() => {}));
    const abandoned = expect(hanging).rejects.toThrow(/abandoned: the store was closed/);
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(2); // sweep + summary
    guard.close();
    await abandoned;
    expect(vi.getTimerCount()).toBe(0);
  });
});
