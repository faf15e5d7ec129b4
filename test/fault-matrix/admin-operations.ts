import type { TenantCacheService } from '../../lib/index.js';
import { StoreUnavailableError } from '../../lib/index.js';
import type { CallResult, RunningApp } from '../http/http-app.js';

/** What the admin operations act on: one booted application (HTTP routes, and its service for purge and shred). */
export interface AdminFaultContext {
  http: RunningApp;
  cache: TenantCacheService;
  tenant: string;
}

/** The flush targets of the admin routes, each with a seeded entry it removes (see `remaining`). */
export const FLUSH_TARGETS = {
  tenant: { kind: 'tenant' },
  tag: { kind: 'tag', tag: 'users' },
  method: { kind: 'method', method: 'AdminFaultCatalog.product' },
  responses: { kind: 'responses' },
  prefix: { kind: 'prefix', prefix: 'user:' },
} as const;
export type FlushKind = keyof typeof FLUSH_TARGETS;

/**
 * One admin operation as the fault matrix sweeps it. `read`: answers or says, typed, why not (HTTP 503
 * `StoreUnavailableError`), never a 2xx made of a failing store's silence. `destructive`: done (2xx, or a
 * report with `complete: true`), or says it did not complete; never done while the store was down.
 */
export interface AdminOperation {
  name: string;
  kind: 'read' | 'destructive' | 'local';
  /** What a 2xx of a destructive operation claims removed (checked after recovery). */
  claim?: FlushKind | 'purge' | 'shred';
  /**
   * It may publish on the invalidation bus (a shred message, with wrapped data keys), whose publish waits up to
   * the bus's own 1 s (`PUBLISH_WAIT_MS`) on a frozen Redis: its bound is the call bound plus that.
   */
  busPublish?: boolean;
  /** It reads one entry as the application does: a tier's L1 may answer it while a frozen Redis keeps the tier's subscription open. */
  l1Read?: boolean;
  run(c: AdminFaultContext): Promise<AdminAnswer>;
}

/** An operation's answer: an HTTP answer, or a service call that resolved or rejected. */
export type AdminAnswer = { via: 'http'; result: CallResult } | { via: 'call'; resolved: boolean; value: unknown };

const ADMIN = '/tenant-cache-admin';

const get = (name: string, kind: AdminOperation['kind'], path: (tenant: string) => string): AdminOperation => ({
  name,
  kind,
  run: async (c) => ({ via: 'http', result: await c.http.call(path(c.tenant)) }),
});

const flush = (kind: FlushKind, dryRun: boolean): AdminOperation => ({
  name: `POST flush ${kind}${dryRun ? ' (dry run)' : ''}`,
  kind: dryRun ? 'read' : 'destructive',
  ...(dryRun ? {} : { claim: kind }),
  run: async (c) => ({
    via: 'http',
    result: await c.http.call(`${ADMIN}/${c.tenant}/flush`, { json: { target: FLUSH_TARGETS[kind], ...(dryRun ? { dryRun: true } : { confirm: c.tenant }) } }),
  }),
});

async function call(run: () => Promise<unknown>): Promise<AdminAnswer> {
  try {
    return { via: 'call', resolved: true, value: await run() };
  } catch (error) {
    return { via: 'call', resolved: false, value: error };
  }
}

export const ADMIN_OPERATIONS: readonly AdminOperation[] = [
  get('GET overview', 'local', () => ADMIN),
  get('GET footprint', 'read', (t) => `${ADMIN}/${t}/footprint`),
  get('GET keys', 'read', (t) => `${ADMIN}/${t}/keys`),
  { ...get('GET entries/:key (value)', 'read', (t) => `${ADMIN}/${t}/entries/user:1?value=true`), l1Read: true },
  ...(Object.keys(FLUSH_TARGETS) as FlushKind[]).map((kind) => flush(kind, true)),
  ...(Object.keys(FLUSH_TARGETS) as FlushKind[]).map((kind) => flush(kind, false)),
  // The offboarding calls of the service (admin, not tenant-scoped). With wrapped data keys, both tell the other
  // instances over the bus (whose publish waits up to its own 1 s while Redis is frozen).
  { name: 'purgeTenant', kind: 'destructive', claim: 'purge', busPublish: true, run: (c) => call(() => c.cache.purgeTenant(c.tenant)) },
  { name: 'shredTenant', kind: 'destructive', claim: 'shred', busPublish: true, run: (c) => call(() => c.cache.shredTenant(c.tenant)) },
];

/** Whether an answer claims the operation done (a destructive one) or answered (a read). */
export function succeeded(answer: AdminAnswer): boolean {
  if (answer.via === 'http') return answer.result.status < 300;
  if (!answer.resolved) return false;
  const report = answer.value as { complete?: boolean };
  return report.complete !== false;
}

function describe(answer: AdminAnswer): string {
  if (answer.via === 'http') return `HTTP ${answer.result.status} ${JSON.stringify(answer.result.body)}`.slice(0, 400);
  if (answer.resolved) return `resolved ${JSON.stringify(answer.value)}`.slice(0, 400);
  const e = answer.value as Error;
  return `rejected ${e?.name}: ${e?.message}`;
}

/** A 503 of the admin routes: the typed error's name, code and a message naming the store. */
function typed503(result: CallResult): boolean {
  const body = result.body as { error?: string; code?: string; message?: string } | undefined;
  return body?.error === 'StoreUnavailableError' && body.code === 'E_STORE_UNAVAILABLE' && /^Cache store "default" is unavailable: .+/.test(body.message ?? '');
}

/**
 * What is wrong with one answer. `down`: the store was known down when the call started (then nothing may
 * answer as if it had worked); otherwise the call may have found it up or down.
 */
export function problemOfAnswer(operation: AdminOperation, answer: AdminAnswer, down: boolean): string | undefined {
  const what = describe(answer);
  if (answer.via === 'http') {
    const { status, body } = answer.result;
    if (operation.kind === 'local') return status === 200 ? undefined : `${what}; expected 200 whatever the store does`;
    if (status === 503) return typed503(answer.result) ? undefined : `${what}; expected a 503 with { error: 'StoreUnavailableError', code, message }`;
    if (status !== 200 && status !== 201) return `${what}; expected 2xx, or 503 with the typed error`;
    if (down) return `${what} while the store was down; expected 503 StoreUnavailableError`;
    if (
      operation.name === 'GET footprint' &&
      (body as { complete?: unknown }).complete !== true &&
      !(body as { stores: { skipped?: string }[] }).stores.some((s) => s.skipped)
    )
      return `${what}: incomplete without saying which store`;
    return undefined;
  }
  const report = (answer.resolved ? answer.value : (answer.value as { report?: unknown }).report) as { complete?: boolean } | undefined;
  if (!answer.resolved && !(answer.value instanceof StoreUnavailableError)) return `${what}; expected StoreUnavailableError`;
  if (operation.claim === 'purge') {
    if (report === undefined || typeof report.complete !== 'boolean') return `${what}; expected a report with complete`;
    if (down && report.complete) return `${what} while the store was down; expected complete: false`;
    return undefined;
  }
  if (down && answer.resolved) return `${what} while the store was down; expected StoreUnavailableError`;
  return undefined;
}

/** Logical keys of the seed (`seedTenant`) a claimed operation must have removed. */
export function remaining(claim: NonNullable<AdminOperation['claim']>, keys: readonly string[]): string[] {
  const users = keys.filter((k) => k.startsWith('user:'));
  switch (claim) {
    case 'tenant':
    case 'purge':
      return [...keys];
    case 'tag':
    case 'prefix':
      return users;
    case 'method':
      return keys.filter((k) => k.startsWith('\u0000m@'));
    case 'responses':
      return keys.filter((k) => k.startsWith('\u0000r@'));
    case 'shred':
      return []; // checked by reading (the entries stay, sealed under a key that is gone)
  }
}
