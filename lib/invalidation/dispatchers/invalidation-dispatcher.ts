import type { InvalidationFailedError } from '../../errors/invalidation-failed.error.js';
import type { InvalidationJob } from '../invalidation-job.js';

/** Runs invalidation jobs in this process; given to dispatchers. */
export interface InvalidationJobRunner {
  /** Applies the jobs (deduplicated as one batch); resolves to the failures, never rejects. */
  run(jobs: readonly InvalidationJob[]): Promise<InvalidationFailedError[]>;
  /** Logs failures, or throws the first when the policy is `raise` and `mayRaise` is true. */
  settle(failures: readonly InvalidationFailedError[], mayRaise: boolean): void;
  /** Logs failures (for work nobody awaits: background, queue workers). */
  report(failures: readonly InvalidationFailedError[], context?: string): void;
}

/**
 * Where invalidation work runs. Implement it to run jobs elsewhere (your own queue, a message bus).
 *
 * @example
 * const viaOutbox: InvalidationDispatcher = {
 *   dispatch: async (jobs) => { await outbox.insert(jobs); },          // JSON jobs
 *   start: (runner) => outbox.onMessage(async (jobs) => runner.report(await runner.run(jobs))),
 * };
 */
export interface InvalidationDispatcher {
  /** Hands the jobs of one change set over; resolves once they are accepted (inline: once applied). */
  dispatch(jobs: readonly InvalidationJob[], runner: InvalidationJobRunner): Promise<void>;
  /** Called once at start-up (e.g. to start a worker). */
  start?(runner: InvalidationJobRunner): void | Promise<void>;
  /** Called on application shutdown: finish what was accepted, then release connections. */
  close?(): Promise<void>;
}

/** A dispatcher factory, created once per application (so one options object can serve two apps). */
export interface InvalidationDispatcherDefinition {
  create(name: string): InvalidationDispatcher | Promise<InvalidationDispatcher>;
  /** Shown in logs and start-up errors. */
  readonly description: string;
}

/** Whether a value is a dispatcher definition (has `create`) rather than a dispatcher. */
export function isDispatcherDefinition(value: unknown): value is InvalidationDispatcherDefinition {
  return typeof value === 'object' && value !== null && typeof (value as InvalidationDispatcherDefinition).create === 'function';
}
