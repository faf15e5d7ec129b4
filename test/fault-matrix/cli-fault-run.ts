import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { runCli } from '../../lib/cli/cli.js';
import { TenantCacheService, TenantContext } from '../../lib/index.js';
import { type RunningApp, startApp } from '../http/http-app.js';
import { ADMIN_FAULT_SECRET, AdminFaultCatalog, adminFaultAppModule } from './admin-fault-app.js';
import { type FlushKind, remaining } from './admin-operations.js';
import { CALL_BOUND_MS, CLOSE_BOUND_MS, type FaultKind, HOLD_MS, RECOVERY_BOUND_MS, StallMeter } from './fault-harness.js';
import { FAULT_TIMINGS } from './fault-app.js';
import { prepareFault } from './fault-hold.js';

const T = 'acme';
/** A CLI process still running after this long is taken as hung (a handle left open), and killed. */
export const CLI_HANG_MS = 30_000;
/**
 * Bound of one CLI command run in process (boot of its application context, the command, `app.close()`): one
 * command timeout for the command and one connect timeout for the first connection attempt it may wait on.
 */
export const CLI_CALL_BOUND_MS = CALL_BOUND_MS + FAULT_TIMINGS.connectTimeout + 200;

/** The flush targets as CLI options (the same seeded entries as the admin routes, see `remaining`). */
const FLUSH_ARGS: Record<FlushKind, string[]> = {
  tenant: ['--all'],
  tag: ['--tag', 'users'],
  method: ['--method', 'AdminFaultCatalog.product'],
  responses: ['--responses'],
  prefix: ['--prefix', 'user:'],
};

/** One CLI command of the sweep: `read` says it failed when it did (exit 1, one line), `destructive` never claims what it did not do. */
interface CliCommand {
  name: string;
  kind: 'local' | 'read' | 'destructive';
  args: string[];
  claim?: FlushKind;
  /** Exit code of a success: 0, or 2 for a flush that asks for a confirmation it cannot get (no terminal). */
  okCode?: number;
}

const KINDS = Object.keys(FLUSH_ARGS) as FlushKind[];
export const CLI_COMMANDS: readonly CliCommand[] = [
  { name: 'stores', kind: 'local', args: ['stores'] },
  { name: 'footprint --json', kind: 'read', args: ['footprint', T, '--json'] },
  { name: 'keys', kind: 'read', args: ['keys', T] },
  { name: 'inspect --value', kind: 'read', args: ['inspect', T, 'user:1', '--value'] },
  ...KINDS.map((kind): CliCommand => ({ name: `flush ${FLUSH_ARGS[kind].join(' ')} --dry-run`, kind: 'read', args: ['flush', T, ...FLUSH_ARGS[kind], '--dry-run'] })),
  { name: 'flush --all (no terminal, no --confirm)', kind: 'read', args: ['flush', T, '--all'], okCode: 2 },
  ...KINDS.map((kind): CliCommand => ({
    name: `flush ${FLUSH_ARGS[kind].join(' ')} --confirm`,
    kind: 'destructive',
    claim: kind,
    args: ['flush', T, ...FLUSH_ARGS[kind], '--confirm', T],
  })),
];

/** The commands also run as a process of their own while the fault is held. */
const PROCESS_COMMANDS = ['footprint --json', 'keys', 'inspect --value', 'flush --prefix user: --dry-run', 'flush --all --confirm'];

interface CliAnswer {
  code: number;
  out: string[];
  err: string[];
}

/** What is wrong with an answer of the CLI; `down`: the store was known down when the command started. */
function problemOfCli(command: CliCommand, a: CliAnswer, down: boolean): string | undefined {
  const what = `exit ${a.code}, stdout ${JSON.stringify(a.out.join('\n').slice(0, 200))}, stderr ${JSON.stringify(a.err.join('\n').slice(0, 300))}`;
  const okCode = command.okCode ?? 0;
  if (command.kind === 'local') return a.code === 0 && a.err.length === 0 ? undefined : `${what}; expected exit 0 whatever the store does`;
  if (a.err.some((l) => /^\s+at /m.test(l))) return `${what}: a stack trace`;
  if (a.code === 1) {
    if (a.err.length !== 1) return `${what}; expected one line on stderr`;
    if (!/^[\w -]+ failed: Cache store "default" is unavailable: .+\(E_STORE_UNAVAILABLE\)$/.test(a.err[0]!))
      return `${what}; expected the line to name the store and its fault`;
    if (a.out.length > 0) return `${what}; expected nothing on stdout`;
    return undefined;
  }
  if (a.code !== okCode) return `${what}; expected exit ${okCode}, or 1 with one line`;
  if (down) return `${what} while the store was down; expected exit 1`;
  if (command.args.includes('--json')) {
    try {
      JSON.parse(a.out.join('\n'));
    } catch {
      return `${what}: stdout is not JSON`;
    }
  }
  return undefined;
}

function configModule(dir: string, url: string, keyPrefix: string, failureThreshold: number): string {
  const lib = pathToFileURL(join(process.cwd(), 'lib/index.ts')).href;
  const file = join(dir, 'tenant-cache.config.mjs');
  // The options of the application (adminFaultCacheOptions), with onWriteError 'ignore': a CLI must not take a dropped write for a done one.
  const options = {
    keyPrefix,
    versionCacheTtl: FAULT_TIMINGS.versionCacheTtl,
    onWriteError: 'ignore',
    codec: { encryption: { secrets: [ADMIN_FAULT_SECRET], tenantKeys: 'wrapped' } },
  };
  const store = {
    url,
    commandTimeout: FAULT_TIMINGS.commandTimeout,
    connectTimeout: FAULT_TIMINGS.connectTimeout,
    breaker: { failureThreshold, resetAfter: FAULT_TIMINGS.breakerResetAfter },
  };
  writeFileSync(
    file,
    `import { redisStore } from ${JSON.stringify(lib)};\nexport default () => ({ ...${JSON.stringify(options)}, stores: { default: redisStore(${JSON.stringify(store)}) } });\n`,
  );
  return file;
}

/** Runs the CLI in this process (no terminal), collecting its lines. */
async function inProcess(args: string[], config: string): Promise<CliAnswer> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '--config', config], { cwd: tmpdir(), env: {}, out: (l) => out.push(...l.split('\n')), err: (l) => err.push(...l.split('\n')) });
  return { code, out, err };
}

/** Runs the CLI as a program (`lib/cli/main.ts`, stdin not a terminal): its exit code, lines, and how long until it exited. */
function asProcess(args: string[], config: string): Promise<CliAnswer & { ms: number; hung: boolean }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', 'lib/cli/main.ts', ...args, '--config', config], {
      env: { ...process.env, TENANT_CACHE_REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, CLI_HANG_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(watchdog);
      const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
      resolve({ code: code ?? -1, out: lines(stdout), err: lines(stderr), ms: Math.round(performance.now() - started), hung });
    });
  });
}

/** What one fault did to the CLI. */
export interface CliFaultReport {
  fault: FaultKind;
  problems: string[];
  /** Commands run in process while the fault was held, and the slowest (as measured, and without stalls), ms. */
  calls: number;
  slowestMs: number;
  slowestWaitMs: number;
  /** The program: `stores` on a healthy Redis (boot and exit), and the slowest command run while the fault was held, ms. */
  processBaselineMs: number;
  processSlowestMs: number;
  processBoundMs: number;
  /** From recovery to a footprint that exits 0 (and the application beside reconnected), ms. */
  recoveryMs: number;
  /** `app.close()` of the application beside the CLI (seeding and checking), after recovery, ms. */
  closeMs: number;
}

/**
 * Runs one fault against the CLI. An application on the same Redis and key prefix seeds a tenant and checks
 * what the CLI removed. While the fault is held: every command in process (each boots its own application
 * context, as the program does), at least twice and for `HOLD_MS`, then a few as programs of their own. After
 * recovery: what a flush claimed during the fault is gone, and every flush, run again on fresh entries, completes.
 */
export async function runCliFault(fault: FaultKind): Promise<CliFaultReport> {
  const held = await prepareFault(fault);
  const meter = new StallMeter();
  const dir = mkdtempSync(join(tmpdir(), 'tc-cli-fault-'));
  const keyPrefix = `cfault-${randomUUID().slice(0, 8)}:`;
  const threshold = fault === 'frozen, breaker never opens' ? Number.MAX_SAFE_INTEGER : FAULT_TIMINGS.breakerFailureThreshold;
  const config = configModule(dir, held.url, keyPrefix, threshold);
  const problems: string[] = [];
  let app: RunningApp | undefined;
  try {
    app = await startApp('express', adminFaultAppModule(held.url, 'throw', threshold, keyPrefix));
    const beside = app;
    const seed = async () => {
      const view = beside.app.get(TenantCacheService).forTenant(T);
      for (const i of [1, 2]) await view.set(`user:${i}`, { i }, { tags: ['users'] });
      await TenantContext.run(T, () => beside.app.get(AdminFaultCatalog).product('1'));
      await beside.call('/page', { headers: { 'x-tenant-id': T } });
      // The CLI is another instance: its generation counter is read afresh, ours is cached versionCacheTtl.
      await new Promise((r) => setTimeout(r, FAULT_TIMINGS.versionCacheTtl + 50));
    };
    const keys = async (): Promise<string[]> => {
      await new Promise((r) => setTimeout(r, FAULT_TIMINGS.versionCacheTtl + 50));
      const res = await beside.call(`/tenant-cache-admin/${T}/keys`);
      if (res.status !== 200) throw new Error(`GET keys answered ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as string[];
    };

    let processBaselineMs = 0;
    if (fault !== 'absent at boot') {
      await seed();
      for (const command of CLI_COMMANDS) {
        const a = await inProcess(command.args, config);
        const p = problemOfCli(command, a, false) ?? (a.code === (command.okCode ?? 0) ? undefined : 'did not succeed');
        if (p !== undefined) problems.push(`healthy: ${command.name}: ${p}`);
      }
      const baseline = await asProcess(['stores'], config);
      processBaselineMs = baseline.ms;
      if (baseline.code !== 0) problems.push(`healthy: the program exited ${baseline.code}: ${baseline.err.join(' | ')}`);
      await seed();
    } else {
      processBaselineMs = (await asProcess(['stores'], config)).ms;
    }
    const processBoundMs = processBaselineMs + CLI_CALL_BOUND_MS + CLOSE_BOUND_MS + 3000;

    let holding = true;
    const holdUntil = performance.now() + HOLD_MS;
    const { settled } = await held.apply(() => holding && performance.now() < holdUntil - 1000);
    const claims = new Set<FlushKind>();
    let calls = 0;
    let slowestMs = 0;
    let slowestWaitMs = 0;
    for (let round = 0; round < 2 || performance.now() < holdUntil; round++) {
      for (const command of CLI_COMMANDS) {
        const startedAt = performance.now();
        const a = await inProcess(command.args, config);
        const ended = performance.now();
        const ms = Math.round(ended - startedAt);
        const waitMs = ms - meter.during(startedAt, ended);
        calls++;
        slowestMs = Math.max(slowestMs, ms);
        slowestWaitMs = Math.max(slowestWaitMs, waitMs);
        if (waitMs > CLI_CALL_BOUND_MS) problems.push(`${command.name} took ${ms} ms, ${waitMs} ms without stalls (bound ${CLI_CALL_BOUND_MS} ms)`);
        const downSince = held.downSince();
        const p = problemOfCli(command, a, downSince !== undefined && startedAt >= downSince);
        if (p !== undefined) problems.push(`${command.name}: ${p}`);
        if (command.claim !== undefined && a.code === 0) claims.add(command.claim);
      }
    }
    let processSlowestMs = 0;
    for (const name of PROCESS_COMMANDS) {
      const command = CLI_COMMANDS.find((c) => c.name === name)!;
      const startedAt = performance.now();
      const a = await asProcess(command.args, config);
      processSlowestMs = Math.max(processSlowestMs, a.ms);
      if (a.hung) problems.push(`the program ${name} did not exit within ${CLI_HANG_MS} ms (a handle left open)`);
      else if (a.ms > processBoundMs) problems.push(`the program ${name} exited after ${a.ms} ms (bound ${processBoundMs} ms)`);
      const downSince = held.downSince();
      const p = problemOfCli(command, a, downSince !== undefined && startedAt >= downSince);
      if (p !== undefined) problems.push(`the program ${name}: ${p}`);
      if (command.claim !== undefined && a.code === 0) claims.add(command.claim);
    }
    holding = false;
    await settled;

    await held.recover();
    const recoverStarted = performance.now();
    let recoveryMs = -1;
    while (performance.now() - recoverStarted < RECOVERY_BOUND_MS) {
      // The CLI connects afresh; the application beside reconnects within its back-off.
      const beside = await app.call(`/tenant-cache-admin/${T}/footprint`);
      if (beside.status === 200 && (await inProcess(['footprint', T], config)).code === 0) {
        recoveryMs = Math.round(performance.now() - recoverStarted);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (recoveryMs < 0) problems.push(`footprint did not exit 0 (or the application beside did not reconnect) within ${RECOVERY_BOUND_MS} ms of recovery`);
    else {
      const left = await keys();
      for (const claim of claims) {
        const l = remaining(claim, left);
        if (l.length > 0) problems.push(`a flush ${claim} that exited 0 during the fault left ${JSON.stringify(l)}`);
      }
      for (const kind of KINDS) {
        await seed();
        const a = await inProcess(['flush', T, ...FLUSH_ARGS[kind], '--confirm', T], config);
        if (a.code !== 0) problems.push(`after recovery: flush ${kind} exited ${a.code}: ${a.err.join(' | ')}`);
        const l = remaining(kind, await keys());
        if (l.length > 0) problems.push(`after recovery: flush ${kind} left ${JSON.stringify(l)}`);
      }
      await seed();
      const program = await asProcess(['flush', T, '--all', '--confirm', T], config);
      if (program.code !== 0 || !/^deleted \d+ entries of tenant "acme"/.test(program.out[0] ?? '')) {
        problems.push(`after recovery: the program flush --all exited ${program.code}: ${[...program.out, ...program.err].join(' | ')}`);
      }
      if ((await keys()).length > 0) problems.push('after recovery: the program flush --all left entries');
    }
    const closeStarted = performance.now();
    await app.close();
    app = undefined;
    const closeMs = Math.round(performance.now() - closeStarted);
    return { fault, problems, calls, slowestMs, slowestWaitMs, processBaselineMs, processSlowestMs, processBoundMs, recoveryMs, closeMs };
  } finally {
    await app?.close().catch(() => undefined);
    meter.stop();
    await held.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
