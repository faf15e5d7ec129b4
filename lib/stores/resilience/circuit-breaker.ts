/** Breaker states: closed (normal), open (failing fast), half-open (one probe allowed). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** When the breaker opens and how long it stays open. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long it stays open before letting one probe through, ms. Default 5000. */
  resetAfter?: number;
}

/**
 * Counts consecutive failures of a store; once open, callers fail at once instead of waiting for a dead
 * server, and one probe per `resetAfter` tests whether it is back.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private current: BreakerState = 'closed';
  private readonly threshold: number;
  private readonly resetAfter: number;

  constructor(
    options: CircuitBreakerOptions = {},
    private readonly onChange: (state: BreakerState) => void = () => {},
  ) {
    this.threshold = options.failureThreshold ?? 5;
    this.resetAfter = options.resetAfter ?? 5000;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Whether a call may go through now (false = fail fast). */
  allow(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open' && Date.now() - this.openedAt >= this.resetAfter && !this.probing) {
      this.probing = true;
      this.move('half-open');
      return true;
    }
    return false;
  }

  /**
   * Lets the next call through as a probe now instead of after `resetAfter` (e.g. the connection to the
   * server was just re-established). No effect unless open.
   */
  retryNow(): void {
    if (this.current === 'open') this.openedAt = 0;
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    if (this.current !== 'closed') this.move('closed');
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.current === 'half-open' || this.failures >= this.threshold) {
      this.openedAt = Date.now();
      if (this.current !== 'open') this.move('open');
    }
  }

  private move(state: BreakerState): void {
    this.current = state;
    this.onChange(state);
  }
}
