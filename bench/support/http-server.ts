/**
 * The HTTP bench app (http-app.ts) as a process of its own, for profiling it (http-profile.ts forks it
 * with `--cpu-prof`). Argument: `express` or `fastify`; REDIS_URL adds the Redis routes. It sends
 * `{ url }` once listening, answers `mark` with its monotonic clock in microseconds (the clock of the
 * profile's timestamps), and on `stop` closes the app and exits, which writes the profile.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { type Platform, startHttpApp } from './http-app.js';

/** Messages from the parent. */
type Command = 'mark' | 'stop';

Logger.overrideLogger(false);
const platform = (process.argv[2] ?? 'express') as Platform;
const server = await startHttpApp(platform, process.env.REDIS_URL, process.env.HTTP_BENCH_PREFIX ?? 'bench-http-profile:');
process.send!({ url: server.url });
process.on('message', (command: Command) => {
  if (command === 'mark') {
    process.send!({ mark: Number(process.hrtime.bigint() / 1000n) });
  } else if (command === 'stop') {
    void server.close().finally(() => process.exit(0));
  }
});
