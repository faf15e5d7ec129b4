import type { InvalidationJob } from '../invalidation-job.js';
import type { InvalidationDispatcher, InvalidationDispatcherDefinition, InvalidationJobRunner } from './invalidation-dispatcher.js';

/** Options of `backgroundDispatcher`. */
export interface BackgroundDispatcherOptions {
  /** Batches applied at the same time. Default 4. */
  concurrency?: number;
  /** Most jobs applied as one (deduplicated) batch. Default 100. */
  batchSize?: number;
}

/**
 * Runs invalidations off the request path, in this process, with bounded concurrency. Jobs waiting
 * together are applied as one deduplicated batch. Drained on application shutdown (`app.close()` or a
 * signal with `enableShutdownHooks()`), so nothing accepted is lost on a graceful stop; failures are logged.
 *
 * @example
 * invalidation: { dispatchers: { background: backgroundDispatcher({ concurrency: 8 }) } }
 * // on a rule: { entity: Product, dispatcher: 'background' }
 */
export function backgroundDispatcher(options: BackgroundDispatcherOptions = {}): InvalidationDispatcherDefinition {
  const concurrency = options.concurrency ?? 4;
  const batchSize = options.batchSize ?? 100;
  for (const [name, v] of [
    ['concurrency', concurrency],
    ['batchSize', batchSize],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`backgroundDispatcher({ ${name} }) must be a positive integer, got ${String(v)}`);
  }
  return {
    description: `backgroundDispatcher({ concurrency: ${concurrency} })`,
    create: () => new BackgroundDispatcher(concurrency, batchSize),
  };
}

class BackgroundDispatcher implements InvalidationDispatcher {
  private readonly queue: InvalidationJob[] = [];
  private readonly running = new Set<Promise<void>>();
  private idle: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly batchSize: number,
  ) {}

  async dispatch(jobs: readonly InvalidationJob[], runner: InvalidationJobRunner): Promise<void> {
    this.queue.push(...jobs);
    // NOTE: started on the next tick, so jobs dispatched in the same tick form one batch.
    queueMicrotask(() => this.pump(runner));
  }

  async close(): Promise<void> {
    if (this.queue.length === 0 && this.running.size === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(runner: InvalidationJobRunner): void {
    while (this.running.size < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      const work = runner
        .run(batch)
        .then((failures) => runner.report(failures, 'background'))
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(work);
          this.pump(runner);
        });
      this.running.add(work);
    }
    if (this.queue.length === 0 && this.running.size === 0) {
      const waiting = this.idle;
      this.idle = [];
      for (const resolve of waiting) resolve();
    }
  }
}
