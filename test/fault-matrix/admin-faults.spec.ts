import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { BUS_CALL_BOUND_MS, runAdminFault } from './admin-fault-run.js';
import { ADMIN_OPERATIONS } from './admin-operations.js';
import { CALL_BOUND_MS, CLOSE_BOUND_MS, FAULTS, HOLD_MS, RECOVERY_BOUND_MS } from './fault-harness.js';
import { FAULT_TIMINGS } from './fault-app.js';

/**
 * TenantCacheAdminModule's routes (footprint, keys, inspect, dry runs, flushes) and the offboarding calls
 * (purgeTenant, shredTenant with wrapped data keys) under every fault of a real redis-server, held HOLD_MS,
 * with onWriteError 'throw' and 'ignore'. See admin-fault-run.ts for the run and admin-operations.ts for
 * what each operation must answer.
 */
describe.each(['redis', 'tiered'] as const)('fault matrix (%s store): the admin module, purgeTenant and shredTenant x every fault of a real redis-server', (tier) => {
  for (const fault of FAULTS) {
    it(
      `${fault}: answers or a typed 503 within ${CALL_BOUND_MS} ms (${BUS_CALL_BOUND_MS} ms with a bus publish), never a silent success, close < ${CLOSE_BOUND_MS} ms, every flush completes after recovery`,
      async () => {
        const report = await runAdminFault(fault, tier);
        console.log(
          `[admin-faults] ${tier} ${fault}: ${report.calls} calls held ${HOLD_MS} ms, slowest ${report.slowestMs} ms (${report.slowestWaitMs} ms without stalls, ${report.slowestOperation}; ` +
            `purge/shred ${report.slowestBusWaitMs} ms), boot ${report.bootMs} ms, close ignore/throw ${report.closeMs.ignore}/${report.closeMs.throw} ms, ` +
            `complete footprint ${report.recoveryMs} ms after recovery, destructive reruns ${report.rerunMs} ms`,
        );
        expect(report.problems.slice(0, 40)).toEqual([]);
        expect(report.calls).toBeGreaterThanOrEqual(ADMIN_OPERATIONS.length * 2 * 2);
        expect(report.closeMs.ignore).toBeLessThan(CLOSE_BOUND_MS);
        expect(report.closeMs.throw).toBeLessThan(CLOSE_BOUND_MS);
        expect(report.recoveryMs).toBeGreaterThanOrEqual(0);
        expect(report.recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
      },
      // A sweep started before the hold ends runs to its end: every operation may wait a command timeout (and the bus).
      HOLD_MS + RECOVERY_BOUND_MS + 4 * CLOSE_BOUND_MS + 20_000 + ADMIN_OPERATIONS.length * 2 * (BUS_CALL_BOUND_MS + FAULT_TIMINGS.commandTimeout),
    );
  }
});
