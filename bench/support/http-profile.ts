/**
 * Where the time of an HTTP hit goes: forks the bench app (http-server.ts) with `node --cpu-prof`, puts
 * autocannon (a child process of its own) on one route, and reads the server's profile over the load
 * window only (start-up and warm-up left out): top functions by self time, and the time per part of
 * the request (the guard, key building, the store read, headers/ETag and replay, our interceptor's
 * own work, Nest, the HTTP framework, Node core, GC), in percent and in microseconds per request.
 *
 * `node --import @swc-node/register/esm-register bench/support/http-profile.ts [express|fastify] [routes] [seconds]`
 * Defaults: express, `/ours-memory,/nest-memory,/ceiling` (each in a server process of its own, one
 * after another), 8 s after a 2 s warm-up, HTTP_BENCH_CONNECTIONS (50) connections. The first route gets
 * the detailed tables; a last table puts the parts of every route side by side (µs per request).
 * Routes: /ceiling, /nest-memory, /ours-memory, and with a Redis (REDIS_URL, else the local default)
 * /nest-redis, /ours-redis, /nest-tiered, /ours-tiered. Profiles are written in a new http-profile-<pid>- folder under $TMPDIR, and kept.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CpuProfile, type ProfileSummary, type Share, summarise } from './cpu-profile.js';
import { TENANT_HEADER } from './http-app.js';
import { loadInChild } from './http-load.js';
import { DEFAULT_REDIS_URL, redisReachable, removeKeys } from './redis.js';

const CONNECTIONS = Number(process.env.HTTP_BENCH_CONNECTIONS ?? 50);

/** The parts of a hit, by the file of lib/ a frame runs in (first match wins). */
const LIB_PARTS: readonly [RegExp, string][] = [
  [/\/lib\/context\//, 'TenantGuard and tenant context (lib/context)'],
  [/\/lib\/keys\/|\/lib\/http\/(response-key|route-plan|cache-request)\.ts/, 'key building and route plan (lib/keys, response-key, route-plan)'],
  [/\/lib\/(stores|codec|engine|service)\/|\/lib\/http\/(read-through|stale-if-error)\.ts/, 'store read: engine, codec, store, client'],
  [/\/lib\/http\/(response-replay|cached-response|platform-shims|exchange)\.ts/, 'headers, ETag and replay (response-replay, cached-response, platform-shims)'],
  [/\/lib\//, "TenantCacheInterceptor's own work (rest of lib/http)"],
];

/** The same, by package. */
const PACKAGE_PARTS: readonly [RegExp, string][] = [
  [/nestjs-cls\//, 'TenantGuard and tenant context (lib/context)'],
  [/@redis\/client\//, 'store read: engine, codec, store, client'],
  [/cache-manager\/|\/keyv\/|@keyv\//, "Nest's cache: cache-manager, Keyv"],
  [/@nestjs\/|\/rxjs\//, 'Nest: router, guard/interceptor chain, rxjs, adapter'],
  [
    /\/(express|router|body-parser|finalhandler|send|serve-static|on-finished|qs|etag|fresh|content-type|accepts|negotiator|type-is|depd|statuses|parseurl|path-to-regexp|cookie|vary|proxy-addr|mime)\//,
    'Express',
  ],
  [/\/(fastify|@fastify\/[^/]+|find-my-way|avvio|fast-json-stringify|light-my-request|secure-json-parse|pino|abstract-logging|toad-cache|rfdc)\//, 'Fastify'],
  [/./, 'other packages'],
];

/**
 * The part of a request a frame's file belongs to; undefined for Node core and for reflect-metadata
 * (a lookup table: its time goes to whoever asks it).
 */
function classify(url: string): string | undefined {
  if (!url || url.startsWith('node:') || url.includes('/reflect-metadata/')) return undefined;
  const inPackage = url.includes('/node_modules/');
  for (const [pattern, name] of inPackage ? PACKAGE_PARTS : LIB_PARTS) if (pattern.test(url)) return name;
  return undefined;
}

function next<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Record<string, T>) => {
      if (key in message) {
        child.off('message', onMessage);
        resolve(message[key]!);
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before sending ${key}`)));
  });
}

function table(shares: Share[], requests: number): { part: string; '% of busy CPU': string; 'µs / request': string }[] {
  return shares.map((s) => ({ part: s.name, '% of busy CPU': s.percent.toFixed(1), 'µs / request': (s.micros / requests).toFixed(1) }));
}

/** One route profiled in a server process of its own. */
interface RouteProfile {
  route: string;
  rps: number;
  p99: number;
  requests: number;
  windowMicros: number;
  file: string;
  summary: ProfileSummary;
}

async function profileRoute(platform: string, route: string, seconds: number, redisUrl: string | undefined, prefix: string): Promise<RouteProfile> {
  const dir = mkdtempSync(join(tmpdir(), `http-profile-${process.pid}-`));
  const server = fork(fileURLToPath(new URL('./http-server.ts', import.meta.url)), [platform], {
    execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--import', '@swc-node/register/esm-register'],
    env: { ...process.env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}), HTTP_BENCH_PREFIX: prefix },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await next<string>(server, 'url');
  const load = (s: number) => loadInChild(`${url}${route}`, { connections: CONNECTIONS, seconds: s, headers: TENANT_HEADER });
  await load(2);
  server.send('mark');
  const from = await next<number>(server, 'mark');
  const sample = await load(seconds);
  server.send('mark');
  const to = await next<number>(server, 'mark');
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.send('stop');
  await exited;
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (the loader hooks of
  // --import get a thread and a profile of their own).
  const name = readdirSync(dir).find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (!name) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile;
  const windowMicros = to - from;
  return {
    route,
    rps: sample.rps,
    p99: sample.p99,
    requests: (sample.rps * windowMicros) / 1e6,
    windowMicros,
    file: join(dir, name),
    summary: summarise(profile, classify, from, to),
  };
}

const [platform = 'express', routeList = '/ours-memory,/nest-memory,/ceiling', seconds = '8'] = process.argv.slice(2);
const routes = routeList.split(',');
const candidate = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
const redisUrl = (await redisReachable(candidate)) ? candidate : undefined;
const needsRedis = routes.find((r) => r.endsWith('redis'));
if (needsRedis && !redisUrl) throw new Error(`${needsRedis} needs a Redis; none answers at ${candidate}`);
const prefix = `bench-http-profile-${process.pid}:`;
const profiles: RouteProfile[] = [];
try {
  for (const route of routes) profiles.push(await profileRoute(platform, route, Number(seconds), redisUrl, prefix));
} finally {
  if (redisUrl) await removeKeys(redisUrl, prefix);
}

console.log(
  `Profiles: ${platform}, autocannon -c ${CONNECTIONS} -d ${seconds} in a child process, after a 2 s warm-up; the server in a process of its own under --cpu-prof`,
);
for (const p of profiles) {
  const s = p.summary;
  console.log(
    `${p.route}: ${Math.round(p.rps)} req/s, p99 ${p.p99} ms; server busy ${(s.busyMicros / 1e6).toFixed(2)} s of ${(p.windowMicros / 1e6).toFixed(2)} s ` +
      `(idle ${s.idlePercent.toFixed(0)} %), ${(s.busyMicros / p.requests).toFixed(1)} µs of CPU per request; ${p.file}`,
  );
}
const first = profiles[0]!;
console.log(`\nWhere the time of ${first.route} goes (each sample charged to its nearest caller in lib/ or a package):`);
console.table(table(first.summary.parts, first.requests));
console.log(`The same, by the file of the nearest caller in lib/ or a package:`);
console.table(table(first.summary.files, first.requests).map(({ part, ...rest }) => ({ file: part, ...rest })));
console.log(`Top functions of ${first.route} by self time:`);
console.table(table(first.summary.topSelf, first.requests).map(({ part, ...rest }) => ({ function: part, ...rest })));
if (profiles.length > 1) {
  console.log('µs of server CPU per request, by part, side by side:');
  const names = [...new Set(profiles.flatMap((p) => p.summary.parts.map((s) => s.name)))];
  const perRequest = (p: RouteProfile, name: string) => (p.summary.parts.find((s) => s.name === name)?.micros ?? 0) / p.requests;
  const rows = names.map((name) => Object.fromEntries([['part', name], ...profiles.map((p) => [p.route, perRequest(p, name).toFixed(1)])]));
  rows.push(Object.fromEntries([['part', 'total'], ...profiles.map((p) => [p.route, (p.summary.busyMicros / p.requests).toFixed(1)])]));
  console.table(rows);
}
