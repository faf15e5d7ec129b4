/**
 * Measuring helpers shared by every bench: ops/s of an async operation with a fixed number of calls in
 * flight, and side-by-side comparison in interleaved rounds (median), so that machine drift (other
 * processes, GC, CPU frequency) hits every case alike.
 */

/** How a comparison runs. */
export interface CompareOptions {
  /** Rounds per case; the median is reported. Default 7. */
  rounds?: number;
  /** Length of one round, ms. Default 250. */
  ms?: number;
  /** Calls kept in flight (each worker awaits its call before the next). Default 1. */
  concurrency?: number;
  /** Calls of each case before measuring (JIT, connections, caches). Default 2000. */
  warmup?: number;
}

/**
 * Ops/s of `fn` over about `ms` ms with `concurrency` calls in flight: `concurrency` workers each call
 * `fn` and await it, again and again, until the time is up.
 */
export async function opsPerSecond(fn: () => Promise<unknown>, ms: number, concurrency = 1): Promise<number> {
  let n = 0;
  const start = performance.now();
  const deadline = start + ms;
  const worker = async () => {
    // Check the clock every 50 calls: performance.now() is cheap but not free at 10^6 calls/s.
    for (;;) {
      for (let i = 0; i < 50; i++) await fn();
      n += 50;
      if (performance.now() >= deadline) return;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (n / (performance.now() - start)) * 1000;
}

/** Runs `fn` `calls` times with `concurrency` in flight (warm-up, filling caches). */
export async function repeat(fn: () => Promise<unknown>, calls: number, concurrency = 1): Promise<void> {
  let left = calls;
  const worker = async () => {
    while (left-- > 0) await fn();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, calls)) }, worker));
}

/**
 * Ops/s of each case: warmed up, then measured in interleaved rounds; the median round of each. Each
 * round starts at the next case, so no case always follows the same neighbour (and inherits its
 * garbage to collect).
 */
export async function compare(cases: readonly (() => Promise<unknown>)[], options: CompareOptions = {}): Promise<number[]> {
  const { rounds = 7, ms = 250, concurrency = 1, warmup = 2000 } = options;
  for (const fn of cases) await repeat(fn, warmup, concurrency);
  const samples: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = (r + i) % cases.length;
      samples[c]!.push(await opsPerSecond(cases[c]!, ms, concurrency));
    }
  }
  return samples.map(median);
}

export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `1.23x`: `value` against `base`. */
export function ratio(value: number, base: number): string {
  return `${(value / base).toFixed(2)}x`;
}

/** An ops/s figure for a table: `123,456`. */
export function formatOps(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Ops/s of a synchronous `fn` over about `ms` ms (for serializers: an await per call would dominate). */
export function syncOpsPerSecond(fn: () => unknown, ms: number): number {
  let n = 0;
  let sink: unknown;
  const start = performance.now();
  const deadline = start + ms;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 200; i++) sink = fn();
    n += 200;
    now = performance.now();
  }
  if (sink === Symbol.for('never')) console.log(sink);
  return (n / (now - start)) * 1000;
}

/** `compare` for synchronous cases. */
export function compareSync(cases: readonly (() => unknown)[], options: Pick<CompareOptions, 'rounds' | 'ms' | 'warmup'> = {}): number[] {
  const { rounds = 7, ms = 200, warmup = 5000 } = options;
  for (const fn of cases) for (let i = 0; i < warmup; i++) fn();
  const samples: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = (r + i) % cases.length;
      samples[c]!.push(syncOpsPerSecond(cases[c]!, ms));
    }
  }
  return samples.map(median);
}
