import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import type { Cache } from 'cache-manager';
import { StoreUnavailableError, TenantCacheService, TenantContext } from '../../lib/index.js';
import { type RunningApp, startApp } from '../http/http-app.js';
import { type RedisServerHandle, freePort, startRedisServer } from '../support/redis-server.js';
import { FAULT_TIMINGS, FaultCatalog, type StoreTier, faultAppModule } from './fault-app.js';
import type { FaultContext, FaultOperation } from './operations.js';

export type WritePolicy = 'throw' | 'ignore';

/**
 * The faults of a real `redis-server` the matrix applies. `frozen, breaker never opens`: the breaker's
 * threshold is out of reach, so every call waits for its own commands' timeouts (the worst case of the
 * first calls of an outage, before the breaker opens): an operation that waits on the store twice in a
 * row shows there.
 */
export const FAULTS = ['absent at boot', 'refusing', 'killed mid-run', 'frozen', 'frozen, breaker never opens', 'restarted'] as const;
export type FaultKind = (typeof FAULTS)[number];

/** Longest a call may stay pending: one command timeout, plus the sweep of the timeouts and some scheduling. */
export const CALL_BOUND_MS = FAULT_TIMINGS.commandTimeout + 100;
/** How long each fault is held: 3 x every internal interval (version cache, breaker cool-down, reconnect back-off cap). */
export const HOLD_MS = 3 * Math.max(FAULT_TIMINGS.versionCacheTtl, FAULT_TIMINGS.breakerResetAfter, FAULT_TIMINGS.reconnectCap);
export const CLOSE_BOUND_MS = 2000;
export const RECOVERY_BOUND_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Measures when this process did not run (the machine's CPUs were busy elsewhere, or a GC pause): a timer
 * every 5 ms records how late it fired. A call's time waiting on the store is its duration minus the
 * stalls during it; the raw duration is reported too.
 */
export class StallMeter {
  private readonly samples: { at: number; late: number }[] = [];
  private last = performance.now();
  private readonly timer = setInterval(() => {
    const now = performance.now();
    const late = now - this.last - 5;
    if (late > 2) this.samples.push({ at: now, late });
    this.last = now;
  }, 5);

  /** Ms of stalls that ended within [from, to]. */
  during(from: number, to: number): number {
    let total = 0;
    for (let i = this.samples.length - 1; i >= 0 && this.samples[i]!.at >= from; i--) {
      if (this.samples[i]!.at <= to) total += this.samples[i]!.late;
    }
    return Math.round(total);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The stall meter of the fault being run (one at a time). */
let stalls: StallMeter | undefined;

/** One application booted on the Redis under fault (Express over real HTTP), with its `store:error` count. */
export interface AppUnderFault {
  policy: WritePolicy;
  http: RunningApp;
  storeErrors: number;
  context(tenant: string): FaultContext;
  /** Closes the application; resolves to how long `app.close()` took, ms. */
  close(): Promise<number>;
}

export async function bootApp(url: string, policy: WritePolicy, failureThreshold?: number, tier?: StoreTier): Promise<AppUnderFault> {
  const http = await startApp('express', faultAppModule(url, policy, failureThreshold, tier));
  const cache = http.app.get(TenantCacheService);
  const manager = http.app.get<string, Cache>('CACHE_MANAGER');
  const catalog = http.app.get(FaultCatalog);
  const app: AppUnderFault = {
    policy,
    http,
    storeErrors: 0,
    context: (tenant) => ({ cache, manager, catalog, http, tenant }),
    close: async () => {
      const started = performance.now();
      await http.close();
      return Math.round(performance.now() - started);
    },
  };
  cache.events.on('store:error', () => app.storeErrors++);
  return app;
}

/** One call of the sweep. */
export interface CallRecord {
  policy: WritePolicy;
  operation: FaultOperation;
  tenant: string;
  startedAt: number;
  /** Duration of the call, ms. */
  ms: number;
  /** Of which the process was stalled (not running), ms. */
  stallMs: number;
  rejected: boolean;
  result: unknown;
}

/** Runs every operation of `operations`, one after the other, measuring each call. */
async function sweepOnce(app: AppUnderFault, operations: readonly FaultOperation[], tenant: string): Promise<CallRecord[]> {
  const out: CallRecord[] = [];
  const context = app.context(tenant);
  for (const operation of operations) {
    const startedAt = performance.now();
    let rejected = false;
    let result: unknown;
    try {
      result = await TenantContext.run(tenant, () => operation.run(context));
    } catch (error) {
      rejected = true;
      result = error;
    }
    const ended = performance.now();
    out.push({
      policy: app.policy,
      operation,
      tenant,
      startedAt,
      ms: Math.round(ended - startedAt),
      stallMs: stalls?.during(startedAt, ended) ?? 0,
      rejected,
      result,
    });
  }
  return out;
}

/** Sweeps every operation repeatedly until `until` (a `performance.now()` time), at least twice, alternating tenants. */
export async function sweep(app: AppUnderFault, operations: readonly FaultOperation[], until: number): Promise<CallRecord[]> {
  const records: CallRecord[] = [];
  for (let round = 0; round < 2 || performance.now() < until; round++) {
    records.push(...(await sweepOnce(app, operations, round % 2 === 0 ? 'acme' : 'globex')));
  }
  return records;
}

function describeResult(r: CallRecord): string {
  if (!r.rejected) return `resolved ${JSON.stringify(r.result) ?? 'undefined'}`;
  const e = r.result as Error;
  return `rejected ${e?.name}: ${e?.message}`;
}

/**
 * What is wrong with a call. `down`: the store was known to be failing when the call started (strict:
 * a read is a miss, a write follows onWriteError); otherwise the call may have found the store up or down.
 */
export function problemOf(r: CallRecord, down: boolean, bound = CALL_BOUND_MS): string | undefined {
  const where = `[${r.policy}] ${r.operation.name} (${r.tenant})`;
  if (r.ms - r.stallMs > bound) return `${where} took ${r.ms} ms, of which ${r.stallMs} ms the process was stalled (bound ${bound} ms)`;
  const unavailable = r.rejected && r.result instanceof StoreUnavailableError;
  const { kind } = r.operation;
  if (kind === 'counter') {
    if (r.rejected && !unavailable) return `${where} ${describeResult(r)}; expected StoreUnavailableError`;
    if (down && !r.rejected) return `${where} ${describeResult(r)} while the store was down; expected StoreUnavailableError`;
    return undefined;
  }
  if (kind === 'write' && r.policy === 'throw') {
    if (r.rejected && !unavailable) return `${where} ${describeResult(r)}; expected StoreUnavailableError`;
    if (down && !r.rejected) return `${where} ${describeResult(r)} while the store was down; expected StoreUnavailableError (onWriteError: 'throw')`;
    return undefined;
  }
  // Reads, decorated methods, and writes with onWriteError 'ignore' never reject.
  if (r.rejected) return `${where} ${describeResult(r)}; expected ${r.operation.expect}`;
  if (down && !r.operation.down(r.result)) return `${where} ${describeResult(r)} while the store was down; expected ${r.operation.expect}`;
  return undefined;
}

/**
 * Waits until the application serves hits again: a value written is read back, a cached route answers
 * HIT, a `@CacheResult` method answers from the cache. Resolves to how long it took, ms (or throws past `within`).
 */
export async function waitForHits(app: AppUnderFault, within = RECOVERY_BOUND_MS): Promise<number> {
  const started = performance.now();
  const c = app.context('acme');
  let last = '';
  for (let attempt = 0; performance.now() - started < within; attempt++) {
    try {
      const ok = await TenantContext.run('acme', async () => {
        const probe = `probe-${attempt}`;
        await c.cache.set('probe', probe);
        if ((await c.cache.get('probe')) !== probe) return ((last = 'get after set did not return the value'), false);
        if ((await c.manager.get('probe')) !== probe) return ((last = 'CACHE_MANAGER.get after set did not return the value'), false);
        const first = await c.catalog.product(`probe-${attempt}`);
        if ((await c.catalog.product(`probe-${attempt}`)) !== first) return ((last = '@CacheResult did not answer from the cache'), false);
        await c.http.call('/report', { headers: { 'x-tenant-id': 'acme' } });
        const again = await c.http.call('/report', { headers: { 'x-tenant-id': 'acme' } });
        if (again.headers['x-cache'] !== 'HIT') return ((last = `GET /report answered X-Cache ${again.headers['x-cache']}`), false);
        return true;
      });
      if (ok) return Math.round(performance.now() - started);
    } catch (error) {
      last = `${(error as Error).name}: ${(error as Error).message}`;
    }
    await sleep(50);
  }
  throw new Error(`hits did not resume within ${within} ms after recovery (last: ${last})`);
}

/** What one fault did to the two applications (onWriteError 'throw' and 'ignore'). */
export interface FaultReport {
  fault: FaultKind;
  problems: string[];
  calls: number;
  /** Slowest call while the fault was held, ms: as measured, and without the process's stalls. */
  slowestMs: number;
  slowestWaitMs: number;
  /** `store:error` events per policy while the fault was held. */
  storeErrors: Record<WritePolicy, number>;
  /** How long `app.close()` took: 'ignore' while the fault was held, 'throw' after recovery. */
  closeMs: Record<WritePolicy, number>;
  /** From recovery to hits on the 'throw' application, ms. */
  recoveryMs: number;
  bootMs: number;
}

/**
 * Runs one fault: boots an application per onWriteError policy on an isolated `redis-server`, applies the
 * fault, sweeps every operation on both applications while it is held for `HOLD_MS`, closes the 'ignore'
 * application while it is still held, recovers, waits for hits on the 'throw' application, closes it.
 */
export async function runFault(fault: FaultKind, operations: readonly FaultOperation[], tier: StoreTier = 'redis'): Promise<FaultReport> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: RedisServerHandle | undefined = fault === 'absent at boot' ? undefined : await startRedisServer([], { port });
  // NOTE: module-level for the call records; a run that outlived its test must not clear the next run's meter.
  const meter = new StallMeter();
  stalls = meter;
  const bootStarted = performance.now();
  const apps: AppUnderFault[] = [];
  let closed: WritePolicy[] = [];
  const problems: string[] = [];
  try {
    const threshold = fault === 'frozen, breaker never opens' ? Number.MAX_SAFE_INTEGER : undefined;
    apps.push(await bootApp(url, 'throw', threshold, tier), await bootApp(url, 'ignore', threshold, tier));
    const bootMs = Math.round(performance.now() - bootStarted);
    const [throwing, ignoring] = apps as [AppUnderFault, AppUnderFault];

    if (server !== undefined) {
      // Healthy first: every operation works, nothing is rejected.
      for (const app of apps) {
        for (const r of await sweepOnce(app, operations, 'acme')) {
          if (r.rejected) problems.push(`healthy: [${r.policy}] ${r.operation.name} ${describeResult(r)}`);
        }
      }
    }

    const errorsBefore = { throw: throwing.storeErrors, ignore: ignoring.storeErrors };
    let downSince: number | undefined = performance.now();
    let flapping: Promise<void> | undefined;
    const holdUntil = performance.now() + HOLD_MS;
    if (fault === 'refusing') await server!.stop();
    else if (fault === 'frozen' || fault === 'frozen, breaker never opens') server!.pause();
    else if (fault === 'killed mid-run') {
      downSince = undefined;
      // Killed while the sweeps below have calls in flight.
      flapping = sleep(150).then(async () => {
        await server!.stop();
        downSince = performance.now();
      });
    } else if (fault === 'restarted') {
      downSince = undefined; // up and down in turn: any call may find either
      flapping = (async () => {
        while (performance.now() < holdUntil - 1000) {
          await server!.stop();
          await sleep(400);
          server = await startRedisServer([], { port });
          await sleep(400);
        }
      })();
    }
    const records = (await Promise.all(apps.map((app) => sweep(app, operations, holdUntil)))).flat();
    await flapping;
    // NOTE: a frozen Redis keeps the tier's subscription open: its L1 goes on answering (entries written before or
    // during the freeze), so a read may be a hit. Every other rule holds (bounded calls, typed errors, no read rejects).
    const l1Answers = tier === 'tiered' && (fault === 'frozen' || fault === 'frozen, breaker never opens');
    // NOTE: with the breaker off, each L2 command waits its commandTimeout. On Redis alone an operation stops at its
    // first (its generation cannot be read); the tier reads generations from its L1, so an operation goes on to read
    // its entry and then write it, each waiting: up to three command timeouts (memoizeIterable: read, items, manifest).
    const bound = l1Answers && fault === 'frozen, breaker never opens' ? 3 * FAULT_TIMINGS.commandTimeout + 100 : CALL_BOUND_MS;
    for (const r of records) {
      const p = problemOf(r, !l1Answers && downSince !== undefined && r.startedAt >= downSince, bound);
      if (p !== undefined) problems.push(p);
    }
    const storeErrors = { throw: throwing.storeErrors - errorsBefore.throw, ignore: ignoring.storeErrors - errorsBefore.ignore };

    // `app.close()` while the fault is held.
    const closeMs = { ignore: await ignoring.close(), throw: 0 };
    closed.push('ignore');

    // Recover.
    const recoverStarted = performance.now();
    if (fault === 'frozen' || fault === 'frozen, breaker never opens') server!.resume();
    else if (fault !== 'restarted') {
      server = await startRedisServer([], { port });
      // NOTE: the port was free while nothing listened on it: another process may have taken it meanwhile,
      // and our redis-server then exits at once (the apps would be talking to someone else's server).
      await sleep(100);
      if (server.process.exitCode !== null || server.process.signalCode !== null) {
        throw new Error(`port ${port} was taken by another process while the fault was held: the run says nothing, rerun it`);
      }
    }
    let recoveryMs = -1;
    try {
      recoveryMs = await waitForHits(throwing);
      recoveryMs = Math.round(performance.now() - recoverStarted);
    } catch (error) {
      problems.push((error as Error).message);
    }
    closeMs.throw = await throwing.close();
    closed.push('throw');
    return {
      fault,
      problems,
      calls: records.length,
      slowestMs: Math.max(...records.map((r) => r.ms)),
      slowestWaitMs: Math.max(...records.map((r) => r.ms - r.stallMs)),
      storeErrors,
      closeMs,
      recoveryMs,
      bootMs,
    };
  } finally {
    for (const app of apps) if (!closed.includes(app.policy)) await app.close().catch(() => undefined);
    closed = [];
    meter.stop();
    if (stalls === meter) stalls = undefined;
    server?.resume();
    await server?.stop();
  }
}
