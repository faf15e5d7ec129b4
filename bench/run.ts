/**
 * `npm run bench`: every `bench/*.bench.ts`, one after another in this process. Each file exports
 * `run(): Promise<void>` that prints its own tables; new files are picked up from the folder listing.
 * REDIS_URL defaults to redis://127.0.0.1:6379; when no Redis answers there, the Redis rows are skipped.
 * Pass names to run a subset: `npm run bench -- foundation codec`.
 */
import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { Logger } from '@nestjs/common';
import { DEFAULT_REDIS_URL, redisReachable } from './support/redis.js';

interface Outcome {
  name: string;
  seconds: number;
  error?: string;
}

const folder = new URL('./', import.meta.url);
const only = process.argv.slice(2);
const files = readdirSync(folder)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();

Logger.overrideLogger(false);
process.env.REDIS_URL ??= DEFAULT_REDIS_URL;
const redisUrl = process.env.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@');
const redis = await redisReachable(process.env.REDIS_URL);
if (!redis) {
  console.log(`No Redis answers at ${redisUrl}: the Redis rows are skipped (start one with \`redis-server --daemonize yes\` or set REDIS_URL).`);
  delete process.env.REDIS_URL;
  // NOTE: benches that default the URL themselves must see that it was checked and found absent.
  process.env.BENCH_NO_REDIS = '1';
}
console.log(`Node ${process.version}, ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), Redis: ${redis ? redisUrl : 'none'}`);
console.log(`Benches: ${files.join(', ')}`);

const outcomes: Outcome[] = [];
// Lines that state a performance goal (`Goal: ...`) are quoted again in the closing summary.
const goals: string[] = [];
const log = console.log.bind(console);
console.log = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('Goal:')) goals.push(args[0]);
  log(...args);
};
for (const file of files) {
  const name = file.replace(/\.bench\.ts$/, '');
  console.log(`\n${'='.repeat(100)}\n== ${name} (bench/${file})\n${'='.repeat(100)}`);
  const start = performance.now();
  try {
    const mod = (await import(new URL(file, folder).href)) as { run?: () => Promise<void> };
    if (typeof mod.run !== 'function') throw new Error('it exports no run(): Promise<void>');
    await mod.run();
    outcomes.push({ name, seconds: (performance.now() - start) / 1000 });
  } catch (error) {
    // One failing bench does not hide the others' numbers.
    console.error(error);
    outcomes.push({ name, seconds: (performance.now() - start) / 1000, error: (error as Error).message });
  }
}

console.log(`\n${'='.repeat(100)}\n== Summary\n${'='.repeat(100)}`);
console.table(outcomes.map((o) => ({ bench: o.name, seconds: o.seconds.toFixed(1), result: o.error ? `FAILED: ${o.error}` : 'ok' })));
const total = outcomes.reduce((s, o) => s + o.seconds, 0);
for (const line of goals) log(line);
console.log(`${outcomes.length} bench(es) in ${total.toFixed(0)} s${redis ? '' : ' (Redis rows skipped: no Redis)'}.`);
if (outcomes.some((o) => o.error)) process.exitCode = 1;
