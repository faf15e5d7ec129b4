import { Logger } from '@nestjs/common';
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import type { InvalidationDispatcher, InvalidationDispatcherDefinition, InvalidationJobRunner } from '../dispatchers/invalidation-dispatcher.js';
import type { InvalidationJob } from '../invalidation-job.js';
import { jobGaveUp, queueFallback } from '../invalidation.messages.js';

/** Options of `bullmqDispatcher`. */
export interface BullmqDispatcherOptions {
  /** BullMQ's Redis connection: `{ host, port }` (BullMQ opens its own connections) or an ioredis client. */
  connection: ConnectionOptions;
  /** Queue name. Default `tenant-cache-invalidation`. */
  queueName?: string;
  /** BullMQ key prefix. Default BullMQ's (`bull`). */
  prefix?: string;
  /** Tries per job, the first included. Default 5. */
  attempts?: number;
  /** Delay between tries. Default exponential from 1 s. */
  backoff?: { type: 'exponential' | 'fixed'; delay: number };
  /**
   * Start a worker in this process (default true; `{ concurrency }` to size it). Give `false` in
   * processes that only enqueue: a worker process with the same rules (by name) applies the jobs.
   */
  worker?: boolean | { concurrency?: number };
  /** Completed jobs kept (count). Default 0: removed. */
  keepCompleted?: number;
  /** Failed jobs kept for inspection (count, or `true` for all). Default true. */
  keepFailed?: number | true;
  /** When enqueueing fails or times out (Redis down): apply the invalidations `inline` (default) or `drop` them (logged). */
  onEnqueueError?: 'inline' | 'drop';
  /** Longest wait for Redis to take the jobs, ms. Default 2000. (A late enqueue may still land: invalidating twice is harmless.) */
  enqueueTimeout?: number;
}

/**
 * Runs invalidations through a BullMQ queue on Redis: retries with backoff, a worker this module starts
 * (or another process), failed jobs kept. Each job is one rule for one change (named after the rule;
 * plain JSON, the tenant inside), restored with `TenantContext.run` by the worker. Jobs of one commit
 * are enqueued in one round trip. Requires the optional peer dependency `bullmq`.
 *
 * @example
 * import { bullmqDispatcher } from 'nestjs-tenant-cache/bullmq';
 * invalidation: { dispatchers: { queue: bullmqDispatcher({ connection: { host: 'localhost', port: 6379 } }) } }
 * // then, on a rule: dispatcher: 'queue'
 */
export function bullmqDispatcher(options: BullmqDispatcherOptions): InvalidationDispatcherDefinition {
  if (!options || typeof options.connection !== 'object' || options.connection === null) {
    throw new TypeError('bullmqDispatcher() needs { connection }: BullMQ connection options or an ioredis client.');
  }
  const attempts = options.attempts ?? 5;
  if (!Number.isSafeInteger(attempts) || attempts < 1) throw new TypeError(`bullmqDispatcher({ attempts }) must be a positive integer, got ${String(attempts)}`);
  const queueName = options.queueName ?? 'tenant-cache-invalidation';
  return {
    description: `bullmqDispatcher(${queueName})`,
    create: (name) => new BullmqDispatcher(name, queueName, attempts, options),
  };
}

class BullmqDispatcher implements InvalidationDispatcher {
  private readonly logger = new Logger('TenantCache');
  private readonly queue: Queue;
  private worker?: Worker;

  constructor(
    private readonly name: string,
    private readonly queueName: string,
    private readonly attempts: number,
    private readonly options: BullmqDispatcherOptions,
  ) {
    this.queue = new Queue(queueName, { connection: options.connection, ...(options.prefix ? { prefix: options.prefix } : {}) });
    this.queue.on('error', () => undefined);
  }

  async dispatch(jobs: readonly InvalidationJob[], runner: InvalidationJobRunner): Promise<void> {
    const keepFailed = this.options.keepFailed ?? true;
    const enqueued = this.queue.addBulk(
      jobs.map((data) => ({
        name: data.rule,
        data,
        opts: {
          attempts: this.attempts,
          backoff: this.options.backoff ?? { type: 'exponential', delay: 1000 },
          removeOnComplete: this.options.keepCompleted === undefined ? true : { count: this.options.keepCompleted },
          removeOnFail: keepFailed === true ? false : { count: keepFailed },
        },
      })),
    );
    try {
      await withTimeout(enqueued, this.options.enqueueTimeout ?? 2000);
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if ((this.options.onEnqueueError ?? 'inline') === 'drop') throw err;
      this.logger.warn(queueFallback(this.name, err));
      runner.settle(await runner.run(jobs), true);
    }
  }

  start(runner: InvalidationJobRunner): void {
    const w = this.options.worker ?? true;
    if (w === false) return;
    const concurrency = typeof w === 'object' ? (w.concurrency ?? 4) : 4;
    this.worker = new Worker<InvalidationJob>(
      this.queueName,
      async (job) => {
        const failures = await runner.run([job.data]);
        // Thrown so BullMQ retries with backoff, then keeps the job as failed.
        if (failures.length > 0) throw failures[0]!;
      },
      { connection: this.options.connection, concurrency, ...(this.options.prefix ? { prefix: this.options.prefix } : {}) },
    );
    this.worker.on('error', () => undefined);
    this.worker.on('failed', (job: Job<InvalidationJob> | undefined, error: Error) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) this.logger.error(jobGaveUp(this.name, job.data.rule, job.attemptsMade, error.message));
    });
  }

  /** Lets the worker finish its active jobs, then closes the connections (queued jobs stay in Redis). */
  async close(): Promise<void> {
    // NOTE: bounded: with Redis gone, BullMQ would wait for it to come back.
    await withTimeout(Promise.all([this.worker?.close(), this.queue.close()]), 5000).catch(async () => {
      await Promise.allSettled([this.worker?.disconnect(), this.queue.disconnect()]);
    });
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
