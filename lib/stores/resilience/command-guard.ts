import { StoreUnavailableError } from '../../errors/store-unavailable.error.js';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { OutageLog } from './outage-log.js';

/** Bounds on what a remote store may cost a request. */
export interface ResilienceOptions {
  /** Longest a single command may take before it fails with `StoreUnavailableError`, ms. Default 1000. */
  commandTimeout?: number;
  breaker?: CircuitBreakerOptions;
  /** Told when the breaker opens, half-opens or closes. */
  onBreakerChange?: (state: BreakerState, store: string) => void;
}

/** One call in flight, in a list kept oldest first (calls are appended as they start). */
interface InFlight {
  readonly startedAt: number;
  readonly operation: string;
  readonly reject: (error: unknown) => void;
  prev: InFlight | undefined;
  next: InFlight | undefined;
  /** Answered, failed or timed out: later outcomes are ignored. */
  done: boolean;
}

/** How a guard treats a backend. */
export interface CommandGuardOptions extends ResilienceOptions {
  /** false: no timeout and no breaker (an in-process backend); failures still become `StoreUnavailableError`. */
  bounded?: boolean;
  /** Errors that are the caller's doing (e.g. Redis `WRONGTYPE`): passed on as they are, not counted as failures. */
  isCallerError?: (error: unknown) => boolean;
  /** Where breaker changes are logged (the application's, from `StoreContext`); by default a log of the guard's own. */
  outages?: OutageLog;
}

/**
 * Bounds what a remote backend may cost a call: a timeout per call and a circuit breaker. Failures become
 * `StoreUnavailableError`.
 *
 * Timeouts are swept, not timed one by one: calls in flight sit in a list in the order they started, and
 * one timer, running only while calls are in flight, fails those past `commandTimeout` (within a tenth of
 * it). A `setTimeout` per call cost more than the rest of a cache hit on Redis.
 */
export class CommandGuard {
  private readonly breaker?: CircuitBreaker;
  private readonly timeout: number;
  private readonly sweepEvery: number;
  private readonly isCallerError: (error: unknown) => boolean;
  private oldest: InFlight | undefined;
  private newest: InFlight | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** A log of the guard's own (no `outages` given): closed with the guard. */
  private readonly ownLog: OutageLog | undefined;

  constructor(
    private readonly store: string,
    options: CommandGuardOptions = {},
  ) {
    this.timeout = options.commandTimeout ?? 1000;
    this.sweepEvery = Math.min(100, Math.max(5, Math.ceil(this.timeout / 10)));
    this.isCallerError = options.isCallerError ?? (() => false);
    if (options.bounded !== false) {
      const outages = options.outages ?? (this.ownLog = new OutageLog());
      this.breaker = new CircuitBreaker(options.breaker, (state) => {
        outages.breaker(store, state);
        options.onBreakerChange?.(state, store);
      });
    }
  }

  /** The breaker's state (`closed` when the guard is unbounded). */
  get state(): BreakerState {
    return this.breaker?.state ?? 'closed';
  }

  /**
   * Runs one backend call, resolving to `map(result)`; with `recover`, a failure resolves to
   * `recover(error)` instead of rejecting. Costs one promise beyond the call's own: `map` and `recover` run
   * inside it rather than in `then`s of their own.
   */
  run<T, R = T>(operation: string, start: () => Promise<T>, map?: (result: T) => R, recover?: (error: unknown) => R): Promise<R> {
    const breaker = this.breaker;
    if (breaker !== undefined && !breaker.allow()) {
      return settled(new StoreUnavailableError(this.store, `circuit open after repeated failures (${operation} not sent)`), recover);
    }
    let pending: Promise<T>;
    try {
      pending = start();
    } catch (error) {
      return settled(this.failed(operation, error), recover);
    }
    return new Promise<R>((resolve, reject) => {
      const fail =
        recover === undefined
          ? reject
          : (error: unknown) => {
              try {
                resolve(recover(error));
              } catch (thrown) {
                reject(thrown);
              }
            };
      const call = breaker === undefined ? undefined : this.track(operation, fail);
      pending.then(
        (result) => {
          if (call !== undefined) {
            if (call.done) return;
            this.untrack(call);
            breaker!.success();
          }
          try {
            resolve(map === undefined ? (result as unknown as R) : map(result));
          } catch (error) {
            reject(error);
          }
        },
        (error: unknown) => {
          if (call !== undefined) {
            if (call.done) return;
            this.untrack(call);
          }
          fail(this.failed(operation, error));
        },
      );
    });
  }

  /** The backend is reachable again (a reconnect): an open breaker lets the next call probe at once. */
  retryNow(): void {
    this.breaker?.retryNow();
  }

  /** Stops the sweep and fails the calls still in flight (the store is closing). */
  close(): void {
    this.ownLog?.close();
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (let call = this.oldest; call !== undefined; call = call.next) {
      call.done = true;
      call.reject(new StoreUnavailableError(this.store, `${call.operation} abandoned: the store was closed`));
    }
    this.oldest = this.newest = undefined;
  }

  /** Counts a failure against the breaker and returns the error to raise. */
  private failed(operation: string, error: unknown): unknown {
    if (this.isCallerError(error)) {
      this.breaker?.success();
      return error;
    }
    this.breaker?.failure();
    if (error instanceof StoreUnavailableError) return error;
    return new StoreUnavailableError(this.store, `${operation} failed: ${error instanceof Error ? error.message : String(error)}`, error);
  }

  private track(operation: string, reject: (error: unknown) => void): InFlight {
    const call: InFlight = { startedAt: Date.now(), operation, reject, prev: this.newest, next: undefined, done: false };
    if (this.newest === undefined) this.oldest = call;
    else this.newest.next = call;
    this.newest = call;
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.sweep(), this.sweepEvery);
      this.sweeper.unref();
    }
    return call;
  }

  private untrack(call: InFlight): void {
    call.done = true;
    if (call.prev === undefined) this.oldest = call.next;
    else call.prev.next = call.next;
    if (call.next === undefined) this.newest = call.prev;
    else call.next.prev = call.prev;
  }

  /** Fails the calls past their deadline (the oldest come first, so it stops at the first one in time). */
  private sweep(): void {
    if (this.oldest === undefined) {
      // Idle: no timer until the next call.
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const cutoff = Date.now() - this.timeout;
    while (this.oldest !== undefined && this.oldest.startedAt <= cutoff) {
      const call = this.oldest;
      this.untrack(call);
      call.reject(this.failed(call.operation, new StoreUnavailableError(this.store, `${call.operation} timed out after ${this.timeout} ms`)));
    }
  }
}

/** A call that failed before it was sent: rejected, or recovered. */
function settled<R>(error: unknown, recover: ((error: unknown) => R) | undefined): Promise<R> {
  if (recover === undefined) return Promise.reject(error);
  try {
    return Promise.resolve(recover(error));
  } catch (thrown) {
    return Promise.reject(thrown);
  }
}
