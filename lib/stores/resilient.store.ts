import type { CacheStore, StoreCapabilities, StoreContext, StoreEntry } from './cache-store.interface.js';
import type { BreakerState } from './circuit-breaker.js';
import { CommandGuard, type ResilienceOptions } from './command-guard.js';

export type { ResilienceOptions } from './command-guard.js';

/**
 * Wraps a remote store so that a dead or hanging server costs at most `commandTimeout` per call, and
 * nothing once the breaker is open. Failures surface as `StoreUnavailableError`.
 */
export class ResilientStore implements CacheStore {
  private readonly guard: CommandGuard;

  constructor(
    private readonly inner: CacheStore,
    options: ResilienceOptions = {},
    context?: StoreContext,
  ) {
    this.guard = new CommandGuard(inner.name, { ...options, isCallerError: isCommandError, outages: context?.outages });
  }

  get name(): string {
    return this.inner.name;
  }

  get capabilities(): StoreCapabilities {
    return this.inner.capabilities;
  }

  /** The breaker's state, for health checks. */
  get state(): BreakerState {
    return this.guard.state;
  }

  get(key: string) {
    return this.guard.run('get', () => this.inner.get(key));
  }
  set(key: string, value: Buffer, ttl?: number) {
    return this.guard.run('set', () => this.inner.set(key, value, ttl));
  }
  add(key: string, value: Buffer, ttl?: number) {
    return this.guard.run('add', () => this.inner.add(key, value, ttl));
  }
  delete(key: string) {
    return this.guard.run('delete', () => this.inner.delete(key));
  }
  has(key: string) {
    return this.guard.run('has', () => this.inner.has(key));
  }
  mget(keys: readonly string[]) {
    return this.guard.run('mget', () => this.inner.mget(keys));
  }
  mset(entries: readonly StoreEntry[]) {
    return this.guard.run('mset', () => this.inner.mset(entries));
  }
  mdel(keys: readonly string[]) {
    return this.guard.run('mdel', () => this.inner.mdel(keys));
  }
  incr(key: string, by: number, ttl?: number) {
    return this.guard.run('incr', () => this.inner.incr(key, by, ttl));
  }
  touch(key: string, ttl?: number) {
    return this.guard.run('touch', () => this.inner.touch(key, ttl));
  }
  ttl(key: string) {
    return this.guard.run('ttl', () => this.inner.ttl(key));
  }
  async *scan(prefix: string, pageSize?: number): AsyncIterable<string[]> {
    const it = this.inner.scan(prefix, pageSize)[Symbol.asyncIterator]();
    for (;;) {
      const next = await this.guard.run('scan', () => it.next());
      if (next.done) return;
      yield next.value;
    }
  }
  deleteByPrefix(prefix: string): Promise<number> {
    // Many commands: bounded per page through scan/mdel rather than as a whole.
    return (async () => {
      let n = 0;
      for await (const page of this.scan(prefix)) n += await this.mdel(page);
      return n;
    })();
  }
  async sadd(key: string, members: readonly string[], ttl?: number): Promise<void> {
    const inner = this.inner;
    if (!inner.sadd) return;
    await this.guard.run('sadd', () => inner.sadd!(key, members, ttl));
  }
  async *sscan(key: string, pageSize?: number): AsyncIterable<string[]> {
    if (!this.inner.sscan) return;
    const it = this.inner.sscan(key, pageSize)[Symbol.asyncIterator]();
    for (;;) {
      const next = await this.guard.run('sscan', () => it.next());
      if (next.done) return;
      yield next.value;
    }
  }
  flush() {
    return this.guard.run('flush', () => this.inner.flush());
  }
  close() {
    this.guard.close();
    return this.inner.close();
  }
}

/** A reply that says "wrong type" or "syntax error" is the caller's problem, not the server's health. */
export function isCommandError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /^(ERR|WRONGTYPE)\b/.test(message) || (error as { name?: string })?.name === 'ErrorReply' || (error as { name?: string })?.name === 'ReplyError';
}
