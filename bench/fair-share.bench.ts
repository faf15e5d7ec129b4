/**
 * The fair-share bench (issue 16): a 64 MiB memory store, 10 tenants; nine quiet tenants read through a
 * working set of 1,500 keys each (4 KB values), one loud tenant writes 50x more unique keys over the same
 * time. Hit ratio of the quiet tenants against their solo baseline (no loud tenant), for one shared LRU
 * (no `perTenant`) and for `perTenant` in the same run, plus the store's ops/s in each case. The workload is
 * test/stores/memory-fair-share.workload.ts, which test/stores/memory-fair-share.spec.ts asserts on.
 *
 * Standalone: `node --import @swc-node/register/esm-register bench/fair-share.bench.ts`
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { FAIR_SHARE_CASES, LOUD_FACTOR, QUIET_KEYS, STORE_BYTES, TENANTS, VALUE_BYTES, runFairShare } from '../test/stores/memory-fair-share.workload.js';
import { formatOps } from './support/measure.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const mib = (x: number) => (Number.isNaN(x) ? '-' : `${(x / 1024 / 1024).toFixed(1)} MiB`);

export async function run(): Promise<void> {
  console.log(
    `${STORE_BYTES / 1024 / 1024} MiB memory store, ${TENANTS} tenants: ${TENANTS - 1} quiet (${QUIET_KEYS} keys each, ${VALUE_BYTES} B values), ` +
      `1 loud writing ${LOUD_FACTOR}x more unique keys (${LOUD_FACTOR * QUIET_KEYS}).`,
  );
  const results = FAIR_SHARE_CASES.map(runFairShare);
  const solo = results[0]!;
  console.table(
    results.map((r) => ({
      case: r.name,
      'quiet hit ratio': pct(r.quiet),
      'vs solo (pp)': ((r.quiet - solo.quiet) * 100).toFixed(1),
      'worst quiet tenant': pct(r.worstQuiet),
      'loud tenant holds': mib(r.loudBytes),
      'store ops/s': formatOps(r.opsPerSecond),
    })),
  );
  const fair = results.find((r) => r.name.startsWith('perTenant.maxBytes ='))!;
  const gap = Math.abs(solo.quiet - fair.quiet) * 100;
  console.log(`Goal: quiet tenants within 5 pp of their solo baseline with perTenant: ${gap.toFixed(1)} pp (${gap <= 5 ? 'reached' : 'missed'})`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Logger.overrideLogger(false);
  await run();
}
