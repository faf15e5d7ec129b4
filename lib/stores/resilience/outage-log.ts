import { Logger } from '@nestjs/common';
import { TenantCacheError } from '../../errors/tenant-cache.error.js';
import type { BreakerState } from './circuit-breaker.js';

/** Where an `OutageLog` writes. */
export interface OutageLogger {
  warn(message: string): void;
  log(message: string): void;
}

/** Operations that read: their failure is a miss for the caller. Anything else is a write. */
const READS = new Set(['get', 'has', 'mget', 'ttl', 'keys', 'scan', 'sscan', 'iterator', 'exists', 'pttl']);

/** Tenants named in a summary, at most. */
const TENANTS_SHOWN = 5;

/** The outage of one store, from its first failure until it answers again. */
interface Outage {
  readonly since: number;
  /** Start of the period the counters cover (the outage, or the last summary). */
  periodStart: number;
  reads: number;
  writes: number;
  readsTotal: number;
  writesTotal: number;
  /** Invalidations that failed (entries they should have removed may be served after the store recovers). */
  invalidations: number;
  invalidationsTotal: number;
  tenants: Set<string>;
  lastError: string;
  breakerOpen: boolean;
  timer: NodeJS.Timeout;
}

/**
 * The log of store failures, rate-limited per store: one line when a store starts failing (its first failure,
 * with the tenant and the error), one when its circuit breaker opens, a summary with counts every `every` ms
 * while it keeps failing ("N reads missed, M writes failed since ..."), and one line when it answers again
 * (breaker closed, or a whole period without failures). Events (`cache.events`, `store:error`) are not
 * affected: every failure is still emitted there.
 *
 * One per application (the store registry holds it); command guards report their breaker to it, and the
 * engine reports each failed operation with its tenant.
 *
 * @example
 * outages.failure('redis', 'get', 'acme', error); // logs once, then counts
 */
export class OutageLog {
  private readonly outages = new Map<string, Outage>();
  private readonly logger: OutageLogger;
  private readonly every: number;
  private closed = false;

  /** `every`: ms between two summaries of an outage (default 30 s); `logger`: default Nest's, context `TenantCache`. */
  constructor(options: { every?: number; logger?: OutageLogger } = {}) {
    this.every = options.every ?? 30_000;
    this.logger = options.logger ?? new Logger('TenantCache');
  }

  /**
   * One failed operation of `store`. Logged when it starts an outage, counted otherwise. Fills the `tenant` of
   * a library error that lacks it (the store layer does not know the tenant; the caller does).
   */
  failure(store: string, operation: string, tenant: string | undefined, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (tenant !== undefined && error instanceof TenantCacheError && error.tenant === undefined) {
      Object.defineProperty(error, 'tenant', { value: tenant, enumerable: true, configurable: true });
    }
    // NOTE: calls abandoned by a closing store fail after shutdown: no new outage (and no timer) then.
    if (this.closed) return;
    let outage = this.outages.get(store);
    if (outage === undefined) {
      outage = this.begin(store);
      this.logger.warn(
        `Cache store "${store}" failed on ${operation}${tenant === undefined ? '' : ` (tenant ${tenant})`}: ${message}. ` +
          `Reads are misses while it fails; further failures are summarized every ${this.every / 1000} s.`,
      );
    }
    if (READS.has(operation.toLowerCase())) {
      outage.reads++;
      outage.readsTotal++;
    } else {
      outage.writes++;
      outage.writesTotal++;
    }
    if (tenant !== undefined && outage.tenants.size <= TENANTS_SHOWN) outage.tenants.add(tenant);
    outage.lastError = message;
  }

  /**
   * An invalidation (an entity change's rule, a queued job) that `store` failed. The first of an outage is
   * logged, with what it means: the entries it should have removed may be served once the store answers
   * again, until they expire. The rest are counted in the summaries. The failed store call itself is
   * reported through `failure` by the engine.
   */
  invalidationFailed(store: string, rule: string, tenant: string | undefined, error: unknown): void {
    if (this.closed) return;
    const outage = this.outages.get(store) ?? this.begin(store);
    if (outage.invalidationsTotal === 0) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(
        `Cache store "${store}" failed an invalidation (rule "${rule}"${tenant === undefined ? '' : `, tenant ${tenant}`}): ${message}. ` +
          `The entries it should have removed may be served after the store answers again, until they expire; further ones are counted in the summaries.`,
      );
    }
    outage.invalidations++;
    outage.invalidationsTotal++;
    if (tenant !== undefined && outage.tenants.size <= TENANTS_SHOWN) outage.tenants.add(tenant);
  }

  /** Told of every breaker change, logged or not (metrics count them). */
  onBreaker?: (store: string, state: BreakerState) => void;

  /** A circuit breaker of `store` changed state: the first opening and the closing are logged. */
  breaker(store: string, state: BreakerState): void {
    this.onBreaker?.(store, state);
    if (this.closed) return;
    if (state === 'open') {
      const outage = this.outages.get(store) ?? this.begin(store);
      // NOTE: a failed probe re-opens the breaker every resetAfter: only the first opening of an outage is logged.
      if (outage.breakerOpen) return;
      outage.breakerOpen = true;
      this.logger.warn(`Cache store "${store}" circuit open: calls fail at once without reaching the store (reads are misses) until a probe succeeds.`);
    } else if (state === 'closed') {
      const outage = this.outages.get(store);
      if (outage === undefined) return;
      this.end(store, outage, 'circuit closed, the store answers again');
    }
  }

  /** Stops the summaries for good (application shutdown): later failures are no longer logged. */
  close(): void {
    this.closed = true;
    for (const outage of this.outages.values()) clearInterval(outage.timer);
    this.outages.clear();
  }

  private begin(store: string): Outage {
    const now = Date.now();
    const timer = setInterval(() => this.summarize(store), this.every);
    // A log never keeps the process alive.
    timer.unref();
    const outage: Outage = {
      since: now,
      periodStart: now,
      reads: 0,
      writes: 0,
      readsTotal: 0,
      writesTotal: 0,
      invalidations: 0,
      invalidationsTotal: 0,
      tenants: new Set(),
      lastError: '',
      breakerOpen: false,
      timer,
    };
    this.outages.set(store, outage);
    return outage;
  }

  private summarize(store: string): void {
    const outage = this.outages.get(store);
    if (outage === undefined) return;
    if (outage.reads + outage.writes + outage.invalidations === 0) {
      // A whole period without failures, and no open breaker waiting for a probe: the outage is over.
      if (!outage.breakerOpen) this.end(store, outage, 'no failure for a whole period');
      return;
    }
    this.logger.warn(
      `Cache store "${store}" still failing: ${counts(outage.reads, outage.writes, outage.invalidations)} since ${clock(outage.periodStart)}` +
        `${tenantList(outage.tenants)} (last error: ${outage.lastError})`,
    );
    outage.reads = outage.writes = outage.invalidations = 0;
    outage.tenants.clear();
    outage.periodStart = Date.now();
  }

  private end(store: string, outage: Outage, why: string): void {
    clearInterval(outage.timer);
    this.outages.delete(store);
    this.logger.log(
      `Cache store "${store}" recovered (${why}): ${counts(outage.readsTotal, outage.writesTotal, outage.invalidationsTotal)} since ${clock(outage.since)}.`,
    );
  }
}

function counts(reads: number, writes: number, invalidations: number): string {
  const base = `${reads} ${reads === 1 ? 'read' : 'reads'} missed, ${writes} ${writes === 1 ? 'write' : 'writes'} failed`;
  return invalidations === 0 ? base : `${base} (${invalidations} ${invalidations === 1 ? 'invalidation' : 'invalidations'} among them)`;
}

function clock(at: number): string {
  return new Date(at).toISOString();
}

function tenantList(tenants: Set<string>): string {
  if (tenants.size === 0) return '';
  const shown = [...tenants].slice(0, TENANTS_SHOWN);
  return ` (tenants ${shown.join(', ')}${tenants.size > TENANTS_SHOWN ? ' and more' : ''})`;
}
