import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { CLI_CALL_BOUND_MS, CLI_COMMANDS, CLI_HANG_MS, runCliFault } from './cli-fault-run.js';
import { CLOSE_BOUND_MS, FAULTS, HOLD_MS, RECOVERY_BOUND_MS } from './fault-harness.js';

/**
 * The `nestjs-tenant-cache` CLI under every fault of a real redis-server: every command run in process while
 * the fault is held (HOLD_MS, at least twice), a few as a program of their own (lib/cli/main.ts). A command
 * answers, or exits 1 with one line on stderr naming the store and its fault; a flush never exits 0 for what
 * it did not do; the program exits by itself. See cli-fault-run.ts.
 */
describe('fault matrix: the nestjs-tenant-cache CLI x every fault of a real redis-server', () => {
  for (const fault of FAULTS) {
    it(
      `${fault}: every command answers or exits 1 with one line within ${CLI_CALL_BOUND_MS} ms, the program exits, every flush completes after recovery`,
      async () => {
        const report = await runCliFault(fault);
        console.log(
          `[cli-faults] ${fault}: ${report.calls} commands held ${HOLD_MS} ms, slowest ${report.slowestMs} ms (${report.slowestWaitMs} ms without stalls); ` +
            `program: baseline ${report.processBaselineMs} ms, slowest under the fault ${report.processSlowestMs} ms (bound ${report.processBoundMs} ms); ` +
            `footprint exits 0 ${report.recoveryMs} ms after recovery; close of the app beside ${report.closeMs} ms`,
        );
        expect(report.problems.slice(0, 40)).toEqual([]);
        expect(report.calls).toBeGreaterThanOrEqual(CLI_COMMANDS.length * 2);
        expect(report.recoveryMs).toBeGreaterThanOrEqual(0);
        expect(report.recoveryMs).toBeLessThan(RECOVERY_BOUND_MS);
        expect(report.closeMs).toBeLessThan(CLOSE_BOUND_MS);
      },
      // Programs run one after the other: the healthy baseline, five under the fault, one after recovery (each may take CLI_HANG_MS).
      HOLD_MS + RECOVERY_BOUND_MS + 2 * CLOSE_BOUND_MS + 7 * CLI_HANG_MS + CLI_COMMANDS.length * 4 * CLI_CALL_BOUND_MS,
    );
  }
});
