/**
 * Load from a process of its own, as a user would benchmark: autocannon's CLI (`autocannon -j`) run by
 * `node` in a child process, its JSON result read from stdout. The server's process does not share its
 * event loop (nor its GC) with the load generator.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

/** autocannon's CLI script (its `bin`). */
const AUTOCANNON_CLI = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

/** What one load run measured. */
export interface LoadSample {
  /** Responses per second over the run (total / duration). */
  rps: number;
  /** Latency percentiles, ms. */
  p50: number;
  p99: number;
}

/** The load of one run. */
export interface LoadOptions {
  connections: number;
  seconds: number;
  headers: Record<string, string>;
}

/** The part of `autocannon -j`'s output read here. */
interface AutocannonJson {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  latency: { p50: number; p99: number };
}

/** Runs autocannon against `url` in a child process; fails on any error, timeout or non-2xx answer. */
export function loadInChild(url: string, options: LoadOptions): Promise<LoadSample> {
  const args = [AUTOCANNON_CLI, '-j', '-c', String(options.connections), '-d', String(options.seconds)];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}=${value}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${err.trim()}`));
      let result: AutocannonJson;
      try {
        result = JSON.parse(out) as AutocannonJson;
      } catch {
        return reject(new Error(`autocannon printed no JSON: ${out.slice(0, 200)} ${err.slice(0, 200)}`));
      }
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
        return reject(new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`));
      }
      resolve({ rps: result.requests.total / result.duration, p50: result.latency.p50, p99: result.latency.p99 });
    });
  });
}
