import { Logger } from '@nestjs/common';
import { StoreUnavailableError } from '../errors/store-unavailable.error.js';
import type { CacheStore, StoreCapabilities, StoreEntry } from './cache-store.interface.js';
import { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';

/** Bounds on what a remote store may cost a request. */
export interface ResilienceOptions {
  /** Longest a single command may take before it fails with `StoreUnavailableError`, ms. Default 1000. */
  commandTimeout?: number;
  breaker?: CircuitBreakerOptions;
  /** Told when the breaker opens, half-opens or closes. */
  onBreakerChange?: (state: BreakerState, store: string) => void;
}

/**
 * Wraps a remote store so that a dead or hanging server costs at most `commandTimeout` per call, and
 * nothing once the breaker is open. Failures surface as `StoreUnavailableError`.
 */
export class ResilientStore implements CacheStore {
  private readonly breaker: CircuitBreaker;
  private readonly timeout: number;
  private readonly logger = new Logger('TenantCache');

  constructor(
    private readonly inner: CacheStore,
    options: ResilienceOptions = {},
  ) {
    this.timeout = options.commandTimeout ?? 1000;
    this.breaker = new CircuitBreaker(options.breaker, (state) => {
      const log = state === 'open' ? 'warn' : 'log';
      this.logger[log](`Cache store "${inner.name}" circuit ${state}`);
      options.onBreakerChange?.(state, inner.name);
    });
  }

  get name(): string {
    return this.inner.name;
  }

  get capabilities(): StoreCapabilities {
    return this.inner.capabilities;
  }

  /** The breaker's state, for health checks. */
  get state(): BreakerState {
    return this.breaker.state;
  }

  get(key: string) {
    return this.guard('get', () => this.inner.get(key));
  }
  set(key: string, value: Buffer, ttl?: number) {
    return this.guard('set', () => this.inner.set(key, value, ttl));
  }
  add(key: string, value: Buffer, ttl?: number) {
    return this.guard('add', () => this.inner.add(key, value, ttl));
  }
  delete(key: string) {
    return this.guard('delete', () => this.inner.delete(key));
  }
  has(key: string) {
    return this.guard('has', () => this.inner.has(key));
  }
  mget(keys: readonly string[]) {
    return this.guard('mget', () => this.inner.mget(keys));
  }
  mset(entries: readonly StoreEntry[]) {
    return this.guard('mset', () => this.inner.mset(entries));
  }
  mdel(keys: readonly string[]) {
    return this.guard('mdel', () => this.inner.mdel(keys));
  }
  incr(key: string, by: number, ttl?: number) {
    return this.guard('incr', () => this.inner.incr(key, by, ttl));
  }
  touch(key: string, ttl?: number) {
    return this.guard('touch', () => this.inner.touch(key, ttl));
  }
  ttl(key: string) {
    return this.guard('ttl', () => this.inner.ttl(key));
  }
  async *scan(prefix: string, pageSize?: number): AsyncIterable<string[]> {
    const it = this.inner.scan(prefix, pageSize)[Symbol.asyncIterator]();
    for (;;) {
      const next = await this.guard('scan', () => it.next());
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
    await this.guard('sadd', () => inner.sadd!(key, members, ttl));
  }
  async *sscan(key: string, pageSize?: number): AsyncIterable<string[]> {
    if (!this.inner.sscan) return;
    const it = this.inner.sscan(key, pageSize)[Symbol.asyncIterator]();
    for (;;) {
      const next = await this.guard('sscan', () => it.next());
      if (next.done) return;
      yield next.value;
    }
  }
  flush() {
    return this.guard('flush', () => this.inner.flush());
  }
  close() {
    return this.inner.close();
  }

  /**
   * Runs one command with the breaker and the timeout. One promise per call (no `Promise.race`, no async
   * wrapper): this sits under every cache operation on a remote store.
   */
  private guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
    if (!this.breaker.allow()) {
      return Promise.reject(new StoreUnavailableError(this.inner.name, `circuit open after repeated failures (${operation} not sent)`));
    }
    let pending: Promise<T>;
    try {
      pending = run();
    } catch (error) {
      return Promise.reject(this.failed(operation, error));
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(this.failed(operation, new StoreUnavailableError(this.inner.name, `${operation} timed out after ${this.timeout} ms`)));
      }, this.timeout);
      pending.then(
        (result) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.breaker.success();
          resolve(result);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(this.failed(operation, error));
        },
      );
    });
  }

  /** Counts a failure against the breaker and returns the error to raise. */
  private failed(operation: string, error: unknown): unknown {
    // A reply that says "wrong type" is the caller's problem, not the server's health.
    if (isCommandError(error)) {
      this.breaker.success();
      return error;
    }
    this.breaker.failure();
    return error instanceof StoreUnavailableError ? error : new StoreUnavailableError(this.inner.name, `${operation} failed: ${(error as Error).message}`, error);
  }
}

function isCommandError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /^(ERR|WRONGTYPE)\b/.test(message) || (error as { name?: string })?.name === 'ErrorReply' || (error as { name?: string })?.name === 'ReplyError';
}
