import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TenantCacheService, TenantContext } from '../../lib/index.js';
import { StoreRegistry } from '../../lib/engine/store-registry.js';
import { CapturingLogger, type RunningApp, startApp } from '../http/http-app.js';
import { AdminFaultCatalog, adminFaultAppModule } from './admin-fault-app.js';
import { ADMIN_OPERATIONS, type AdminAnswer, type AdminOperation, FLUSH_TARGETS, type FlushKind, problemOfAnswer, remaining, succeeded } from './admin-operations.js';
import type { StoreTier } from './fault-app.js';
import { CALL_BOUND_MS, type FaultKind, HOLD_MS, RECOVERY_BOUND_MS, StallMeter, type WritePolicy } from './fault-harness.js';
import { prepareFault } from './fault-hold.js';

/** The invalidation bus's bound on one publish (`PUBLISH_WAIT_MS`, lib/invalidation/invalidation-bus.host.ts). */
export const BUS_PUBLISH_WAIT_MS = 1000;
/**
 * The bound of an operation that may publish on the bus: a store command, a tier's coherence message (on the
 * tier's channel, bounded by the command timeout), then one bus publish.
 */
export const BUS_CALL_BOUND_MS = 2 * CALL_BOUND_MS + BUS_PUBLISH_WAIT_MS;

const TENANT = 'acme';
const OTHER = 'globex';

/** One application with the admin module on the Redis under fault, and what it logged. */
interface AdminApp {
  policy: WritePolicy;
  http: RunningApp;
  cache: TenantCacheService;
  catalog: AdminFaultCatalog;
  logger: CapturingLogger;
  close(): Promise<number>;
}

async function bootAdminApp(url: string, policy: WritePolicy, keyPrefix: string, failureThreshold: number | undefined, tier: StoreTier): Promise<AdminApp> {
  const logger = new CapturingLogger();
  const http = await startApp('express', adminFaultAppModule(url, policy, failureThreshold, keyPrefix, tier), { logger });
  return {
    policy,
    http,
    logger,
    cache: http.app.get(TenantCacheService),
    catalog: http.app.get(AdminFaultCatalog),
    close: async () => {
      const started = performance.now();
      await http.close();
      return Math.round(performance.now() - started);
    },
  };
}

/** Writes what the flush targets remove: two tagged entries, a `@CacheResult` entry and a cached response. */
async function seedTenant(app: AdminApp, tenant: string): Promise<void> {
  const view = app.cache.forTenant(tenant);
  for (const i of [1, 2]) await view.set(`user:${i}`, { tenant, i }, { tags: ['users'] });
  await TenantContext.run(tenant, () => app.catalog.product('1'));
  const page = await app.http.call('/page', { headers: { 'x-tenant-id': tenant } });
  if (page.status !== 200) throw new Error(`seeding GET /page answered ${page.status}`);
}

/** The tenant's logical keys, through the admin route (which says when it cannot list them). */
async function listKeys(app: AdminApp, tenant: string): Promise<string[]> {
  const res = await app.http.call(`/tenant-cache-admin/${tenant}/keys`);
  if (res.status !== 200) throw new Error(`GET keys answered ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as string[];
}

interface AdminCallRecord {
  policy: WritePolicy;
  operation: AdminOperation;
  startedAt: number;
  ms: number;
  stallMs: number;
  answer: AdminAnswer;
}

async function sweepOnce(app: AdminApp, meter: StallMeter): Promise<AdminCallRecord[]> {
  const out: AdminCallRecord[] = [];
  for (const operation of ADMIN_OPERATIONS) {
    const startedAt = performance.now();
    const answer = await operation.run({ http: app.http, cache: app.cache, tenant: TENANT });
    const ended = performance.now();
    out.push({ policy: app.policy, operation, startedAt, ms: Math.round(ended - startedAt), stallMs: meter.during(startedAt, ended), answer });
  }
  return out;
}

/** What one fault did to the admin routes and the offboarding calls of two applications (onWriteError 'throw' and 'ignore'). */
export interface AdminFaultReport {
  fault: FaultKind;
  problems: string[];
  calls: number;
  slowestMs: number;
  slowestWaitMs: number;
  /** The operation of the slowest call without stalls (purge and shred apart). */
  slowestOperation: string;
  /** Slowest call of the operations that may publish on the bus (purgeTenant, shredTenant), without stalls, ms. */
  slowestBusWaitMs: number;
  /** `app.close()`: 'ignore' while the fault was held, 'throw' after recovery, ms. */
  closeMs: Record<WritePolicy, number>;
  /** From recovery to the first complete footprint, ms. */
  recoveryMs: number;
  /** Every destructive operation run again after recovery (seeded first), ms. */
  rerunMs: number;
  bootMs: number;
}

/**
 * Runs one fault against the admin module: two applications (onWriteError 'throw' and 'ignore', one key
 * prefix: two instances of one application) on an isolated `redis-server`, every admin operation checked
 * healthy, then swept on both while the fault is held for `HOLD_MS`; the 'ignore' application is closed
 * while it is held. After recovery: what a destructive operation claimed during the fault is checked gone,
 * and every destructive operation is run again on fresh entries and must complete.
 */
export async function runAdminFault(fault: FaultKind, tier: StoreTier = 'redis'): Promise<AdminFaultReport> {
  const held = await prepareFault(fault);
  const meter = new StallMeter();
  const keyPrefix = `afault-${randomUUID().slice(0, 8)}:`;
  const threshold = fault === 'frozen, breaker never opens' ? Number.MAX_SAFE_INTEGER : undefined;
  const apps: AdminApp[] = [];
  const closed = new Set<WritePolicy>();
  const problems: string[] = [];
  try {
    const bootStarted = performance.now();
    apps.push(await bootAdminApp(held.url, 'throw', keyPrefix, threshold, tier), await bootAdminApp(held.url, 'ignore', keyPrefix, threshold, tier));
    const bootMs = Math.round(performance.now() - bootStarted);
    const [throwing, ignoring] = apps as [AdminApp, AdminApp];

    if (fault !== 'absent at boot') {
      // Healthy first: every operation answers and completes.
      for (const app of apps) {
        await seedTenant(app, TENANT);
        for (const r of await sweepOnce(app, meter)) {
          const p = problemOfAnswer(r.operation, r.answer, false) ?? (succeeded(r.answer) ? undefined : 'did not succeed');
          if (p !== undefined) problems.push(`healthy: [${r.policy}] ${r.operation.name}: ${p}`);
        }
      }
      await seedTenant(throwing, TENANT);
    }

    const holdUntil = performance.now() + HOLD_MS;
    const { settled } = await held.apply(() => performance.now() < holdUntil - 1000);
    const records = (
      await Promise.all(
        apps.map(async (app) => {
          const out: AdminCallRecord[] = [];
          for (let round = 0; round < 2 || performance.now() < holdUntil; round++) out.push(...(await sweepOnce(app, meter)));
          return out;
        }),
      )
    ).flat();
    await settled;
    const claims = new Set<NonNullable<AdminOperation['claim']>>();
    for (const r of records) {
      const where = `[${r.policy}] ${r.operation.name}`;
      const bound = r.operation.busPublish === true ? BUS_CALL_BOUND_MS : CALL_BOUND_MS;
      if (r.ms - r.stallMs > bound) problems.push(`${where} took ${r.ms} ms, of which ${r.stallMs} ms the process was stalled (bound ${bound} ms)`);
      const downSince = held.downSince();
      const l1Answers = r.operation.l1Read === true && tier === 'tiered' && (fault === 'frozen' || fault === 'frozen, breaker never opens');
      const p = problemOfAnswer(r.operation, r.answer, !l1Answers && downSince !== undefined && r.startedAt >= downSince);
      if (p !== undefined) problems.push(`${where}: ${p}`);
      if (r.operation.kind === 'destructive' && r.operation.claim !== undefined && succeeded(r.answer)) claims.add(r.operation.claim);
    }
    for (const app of apps) {
      const crashes = app.logger.lines.filter((l) => l.level === 'error' && /ExceptionsHandler|Internal server error/.test(l.message));
      if (crashes.length > 0) problems.push(`[${app.policy}] Nest logged ${crashes.length} unhandled errors (500s), e.g. ${crashes[0]!.message.slice(0, 200)}`);
    }

    const closeMs = { ignore: await ignoring.close(), throw: 0 };
    closed.add('ignore');

    // Recover: the footprint is counted again.
    await held.recover();
    const recoverStarted = performance.now();
    let recoveryMs = -1;
    while (performance.now() - recoverStarted < RECOVERY_BOUND_MS) {
      const res = await throwing.http.call(`/tenant-cache-admin/${TENANT}/footprint`);
      if (res.status === 200 && (res.body as { complete: boolean }).complete) {
        recoveryMs = Math.round(performance.now() - recoverStarted);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (recoveryMs < 0) problems.push(`the footprint was not complete again within ${RECOVERY_BOUND_MS} ms of recovery`);
    else {
      // What was claimed done during the fault is done (nothing wrote the tenant's entries again since).
      const keys = await listKeys(throwing, TENANT);
      for (const claim of claims) {
        const left = remaining(claim, keys);
        if (left.length > 0) problems.push(`a ${claim} claimed done during the fault left ${JSON.stringify(left)}`);
      }
      if (claims.has('shred') && keys.includes('user:1') && (await throwing.cache.forTenant(TENANT).get('user:1')) !== undefined) {
        problems.push('shredTenant claimed done during the fault, yet user:1 still decrypts');
      }
    }

    const rerunStarted = performance.now();
    if (recoveryMs >= 0) problems.push(...(await rerunDestructive(throwing)));
    const rerunMs = Math.round(performance.now() - rerunStarted);
    closeMs.throw = await throwing.close();
    closed.add('throw');
    const waits = (rs: AdminCallRecord[]) => Math.max(0, ...rs.map((r) => r.ms - r.stallMs));
    return {
      fault,
      problems,
      calls: records.length,
      slowestMs: Math.max(...records.map((r) => r.ms)),
      slowestWaitMs: waits(records.filter((r) => r.operation.busPublish !== true)),
      slowestOperation: slowestOf(records.filter((r) => r.operation.busPublish !== true)),
      slowestBusWaitMs: waits(records.filter((r) => r.operation.busPublish === true)),
      closeMs,
      recoveryMs,
      rerunMs,
      bootMs,
    };
  } finally {
    for (const app of apps) if (!closed.has(app.policy)) await app.close().catch(() => undefined);
    meter.stop();
    await held.stop();
  }
}

function slowestOf(records: AdminCallRecord[]): string {
  const slowest = records.reduce<AdminCallRecord | undefined>((a, r) => (a === undefined || r.ms - r.stallMs > a.ms - a.stallMs ? r : a), undefined);
  return slowest === undefined ? 'none' : `[${slowest.policy}] ${slowest.operation.name}`;
}

/** After recovery: every destructive operation, on freshly seeded entries, completes and removes what it names. */
async function rerunDestructive(app: AdminApp): Promise<string[]> {
  const problems: string[] = [];
  for (const kind of Object.keys(FLUSH_TARGETS) as FlushKind[]) {
    await seedTenant(app, TENANT);
    const res = await app.http.call(`/tenant-cache-admin/${TENANT}/flush`, { json: { target: FLUSH_TARGETS[kind], confirm: TENANT } });
    if (res.status !== 201) problems.push(`after recovery: flush ${kind} answered ${res.status} ${JSON.stringify(res.body)}`);
    const left = remaining(kind, await listKeys(app, TENANT));
    if (left.length > 0) problems.push(`after recovery: flush ${kind} left ${JSON.stringify(left)}`);
  }
  await seedTenant(app, TENANT);
  const purge = await app.cache.purgeTenant(TENANT);
  if (!purge.complete || purge.removed === 0) problems.push(`after recovery: purgeTenant reported ${JSON.stringify(purge)}`);
  if ((await listKeys(app, TENANT)).length > 0) problems.push('after recovery: purgeTenant left entries');
  problems.push(...(await shredAfterRecovery(app)));
  return problems;
}

/** A ciphertext copied aside before `shredTenant` and written back after it reads as a miss; another tenant still decrypts. */
async function shredAfterRecovery(app: AdminApp): Promise<string[]> {
  const problems: string[] = [];
  const acme = app.cache.forTenant(TENANT);
  await acme.set('user:1', { tenant: TENANT, i: 1 });
  await app.cache.forTenant(OTHER).set('user:1', { tenant: OTHER, i: 1 });
  const entry = await app.http.call(`/tenant-cache-admin/${TENANT}/entries/user:1`);
  const physicalKey = (entry.body as { physicalKey: string }).physicalKey;
  const { store } = await app.http.app.get(StoreRegistry).get('default');
  const copy = await store.get(physicalKey);
  if (copy === undefined) return [`after recovery: no ciphertext at ${physicalKey}`];
  {
    const report = await app.cache.shredTenant(TENANT);
    if (JSON.stringify(report.stores) !== '["default"]') problems.push(`after recovery: shredTenant reported ${JSON.stringify(report)}`);
    await store.set(physicalKey, copy); // the leftover copy (a replica, an RDB file, a missed purge)
    const corrupt: string[] = [];
    const onCorrupt = (e: { tenant?: string }) => void corrupt.push(e.tenant ?? '');
    app.cache.events.on('entry:corrupt', onCorrupt);
    const read = await acme.get('user:1');
    app.cache.events.off('entry:corrupt', onCorrupt);
    if (read !== undefined) problems.push(`after recovery: a ciphertext written back after shredTenant still decrypts: ${JSON.stringify(read)}`);
    if (!corrupt.includes(TENANT)) problems.push('after recovery: no entry:corrupt for the shredded ciphertext');
    const other = await app.cache.forTenant(OTHER).get('user:1');
    if (JSON.stringify(other) !== JSON.stringify({ tenant: OTHER, i: 1 })) problems.push(`after recovery: the other tenant read ${JSON.stringify(other)}`);
  }
  return problems;
}
