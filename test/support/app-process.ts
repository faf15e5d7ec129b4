import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A JSON line a fixture app prints (`{ "event": "request", "ms": 12, ... }`). */
export interface AppEvent {
  event: string;
  ms: number;
  status?: number;
  body?: string;
  message?: string;
}

/**
 * A fixture app (a TypeScript file run with Node's SWC loader) in a child process: its JSON events, stdin for
 * more commands (`close` closes the app), and when it exited. For tests of what a real process does: exit by
 * itself after `app.close()`, answer while Redis is gone.
 */
export class AppProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly events: AppEvent[] = [];
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number>;
  output = '';

  constructor(app: string, env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', app], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, ...env },
    });
    let buffered = '';
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.output += `${line}\n`;
        if (line.startsWith('{')) this.events.push(JSON.parse(line) as AppEvent);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve(Date.now())));
  }

  /** The next event named `name` (events are consumed in order), or a failure after `timeout` ms. */
  async next(name: string, timeout = 15_000): Promise<AppEvent> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const i = this.events.findIndex((e) => e.event === name || e.event === 'failed');
      if (i >= 0) {
        const [e] = this.events.splice(i, 1);
        if (e!.event === 'failed') throw new Error(`the app failed: ${e!.message}\n${this.output}`);
        return e!;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${name}" event within ${timeout} ms; output:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Closes the app (app.close() in the child); resolves with how long close took and how long the process then lived. */
  async close(): Promise<{ closeMs: number; exitMs: number }> {
    this.send('close');
    this.child.stdin.end();
    const closed = await this.next('closed', 10_000);
    const closedAt = Date.now();
    const exitMs = (await Promise.race([this.exited, sleep(5000).then(() => Infinity)])) - closedAt;
    return { closeMs: closed.ms, exitMs };
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
