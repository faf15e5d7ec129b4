import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { CALL_BOUND_MS, CLOSE_BOUND_MS, FAULTS, HOLD_MS, RECOVERY_BOUND_MS, runFault } from './fault-harness.js';
import { OPERATIONS } from './operations.js';
import { FAULT_TIMINGS } from './fault-app.js';

/**
 * Every public operation (TenantCacheService, @CacheResult, @CacheEvict, @CacheResponse over HTTP, the
 * drop-in CACHE_MANAGER) times every fault of a real redis-server, with onWriteError 'throw' and 'ignore'.
 * See fault-harness.ts for what each fault does and operations.ts for what each operation must answer.
 */
describe.each(['redis', 'tiered'] as const)('fault matrix (%s store): every public operation x every fault of a real redis-server', (tier) => {
  for (const fault of FAULTS) {
    it(
      `${fault}: reads are misses, writes follow onWriteError, no call past ${CALL_BOUND_MS} ms, store:error emitted, close < ${CLOSE_BOUND_MS} ms, hits within ${RECOVERY_BOUND_MS} ms of recovery`,
      async () => {
        const report = await runFault(fault, OPERATIONS, tier);
        console.log(
          `[fault-matrix] ${tier} ${fault}: ${report.calls} calls held ${HOLD_MS} ms, slowest ${report.slowestMs} ms (${report.slowestWaitMs} ms without process stalls), store:error throw/ignore ` +
            `${report.storeErrors.throw}/${report.storeErrors.ignore}, boot ${report.bootMs} ms, close ignore/throw ` +
            `${report.closeMs.ignore}/${report.closeMs.throw} ms, hits ${report.recoveryMs} ms after recovery`,
        );
        expect(report.problems.slice(0, 40)).toEqual([]);
        expect(report.calls).toBeGreaterThanOrEqual(OPERATIONS.length * 2 * 2);
        expect(report.storeErrors.throw).toBeGreaterThan(0);
        expect(report.storeErrors.ignore).toBeGreaterThan(0);
        expect(report.closeMs.ignore).toBeLessThan(CLOSE_BOUND_MS);
        expect(report.closeMs.throw).toBeLessThan(CLOSE_BOUND_MS);
        expect(report.recoveryMs).toBeGreaterThanOrEqual(0);
        expect(report.recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
      },
      // A sweep started before the hold ends runs to its end: with the breaker off, every operation of it may
      // wait up to three command timeouts (see fault-harness.ts), so the budget grows with the operations.
      HOLD_MS + RECOVERY_BOUND_MS + 4 * CLOSE_BOUND_MS + 10_000 + OPERATIONS.length * 2 * 3 * FAULT_TIMINGS.commandTimeout,
    );
  }
});
