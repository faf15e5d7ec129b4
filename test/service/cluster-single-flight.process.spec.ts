import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess } from '../support/app-process.js';
import { type RedisServerHandle, startRedisServer } from '../support/redis-server.js';

/**
 * `singleFlight: { scope: 'cluster' }` across 4 real application processes on one Redis this file starts
 * (fixtures/cluster-flight.app.ts): one load per key in total, what a waiter costs beyond the load, and the
 * takeover when the process holding the lease is killed (SIGKILL) mid-load.
 */

const APP = fileURLToPath(new URL('./fixtures/cluster-flight.app.ts', import.meta.url));

let server: RedisServerHandle;
beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);
afterAll(() => server?.stop());

interface Event {
  event: string;
  id?: string;
  tenant?: string;
  key?: string;
  at?: number;
  answers?: number[];
  errors?: number;
  /** [epoch ms, ms]: each time the app's process did not run, when it ended and for how long (see the fixture). */
  stalls?: [number, number][];
}

const running: AppProcess[] = [];
afterEach(async () => {
  for (const app of running.splice(0)) app.kill();
});

/** Every JSON event an app printed so far. */
function events(app: AppProcess): Event[] {
  return app.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);
}

async function start(n: number, env: Record<string, string>): Promise<AppProcess[]> {
  const apps = Array.from({ length: n }, () => new AppProcess(APP, { REDIS_URL: server.url, ...env }));
  running.push(...apps);
  await Promise.all(apps.map((a) => a.next('ready', 30_000)));
  return apps;
}

/** Starts one burst on every app at the same moment; resolves with each app's burst event. */
async function burst(apps: AppProcess[], b: { tenants: string[]; keys: string[]; n: number; loaderMs: number }, timeout = 30_000): Promise<Event[]> {
  const id = randomUUID().slice(0, 8);
  const at = Date.now() + 300;
  for (const app of apps) app.send(JSON.stringify({ cmd: 'burst', id, at, ...b }));
  return (await Promise.all(apps.map((a) => a.next('burst', timeout)))) as unknown as Event[];
}

/**
 * Ms within [from, to] during which any of `processes` did not run (their stalls, overlaps counted once). Scheduler
 * noise of a loaded machine, not time spent waiting on Redis or on the release message.
 */
function stalledDuring(processes: Event[], from: number, to: number): number {
  const spans = processes
    .flatMap((p) => p.stalls ?? [])
    .map(([end, ms]) => [Math.max(from, end - ms), Math.min(to, end)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let reached = from;
  for (const [a, b] of spans) {
    if (b <= reached) continue;
    total += b - Math.max(a, reached);
    reached = b;
  }
  return total;
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

describe("singleFlight: 'cluster' across 4 processes", () => {
  it('4 x 250 concurrent misses of one key, 100 ms loader: exactly 1 load in total; waiter overhead p99 measured and bounded', async () => {
    const apps = await start(4, { KEY_PREFIX: `csfp-${randomUUID().slice(0, 8)}:` });
    const results = await burst(apps, { tenants: ['acme'], keys: ['hot'], n: 250, loaderMs: 100 });
    const loads = apps.flatMap((a) => events(a).filter((e) => e.event === 'load'));
    const loaded = apps.flatMap((a) => events(a).filter((e) => e.event === 'loaded'));
    expect(loads).toHaveLength(1);
    expect(results.every((r) => r.errors === 0)).toBe(true);
    // Overhead beyond the loader: from the loader's end to each caller's answer (one clock: one machine).
    const end = loaded[0]!.at!;
    const overheads = results.flatMap((r) => r.answers!.map((at) => at - end));
    // Of which the caller's process or the leader's (which writes the entry and publishes the release) was not running.
    const leader = results[apps.findIndex((a) => events(a).some((e) => e.event === 'load'))]!;
    const waits = results.flatMap((r) => r.answers!.map((at) => at - end - stalledDuring(r === leader ? [r] : [r, leader], end, at)));
    const firsts = results.map((r) => Math.min(...r.answers!) - end);
    console.log(
      `[cluster single-flight, 4 processes] 4 x 250 misses: ${loads.length} load; waiter overhead p99 ${p99(overheads)} ms (${p99(waits)} ms without process stalls), max ${Math.max(...overheads)} ms; first answer per process ${firsts.join('/')} ms after the loader`,
    );
    // NOTE: the target is p99 <= 10 ms (met on an idle machine). On 2 shared cores the bound has a margin and
    // leaves out the time the processes did not run (raw p99 reached 119 ms of the former 150 ms bound in 10 loaded
    // runs). A waiter woken by the lease's expiry instead of the release would wait ~1.9 s; one polling, its interval.
    expect(p99(waits)).toBeLessThanOrEqual(150);
  }, 60_000);

  it('50 keys x 4 tenants from 4 processes at once: exactly 1 load per key and tenant', async () => {
    const apps = await start(4, { KEY_PREFIX: `csfp-${randomUUID().slice(0, 8)}:` });
    const tenants = ['acme', 'globex', 'initech', 'umbrella'];
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const results = await burst(apps, { tenants, keys, n: 5, loaderMs: 100 });
    expect(results.every((r) => r.errors === 0)).toBe(true);
    const loads = apps.flatMap((a) => events(a).filter((e) => e.event === 'load'));
    const perKey = new Map<string, number>();
    for (const l of loads) perKey.set(`${l.tenant}/${l.key}`, (perKey.get(`${l.tenant}/${l.key}`) ?? 0) + 1);
    expect(perKey.size).toBe(200);
    expect([...perKey.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  }, 60_000);

  it('the leader killed (SIGKILL) mid-load: another process takes over within 1.2 x leaseTtl, and no caller waits past waitTimeout', async () => {
    const leaseTtl = 1000;
    const waitTimeout = 4000;
    const apps = await start(4, { KEY_PREFIX: `csfp-${randomUUID().slice(0, 8)}:`, LEASE_TTL: String(leaseTtl), WAIT_TIMEOUT: String(waitTimeout) });
    const id = randomUUID().slice(0, 8);
    const at = Date.now() + 300;
    // A loader of 1.5 s: the first one is killed mid-load, the one that takes over finishes.
    for (const app of apps) app.send(JSON.stringify({ cmd: 'burst', id, at, tenants: ['acme'], keys: ['crash'], n: 50, loaderMs: 1500 }));
    const deadline = Date.now() + 10_000;
    let leader: AppProcess | undefined;
    while (leader === undefined && Date.now() < deadline) {
      leader = apps.find((a) => events(a).some((e) => e.event === 'load'));
      if (leader === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    expect(leader).toBeDefined();
    await new Promise((r) => setTimeout(r, 200));
    const killedAt = Date.now();
    leader!.kill();
    const others = apps.filter((a) => a !== leader);
    const results = (await Promise.all(others.map((a) => a.next('burst', 15_000)))) as unknown as Event[];
    const takeovers = others.flatMap((a) => events(a).filter((e) => e.event === 'load'));
    expect(takeovers).toHaveLength(1);
    const takeover = takeovers[0]!.at! - killedAt;
    const waits = results.flatMap((r) => r.answers!.map((t) => t - at));
    console.log(
      `[cluster single-flight, 4 processes] leader killed: taken over after ${takeover} ms (leaseTtl ${leaseTtl}); longest caller ${Math.max(...waits)} ms (waitTimeout ${waitTimeout})`,
    );
    expect(takeover).toBeLessThanOrEqual(1.2 * leaseTtl);
    expect(results.every((r) => r.errors === 0)).toBe(true);
    // Every caller answered: the takeover's value, well before waitTimeout plus its own load.
    expect(Math.max(...waits)).toBeLessThanOrEqual(waitTimeout);
  }, 60_000);
});
