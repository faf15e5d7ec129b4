import { performance } from 'node:perf_hooks';
import { type RedisServerHandle, freePort, startRedisServer } from '../support/redis-server.js';
import type { FaultKind } from './fault-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One fault of `FAULTS` on an isolated `redis-server`, applied and recovered as `runFault` (fault-harness.ts)
 * does it, for suites that drive their own calls while it is held (the admin routes, the CLI).
 */
export interface HeldFault {
  readonly fault: FaultKind;
  readonly url: string;
  /** Since when the store is known to be down (calls started later must fail); `undefined` while it may be up. */
  downSince(): number | undefined;
  /**
   * Applies the fault. `holding()` tells a 'restarted' fault to go on flapping (it stops, then starts the server,
   * 400 ms each, while it returns true); `settled` resolves when the fault made its last move.
   */
  apply(holding: () => boolean): Promise<{ settled: Promise<void> }>;
  /** Ends the fault: the server answers again (resumed, or started on the same port). */
  recover(): Promise<void>;
  /** Stops the server (whatever state it is in). */
  stop(): Promise<void>;
}

/** Prepares `fault`: a server on a free port, except for 'absent at boot' (nothing listens until `recover`). */
export async function prepareFault(fault: FaultKind): Promise<HeldFault> {
  const port = await freePort();
  let server: RedisServerHandle | undefined = fault === 'absent at boot' ? undefined : await startRedisServer([], { port });
  let downSince: number | undefined;
  const start = async () => {
    server = await startRedisServer([], { port });
    // NOTE: the port was free while nothing listened on it: another process may have taken it meanwhile.
    await sleep(100);
    if (server.process.exitCode !== null || server.process.signalCode !== null) {
      throw new Error(`port ${port} was taken by another process while the fault was held: the run says nothing, rerun it`);
    }
  };
  return {
    fault,
    url: `redis://127.0.0.1:${port}`,
    downSince: () => downSince,
    async apply(holding) {
      let settled: Promise<void> = Promise.resolve();
      if (fault === 'absent at boot') downSince = performance.now();
      else if (fault === 'refusing') {
        await server!.stop();
        downSince = performance.now();
      } else if (fault === 'frozen' || fault === 'frozen, breaker never opens') {
        server!.pause();
        downSince = performance.now();
      } else if (fault === 'killed mid-run') {
        // Killed while the first calls are in flight.
        settled = sleep(150).then(async () => {
          await server!.stop();
          downSince = performance.now();
        });
      } else {
        // 'restarted': up and down in turn, any call may find either.
        settled = (async () => {
          while (holding()) {
            await server!.stop();
            await sleep(400);
            await start();
            await sleep(400);
          }
        })();
      }
      return { settled };
    },
    async recover() {
      downSince = undefined;
      if (fault === 'frozen' || fault === 'frozen, breaker never opens') server!.resume();
      else if (fault !== 'restarted') await start();
    },
    async stop() {
      server?.resume();
      await server?.stop();
    },
  };
}
