import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain `N passed, N failed, N skipped` line at the end, for CI logs that read it, and
 * leaves the counts for test/compat/run.mjs, which prints the total of the whole `npm test` last.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    const dir = join(process.cwd(), 'node_modules', '.cache', 'nestjs-tenant-cache');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vitest-summary.json'), JSON.stringify({ passed, failed, skipped }));
  }
}
